"""The tag and selector grammar: regular expressions and the kinds they name."""

from __future__ import annotations

import enum
import re

TYPE_CHECKING = False
if TYPE_CHECKING:

    def _Lazy(pattern: str) -> re.Pattern[str]: ...

else:

    class _Lazy:
        """A regular expression compiled when it is first used: compiling all of them cost a few
        milliseconds of every cold start, and a run needs only some (``v1.2.3`` never parses a
        constraint).  After the first use its methods are the compiled pattern's own."""

        def __init__(self, pattern: str) -> None:
            self.pattern = pattern

        def __getattr__(self, name: str) -> object:
            compiled = re.compile(self.pattern)
            for method in ("match", "fullmatch", "search", "finditer", "findall", "sub"):
                setattr(self, method, getattr(compiled, method))
            return getattr(compiled, name)


# Grammar pieces.  Numbers have no leading zeros (semver 2.0.0, section 2) and
# at most 18 digits, so that int() of one is cheap and fits 64 bits.
_NUM = r"(?:0|[1-9][0-9]{0,17})"
_CORE = rf"(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_PRE = rf"(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*)"

_OCI_TAG = _Lazy(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_RELEASE = _Lazy(rf"v{_CORE}")
_PRERELEASE = _Lazy(rf"v{_CORE}-{_PRE}")
_TIMESTAMP = _Lazy(r"(?P<date>[0-9]{8})-(?P<time>[0-9]{6})")
_BUILD = _Lazy(rf"v{_CORE}-(?P<date>[0-9]{{8}})-(?P<time>[0-9]{{6}})-(?P<commit>[0-9a-f]{{7,40}})")
# Shapes: text that is meant to be one of the forms above, so a mismatch is an
# error (``Tag.parse``) rather than an unrelated tag.
_VERSION_SHAPED = _Lazy(r"v[0-9]+\.[0-9]+\.[0-9]+")
_BUILD_SHAPED = _Lazy(r"v[0-9][0-9.]*-[0-9]{8}-[0-9]{6}(?:-|$)")
_COMMIT_SHAPED = _Lazy(r"v.*-[0-9]{8}-[0-9]{6}-(?P<commit>.*)")

# Selector grammar: versions with an optional "v" and 1-3 components.
_SEL_VERSION = _Lazy(rf"v?{_CORE}(?:-{_PRE})?")
_SEL_PARTIAL = _Lazy(rf"v?(?P<major>{_NUM})(?:\.(?P<minor>{_NUM}))?")
_CONSTRAINT_CLAUSE = _Lazy(
    rf"(?P<op>=|!=|>=|<=|>|<|~>)?\s*v?(?P<major>{_NUM})(?:\.(?P<minor>{_NUM})(?:\.(?P<patch>{_NUM}))?)?(?:-{_PRE})?"
)
_DIGEST = _Lazy(r"sha256:[0-9a-f]{64}")
_DIGEST_ALGORITHM = _Lazy(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*")
_LEADING_ZERO = _Lazy(r"(?<![0-9A-Za-z-])0[0-9]+(?![0-9A-Za-z-])")


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
