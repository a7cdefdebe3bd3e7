"""Tag grammar and tag selection: which tag of a repository a selector means.

Pure functions over strings; no I/O.  The product's CI pushes these tags::

    latest                              LATEST     moves with every release
    v1.2.3                              RELEASE    version 1.2.3
    20241213-152430                     TIMESTAMP  a build, UTC date and time
    v1.2.3-20241213-152430-a1b2c3d4     BUILD      version, UTC timestamp, commit (7-40 lowercase hex)
    v1.3.0-rc.1                         PRERELEASE any other semver suffix
    anything else                       OTHER      never chosen by a version selector

A *selector* is what a user writes: one of those tags, a full version
(``v1.2.3``/``1.2.3``), a partial version (``v1.2``, ``1``), a Terraform-style
constraint (``~> 1.2``, ``>= 1.3.0, < 1.4.0``) or a digest (``sha256:...``).
:func:`select` picks the concrete tag a selector means among a repository's tags:
a range (``v1.2``, ``~> 1.2``) the highest *released* version (one with a plain
``vX.Y.Z`` tag; build-only versions are skipped), a full version its plain tag,
else its build tag with the newest timestamp.

Also :class:`ImageRef`, the one image-reference value, and :class:`Platform`
(``linux/arm64/v8``) with :func:`choose_platform`, which entry of an image
index serves a platform.  Imported by
``runlayer-tf external`` on every cache miss, so it uses only the standard
library: versions are :class:`Version` (SemVer 2.0.0 precedence, as the
``semver`` package orders them, without its imports) and the value classes
``runlayer_tf._values``.
"""

from __future__ import annotations

from runlayer_tf.tags._digest import Digest, is_digest
from runlayer_tf.tags._grammar import SelectorKind, TagKind
from runlayer_tf.tags._platform import Platform, choose_platform
from runlayer_tf.tags._reference import ImageRef
from runlayer_tf.tags._select import newest_release, releases_newest_first, select
from runlayer_tf.tags._selector import Constraint, Selector
from runlayer_tf.tags._tag import Tag, crosses_major, parse_version
from runlayer_tf.tags._version import Version

__all__ = [
    "Constraint",
    "Digest",
    "ImageRef",
    "Platform",
    "Selector",
    "SelectorKind",
    "Tag",
    "TagKind",
    "Version",
    "choose_platform",
    "crosses_major",
    "is_digest",
    "newest_release",
    "parse_version",
    "releases_newest_first",
    "select",
]
