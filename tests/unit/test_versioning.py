"""Conventional-commit bumps and next versions (runlayer_tf.conventional)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runlayer_tf.conventional import (
    Bump,
    bump_for_message,
    bump_for_messages,
    next_version,
    split_messages,
)
from runlayer_tf.errors import TagError

MESSAGES = [
    ("fix: handle empty tag list", Bump.PATCH),
    ("fix(registry): retry on 429", Bump.PATCH),
    ("Fix: capitalised type", Bump.PATCH),
    ("docs: explain selectors", Bump.PATCH),  # runbook: documentation updates are patch bumps
    ("perf: cache digests", Bump.PATCH),
    ("revert: feat: drop thing", Bump.PATCH),
    ("feat: resolve partial versions", Bump.MINOR),
    ("feat(cli): add --json", Bump.MINOR),
    ("FEAT: shouting", Bump.MINOR),
    ("feat!: drop python 3.9", Bump.MAJOR),
    ("fix(api)!: rename field", Bump.MAJOR),
    ("chore!: drop support for v0 tags", Bump.MAJOR),
    ("feat: new flag\n\nBREAKING CHANGE: the old flag is gone", Bump.MAJOR),
    ("fix: x\n\nBREAKING-CHANGE: y", Bump.MAJOR),
    ("refactor: move code\n\nSome body.\n\nBREAKING CHANGE: module renamed\nRefs: #12", Bump.MAJOR),
    ("Update stuff\n\nBREAKING CHANGE: footer counts even after a free-form subject", Bump.MAJOR),
    ("BREAKING CHANGE: a lone footer line", Bump.MAJOR),
    ("fix: x\n\nbreaking change: lowercase is not a footer", Bump.PATCH),
    ("fix: x\n\nnot a BREAKING CHANGE: mid-line", Bump.PATCH),
    ("chore: bump deps", Bump.NONE),
    ("refactor: simplify", Bump.NONE),
    ("build: new base image", Bump.NONE),
    ("ci: cache pip", Bump.NONE),
    ("style: ruff format", Bump.NONE),
    ("test: more cases", Bump.NONE),
    ("wip: unknown type", Bump.NONE),
    ("Merge branch 'main' into topic", Bump.NONE),
    ('Revert "feat: x"', Bump.NONE),
    ("fix:no space after colon", Bump.NONE),
    ("fix: ", Bump.NONE),
    ("fix(): empty scope", Bump.NONE),
    ("feat !: space before bang", Bump.NONE),
    ("  \n\nfeat: leading blank lines are ignored", Bump.MINOR),
    ("", Bump.NONE),
]


@pytest.mark.parametrize(("message", "expected"), MESSAGES)
def test_bump_for_message(message, expected):
    assert bump_for_message(message) is expected


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([], Bump.NONE),
        (["chore: a", "ci: b"], Bump.NONE),
        (["chore: a", "fix: b"], Bump.PATCH),
        (["fix: a", "feat: b", "docs: c"], Bump.MINOR),
        (["feat: a", "fix!: b"], Bump.MAJOR),
    ],
)
def test_bump_for_messages(messages, expected):
    assert bump_for_messages(messages) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # git log --format=%B%x00 output: message, newline, NUL, newline
        (
            "fix: two\n\nBREAKING CHANGE: x\n\0\nfeat: one\n\nbody line\n\0\n",
            ["fix: two\n\nBREAKING CHANGE: x", "feat: one\n\nbody line"],
        ),
        ("feat: a\0fix: b\0", ["feat: a", "fix: b"]),  # git log -z --format=%B
        ("feat: a\n\nbody\n---\nfix: b\n---\n", ["feat: a\n\nbody", "fix: b"]),
        ("feat: a\n--- \nfix: b", ["feat: a", "fix: b"]),
        ("feat: a\nfix: b\n\nchore: c\n", ["feat: a", "fix: b", "chore: c"]),
        ("feat: a\n---not a separator\n", ["feat: a", "---not a separator"]),
        ("", []),
        ("\n\n  \n", []),
    ],
)
def test_split_messages(text, expected):
    assert split_messages(text) == expected


@pytest.mark.parametrize(
    ("current", "bump", "expected"),
    [
        ("v1.2.3", Bump.NONE, "v1.2.3"),
        ("v1.2.3", Bump.PATCH, "v1.2.4"),
        ("v1.2.3", Bump.MINOR, "v1.3.0"),
        ("v1.2.3", Bump.MAJOR, "v2.0.0"),
        ("1.2.3", Bump.MINOR, "1.3.0"),  # no "v" in, no "v" out
        ("v0.4.2", Bump.MAJOR, "v1.0.0"),  # 0.x: plain semver
        ("v0.4.2", Bump.MINOR, "v0.5.0"),
        ("v0.0.0", Bump.PATCH, "v0.0.1"),
        ("v1.2.3-20241213-152430-a1b2c3d4", Bump.PATCH, "v1.2.4"),  # a build tag means its version
        ("v1.2.3-20241213-152430-a1b2c3d4", Bump.NONE, "v1.2.3"),
        ("v9.99.999", Bump.MINOR, "v9.100.0"),
    ],
)
def test_next_version(current, bump, expected):
    assert next_version(current, bump) == expected


@pytest.mark.parametrize(
    ("current", "message"),
    [
        ("v1.2", 'invalid version "v1.2": expected MAJOR.MINOR.PATCH with an optional leading v'),
        ("v01.2.3", "invalid version \"v01.2.3\": leading zero in '01'"),
        (
            "latest",
            'invalid version "latest": expected MAJOR.MINOR.PATCH with an optional leading v',
        ),
        (
            "v1.3.0-rc.1",
            'invalid current version "v1.3.0-rc.1": a prerelease; give the last release (vX.Y.Z)',
        ),
    ],
)
def test_next_version_rejects(current, message):
    with pytest.raises(TagError) as info:
        next_version(current, Bump.PATCH)
    assert str(info.value) == message


def test_bump_str():
    assert [str(b) for b in Bump] == ["none", "patch", "minor", "major"]


_types = st.sampled_from(["feat", "fix", "docs", "chore", "refactor", "perf", "ci"])


@given(st.lists(st.tuples(_types, st.booleans()), max_size=10))
def test_bump_of_joined_stream_is_max_of_each(commits):
    """Splitting a NUL-joined stream and bumping gives the largest single bump."""
    messages = [f"{kind}{'!' if bang else ''}: change" for kind, bang in commits]
    stream = "".join(f"{m}\n\n\0\n" for m in messages)
    assert bump_for_messages(split_messages(stream)) is max(
        (bump_for_message(m) for m in messages), default=Bump.NONE
    )
