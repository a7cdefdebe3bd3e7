"""Values describing pins found in Terraform text and the edits planned on them."""

from __future__ import annotations

import enum
from typing import Any

import attrs

from runlayer_tf.tags import ImageRef

__all__ = ["Edit", "Pin", "PinKind"]


class PinKind(enum.Enum):
    """What a pin's literal holds: a whole image reference or only a tag."""

    IMAGE = "image"
    VERSION = "version"

    def __str__(self) -> str:
        return self.value


# An interpolation as it appears in raw HCL text (not the escaped `$${`).
_INTERP = r"(?<!\$)\$\{[^{}\"]*\}"
# Registry: a host with a dot or a port, or localhost, or an interpolation
# standing for it (`${local.ecr}`).
_REGISTRY = (
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+(?::[0-9]+)?|localhost(?::[0-9]+)?|[A-Za-z0-9-]+:[0-9]+|"
    + _INTERP
    + ")"
)
_REPO_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = _REPO_COMPONENT + r"(?:/" + _REPO_COMPONENT + r")*"
# Tags and digests are captured loosely so that malformed ones still become
# pins and the checker can report them; the tag grammar lives in tags.py.
_TAG = r"(?:[A-Za-z0-9_][A-Za-z0-9_.+-]*|" + _INTERP + ")"
_DIGEST = r"[A-Za-z0-9_+.:=-]*"

IMAGE_REF_PATTERN = (
    r"(?P<registry>" + _REGISTRY + r")/(?P<repository>" + _REPOSITORY + r")"
    r"(?:(?::(?P<tag>"
    + _TAG
    + r"))(?:@(?P<digest1>"
    + _DIGEST
    + r"))?|@(?P<digest2>"
    + _DIGEST
    + r"))"
)
# `${var.repository_url}:${var.backend_version}`: only believed when the key says image.
IMAGE_TEMPLATE_PATTERN = r"(?P<name>" + _INTERP + r"):(?P<tag>" + _INTERP + r")"


def interpolation_expression(text: str) -> str | None:
    """``var.x`` for ``${var.x}``; None when ``text`` is not one interpolation."""
    if text.startswith("${") and text.endswith("}"):
        return text[2:-1].strip()
    return None


@attrs.frozen
class Pin:
    """One pinned image reference or version tag in a Terraform file.

    ``start``/``end`` are byte offsets into the file's bytes (a BOM counts);
    ``line`` and ``column`` are 1-based, the column counted in characters from
    the start of the line, pointing at the first character of ``value``.
    ``value`` is exactly the text between ``start`` and ``end``.
    ``depends_on`` names the expression a template's tag comes from
    (``var.backend_version``); such a pin is never rewritten.
    """

    file: str
    line: int
    column: int
    start: int
    end: int
    path: str
    kind: PinKind
    name: str
    value: str
    registry: str | None = None
    repository: str | None = None
    tag: str | None = None
    digest: str | None = None
    depends_on: str | None = None

    @property
    def rewritable(self) -> bool:
        """False for pins whose tag is an interpolation: their value lives elsewhere."""
        return self.depends_on is None

    @property
    def image(self) -> ImageRef | None:
        """The image reference of an image pin; None for a version pin."""
        if self.kind is not PinKind.IMAGE or self.registry is None or self.repository is None:
            return None
        return ImageRef(self.repository, self.registry, self.tag, self.digest)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with every field (``kind`` as its string)."""
        data = attrs.asdict(self)
        data["kind"] = self.kind.value
        return data

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.kind} {self.path} = {self.value}"


@attrs.frozen
class Edit:
    """Replace the bytes ``start:end`` (currently ``old``) of one file by ``new``."""

    file: str
    start: int
    end: int
    old: str
    new: str

    @classmethod
    def of(cls, pin: Pin, new: str) -> Edit:
        """The edit that replaces ``pin``'s value by ``new``."""
        return cls(file=pin.file, start=pin.start, end=pin.end, old=pin.value, new=new)
