"""Reading and rewriting one top-level variable in a var-file, through the pins API.

These are the runbook's default ``read_pin``/``set_pin`` seams.  The file is
parsed by :func:`runlayer_tf.pins.find_pins` (with ``name`` declared a version
name, so any top-level string literal assigned to it is a pin), the edit is
applied by :func:`runlayer_tf.pins.apply_edits` (only the literal's bytes
change) and written by :func:`runlayer_tf.pins.write_if_changed` (atomic; an
unchanged file keeps its bytes and mtime).  ``.tfvars.json`` files work too.
"""

from __future__ import annotations

import re
from pathlib import Path

from runlayer_tf.errors import ParseError, PinError
from runlayer_tf.pins import Edit, Pin, PinConfig, apply_edits, find_pins, write_if_changed

__all__ = ["read_var", "set_var"]

# A value is written into a quoted literal verbatim: nothing that would end it
# or turn it into a template.
_UNSAFE = re.compile(r'["\\\n\r]|\$\{|%\{')


def _read(var_file: Path) -> bytes:
    try:
        return var_file.read_bytes()
    except OSError as err:
        raise PinError(f"cannot read var-file {var_file}: {err.strerror or err}") from err


def _mentions(data: bytes, name: str) -> bool:
    pattern = rf'^[ \t]*"?{re.escape(name)}"?[ \t]*[=:]'.encode()
    return re.search(pattern, data, re.MULTILINE) is not None


def _pins_of(var_file: Path, data: bytes, name: str) -> list[Pin]:
    config = PinConfig(version_names=frozenset({name}))
    try:
        found = find_pins(data, file=str(var_file), config=config)
    except ParseError as err:
        raise PinError(f"cannot read {name} from {var_file}: {err}") from err
    pins = [pin for pin in found if pin.path == name]
    if len(pins) > 1:
        raise PinError(f"{var_file} assigns {name} {len(pins)} times")
    if not pins and _mentions(data, name):
        raise PinError(f"{var_file} assigns {name} something other than a plain string")
    if pins and not pins[0].rewritable:
        raise PinError(f"{var_file} assigns {name} a template, not a plain string")
    return pins


def read_var(var_file: Path, name: str) -> str | None:
    """The string value ``var_file`` assigns to top-level ``name``, or None when it assigns none.

    Raises PinError when the file cannot be read or parsed, or the assignment
    is not a plain string literal, or appears twice.
    """
    pins = _pins_of(var_file, _read(var_file), name)
    return pins[0].value if pins else None


def set_var(var_file: Path, name: str, value: str) -> bool:
    """Set top-level ``name`` to ``value`` in ``var_file`` atomically; False when it already held it.

    Only the literal's bytes change; the file is replaced through a temp file,
    so it holds the old or the new content, never a mix.  Raises PinError.
    """
    if _UNSAFE.search(value):
        raise PinError(
            f"refusing to write {name} = {value!r}: quotes, backslashes and templates are not allowed"
        )
    data = _read(var_file)
    pins = _pins_of(var_file, data, name)
    if not pins:
        raise PinError(f"{var_file} has no plain string assignment of {name}")
    new = apply_edits(data, [Edit.of(pins[0], value)])
    return write_if_changed(var_file, data, new)
