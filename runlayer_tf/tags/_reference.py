"""The one image-reference value: ``[registry/]repository[:tag][@digest]``."""

from __future__ import annotations

from runlayer_tf import _values
from runlayer_tf.errors import TagError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: typing is not imported on the resolve path
if TYPE_CHECKING:
    from typing import Any


def _is_registry(component: str) -> bool:
    # Docker's rule: the first component names a host when it has a dot or a
    # port, or is localhost; `${local.ecr}` stands for one in Terraform text.
    return (
        "." in component
        or ":" in component
        or component == "localhost"
        or (component.startswith("${") and component.endswith("}"))
    )


@_values.frozen
class ImageRef:
    """An image reference as written in a file or on the command line.

    ``registry`` is None when the reference names no host (``team/app:v1``).
    ``tag`` and ``digest`` are kept verbatim (an interpolation such as
    ``${var.backend_version}``, or a malformed digest a check should report),
    so ``str()`` gives back exactly what was parsed.
    """

    repository: str
    registry: str | None = None
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        """Parse ``text``; raises :class:`TagError` when it names no repository."""
        rest, at, digest = text.partition("@")
        head, slash, last = rest.rpartition("/")
        name, colon, tag = last.partition(":")
        path = head + slash + name
        registry: str | None = None
        first, sep, remainder = path.partition("/")
        if sep and _is_registry(first):
            registry, path = first, remainder
        if not path or (colon and not tag) or (at and not digest) or "" in path.split("/"):
            raise TagError(f"not an image reference: {text!r}")
        return cls(path, registry, tag if colon else None, digest if at else None)

    @property
    def name(self) -> str:
        """``registry/repository`` (or the repository alone): the reference without tag and digest."""
        return (
            f"{self.registry}/{self.repository}" if self.registry is not None else self.repository
        )

    def evolve(self, **changes: Any) -> ImageRef:
        """A copy with ``changes`` applied (``ref.evolve(tag="v1.3.0", digest=None)``)."""
        return _values.evolve(self, **changes)

    def __str__(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text
