"""Reading and rewriting one variable in a ``.tfvars`` file.

TEMPORARY: this is the interim default for the runbook's ``set_pin``/``read_pin``
seams, to be replaced by the ``runlayer_tf.pins`` API.  It handles only a
top-level ``name = "literal"`` assignment, replaces only that literal's span
(every other byte is kept), and refuses anything it does not understand.
"""

from __future__ import annotations

import re
from pathlib import Path

from runlayer_tf.errors import PinError
from runlayer_tf.update._fs import atomic_write_bytes

__all__ = ["read_var", "set_var"]

_UNSAFE = re.compile(r'["\\\n\r]|\$\{|%\{')


def _assignments(text: str, name: str) -> list[re.Match[str]]:
    pattern = re.compile(
        rf'^[ \t]*{re.escape(name)}[ \t]*=[ \t]*"(?P<value>(?:[^"\\\n]|\\.)*)"[ \t]*(?:(?:#|//).*)?$',
        re.MULTILINE,
    )
    return list(pattern.finditer(text))


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"^[ \t]*{re.escape(name)}[ \t]*=", text, re.MULTILINE) is not None


def read_var(var_file: Path, name: str) -> str | None:
    """The string value ``var_file`` assigns to ``name``, or None when it assigns none.

    Raises PinError when the file cannot be read or the assignment is not a
    plain string literal, or appears twice.
    """
    # TEMPORARY: switch to runlayer_tf.pins once it lands.
    try:
        text = var_file.read_text(encoding="utf-8")
    except OSError as err:
        raise PinError(f"cannot read var-file {var_file}: {err.strerror or err}") from err
    found = _assignments(text, name)
    if len(found) > 1:
        raise PinError(f"{var_file} assigns {name} {len(found)} times")
    if not found:
        if _mentions(text, name):
            raise PinError(f"{var_file} assigns {name} something other than a plain string")
        return None
    return found[0]["value"]


def set_var(var_file: Path, name: str, value: str) -> bool:
    """Set ``name`` to ``value`` in ``var_file`` atomically; False when it already held it.

    Only the literal's characters change; the file is replaced through a temp
    file, so it holds the old or the new content, never a mix.  Raises PinError.
    """
    # TEMPORARY: switch to runlayer_tf.pins once it lands.
    if _UNSAFE.search(value):
        raise PinError(
            f"refusing to write {name} = {value!r}: quotes, backslashes and templates are not allowed"
        )
    try:
        data = var_file.read_bytes()
    except OSError as err:
        raise PinError(f"cannot read var-file {var_file}: {err.strerror or err}") from err
    text = data.decode("utf-8")
    found = _assignments(text, name)
    if len(found) != 1:
        raise PinError(
            f"{var_file} has {len(found)} plain string assignments of {name}, expected 1"
        )
    start, end = found[0].span("value")
    if text[start:end] == value:
        return False
    new = text[:start] + value + text[end:]
    try:
        return atomic_write_bytes(var_file, new.encode("utf-8"))
    except OSError as err:
        raise PinError(f"cannot write var-file {var_file}: {err.strerror or err}") from err
