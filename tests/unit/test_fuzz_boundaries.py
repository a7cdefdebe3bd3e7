"""Property-based fuzzing of every parser that reads outside text.

For any input: the tag and selector grammar, the registry address parser, the
query parser, the external program, the pin finder and the CLI answer with a
value or a one-line :class:`RunlayerError` (exit 0, 1 or 2, at most one stderr
line), never another exception or a traceback; rewriting never changes a byte
outside the edited span (``test_pins_properties.py`` holds that on the corpus,
the last test here on fuzzed files).

Bounded for CI (150 examples a test, about 20 s in all); ``scripts/fuzz`` is
the long run on demand (``RUNLAYER_TF_FUZZ_EXAMPLES``, see tests/fuzzing.py).
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runlayer_tf.errors import RunlayerError
from tests.fuzzing import examples

fuzz = settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
LAYOUT = Path(__file__).resolve().parent.parent.parent / "examples" / "oci-layout"

# Text that looks like the grammar as often as like noise.
pieces = st.sampled_from(
    [
        "v",
        "1",
        "2",
        "0",
        ".",
        "-",
        "+",
        "rc",
        "latest",
        "~>",
        ">=",
        "<",
        "!=",
        ",",
        " ",
        "@",
        "sha256:",
        "a" * 64,
        ":",
        "/",
        "${",
        "}",
        "\x00",
        "\x1b",
        "\n",
        "é",
        "9" * 30,
        "[",
        "]",
    ]
)
grammar_text = st.one_of(st.text(max_size=80), st.lists(pieces, max_size=20).map("".join))


def one_line(err: BaseException) -> None:
    assert isinstance(err, RunlayerError), repr(err)
    assert "\n" not in str(err)


@fuzz
@given(grammar_text)
def test_selectors_and_tags_parse_or_fail_in_one_line(text):
    from runlayer_tf.tags import Selector, Tag

    Tag.classify(text)
    try:
        Selector.parse(text)
    except Exception as err:
        one_line(err)


@fuzz
@given(grammar_text, st.booleans())
def test_registry_addresses_parse_or_fail_in_one_line(text, insecure):
    from runlayer_tf.registries import RegistryAddress

    try:
        RegistryAddress.parse(text, insecure=insecure)
    except Exception as err:
        one_line(err)


platform_text = st.one_of(
    st.lists(
        st.sampled_from(
            ["linux", "arm64", "v8", "amd64", "arm", "unknown", "X86_64", "", "/", "\x1b"]
        ),
        max_size=5,
    ).map("/".join),
    st.text(max_size=40),
)


@fuzz
@given(platform_text)
def test_platforms_parse_and_print_back_or_fail_in_one_line(text):
    from runlayer_tf.errors import UsageError
    from runlayer_tf.tags import Platform

    try:
        platform = Platform.parse(text)
    except UsageError as err:
        message = str(err)
        one_line(err)
    else:
        assert Platform.parse(str(platform)) == platform
        return
    assert message.isprintable()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
query_keys = st.sampled_from(
    ["repository", "tag", "registry", "allow_prerelease", "insecure", "platform", "x"]
)
queries = st.one_of(
    st.dictionaries(query_keys, st.one_of(grammar_text, json_values), max_size=5).map(json.dumps),
    json_values.map(json.dumps),
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
    st.integers(1, 50_000).map(lambda n: "[" * n + "]" * n),
)


@fuzz
@given(queries)
def test_the_query_parser_accepts_or_fails_in_one_line(text):
    from runlayer_tf.external import read_query
    from runlayer_tf.resolve import Query

    try:
        Query.from_mapping(read_query(io.BytesIO(text.encode("utf-8", "surrogatepass"))))
    except Exception as err:
        one_line(err)


@fuzz
@given(
    st.dictionaries(query_keys, grammar_text, max_size=4).map(
        lambda q: {**q, "registry": f"oci-layout:{LAYOUT}"}
    )
)
def test_the_external_program_exits_0_1_or_2_with_at_most_one_line(monkeypatch, query):
    """Offline (the demo layout): any query gives an answer or one stderr line, no internal error."""
    from runlayer_tf.cli._external import main

    monkeypatch.setenv("RUNLAYER_TF_CACHE_TTL", "0")
    stdin = io.TextIOWrapper(io.BytesIO(json.dumps(query).encode()))
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdin", stdin)
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    code = main([])
    assert code in (0, 1, 2)
    assert err.getvalue().count("\n") <= 1
    assert "internal error" not in err.getvalue()
    if code == 0:
        assert json.loads(out.getvalue())["digest"].startswith("sha256:")


hcl_pieces = st.sampled_from(
    [
        'image = "',
        "registry.example.com/app:",
        "v1.2.3",
        '"\n',
        "backend_version = ",
        "{",
        "}",
        "${var.x}",
        "<<EOF\n",
        "EOF\n",
        "[",
        "]",
        "\\",
        "$${",
        "#",
        "//",
        "/*",
        "*/",
        "\xff",
        "=",
        "@sha256:" + "b" * 64,
        "locals ",
        'variable "a" ',
        "default = ",
        "\r\n",
        "{" * 50,
        "}" * 50,
    ]
)
tf_text = st.one_of(st.lists(hcl_pieces, max_size=30).map("".join), st.text(max_size=200))


@fuzz
@given(tf_text, st.sampled_from([".tf", ".tfvars", ".tfvars.json"]))
def test_the_pin_finder_gives_pins_or_one_parse_error(text, suffix):
    from runlayer_tf.pins import find_pins
    from runlayer_tf.pins._prescan import may_hold_pins

    data = text.encode("utf-8", "surrogatepass")
    try:
        pins = find_pins(data, file=f"main{suffix}")
    except Exception as err:
        one_line(err)
        return
    if pins:
        assert may_hold_pins(data)  # the pre-scan never drops a file that holds a pin


@fuzz
@given(tf_text, st.sampled_from(["list", "check"]))
def test_the_pins_cli_exits_0_1_or_2_with_at_most_one_stderr_line(text, action):
    from runlayer_tf.cli import main

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory, "main.tf")
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        err = io.StringIO()
        saved_out, saved_err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = io.StringIO(), err
        try:
            code = main(["pins", action, str(path)])
        finally:
            sys.stdout, sys.stderr = saved_out, saved_err
    assert code in (0, 1, 2)
    assert err.getvalue().count("\n") <= 1, err.getvalue()


@fuzz
@given(st.lists(hcl_pieces, max_size=30).map("".join), st.data())
def test_rewriting_changes_only_the_edited_span(text, data):
    from runlayer_tf.pins import Edit, find_pins, rewrite

    raw = text.encode()
    try:
        pins = [p for p in find_pins(raw, file="main.tf") if p.rewritable]
    except RunlayerError:
        return
    if not pins:
        return
    pin = data.draw(st.sampled_from(pins))
    new = data.draw(st.sampled_from(["v9.9.9", "latest", "20240101-000000"]))
    if pin.image is not None:
        new = str(pin.image.evolve(tag=new, digest=None))
    edit = Edit.of(pin, new)
    result = rewrite(raw, [edit])
    assert result[: edit.start] == raw[: edit.start]
    assert result[edit.start + len(new.encode()) :] == raw[edit.end :]


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_a_deeply_nested_query_is_a_usage_error(depth):
    from runlayer_tf.errors import UsageError
    from runlayer_tf.external import read_query

    with pytest.raises(UsageError) as caught:
        read_query(io.BytesIO(b"[" * depth + b"]" * depth))
    assert "\n" not in str(caught.value)
