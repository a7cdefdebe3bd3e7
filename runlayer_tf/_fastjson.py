"""JSON for the external program's cache hit, without importing :mod:`json`.

The ``json`` package imports ``re`` (and with it ``enum``, ``functools``,
``collections``): about as much CPU as the interpreter's own start, on every
data source of every plan.  These functions use the C accelerator that ``json``
itself is built on (``_json``: the same scanner and the same string quoting) and
hand everything else to ``json``, so every result, and every error with its
message, is exactly ``json``'s:

* :func:`loads` parses with ``_json``'s scanner when the text is one JSON value
  between JSON whitespace; anything else (bytes that are not UTF-8, a BOM, extra
  data, a syntax error, nesting too deep) goes to ``json.loads``, which gives the
  answer or raises its own error.
* :func:`dumps` writes what ``json.dumps(value, sort_keys=True)`` writes for dicts
  with string keys, lists, strings, ints, booleans and None; other values go to
  ``json.dumps``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: this module exists to keep imports out
if TYPE_CHECKING:
    from collections.abc import Callable

_WHITESPACE = " \t\n\r"  # json's WHITESPACE
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


class _Context:
    """The attributes ``_json.make_scanner`` reads: ``json.JSONDecoder()``'s defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


_quote: Callable[[str], str] | None
_scan: Callable[[str, int], tuple[object, int]] | None
try:
    from _json import encode_basestring_ascii, make_scanner
except ImportError:  # pragma: no cover - an interpreter without the accelerator
    _quote = _scan = None
else:
    _quote = encode_basestring_ascii
    _scan = make_scanner(_Context())  # type: ignore[arg-type]  # duck-typed: a decoder's fields


def loads(data: str | bytes) -> object:
    """``json.loads(data)``: the same value, or the same exception."""
    if _scan is not None:
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
            start = len(text) - len(text.lstrip(_WHITESPACE))
            value, end = _scan(text, start)
            if not text[end:].strip(_WHITESPACE):
                return value
        except (ValueError, StopIteration, RecursionError, SystemError):
            # SystemError: _json reports a syntax error with json.decoder's JSONDecodeError,
            # which it takes from sys.modules; before json is imported it cannot, and says so.
            pass
    import json

    return json.loads(data)


def dumps(value: object) -> str:
    """``json.dumps(value, sort_keys=True)``."""
    if _quote is not None:
        parts: list[str] = []
        if _encode(value, parts):
            return "".join(parts)
    import json

    return json.dumps(value, sort_keys=True)


def _encode(value: object, out: list[str]) -> bool:
    """Append ``value``'s JSON to ``out``; False when it holds a type left to ``json``."""
    assert _quote is not None
    if isinstance(value, str):
        out.append(_quote(value))
    elif value is None:
        out.append("null")
    elif value is True or value is False:
        out.append("true" if value else "false")
    elif type(value) is int:
        out.append(int.__repr__(value))
    elif type(value) is list:
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(", ")
            if not _encode(item, out):
                return False
        out.append("]")
    elif type(value) is dict:
        if not all(isinstance(key, str) for key in value):
            return False
        out.append("{")
        for i, key in enumerate(sorted(value)):
            if i:
                out.append(", ")
            out.append(_quote(key))
            out.append(": ")
            if not _encode(value[key], out):
                return False
        out.append("}")
    else:
        return False
    return True
