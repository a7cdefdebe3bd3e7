"""The small interface every registry backend implements, and registry addresses.

A backend answers three questions about one repository: which tags exist (and,
when the listing says so cheaply, the digest of each), which digest a tag or
digest reference names, and when an image was pushed.  Everything else
(choosing a tag, collecting the tags of a digest, build metadata) is pure logic
in :mod:`runlayer_tf.resolve` on top of these calls.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping

from runlayer_tf import _values
from runlayer_tf.errors import RegistryError, TagError, UsageError
from runlayer_tf.tags import Digest

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: typing is not imported on the resolve path
if TYPE_CHECKING:
    from typing import Protocol
else:
    Protocol = object  # at run time the interface is a plain class: no isinstance checks

__all__ = [
    "ECR_HOST",
    "Registry",
    "RegistryAddress",
    "checked_digest",
    "validate_repository",
]

# <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]
ECR_HOST = re.compile(
    r"(?P<account>[0-9]{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
)
# The OCI distribution spec's repository name grammar.
_REPOSITORY = re.compile(
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
)
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
)
# The distribution spec's tag grammar: a listed tag outside it cannot be asked
# for, and could carry control characters to a terminal; backends drop it.
TAG_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
DOCKER_HUB_ALIASES = (
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    "registry.hub.docker.com",
)


def printable(text: object, limit: int = 200) -> str:
    """``text`` with control characters escaped and cut to ``limit``: safe to print."""
    value = str(text)
    if len(value) > limit:
        value = value[:limit] + "..."
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in value
    )


def checked_digest(value: object, source: str) -> str:
    """``value`` as a canonical digest string, or RegistryError naming ``source``.

    Every digest a backend hands on (headers, listings, indexes, API answers,
    the cache) goes through here: nothing but ``sha256:<64 hex>`` may reach a
    Terraform file or an answer.
    """
    if not isinstance(value, str):
        raise RegistryError(f"{source} sent a digest that is not a string")
    try:
        return str(Digest.parse(value))
    except TagError:
        raise RegistryError(f'{source} sent an invalid digest "{printable(value, 80)}"') from None


def validate_repository(name: str) -> str:
    """Return ``name`` if it is a valid OCI repository name, else raise UsageError."""
    if not name or len(name) > 255 or not _REPOSITORY.fullmatch(name):
        raise UsageError(
            f'invalid repository name "{name}": use lowercase letters, digits and separators '
            "(. _ __ -), path components joined by /"
        )
    return name


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1`` (with or without a port)."""
    name = host
    if name.startswith("["):
        name = name[1 : name.index("]")]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    octets = name.split(".")
    if len(octets) == 4 and all(_is_octet(o) for o in octets):
        return octets[0] == "127"  # 127.0.0.0/8, as ipaddress says, without importing it
    if ":" not in name:
        return False  # a host name
    import ipaddress

    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _is_octet(text: str) -> bool:
    """A decimal IPv4 octet as :mod:`ipaddress` accepts it (no sign, no leading zero, <= 255)."""
    return (
        0 < len(text) <= 3
        and text.isascii()
        and text.isdigit()
        and (text == "0" or text[0] != "0")
        and int(text) <= 255
    )


@_values.frozen
class RegistryAddress:
    """Where a repository lives: ``kind`` is ``ecr``, ``oci`` or ``oci-layout``.

    * ``ecr``: ``registry_id`` (account) and ``region`` may be empty, meaning the
      caller's account and configured region.
    * ``oci``: ``host`` is ``host[:port]``; ``scheme`` is ``https`` unless the
      host is loopback or ``insecure`` was asked for.
    * ``oci-layout``: ``path`` is the directory holding one OCI layout per repository.
    """

    kind: str
    host: str = ""
    scheme: str = "https"
    registry_id: str = ""
    region: str = ""
    path: str = ""

    @classmethod
    def parse(
        cls, text: str, *, registry_id: str = "", region: str = "", insecure: bool = False
    ) -> RegistryAddress:
        """Parse the ``registry`` query value (see the README); raises UsageError."""
        text = text.strip()
        if registry_id and not re.fullmatch(r"[0-9]{12}", registry_id):
            raise UsageError(
                f'invalid registry_id "{registry_id}": an AWS account id has 12 digits'
            )
        if region and not re.fullmatch(r"[a-z]{2}(?:-[a-z]+)+-[0-9]+", region):
            raise UsageError(f'invalid region "{region}": expected an AWS region such as us-east-1')
        if not text or text == "ecr":
            return cls("ecr", registry_id=registry_id, region=region)
        if text.startswith("oci-layout:"):
            path = text[len("oci-layout:") :]
            if not path:
                raise UsageError(
                    'invalid registry "oci-layout:": give the layout directory, e.g. oci-layout:./images'
                )
            return cls("oci-layout", path=path)
        scheme = ""
        rest = text
        if "://" in text:
            scheme, rest = text.split("://", 1)
            if scheme not in ("http", "https"):
                raise UsageError(
                    f'invalid registry "{text}": only https:// (or http:// for loopback) URLs are supported'
                )
        host = rest.rstrip("/")
        if "/" in host or not _HOST.fullmatch(host):
            raise UsageError(
                f'invalid registry "{text}": expected host[:port], a URL, an ECR host or oci-layout:PATH'
            )
        port = host.rsplit(":", 1)[1] if host.rsplit("]", 1)[-1].count(":") == 1 else None
        if port is not None and not 1 <= int(port) <= 65535:
            raise UsageError(f'invalid registry "{text}": the port must be 1-65535')
        if m := ECR_HOST.fullmatch(host.lower()):
            if registry_id and registry_id != m["account"]:
                raise UsageError(f"registry_id {registry_id} contradicts the ECR host {host}")
            if region and region != m["region"]:
                raise UsageError(f"region {region} contradicts the ECR host {host}")
            return cls("ecr", host=host.lower(), registry_id=m["account"], region=m["region"])
        if host.lower() in DOCKER_HUB_ALIASES:
            host = "registry-1.docker.io"
        loopback = is_loopback(host)
        if scheme == "http" and not (loopback or insecure):
            raise UsageError(
                f'refusing plain HTTP to "{host}": only loopback registries may use http:// unless insecure is "true"'
            )
        if not scheme:
            scheme = "http" if (loopback or insecure) else "https"
        return cls("oci", host=host.lower(), scheme=scheme)

    def __str__(self) -> str:
        if self.kind == "oci-layout":
            return f"oci-layout:{self.path}"
        if self.kind == "ecr":
            if self.registry_id and self.region:
                return f"{self.registry_id}.dkr.ecr.{self.region}.amazonaws.com"
            return "ecr"
        return self.host


class Registry(Protocol):
    """One registry, as the resolver sees it.

    ``display_host`` is what prefixes an image reference (``HOST/REPO@DIGEST``);
    for ECR it may become known only after the first call.
    """

    @property
    def display_host(self) -> str: ...

    def list_tags(self, repository: str) -> Mapping[str, str | None]:
        """Every tag of ``repository``, mapped to its digest when the listing gives it (else None).

        Raises NotFoundError for an unknown repository, AuthError, RegistryError.
        """
        ...

    def digest_of(self, repository: str, reference: str) -> str:
        """The digest a tag or ``sha256:`` reference names; raises NotFoundError when absent."""
        ...

    def pushed_at(self, repository: str, digest: str) -> datetime.datetime | None:
        """When the image was pushed, if the registry records it."""
        ...

    def manifest(self, repository: str, digest: str) -> bytes:
        """The manifest or index body ``digest`` names: at most 4 MiB, of a manifest or index
        media type, checked to hash to ``digest``.  Raises NotFoundError when absent."""
        ...

    def image_config(self, repository: str, digest: str) -> bytes | None:
        """An image's config blob (checked to hash to ``digest``), or None when the registry
        cannot give it cheaply (ECR: a download URL and a second request)."""
        ...
