"""runlayer_tf._fastjson is json without importing json: same values, same output, same errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from runlayer_tf import _fastjson

ROOT = Path(__file__).resolve().parents[2]

EXAMPLES = int(os.environ.get("RUNLAYER_TF_FUZZ_EXAMPLES", "150"))

scalars = st.none() | st.booleans() | st.integers() | st.text()
values = st.recursive(
    scalars | st.floats(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
whitespace = st.text(alphabet=" \t\n\r\x0b\x0c\u00a0\ufeff", max_size=3)


def outcome(function, argument):
    """(value's repr, None) or (None, exception type and message)."""
    try:
        return repr(function(argument)), None
    except (ValueError, RecursionError) as err:
        return None, (type(err), str(err))


@settings(max_examples=EXAMPLES, deadline=None)
@given(values, whitespace, whitespace, st.sampled_from(["", ",", "}", "x", "]", " 1"]))
def test_loads_is_json_loads_on_json_text_and_near_misses(value, before, after, extra):
    text = before + json.dumps(value) + after
    for candidate in (text, text + extra, text[:-1], text[1:]):
        assert outcome(_fastjson.loads, candidate) == outcome(json.loads, candidate)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(max_size=40))
def test_loads_is_json_loads_on_any_text(text):
    assert outcome(_fastjson.loads, text) == outcome(json.loads, text)


@settings(max_examples=EXAMPLES, deadline=None)
@given(values, st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32-be"]))
def test_loads_is_json_loads_on_bytes_in_every_encoding_json_detects(value, encoding):
    data = json.dumps(value).encode(encoding)
    assert outcome(_fastjson.loads, data) == outcome(json.loads, data)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.binary(max_size=40))
def test_loads_is_json_loads_on_any_bytes(data):
    assert outcome(_fastjson.loads, data) == outcome(json.loads, data)


def test_loads_gives_json_errors_word_for_word():
    for text in ("", "{", '{"a": 1} x', "[" * 100_000 + "]" * 100_000, '"\x01"', "\ufeff{}", "NaN"):
        assert outcome(_fastjson.loads, text) == outcome(json.loads, text)


@settings(max_examples=EXAMPLES, deadline=None)
@given(values)
def test_dumps_is_json_dumps_with_sorted_keys(value):
    assert _fastjson.dumps(value) == json.dumps(value, sort_keys=True)


def test_dumps_of_what_the_external_program_writes():
    result = {"tag": "v1.2.3", "tags": "a,b", "digest": "sha256:" + "a" * 64, "ü": "\u2028\x00"}
    assert _fastjson.dumps(result) == json.dumps(result, sort_keys=True)
    stamp = [["/x/config", 2049, 1234, 0, 1700000000000000000], ["/y", None]]
    assert _fastjson.dumps(stamp) == json.dumps(stamp)
    assert _fastjson.dumps({2: "a", True: "b"}) == json.dumps({2: "a", True: "b"}, sort_keys=True)


def test_neither_direction_imports_json():
    code = (
        "import sys\n"
        "from runlayer_tf import _fastjson\n"
        "assert _fastjson.loads(' {\"a\": [1, \"b\", null, true]} ') == {'a': [1, 'b', None, True]}\n"
        "assert _fastjson.dumps({'b': 'x', 'a': [1, None]}) == '{\"a\": [1, null], \"b\": \"x\"}'\n"
        "print(sorted(m for m in ('json', 're', 'enum') if m in sys.modules))\n"
        "try:\n"
        "    _fastjson.loads('{\"a\"')\n"  # an error before json is loaded: json's own
        "except ValueError as err:\n"
        "    print(type(err).__name__, err)\n"
    )
    # -S: no site (an editable install's finder imports re at start-up), the clone on the path.
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout == "[]\nJSONDecodeError Expecting ':' delimiter: line 1 column 5 (char 4)\n"
