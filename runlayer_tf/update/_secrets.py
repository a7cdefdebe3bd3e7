"""Masking secrets in everything runlayer-tf prints or journals.

Terraform's stderr, botocore messages and health URLs can carry credentials;
:func:`redact` masks the shapes they come in before any of it reaches a
terminal, a report or the journal.  The shapes (and the test table in
``tests/unit/test_update_secrets.py``) are:

* AWS access key ids (``AKIA``/``ASIA`` + 16);
* a value of a key naming a password, secret, token or credential in the
  ``key=value``, ``"key": "value"`` (JSON) and ``key: value`` (YAML) forms,
  quoted values whole, escaped quotes included;
* URL userinfo, up to the *last* ``@`` of the authority (passwords may hold ``@``);
* ``Authorization: Basic/Bearer ...`` credentials.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["redact", "redact_data"]

MASK = "***"

_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s\"'<>?#]*@")
_ACCESS_KEY = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
_KEY = r"[A-Za-z0-9_.-]*(?:password|passwd|secret|token|credential|api[_-]?key|private[_-]?key)[A-Za-z0-9_.-]*"
# "key": "value" (JSON, also with escaped quotes in the value)
_JSON_PAIR = re.compile(rf"(?i)(?P<key>\"{_KEY}\"\s*:\s*)\"(?:[^\"\\]|\\.)*\"")
# key=value, key: value (YAML), key = "value"; a quoted value is masked whole
_ASSIGN = re.compile(
    # Not \b: after a non-ASCII letter (``éPassword=``) there is no word boundary, and the
    # key name's own characters are ASCII, so the key starts after any other character.
    rf"(?i)(?P<key>(?<![A-Za-z0-9_.-]){_KEY})(?P<sep>\s*[=:]\s*)"
    r"(?:\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s\",;&'\]}]+)"
)
_AUTHORIZATION = re.compile(r"(?i)\b(?P<scheme>basic|bearer)\s+[A-Za-z0-9+/=._~-]{8,}")


def _assign(match: re.Match[str]) -> str:
    value = match.group(0)[match.end("sep") - match.start() :]
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group('key')}{match.group('sep')}{quote}{MASK}{quote}"


def redact(text: str) -> str:
    """``text`` with URL credentials, AWS access key ids and secret-named values masked."""
    text = _URL_USERINFO.sub(rf"\g<scheme>{MASK}@", text)
    text = _ACCESS_KEY.sub("AKIA****************", text)
    text = _JSON_PAIR.sub(rf'\g<key>"{MASK}"', text)
    text = _ASSIGN.sub(_assign, text)
    return _AUTHORIZATION.sub(rf"\g<scheme> {MASK}", text)


def redact_data(value: Any) -> Any:
    """``value`` (JSON-shaped data) with its strings redacted and the values of secret-named keys masked."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {
            str(k): (MASK if re.fullmatch(rf"(?i){_KEY}", str(k)) and v else redact_data(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact_data(v) for v in value]
    return value
