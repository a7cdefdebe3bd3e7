"""Deprecated: ``runlayer_tf.pins.online`` is now :mod:`runlayer_tf.pins` itself.

``from runlayer_tf.pins import PinLookups, online_rules, plan_bump`` instead; this
alias module goes away in the next release.
"""

from __future__ import annotations

import warnings

from runlayer_tf.pins._online import BumpPlan, PinLookups, Target, online_rules, plan_bump

warnings.warn(
    "runlayer_tf.pins.online is deprecated; import PinLookups, online_rules and plan_bump "
    "from runlayer_tf.pins",
    DeprecationWarning,
    stacklevel=2,
)

RegistryLookups = PinLookups  # its old name

__all__ = ["BumpPlan", "PinLookups", "RegistryLookups", "Target", "online_rules", "plan_bump"]
