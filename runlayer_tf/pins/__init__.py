"""Find, rewrite and check container image pins in Terraform files.

The public API for scripts (see the README (section "Pins"))::

    from runlayer_tf import pins

    found = pins.find_pins(text, file="prod.tfvars")          # pure, on text or bytes
    edits = pins.plan_edits(found, {"backend_version": "v1.3.0"})
    new_text = pins.rewrite(text, edits)                     # only the pins' bytes change
    pins.set_in_files(["envs/"], {"backend-production": "v1.3.0"})  # read, plan, atomic write

Pure functions live in ``finder``, ``rewrite`` and ``checks``; only ``files``
(and :func:`set_in_files`) touch the disk.
"""

from __future__ import annotations

from runlayer_tf.pins._changes import FileChange, apply_changes, plan_changes, set_in_files
from runlayer_tf.pins._checks import (
    OFFLINE_RULES,
    RESERVED_ONLINE_RULES,
    Check,
    CheckContext,
    Rule,
    Violation,
    check_scans,
    run_checks,
)
from runlayer_tf.pins._config import PinConfig, load_config, parse_config
from runlayer_tf.pins._files import atomic_write, iter_terraform_files, write_if_changed
from runlayer_tf.pins._finder import (
    FileScan,
    TerraformParseError,
    find_pins,
    find_pins_in_file,
    may_hold_pins,
    scan_file,
    scan_paths,
)
from runlayer_tf.pins._model import Edit, Pin, PinKind
from runlayer_tf.pins._rewrite import (
    DigestLookup,
    PinValue,
    apply_edits,
    follows_map,
    plan_edits,
    rewrite,
)
from runlayer_tf.tags import ImageRef

__all__ = [
    "OFFLINE_RULES",
    "RESERVED_ONLINE_RULES",
    "Check",
    "CheckContext",
    "DigestLookup",
    "Edit",
    "FileChange",
    "FileScan",
    "ImageRef",
    "Pin",
    "PinConfig",
    "PinKind",
    "PinValue",
    "Rule",
    "TerraformParseError",
    "Violation",
    "apply_changes",
    "apply_edits",
    "atomic_write",
    "check_scans",
    "find_pins",
    "find_pins_in_file",
    "follows_map",
    "iter_terraform_files",
    "load_config",
    "may_hold_pins",
    "parse_config",
    "plan_changes",
    "plan_edits",
    "rewrite",
    "run_checks",
    "scan_file",
    "scan_paths",
    "set_in_files",
    "write_if_changed",
]
