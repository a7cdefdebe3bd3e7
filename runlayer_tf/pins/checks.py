"""Checking pins: the rule table (RTF000-RTF005) and the offline rules behind ``pins check``.

A public sub-facade of :mod:`runlayer_tf.pins`, as :mod:`runlayer_tf.pins.online`
is for the registry-backed rules::

    from runlayer_tf import pins
    from runlayer_tf.pins import checks

    config = pins.load_config()
    violations = checks.check_scans(pins.scan_paths(["envs/"], config=config), config)

:data:`RULES` is the one table of rule ids, summaries and whether a rule asks
a registry; :data:`OFFLINE_RULES` are the rules that need none (RTF000-RTF003).
A :class:`Rule` is a function of a :class:`CheckContext` (the scans and the
configuration) yielding :class:`Violation` values; the online rules come from
:func:`runlayer_tf.pins.online.online_rules`.
"""

from __future__ import annotations

from runlayer_tf.pins._checks import OFFLINE_RULES, CheckContext, Rule, Violation, check_scans
from runlayer_tf.pins._rules import RULES

__all__ = ["OFFLINE_RULES", "RULES", "CheckContext", "Rule", "Violation", "check_scans"]
