"""Find, rewrite and check container image pins in Terraform files.

The public API for scripts (see the manual's "Pins" page)::

    from runlayer_tf import pins

    found = pins.find_pins(text, file="prod.tfvars")          # pure, on text or bytes
    edits = pins.plan_edits(found, {"backend_version": "v1.3.0"})
    new_text = pins.rewrite(text, edits)                     # only the pins' bytes change
    changes = pins.plan_changes(["envs/"], {"backend-production": "v1.3.0"})
    pins.apply_changes(changes)                              # atomic writes

Finding and rewriting are pure functions over text (``_finder``, ``_rewrite``);
only ``_files``, ``_changes`` and the scanning functions touch the disk.  Two
small sub-facades hold the rest: :mod:`runlayer_tf.pins.checks` (the rule
table and ``pins check``'s offline rules) and :mod:`runlayer_tf.pins.online`
(the registry-backed rules and ``pins bump``).
"""

from __future__ import annotations

from runlayer_tf._compat import moved_names
from runlayer_tf.pins._changes import FileChange, apply_changes, plan_changes
from runlayer_tf.pins._config import PinConfig, load_config
from runlayer_tf.pins._files import write_if_changed
from runlayer_tf.pins._finder import find_pins
from runlayer_tf.pins._model import Edit, Pin, PinKind
from runlayer_tf.pins._rewrite import PinValue, plan_edits, rewrite
from runlayer_tf.pins._scan import FileScan, scan_paths

__all__ = [
    "Edit",
    "FileChange",
    "FileScan",
    "Pin",
    "PinConfig",
    "PinKind",
    "PinValue",
    "apply_changes",
    "find_pins",
    "load_config",
    "plan_changes",
    "plan_edits",
    "rewrite",
    "scan_paths",
    "write_if_changed",
]

# Names this package exported before; importable for one more release, with a
# DeprecationWarning naming what to use instead.
_DEPRECATED = {
    # before 0.x's layout change
    "RESERVED_ONLINE_RULES": ("runlayer_tf.pins._checks", "RULES (rows with online=True)"),
    "DigestLookup": ("runlayer_tf.pins._rewrite", "a callable (image, tag) -> Digest"),
    "atomic_write": ("runlayer_tf.pins._files", "write_if_changed"),
    "find_pins_in_file": ("runlayer_tf.pins._scan", "scan_paths([path])"),
    "iter_terraform_files": ("runlayer_tf.pins._files", "scan_paths"),
    "may_hold_pins": ("runlayer_tf.pins._prescan", "find_pins"),
    "parse_config": ("runlayer_tf.pins._config", "load_config"),
    "run_checks": ("runlayer_tf.pins._checks", "runlayer_tf.pins.checks.check_scans"),
    "scan_file": ("runlayer_tf.pins._scan", "scan_paths([path])"),
    # the public API cut to 15 names (issue 9): checking moved to pins.checks
    "OFFLINE_RULES": ("runlayer_tf.pins.checks", "runlayer_tf.pins.checks.OFFLINE_RULES"),
    "RULES": ("runlayer_tf.pins.checks", "runlayer_tf.pins.checks.RULES"),
    "CheckContext": ("runlayer_tf.pins.checks", "runlayer_tf.pins.checks.CheckContext"),
    "Rule": ("runlayer_tf.pins.checks", "runlayer_tf.pins.checks.Rule"),
    "Violation": ("runlayer_tf.pins.checks", "runlayer_tf.pins.checks.Violation"),
    "check_scans": ("runlayer_tf.pins.checks", "runlayer_tf.pins.checks.check_scans"),
    "ImageRef": ("runlayer_tf.tags", "runlayer_tf.tags.ImageRef"),
    "apply_edits": ("runlayer_tf.pins._rewrite", "rewrite (bytes in, bytes out)"),
    "set_in_files": ("runlayer_tf.pins._changes", "plan_changes, then apply_changes"),
    "all_pins": ("runlayer_tf.pins._scan", "[p for scan in scans for p in scan.pins]"),
    "pins_in": ("runlayer_tf.pins._scan", "scan_paths (each FileScan has pins and error)"),
    "merge_overrides": ("runlayer_tf.pins._config", "PinConfig.with_overrides"),
    "follows_map": ("runlayer_tf.pins._rewrite", "PinConfig.follows_for"),
}


__getattr__ = moved_names(__name__, _DEPRECATED)
