"""Tag grammar, selectors and selection rules of runlayer_tf.tags."""

from __future__ import annotations

import datetime

import pytest
import semver
from hypothesis import given
from hypothesis import strategies as st

from runlayer_tf.errors import TagError
from runlayer_tf.tags import (
    Constraint,
    Digest,
    Selector,
    SelectorKind,
    Tag,
    TagKind,
    Version,
    crosses_major,
    is_digest,
    newest_release,
    parse_version,
    releases_newest_first,
    select,
)

UTC = datetime.timezone.utc
V = Version
HEX40 = "0123456789abcdef0123456789abcdef01234567"
SHA = "sha256:" + "ab" * 32

# --- Tag.parse / Tag.classify ---------------------------------------------------

VALID_TAGS = [
    # text, kind, version, timestamp, commit
    ("latest", TagKind.LATEST, None, None, None),
    ("v1.2.3", TagKind.RELEASE, V(1, 2, 3), None, None),
    ("v0.0.0", TagKind.RELEASE, V(0, 0, 0), None, None),
    ("v10.20.30", TagKind.RELEASE, V(10, 20, 30), None, None),
    (
        "20241213-152430",
        TagKind.TIMESTAMP,
        None,
        datetime.datetime(2024, 12, 13, 15, 24, 30, tzinfo=UTC),
        None,
    ),
    (
        "20240229-235959",
        TagKind.TIMESTAMP,
        None,
        datetime.datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC),
        None,
    ),
    (
        "v1.2.3-20241213-152430-a1b2c3d4",
        TagKind.BUILD,
        V(1, 2, 3),
        datetime.datetime(2024, 12, 13, 15, 24, 30, tzinfo=UTC),
        "a1b2c3d4",
    ),
    (
        "v1.2.3-20241213-152430-abcdef0",
        TagKind.BUILD,
        V(1, 2, 3),
        datetime.datetime(2024, 12, 13, 15, 24, 30, tzinfo=UTC),
        "abcdef0",
    ),
    (
        f"v2.0.0-20250101-000000-{HEX40}",
        TagKind.BUILD,
        V(2, 0, 0),
        datetime.datetime(2025, 1, 1, 0, 0, 0, tzinfo=UTC),
        HEX40,
    ),
    ("v1.2.3-rc.1", TagKind.PRERELEASE, V(1, 2, 3, "rc.1"), None, None),
    ("v1.3.0-rc.1", TagKind.PRERELEASE, V(1, 3, 0, "rc.1"), None, None),
    ("v2.0.0-beta.2", TagKind.PRERELEASE, V(2, 0, 0, "beta.2"), None, None),
    ("v1.0.0-alpha", TagKind.PRERELEASE, V(1, 0, 0, "alpha"), None, None),
    ("v1.0.0-0a.1", TagKind.PRERELEASE, V(1, 0, 0, "0a.1"), None, None),
    ("v1.0.0-20241213", TagKind.PRERELEASE, V(1, 0, 0, "20241213"), None, None),
    ("main", TagKind.OTHER, None, None, None),
    ("v1.2", TagKind.OTHER, None, None, None),
    ("v1", TagKind.OTHER, None, None, None),
    ("1.2.3", TagKind.OTHER, None, None, None),
    ("Latest", TagKind.OTHER, None, None, None),
    ("vnext", TagKind.OTHER, None, None, None),
    ("security-patch", TagKind.OTHER, None, None, None),
    ("_underscore", TagKind.OTHER, None, None, None),
]


@pytest.mark.parametrize(("text", "kind", "version", "timestamp", "commit"), VALID_TAGS)
def test_tag_parse(text, kind, version, timestamp, commit):
    assert Tag.parse(text) == Tag(text, kind, version, timestamp, commit)
    assert Tag.classify(text) == Tag(text, kind, version, timestamp, commit)
    assert str(Tag.parse(text)) == text


MALFORMED_TAGS = [
    ("v01.2.3", "invalid tag \"v01.2.3\": leading zero in '01'"),
    ("v1.02.3", "invalid tag \"v1.02.3\": leading zero in '02'"),
    ("v1.2.03", "invalid tag \"v1.2.03\": leading zero in '03'"),
    ("v1.2.3-rc.01", "invalid tag \"v1.2.3-rc.01\": leading zero in '01'"),
    ("v1.2.3-", 'invalid tag "v1.2.3-": empty version or prerelease component'),
    ("v1.2.3-rc..1", 'invalid tag "v1.2.3-rc..1": empty version or prerelease component'),
    ("v1.2.3.4", 'invalid tag "v1.2.3.4": not a semantic version vMAJOR.MINOR.PATCH[-PRERELEASE]'),
    (
        "v1.2.3_rc1",
        'invalid tag "v1.2.3_rc1": not a semantic version vMAJOR.MINOR.PATCH[-PRERELEASE]',
    ),
    (
        "v1.2.3-20241313-152430-a1b2c3d4",
        'invalid tag "v1.2.3-20241313-152430-a1b2c3d4": bad build timestamp (month must be in 1..12)',
    ),
    (
        "v1.2.3-20241232-152430-a1b2c3d4",
        'invalid tag "v1.2.3-20241232-152430-a1b2c3d4": bad build timestamp (day is out of range for month)',
    ),
    (
        "v1.2.3-20241213-256030-a1b2c3d4",
        'invalid tag "v1.2.3-20241213-256030-a1b2c3d4": bad build timestamp (hour must be in 0..23)',
    ),
    (
        "v1.2.3-20241213-152430-A1B2C3D4",
        "invalid tag \"v1.2.3-20241213-152430-A1B2C3D4\": commit 'A1B2C3D4' must be lowercase hex",
    ),
    (
        "v1.2.3-20241213-152430-a1b2c3",
        "invalid tag \"v1.2.3-20241213-152430-a1b2c3\": commit 'a1b2c3' must be 7 to 40 hex digits, got 6",
    ),
    (
        f"v1.2.3-20241213-152430-{HEX40}0",
        f"invalid tag \"v1.2.3-20241213-152430-{HEX40}0\": commit '{HEX40}0' must be 7 to 40 hex digits, got 41",
    ),
    (
        "v1.2.3-20241213-152430-xyz1234",
        "invalid tag \"v1.2.3-20241213-152430-xyz1234\": commit 'xyz1234' is not hex",
    ),
    (
        "v1.2.3-20241213-152430",
        (
            'invalid tag "v1.2.3-20241213-152430": '
            "build tag needs a commit after the timestamp (7-40 lowercase hex digits)"
        ),
    ),
    (
        "v01.2.3-20241213-152430-a1b2c3d4",
        "invalid tag \"v01.2.3-20241213-152430-a1b2c3d4\": bad version in build tag (leading zero in '01')",
    ),
    ("20241313-152430", 'invalid tag "20241313-152430": bad timestamp (month must be in 1..12)'),
    ("20241213-250000", 'invalid tag "20241213-250000": bad timestamp (hour must be in 0..23)'),
    (
        "20230229-120000",
        'invalid tag "20230229-120000": bad timestamp (day is out of range for month)',
    ),
    ("20241213-120060", 'invalid tag "20241213-120060": bad timestamp (second must be in 0..59)'),
    ("", 'invalid tag "": not a valid OCI tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})'),
    ("-v1.2.3", 'invalid tag "-v1.2.3": not a valid OCI tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})'),
    (
        "v1.2.3+build",
        'invalid tag "v1.2.3+build": not a valid OCI tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})',
    ),
    (
        "has space",
        'invalid tag "has space": not a valid OCI tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})',
    ),
    (
        "a" * 129,
        f'invalid tag "{"a" * 129}": not a valid OCI tag ([A-Za-z0-9_][A-Za-z0-9._-]{{0,127}})',
    ),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED_TAGS)
def test_tag_parse_rejects_malformed(text, message):
    with pytest.raises(TagError) as info:
        Tag.parse(text)
    assert str(info.value) == message


@pytest.mark.parametrize(("text", "_message"), MALFORMED_TAGS)
def test_tag_classify_makes_malformed_tags_other(text, _message):
    """classify never raises: a malformed tag in a registry is simply not selectable."""
    assert Tag.classify(text) == Tag(text, TagKind.OTHER)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v1.2.3", True),
        ("v1.2.3-20241213-152430-a1b2c3d4", True),
        ("v1.2.3-rc.1", False),
        ("latest", False),
        ("20241213-152430", False),
        ("main", False),
    ],
)
def test_tag_is_release(text, expected):
    assert Tag.classify(text).is_release is expected


# --- Digest ------------------------------------------------------------------------


def test_digest_round_trip():
    digest = Digest.parse(SHA)
    assert digest == Digest("sha256", "ab" * 32)
    assert str(digest) == SHA


def test_digest_of_bytes():
    assert (
        str(Digest.of_bytes(b""))
        == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "sha256:" + "AB" * 32,
            f'invalid digest "sha256:{"AB" * 32}": hex digits must be lowercase',
        ),
        ("sha256:abc", 'invalid digest "sha256:abc": sha256 needs 64 hex digits, got 3 characters'),
        (
            "sha256:" + "a" * 65,
            f'invalid digest "sha256:{"a" * 65}": sha256 needs 64 hex digits, got 65 characters',
        ),
        (
            "sha512:" + "a" * 128,
            f"invalid digest \"sha512:{'a' * 128}\": unsupported algorithm 'sha512' (only sha256)",
        ),
        ("a" * 64, f'invalid digest "{"a" * 64}": expected sha256:<64 hex digits>'),
        (
            "SHA256:" + "a" * 64,
            f'invalid digest "SHA256:{"a" * 64}": expected sha256:<64 hex digits>',
        ),
    ],
)
def test_digest_parse_rejects(text, message):
    with pytest.raises(TagError) as info:
        Digest.parse(text)
    assert str(info.value) == message
    assert is_digest(text) is False


def test_is_digest_true():
    assert is_digest(SHA) is True


# --- Selector.parse ----------------------------------------------------------------

SELECTORS = [
    # text, kind, extra fields
    ("latest", SelectorKind.LATEST, {}),
    ("20241213-152430", SelectorKind.EXACT, {}),
    ("v1.2.3-20241213-152430-a1b2c3d4", SelectorKind.EXACT, {}),
    ("main", SelectorKind.EXACT, {}),
    ("v1.2.3", SelectorKind.VERSION, {"version": V(1, 2, 3)}),
    ("1.2.3", SelectorKind.VERSION, {"version": V(1, 2, 3)}),
    ("v1.3.0-rc.1", SelectorKind.VERSION, {"version": V(1, 3, 0, "rc.1")}),
    ("v1.2", SelectorKind.PARTIAL, {"components": (1, 2)}),
    ("1.2", SelectorKind.PARTIAL, {"components": (1, 2)}),
    ("v1", SelectorKind.PARTIAL, {"components": (1,)}),
    ("1", SelectorKind.PARTIAL, {"components": (1,)}),
    ("v0", SelectorKind.PARTIAL, {"components": (0,)}),
    (SHA, SelectorKind.DIGEST, {"digest": Digest("sha256", "ab" * 32)}),
    ("~> 1.2", SelectorKind.CONSTRAINT, {"constraints": (Constraint("~>", V(1, 2, 0), 2),)}),
    ("~>1.2.0", SelectorKind.CONSTRAINT, {"constraints": (Constraint("~>", V(1, 2, 0), 3),)}),
    ("~> v1", SelectorKind.CONSTRAINT, {"constraints": (Constraint("~>", V(1, 0, 0), 1),)}),
    (
        ">= 1.3.0, < 1.4.0",
        SelectorKind.CONSTRAINT,
        {"constraints": (Constraint(">=", V(1, 3, 0), 3), Constraint("<", V(1, 4, 0), 3))},
    ),
    ("= 1.2", SelectorKind.CONSTRAINT, {"constraints": (Constraint("=", V(1, 2, 0), 2),)}),
    ("!= 1.2.4", SelectorKind.CONSTRAINT, {"constraints": (Constraint("!=", V(1, 2, 4), 3),)}),
    (">1", SelectorKind.CONSTRAINT, {"constraints": (Constraint(">", V(1, 0, 0), 1),)}),
    ("<= v2.0.0", SelectorKind.CONSTRAINT, {"constraints": (Constraint("<=", V(2, 0, 0), 3),)}),
    (
        "1.2.3, != 1.2.4",
        SelectorKind.CONSTRAINT,
        {"constraints": (Constraint("=", V(1, 2, 3), 3), Constraint("!=", V(1, 2, 4), 3))},
    ),
    (
        "= 1.3.0-rc.1",
        SelectorKind.CONSTRAINT,
        {"constraints": (Constraint("=", V(1, 3, 0, "rc.1"), 3),)},
    ),
]


@pytest.mark.parametrize(("text", "kind", "fields"), SELECTORS)
def test_selector_parse(text, kind, fields):
    selector = Selector.parse(text)
    assert selector == Selector(text, kind, **fields)
    assert str(selector) == text
    assert Selector.parse(str(selector)) == selector


def test_selector_parse_strips_whitespace():
    assert Selector.parse("  v1.2 \n") == Selector("v1.2", SelectorKind.PARTIAL, components=(1, 2))


BAD_SELECTORS = [
    ("v1.2.x", "wildcards are not supported (write v1.2 or ~> 1.2)"),
    ("v1.*", "wildcards are not supported (write v1.2 or ~> 1.2)"),
    ("*", "wildcards are not supported (write v1.2 or ~> 1.2)"),
    ("", "empty"),
    ("v01.2.3", "leading zero in '01'"),
    ("01.2", "leading zero in '01'"),
    ("1.2.3.4", "not a semantic version vMAJOR.MINOR.PATCH[-PRERELEASE]"),
    ("v1.2.", "empty version or prerelease component"),
    ("v1.2.3-20241313-152430-a1b2c3d4", "bad build timestamp (month must be in 1..12)"),
    ("v1.2.3-20241213-152430-A1B2C3D4", "commit 'A1B2C3D4' must be lowercase hex"),
    (
        "1.2.3-20241213-152430-a1b2c3d4",
        'build tags start with "v" (v1.2.3-20241213-152430-a1b2c3d4)',
    ),
    ("20241301-000000", "bad timestamp (month must be in 1..12)"),
    ("sha256:abc", "sha256 needs 64 hex digits, got 3 characters"),
    ("md5:abc", "unsupported algorithm 'md5' (only sha256)"),
    ("bad tag", "not a valid OCI tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})"),
    (">=", 'cannot read constraint \'>=\' (expected e.g. ">= 1.2", "~> 1.2.0")'),
    ("~> 1.2, ", "empty constraint clause"),
    (">= 1.2 < 2", 'cannot read constraint \'>= 1.2 < 2\' (expected e.g. ">= 1.2", "~> 1.2.0")'),
    ("=> 1.2", 'cannot read constraint \'=> 1.2\' (expected e.g. ">= 1.2", "~> 1.2.0")'),
    (">= 01.2", 'cannot read constraint \'>= 01.2\' (expected e.g. ">= 1.2", "~> 1.2.0")'),
    (">= 1.2-rc.1", "a prerelease needs a full version in '>= 1.2-rc.1'"),
    ("~> 1.2.0-rc.1", "~> does not take a prerelease in '~> 1.2.0-rc.1'"),
]


@pytest.mark.parametrize(("text", "reason"), BAD_SELECTORS)
def test_selector_parse_rejects(text, reason):
    with pytest.raises(TagError) as info:
        Selector.parse(text)
    assert str(info.value) == f'invalid selector "{text.strip()}": {reason}'


# --- matching and selection ---------------------------------------------------------

REPO = [
    "latest",
    "v1.1.9",
    "v1.1.9-20241101-101010-1111111",
    "v1.2.2",
    "v1.2.3",
    "v1.2.3-20241213-152430-a1b2c3d4",
    "20241213-152430",
    "v1.2.4-20241214-090000-aaaaaaa",
    "v1.2.4-20241215-090000-bbbbbbb",  # newest build of 1.2.4, no plain tag
    "v1.2.4-20241214-120000-ccccccc",
    "v1.3.0-rc.1",
    "v1.3.0-rc.2",
    "v1.10.0",
    "v2.0.0-beta.2",
    "v2.0.0",
    "v2.1.0-20250101-000000-ddddddd",
    "v01.9.9",  # malformed: never chosen
    "v9.9.9-20241313-000000-eeeeeee",  # malformed build (month 13): never chosen
    "main",
]

SELECTIONS = [
    # selector, allow_prerelease, chosen tag (or None)
    ("latest", False, "latest"),
    ("main", False, "main"),
    ("20241213-152430", False, "20241213-152430"),
    ("v1.2.3-20241213-152430-a1b2c3d4", False, "v1.2.3-20241213-152430-a1b2c3d4"),
    ("20241213-152431", False, None),
    ("v1.2.3", False, "v1.2.3"),  # plain beats build of the same version
    ("1.2.3", False, "v1.2.3"),
    ("v1.2.4", False, "v1.2.4-20241215-090000-bbbbbbb"),  # a full version: its newest build
    ("v1.2.5", False, None),
    ("v1.1", False, "v1.1.9"),
    ("v1.2", False, "v1.2.3"),  # 1.2.4 is build-only: not released, skipped
    ("1.2", False, "v1.2.3"),
    ("v1", False, "v1.10.0"),  # numeric, not lexical: 1.10 > 1.3
    ("v2", False, "v2.0.0"),  # 2.1.0 is build-only
    ("v3", False, None),
    ("v9", False, None),  # the malformed v9.9.9 build does not count
    ("v0", False, None),
    ("v1.3", False, None),  # only prereleases of 1.3
    ("v1.3", True, "v1.3.0-rc.2"),  # semver precedence: rc.2 > rc.1
    ("v1.3.0-rc.1", False, "v1.3.0-rc.1"),  # an exact prerelease needs no flag
    ("1.3.0-rc.1", False, "v1.3.0-rc.1"),
    ("v2.0.0-beta.2", False, "v2.0.0-beta.2"),
    ("v2.0", True, "v2.0.0"),  # 2.0.0-beta.2 < 2.0.0
    ("~> 1.2", False, "v1.10.0"),
    ("~> 1.2.0", False, "v1.2.3"),
    ("~> 1.2.3", False, "v1.2.3"),
    ("~> 1.1.9", False, "v1.1.9"),
    ("~> 1", False, "v1.10.0"),
    ("~> 2.0", False, "v2.0.0"),
    ("~> 1.3.0", False, None),
    ("~> 1.3.0", True, None),  # 1.3.0-rc.x < 1.3.0, the lower bound
    (">= 1.3.0, < 1.4.0", False, None),
    (">= 1.2.0, < 1.3.0", False, "v1.2.3"),
    (">= 1.3.0-rc.1, < 1.4.0", True, "v1.3.0-rc.2"),
    (">= 1.2, < 1.2.4", False, "v1.2.3"),
    ("> 1.2.3, < 1.3", False, None),  # only the build-only 1.2.4
    ("< 1.2", False, "v1.1.9"),
    ("<= 1.2.2", False, "v1.2.2"),
    ("= 1.2", False, None),  # Terraform: "= 1.2" means exactly 1.2.0
    ("= 1.2.2", False, "v1.2.2"),
    ("1.2.2, 1.2.3", False, None),  # bare versions in a list are "=" and must all hold
    ("!= 2.1.0, != 2.0.0", False, "v1.10.0"),
    (">= 2", False, "v2.0.0"),
    ("> 1.10.0, < 2.0.0", True, "v2.0.0-beta.2"),  # explicit bounds follow semver precedence
    ("= 1.3.0-rc.1", False, "v1.3.0-rc.1"),  # exact prerelease in a constraint needs no flag
    (">= 1.3.0-rc.1, < 1.4.0", False, None),
    (SHA, False, None),  # digests are resolved by the caller
]


@pytest.mark.parametrize(("selector", "allow_prerelease", "expected"), SELECTIONS)
def test_select(selector, allow_prerelease, expected):
    chosen = select(Selector.parse(selector), REPO, allow_prerelease=allow_prerelease)
    assert (chosen.text if chosen else None) == expected


def test_select_accepts_a_string_selector():
    assert select("v1.1", REPO) == Tag.parse("v1.1.9")


def test_select_latest_in_repository_without_latest():
    """'latest' names a tag literally called latest, not the newest release."""
    assert select(Selector.parse("latest"), ["v1.2.3", "v1.3.0", "20241213-152430"]) is None


def test_select_newest_build_when_timestamps_tie_is_deterministic():
    tags = ["v1.0.0-20240101-000000-aaaaaaa", "v1.0.0-20240101-000000-bbbbbbb"]
    assert select("v1.0.0", tags).text == "v1.0.0-20240101-000000-bbbbbbb"
    assert select("v1.0.0", list(reversed(tags))).text == "v1.0.0-20240101-000000-bbbbbbb"


# The runbook's case: 1.14.20 exists only as build tags, so it is not released.
BUILD_ONLY = [
    "v1.2.3",
    "v1.14.19",
    "v1.14.19-20240601-100000-1111111",
    "v1.14.20-20240611-120500-7d60ec49",
    "v1.14.20-20240610-090000-aaaaaaa",
]

BUILD_ONLY_SELECTIONS = [
    # selector, include_build_only, chosen tag (or None)
    ("v1.14", False, "v1.14.19"),
    ("v1.14", True, "v1.14.20-20240611-120500-7d60ec49"),
    ("v1", False, "v1.14.19"),
    ("1", False, "v1.14.19"),
    ("~> 1.2", False, "v1.14.19"),
    ("~> 1.14.19", False, "v1.14.19"),
    ("> 1.14.19", False, None),
    ("> 1.14.19", True, "v1.14.20-20240611-120500-7d60ec49"),
    (">= 1.14.0, < 2", False, "v1.14.19"),
    ("v1.14.20", False, "v1.14.20-20240611-120500-7d60ec49"),  # a full version names it
    ("v1.14.20-20240610-090000-aaaaaaa", False, "v1.14.20-20240610-090000-aaaaaaa"),
    ("v1.14.20-20240611-120500-7d60ec49", False, "v1.14.20-20240611-120500-7d60ec49"),
]


@pytest.mark.parametrize(("selector", "include_build_only", "expected"), BUILD_ONLY_SELECTIONS)
def test_range_selectors_skip_build_only_versions(selector, include_build_only, expected):
    chosen = select(selector, BUILD_ONLY, include_build_only=include_build_only)
    assert (chosen.text if chosen else None) == expected


@pytest.mark.parametrize(
    ("include_build_only", "expected"),
    [
        (False, ["v1.14.19", "v1.2.3"]),
        (True, ["v1.14.20-20240611-120500-7d60ec49", "v1.14.19", "v1.2.3"]),
    ],
)
def test_releases_newest_first_build_only(include_build_only, expected):
    releases = releases_newest_first(BUILD_ONLY, include_build_only=include_build_only)
    assert [t.text for t in releases] == expected
    assert newest_release(BUILD_ONLY).text == "v1.14.19"


def test_select_empty_repository():
    assert select("v1", []) is None


def test_selector_matches():
    tag = Tag.parse("v1.3.0-rc.1")
    assert Selector.parse("v1").matches(tag) is False
    assert Selector.parse("v1").matches(tag, allow_prerelease=True) is True
    assert Selector.parse(SHA).matches(Tag.parse("v1.2.3")) is False
    assert Selector.parse("latest").matches(Tag.parse("latest")) is True
    assert Selector.parse("v1.2.3").matches(Tag.parse("v1.2.3-20241213-152430-a1b2c3d4")) is True


def test_releases_newest_first():
    assert [t.text for t in releases_newest_first(REPO)] == [
        "v2.0.0",
        "v1.10.0",
        "v1.2.3",
        "v1.2.2",
        "v1.1.9",
    ]


def test_releases_newest_first_with_prereleases():
    assert [t.text for t in releases_newest_first(REPO, allow_prerelease=True)] == [
        "v2.0.0",
        "v2.0.0-beta.2",
        "v1.10.0",
        "v1.3.0-rc.2",
        "v1.3.0-rc.1",
        "v1.2.3",
        "v1.2.2",
        "v1.1.9",
    ]


@pytest.mark.parametrize(
    ("tags", "allow_prerelease", "expected"),
    [
        (REPO, False, "v2.0.0"),  # v2.1.0 has only a build tag
        (["latest", "main", "20241213-152430"], False, None),
        (["v1.0.0", "v1.1.0-rc.1"], False, "v1.0.0"),
        (["v1.0.0", "v1.1.0-rc.1"], True, "v1.1.0-rc.1"),
        (["v1.1.0-rc.1"], False, None),
        ([], False, None),
    ],
)
def test_newest_release(tags, allow_prerelease, expected):
    chosen = newest_release(tags, allow_prerelease=allow_prerelease)
    assert (chosen.text if chosen else None) == expected


# --- versions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v1.2.3", V(1, 2, 3)),
        ("1.2.3", V(1, 2, 3)),
        ("v1.3.0-rc.1", V(1, 3, 0, "rc.1")),
        ("v1.2.3-20241213-152430-a1b2c3d4", V(1, 2, 3)),  # a build tag means its version
        ("0.0.1", V(0, 0, 1)),
    ],
)
def test_parse_version(text, expected):
    assert parse_version(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("v01.2.3", "invalid version \"v01.2.3\": leading zero in '01'"),
        ("v1.2", 'invalid version "v1.2": expected MAJOR.MINOR.PATCH with an optional leading v'),
        (
            "latest",
            'invalid version "latest": expected MAJOR.MINOR.PATCH with an optional leading v',
        ),
        ("", 'invalid version "": expected MAJOR.MINOR.PATCH with an optional leading v'),
        (
            "1.2.3.4",
            'invalid version "1.2.3.4": not a semantic version vMAJOR.MINOR.PATCH[-PRERELEASE]',
        ),
    ],
)
def test_parse_version_rejects(text, message):
    with pytest.raises(TagError) as info:
        parse_version(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("current", "target", "expected"),
    [
        ("v1.2.3", "v2.0.0", True),
        ("v2.0.0", "v1.9.9", True),  # downgrade across a major
        ("v1.2.3", "v1.9.0", False),
        ("v1.9.0", "v1.2.3", False),
        ("1.2.3", "v1.2.3", False),
        ("v0.9.0", "v1.0.0", True),
        ("v0.1.0", "v0.2.0", False),  # 0.x is not special
        ("v1.9.9", "v2.0.0-rc.1", True),
        ("v1.2.3-20241213-152430-a1b2c3d4", "v2.0.0-20250101-000000-abcdef0", True),
        (V(1, 0, 0), V(3, 0, 0), True),
        (V(3, 1, 0), "v3.0.0", False),
    ],
)
def test_crosses_major(current, target, expected):
    assert crosses_major(current, target) is expected


def test_crosses_major_rejects_bad_version():
    with pytest.raises(TagError) as info:
        crosses_major("v1.x.0", "v2.0.0")
    assert (
        str(info.value)
        == 'invalid version "v1.x.0": expected MAJOR.MINOR.PATCH with an optional leading v'
    )


# --- properties ---------------------------------------------------------------------

_nums = st.integers(min_value=0, max_value=10_000)
_timestamps = st.datetimes(
    min_value=datetime.datetime(1970, 1, 1), max_value=datetime.datetime(9999, 12, 31, 23, 59, 59)
).map(lambda d: d.replace(microsecond=0, tzinfo=UTC))
_commits = st.text(alphabet="0123456789abcdef", min_size=7, max_size=40)


@given(_nums, _nums, _nums, _timestamps, _commits)
def test_build_tags_round_trip(major, minor, patch, ts, commit):
    text = f"v{major}.{minor}.{patch}-{ts:%Y%m%d-%H%M%S}-{commit}"
    assert Tag.parse(text) == Tag(text, TagKind.BUILD, V(major, minor, patch), ts, commit)


@given(st.text(max_size=60))
def test_classify_never_raises(text):
    tag = Tag.classify(text)
    assert tag.text == text
    assert isinstance(tag.kind, TagKind)


@given(
    st.lists(
        st.tuples(_nums, _nums, _nums).map(lambda t: f"v{t[0]}.{t[1]}.{t[2]}"),
        min_size=1,
        max_size=30,
    )
)
def test_newest_release_is_the_maximum_version(tags):
    expected = max(tags, key=lambda t: semver.Version.parse(t[1:]))  # the semver package as oracle
    assert newest_release(tags).text == expected
    assert select("~> 0", tags) == select("v0", tags)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("~>1.2", "~> 1.2"), (">=v1.3.0", ">= 1.3.0"), ("1", "= 1"), ("<2.0.0-rc.1", "< 2.0.0-rc.1")],
)
def test_constraint_str(text, expected):
    (constraint,) = Selector.parse(text if text[0] in "=!<>~" else f"{text},{text}").constraints[:1]
    assert str(constraint) == expected


def test_import_stays_light():
    """The external program imports tags on every plan: importing it loads neither boto3 nor hcl2."""
    import subprocess
    import sys

    code = "import sys, runlayer_tf.tags; print(sorted(m for m in ('boto3', 'botocore', 'hcl2') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out == "[]\n"


# --- the one image-reference value --------------------------------------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from runlayer_tf.tags import ImageRef  # noqa: E402


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("host:5000/team/app:v1.2", ImageRef("team/app", "host:5000", "v1.2")),
        ("localhost/app", ImageRef("app", "localhost")),
        ("team/app:v1", ImageRef("team/app", None, "v1")),
        ("app@sha256:" + "a" * 64, ImageRef("app", None, None, "sha256:" + "a" * 64)),
        (
            "1.dkr.ecr.us-east-1.amazonaws.com/backend-production:v1.2.3@sha256:" + "b" * 64,
            ImageRef(
                "backend-production",
                "1.dkr.ecr.us-east-1.amazonaws.com",
                "v1.2.3",
                "sha256:" + "b" * 64,
            ),
        ),
        ("${local.ecr}/backend:${var.v}", ImageRef("backend", "${local.ecr}", "${var.v}")),
    ],
)
def test_image_ref_parse(text: str, expected: ImageRef) -> None:
    assert ImageRef.parse(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize("text", ["", "app:", "app@", "host.io/", "/app", "a//b"])
def test_image_ref_refuses_what_names_no_repository(text: str) -> None:
    with pytest.raises(TagError, match="not an image reference"):
        ImageRef.parse(text)


def test_image_ref_evolve() -> None:
    ref = ImageRef.parse("host.io/app:v1@sha256:" + "c" * 64)
    assert str(ref.evolve(tag="v2", digest=None)) == "host.io/app:v2"
    assert ref.name == "host.io/app"


_component = st.from_regex(r"[a-z0-9]+(?:[._-][a-z0-9]+)*", fullmatch=True)


@given(
    registry=st.one_of(st.none(), st.sampled_from(["host.io", "localhost:5000", "10.0.0.1:80"])),
    path=st.lists(_component, min_size=1, max_size=3),
    tag=st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)),
    digest=st.one_of(st.none(), st.just("sha256:" + "d" * 64)),
)
def test_image_ref_str_is_read_back(registry, path, tag, digest) -> None:
    if registry is None and len(path) > 1 and ("." in path[0] or path[0] == "localhost"):
        path = ["x", *path]  # a first component that looks like a host is a registry
    ref = ImageRef("/".join(path), registry, tag, digest)
    assert ImageRef.parse(str(ref)) == ref


@pytest.mark.parametrize("digits", [19, 5000])
def test_a_version_component_over_18_digits_is_no_version(digits):
    """Bounded before int(): a huge component is not converted (nor a traceback past 4300 digits)."""
    from runlayer_tf.errors import TagError
    from runlayer_tf.tags import Selector, Tag, TagKind

    text = "v1" + "0" * (digits - 1) + ".0.0"
    assert Tag.classify(text).kind is TagKind.OTHER
    with pytest.raises(TagError):
        Selector.parse(text)
