"""The tag and selector grammar: regular expressions and the kinds they name."""

from __future__ import annotations

import enum
import re

# Grammar pieces.  Numbers have no leading zeros (semver 2.0.0, section 2).
_NUM = r"(?:0|[1-9][0-9]*)"
_CORE = rf"(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_PRE = rf"(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*)"

_OCI_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_RELEASE = re.compile(rf"v{_CORE}")
_PRERELEASE = re.compile(rf"v{_CORE}-{_PRE}")
_TIMESTAMP = re.compile(r"(?P<date>[0-9]{8})-(?P<time>[0-9]{6})")
_BUILD = re.compile(
    rf"v{_CORE}-(?P<date>[0-9]{{8}})-(?P<time>[0-9]{{6}})-(?P<commit>[0-9a-f]{{7,40}})"
)
# Shapes: text that is meant to be one of the forms above, so a mismatch is an
# error (``Tag.parse``) rather than an unrelated tag.
_VERSION_SHAPED = re.compile(r"v[0-9]+\.[0-9]+\.[0-9]+")
_BUILD_SHAPED = re.compile(r"v[0-9][0-9.]*-[0-9]{8}-[0-9]{6}(?:-|$)")
_COMMIT_SHAPED = re.compile(r"v.*-[0-9]{8}-[0-9]{6}-(?P<commit>.*)")

# Selector grammar: versions with an optional "v" and 1-3 components.
_SEL_VERSION = re.compile(rf"v?{_CORE}(?:-{_PRE})?")
_SEL_PARTIAL = re.compile(rf"v?(?P<major>{_NUM})(?:\.(?P<minor>{_NUM}))?")
_CONSTRAINT_CLAUSE = re.compile(
    rf"(?P<op>=|!=|>=|<=|>|<|~>)?\s*v?(?P<major>{_NUM})(?:\.(?P<minor>{_NUM})(?:\.(?P<patch>{_NUM}))?)?(?:-{_PRE})?"
)
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_DIGEST_ALGORITHM = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*")
_LEADING_ZERO = re.compile(r"(?<![0-9A-Za-z-])0[0-9]+(?![0-9A-Za-z-])")


class TagKind(enum.Enum):
    """Which of the product's tag forms a tag has."""

    LATEST = "latest"
    RELEASE = "release"
    BUILD = "build"
    TIMESTAMP = "timestamp"
    PRERELEASE = "prerelease"
    OTHER = "other"


class SelectorKind(enum.Enum):
    """What a selector names: one tag, a version, a range of versions, or a digest."""

    LATEST = "latest"
    EXACT = "exact"
    VERSION = "version"
    PARTIAL = "partial"
    CONSTRAINT = "constraint"
    DIGEST = "digest"
