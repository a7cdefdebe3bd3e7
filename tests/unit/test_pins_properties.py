"""Property tests on the corpus: random edits keep every other byte, are idempotent and re-parse."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from runlayer_tf.pins import Edit, PinKind, find_pins, rewrite
from tests.fuzzing import examples

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "pins"
FILES = sorted(
    p
    for p in CORPUS.rglob("*")
    if p.is_file() and ".terraform" not in p.parts and p.name != "broken.tf"
)
WITH_PINS = [(p, p.read_bytes()) for p in FILES]
WITH_PINS = [(p, d, [x for x in find_pins(d, file=str(p)) if x.rewritable]) for p, d in WITH_PINS]
WITH_PINS = [item for item in WITH_PINS if item[2]]

numbers = st.integers(min_value=0, max_value=30)
tags = st.one_of(
    st.builds(lambda a, b, c: f"v{a}.{b}.{c}", numbers, numbers, numbers),
    st.just("latest"),
    st.builds(lambda d, t: f"2024{d:04d}-{t:06d}", st.integers(101, 1231), st.integers(0, 235959)),
)
digests = st.one_of(
    st.none(), st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: "sha256:" + h)
)


def new_value(pin, tag, digest):
    if pin.kind is PinKind.VERSION:
        return tag
    image = pin.image
    return str(image.evolve(tag=tag, digest=digest))


@settings(max_examples=examples(150), deadline=None)
@given(st.data())
def test_random_edits(data):
    path, original, pins = data.draw(st.sampled_from(WITH_PINS))
    chosen = data.draw(
        st.lists(st.sampled_from(pins), min_size=1, max_size=len(pins), unique_by=lambda p: p.start)
    )
    edits = [Edit.of(p, new_value(p, data.draw(tags), data.draw(digests))) for p in chosen]
    result = rewrite(original, edits)

    # Bytes outside the edited spans are identical, in order.
    ordered = sorted(edits, key=lambda e: e.start)
    position_old = position_new = 0
    for edit in ordered:
        gap = edit.start - position_old
        assert result[position_new : position_new + gap] == original[position_old : edit.start]
        position_new += gap
        new = edit.new.encode()
        assert result[position_new : position_new + len(new)] == new
        position_new += len(new)
        position_old = edit.end
    assert result[position_new:] == original[position_old:]

    # The result re-parses and the same pins (same order) now hold the new values.
    before = find_pins(original, file=str(path))
    after = find_pins(result, file=str(path))
    assert [(p.path, p.kind) for p in after] == [(p.path, p.kind) for p in before]
    index = {p.start: i for i, p in enumerate(before)}
    for edit in edits:
        assert after[index[edit.start]].value == edit.new

    # Applying the same values again (to the new pins) changes nothing.
    again = [Edit.of(after[index[e.start]], e.new) for e in edits]
    assert rewrite(result, again) == result


ALL_FILES = [(p, p.read_bytes()) for p in sorted(CORPUS.rglob("*")) if p.is_file()]


@settings(max_examples=examples(200), deadline=None)
@given(st.data())
def test_corrupted_files_raise_only_parse_error(data):
    """Random byte damage gives pins or a one-line ParseError, never another exception."""
    from runlayer_tf.errors import ParseError

    path, original = data.draw(st.sampled_from(ALL_FILES))
    damaged = bytearray(original)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(damaged) - 1))
        damaged[at : at + 1] = data.draw(
            st.sampled_from([b"", b'"', b"{", b"}", b"$", b"\\", b"\n", b"\xff", b"<"])
        )
    message = ""
    try:
        find_pins(bytes(damaged), file=str(path))
    except ParseError as err:
        message = str(err)
    assert "\n" not in message
