"""Find, rewrite and check container image pins in Terraform files.

The public API for scripts (see the manual's "Pins" page)::

    from runlayer_tf import pins

    found = pins.find_pins(text, file="prod.tfvars")          # pure, on text or bytes
    edits = pins.plan_edits(found, {"backend_version": "v1.3.0"})
    new_text = pins.rewrite(text, edits)                     # only the pins' bytes change
    pins.set_in_files(["envs/"], {"backend-production": "v1.3.0"})  # read, plan, atomic write

Finding, rewriting and checking are pure functions over text (``_finder``,
``_rewrite``, ``_checks``); only ``_files``, ``_changes`` and the scanning
functions touch the disk.  The registry-backed rules and ``pins bump`` are in
:mod:`runlayer_tf.pins.online`.
"""

from __future__ import annotations

from runlayer_tf.pins._changes import FileChange, apply_changes, plan_changes, set_in_files
from runlayer_tf.pins._checks import OFFLINE_RULES, CheckContext, Rule, Violation, check_scans
from runlayer_tf.pins._config import PinConfig, load_config, merge_overrides
from runlayer_tf.pins._files import write_if_changed
from runlayer_tf.pins._finder import FileScan, all_pins, find_pins, pins_in, scan_paths
from runlayer_tf.pins._model import Edit, Pin, PinKind
from runlayer_tf.pins._rewrite import PinValue, apply_edits, follows_map, plan_edits, rewrite
from runlayer_tf.pins._rules import RULES
from runlayer_tf.tags import ImageRef

__all__ = [
    "OFFLINE_RULES",
    "RULES",
    "CheckContext",
    "Edit",
    "FileChange",
    "FileScan",
    "ImageRef",
    "Pin",
    "PinConfig",
    "PinKind",
    "PinValue",
    "Rule",
    "Violation",
    "all_pins",
    "apply_changes",
    "apply_edits",
    "check_scans",
    "find_pins",
    "follows_map",
    "load_config",
    "merge_overrides",
    "pins_in",
    "plan_changes",
    "plan_edits",
    "rewrite",
    "scan_paths",
    "set_in_files",
    "write_if_changed",
]

# Names this package exported before 0.x's layout change; importable for one more
# release, with a DeprecationWarning naming where they went.
_DEPRECATED = {
    "RESERVED_ONLINE_RULES": ("runlayer_tf.pins._checks", "RULES (rows with online=True)"),
    "DigestLookup": ("runlayer_tf.pins._rewrite", "a callable (image, tag) -> Digest"),
    "atomic_write": ("runlayer_tf.pins._files", "write_if_changed"),
    "find_pins_in_file": ("runlayer_tf.pins._finder", "pins_in([path])"),
    "iter_terraform_files": ("runlayer_tf.pins._files", "scan_paths"),
    "may_hold_pins": ("runlayer_tf.pins._finder", "find_pins"),
    "parse_config": ("runlayer_tf.pins._config", "load_config"),
    "run_checks": ("runlayer_tf.pins._checks", "check_scans"),
    "scan_file": ("runlayer_tf.pins._finder", "scan_paths([path])"),
}


def __getattr__(name: str) -> object:
    if name in _DEPRECATED:
        import importlib
        import warnings

        module, instead = _DEPRECATED[name]
        warnings.warn(
            f"runlayer_tf.pins.{name} is deprecated and leaves the public API in the next "
            f"release; use {instead}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module 'runlayer_tf.pins' has no attribute {name!r}")
