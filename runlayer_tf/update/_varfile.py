"""Reading and rewriting top-level variables in a var-file, through the pins API.

:func:`read_vars`/:func:`set_vars` are the runbook's default
``read_pin``/``set_pin`` seams: one read and one parse of the file for all the
names, and at most one write.  The file is parsed by
:func:`runlayer_tf.pins.find_pins` (with the names declared version names, so
any top-level string literal assigned to one is a pin), the edits are applied
by :func:`runlayer_tf.pins.rewrite` (only the literals' bytes change) and
written by :func:`runlayer_tf.pins.write_if_changed` (atomic, so every variable
changes together; an unchanged file keeps its bytes and mtime).
``.tfvars.json`` files work too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from runlayer_tf.errors import ParseError, PinError
from runlayer_tf.pins import Edit, Pin, PinConfig, find_pins, rewrite, write_if_changed

__all__ = ["read_vars", "set_vars"]

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


def _pins_of(var_file: Path, data: bytes, names: list[str]) -> dict[str, Pin]:
    """The one plain-string pin of each of ``names`` that ``data`` assigns, from one parse."""
    if not names:
        return {}
    config = PinConfig(version_names=frozenset(names))
    try:
        found = find_pins(data, file=str(var_file), config=config)
    except ParseError as err:
        raise PinError(f"cannot read {names[0]} from {var_file}: {err}") from err
    pins: dict[str, Pin] = {}
    for name in names:
        mine = [pin for pin in found if pin.path == name]
        if len(mine) > 1:
            raise PinError(f"{var_file} assigns {name} {len(mine)} times")
        if not mine and _mentions(data, name):
            raise PinError(f"{var_file} assigns {name} something other than a plain string")
        if mine and not mine[0].rewritable:
            raise PinError(f"{var_file} assigns {name} a template, not a plain string")
        if mine:
            pins[name] = mine[0]
    return pins


def read_vars(var_file: Path, names: Iterable[str]) -> dict[str, str]:
    """The string value ``var_file`` assigns to each top-level name of ``names``.

    Names it does not assign are left out.  The file is read and parsed once.
    Raises PinError when it cannot be read or parsed, or an assignment is not a
    plain string literal, or appears twice.
    """
    wanted = list(dict.fromkeys(names))
    return {name: pin.value for name, pin in _pins_of(var_file, _read(var_file), wanted).items()}


def set_vars(var_file: Path, values: Mapping[str, str]) -> list[str]:
    """Set each top-level ``name`` to ``value`` in ``var_file`` in one atomic write; the names whose value changed.

    Only the literals' bytes change; the file is read once and replaced once
    through a temp file, so it holds the old or the new content (every value
    at once), never a mix.  Nothing is written when a value is refused or a
    name has no plain string assignment; an unchanged file is not written.
    Raises PinError.
    """
    for name, value in values.items():
        if _UNSAFE.search(value):
            raise PinError(
                f"refusing to write {name} = {value!r}: quotes, backslashes and templates are not allowed"
            )
    data = _read(var_file)
    pins = _pins_of(var_file, data, list(values))
    edits = []
    for name, value in values.items():
        if name not in pins:
            raise PinError(f"{var_file} has no plain string assignment of {name}")
        edits.append(Edit.of(pins[name], value))
    write_if_changed(var_file, data, rewrite(data, edits))
    # A pin's value is exactly its literal's bytes, so it changed exactly when it differs.
    return [name for name, value in values.items() if pins[name].value != value]
