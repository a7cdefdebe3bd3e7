"""runlayer_tf.tags.Version orders, compares, hashes and prints as the semver package does."""

from __future__ import annotations

import copy
import pickle

import pytest
import semver
from hypothesis import given
from hypothesis import strategies as st

from runlayer_tf.tags import Tag, Version, parse_version

NUMBER = st.integers(0, 30) | st.integers(0, 10**18 - 1)
IDENTIFIER = st.integers(0, 12).map(str) | st.sampled_from(
    ["rc", "alpha", "beta", "a1", "1a", "-", "x-y", "RC", "Z", "0a"]
)
PRERELEASE = st.none() | st.lists(IDENTIFIER, min_size=1, max_size=4).map(".".join)
BUILD = st.none() | st.sampled_from(["build.5", "20240101", "sha.abc"])
VERSIONS = st.tuples(NUMBER, NUMBER, NUMBER, PRERELEASE, BUILD)


@given(VERSIONS, VERSIONS)
def test_the_same_answers_as_semver(a, b):
    ours_a, ours_b = Version(*a), Version(*b)
    theirs_a, theirs_b = semver.Version(*a), semver.Version(*b)
    assert str(ours_a) == str(theirs_a)
    assert ours_a.compare(ours_b) == theirs_a.compare(theirs_b)
    assert (ours_a < ours_b) is (theirs_a < theirs_b)
    assert (ours_a <= ours_b) is (theirs_a <= theirs_b)
    assert (ours_a > ours_b) is (theirs_a > theirs_b)
    assert (ours_a >= ours_b) is (theirs_a >= theirs_b)
    assert (ours_a == ours_b) is (theirs_a == theirs_b)
    assert (ours_a != ours_b) is (theirs_a != theirs_b)
    if ours_a == ours_b:
        assert hash(ours_a) == hash(ours_b)
    assert ours_a.to_tuple() == theirs_a.to_tuple()
    assert str(ours_a.finalize_version()) == str(theirs_a.finalize_version())
    for bump in ("bump_major", "bump_minor", "bump_patch"):
        assert str(getattr(ours_a, bump)()) == str(getattr(theirs_a, bump)())


@given(st.lists(VERSIONS, max_size=12))
def test_sorting_agrees_with_semver(items):
    ours = sorted(Version(*v) for v in items)
    theirs = sorted(semver.Version(*v) for v in items)
    assert [str(v.finalize_version()) + (v.prerelease or "") for v in ours] == [
        str(v.finalize_version()) + (v.prerelease or "") for v in theirs
    ]


def test_the_grammar_gives_versions():
    assert parse_version("v1.2.3") == Version(1, 2, 3)
    assert Tag.parse("v1.3.0-rc.1").version == Version(1, 3, 0, "rc.1")
    assert Tag.parse("v1.2.3-20241213-152430-a1b2c3d4").version == Version(1, 2, 3)
    assert Version(1, 2, 3, build="b.1") == Version(1, 2, 3)  # build metadata is not compared
    assert hash(Version(1, 2, 3, build="b.1")) == hash(Version(1, 2, 3))
    assert str(Version(1, 2, 3, "rc.1", "b.1")) == "1.2.3-rc.1+b.1"
    assert repr(Version(1, 2)) == (
        "Version(major=1, minor=2, patch=0, prerelease=None, build=None)"
    )


def test_versions_cannot_change_and_survive_pickle_and_copy():
    v = Version(1, 2, 3, "rc.1")
    with pytest.raises(AttributeError):
        v.major = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del v.minor  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(v)) == v
    assert copy.deepcopy(v) == v
    assert (v == "1.2.3-rc.1") is False  # no comparison with text
    with pytest.raises(TypeError):
        _ = v < "1.2.3"  # type: ignore[operator]


@pytest.mark.parametrize("bad", [(-1, 0, 0), (1, -2, 0), (1, 0, "3"), (True, 0, 0), (1.0, 0, 0)])
def test_components_are_non_negative_integers(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        Version(*bad)
