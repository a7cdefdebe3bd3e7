"""The byte-level pre-scan: a cheap test that a file may hold a pin, linear in its size.

:func:`may_hold_pins` is the cheap pre-scan used before parsing.  Why it never
drops a file that holds a pin:

* every image pin's value is a substring of the file's bytes (literal contents
  and heredoc bodies are not unescaped before matching, and an image reference
  has no escapable characters), and the finder only accepts values matching
  :data:`IMAGE_REF_PATTERN` or :data:`IMAGE_TEMPLATE_PATTERN`; the pre-scan
  searches the raw bytes for the same patterns without the finder's anchors,
  so whatever the finder accepts, the pre-scan finds;
* a version pin needs a name ending in ``_version``/``_tag`` (or a configured
  name) in the text, followed after optional ``"`` and whitespace by ``=``,
  ``:`` or ``{``, and a literal whose content starts with ``v<digit>``,
  ``latest`` or 8 digits, directly after a ``"``; the pre-scan requires both
  (anywhere, so it is a superset); a configured name alone keeps the file.
"""

from __future__ import annotations

import re

from runlayer_tf.pins._config import PinConfig
from runlayer_tf.pins._model import IMAGE_REF_PATTERN, IMAGE_TEMPLATE_PATTERN

__all__ = ["may_hold_pins"]

# Pre-scan patterns (bytes), see the module docstring.
_SCAN_IMAGE = re.compile(IMAGE_REF_PATTERN.encode())
# The last repository component of a reference: "<alnum or }>/<component>[:@]".
# A component holds no "/", so each scan from a start ends at the next one:
# linear, unlike "/[a-z0-9._/-]*[:@]" on a long run of slashes.
_SCAN_IMAGE_CANDIDATE = re.compile(rb"[A-Za-z0-9}]/[a-z0-9][a-z0-9._-]*[:@]")
_SCAN_REF_BYTES = re.compile(rb"[A-Za-z0-9._:/-]*")
_SCAN_WINDOW = 320  # a host name is at most 253 bytes; longer registries fall back to True
_SCAN_CONFIRMATIONS = 32
_SCAN_TEMPLATE = re.compile(IMAGE_TEMPLATE_PATTERN.encode())
_SCAN_VERSION_NAME = re.compile(rb"(?:_version|_tag)\"?\s*[=:{]")
_SCAN_VERSION_VALUE = re.compile(rb"\"(?:v[0-9]|latest|[0-9]{8})")


def _may_hold_image(data: bytes) -> bool:
    """Linear in ``len(data)``: every match of the candidate pattern is confirmed in a
    window of bounded size, and only the first few; past those, or when a
    reference could start before its window, the answer is True (a superset)."""
    for number, match in enumerate(_SCAN_IMAGE_CANDIDATE.finditer(data)):
        if number >= _SCAN_CONFIRMATIONS or data[match.start()] == ord("}"):
            return True
        low = max(0, match.start() - _SCAN_WINDOW)
        if low > 0 and _SCAN_REF_BYTES.fullmatch(data, low - 1, match.start()):
            return True  # a registry longer than the window: let the parser decide
        if _SCAN_IMAGE.search(data, low, match.end() + _SCAN_WINDOW):
            return True
    return False


def may_hold_pins(data: bytes, config: PinConfig | None = None) -> bool:
    """Cheap pre-scan: False only when ``data`` provably holds no pin (see module docstring)."""
    if _may_hold_image(data):
        return True
    if b"${" in data and _SCAN_TEMPLATE.search(data):
        return True
    if config is not None and any(name.encode() in data for name in config.version_names):
        return True
    return bool(_SCAN_VERSION_NAME.search(data) and _SCAN_VERSION_VALUE.search(data))
