"""The one table of pin rules: id -> summary, and whether it needs a registry.

``pins check`` (its offline and online rules), the configuration's ``disable``
list and the docs all read this table; a new rule is one row here and its check.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

__all__ = ["RULES", "RuleInfo"]


@attrs.frozen
class RuleInfo:
    """What a rule id means: a one-line summary, and ``online`` when it asks the registry."""

    summary: str
    online: bool = False


RULES: Mapping[str, RuleInfo] = {
    "RTF000": RuleInfo("the file does not parse"),
    "RTF001": RuleInfo("malformed tag or digest"),
    "RTF002": RuleInfo("latest or a moving selector in a production file"),
    "RTF003": RuleInfo("image pin's tag disagrees with the version variable it follows"),
    "RTF004": RuleInfo(
        "a pinned tag@digest whose tag now points at another digest (tag moved)", online=True
    ),
    "RTF005": RuleInfo("a pinned tag that does not exist in its repository", online=True),
    "RTF006": RuleInfo(
        "a pinned image not signed by a configured verify key (cosign)", online=True
    ),
}
