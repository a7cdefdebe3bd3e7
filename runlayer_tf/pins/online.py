"""The registry side of pins: the ``--online`` rules (RTF004, RTF005, RTF006) and ``pins bump``.

:class:`PinLookups` works out which registry and repository each pin of a set
points at and caches the listings and digests it asks for.
"""

from __future__ import annotations

from runlayer_tf.pins._online import (
    BUMP_LEVELS,
    BumpPlan,
    PinLookups,
    Target,
    online_rules,
    plan_bump,
)
from runlayer_tf.pins._signed import signature_rule

RegistryLookups = PinLookups
"""The old name of :class:`PinLookups` (deprecated; it was one of two classes of that name)."""

__all__ = [
    "BUMP_LEVELS",
    "BumpPlan",
    "PinLookups",
    "RegistryLookups",
    "Target",
    "online_rules",
    "plan_bump",
    "signature_rule",
]
