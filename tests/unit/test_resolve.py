"""The resolver core against a hand-written registry: which digest and metadata a query yields."""

from __future__ import annotations

import datetime

import pytest

from runlayer_tf.errors import NoMatchError, NotFoundError, TagError, UsageError
from runlayer_tf.registries._base import RegistryAddress
from runlayer_tf.resolve import Query, Resolution, resolve
from tests.fakes import FakeRegistry

D = {name: "sha256:" + (name * 64)[:64] for name in "abcdef0123456789"}
PUSHED = datetime.datetime(2024, 12, 13, 15, 30, tzinfo=datetime.timezone.utc)


def fake(tags: dict[str, str], **options: bool) -> FakeRegistry:
    """``tags`` of backend-production; ``c``'s image has a push time."""
    return FakeRegistry({"backend-production": tags}, pushed={D["c"]: PUSHED}, **options)


TAGS = {
    "v1.1.0": D["a"],
    "v1.1.0-20241015-093000-5e6f7a8b": D["a"],
    "20241015-093000": D["a"],
    "v1.2.0": D["b"],
    "v1.2.3": D["c"],
    "v1.2.3-20241213-152430-a1b2c3d4": D["c"],
    "20241213-152430": D["c"],
    "v1.2.4-20241220-101010-0123456": D["d"],
    "v1.2.4-20241221-101010-abcdef0": D["e"],
    "v1.3.0-rc.1": D["f"],
    "latest": D["c"],
    "debug": D["b"],
}


def query(tag: str, *, allow_prerelease: bool = False) -> Query:
    return Query.from_mapping(
        {
            "repository": "backend-production",
            "tag": tag,
            "registry": "registry.example.com",
            "allow_prerelease": "true" if allow_prerelease else "false",
        }
    )


CASES = [
    # selector, digest, tag, version, build timestamp, commit
    # 1.2.4 has only build tags: not released, so a range skips it.
    ("v1.2", D["c"], "v1.2.3", "1.2.3", "2024-12-13T15:24:30Z", "a1b2c3d4"),
    ("1.2", D["c"], "v1.2.3", "1.2.3", "2024-12-13T15:24:30Z", "a1b2c3d4"),
    (
        "v1.2.4",
        D["e"],
        "v1.2.4-20241221-101010-abcdef0",
        "1.2.4",
        "2024-12-21T10:10:10Z",
        "abcdef0",
    ),
    ("v1.2.3", D["c"], "v1.2.3", "1.2.3", "2024-12-13T15:24:30Z", "a1b2c3d4"),
    ("~> 1.2.0", D["c"], "v1.2.3", "1.2.3", "2024-12-13T15:24:30Z", "a1b2c3d4"),
    (
        "v1.2.4-20241220-101010-0123456",
        D["d"],
        "v1.2.4-20241220-101010-0123456",
        "1.2.4",
        "2024-12-20T10:10:10Z",
        "0123456",
    ),
    (">= 1.1.0, < 1.2.0", D["a"], "v1.1.0", "1.1.0", "2024-10-15T09:30:00Z", "5e6f7a8b"),
    ("latest", D["c"], "latest", "1.2.3", "2024-12-13T15:24:30Z", "a1b2c3d4"),
    ("20241213-152430", D["c"], "20241213-152430", "1.2.3", "2024-12-13T15:24:30Z", "a1b2c3d4"),
    (
        "v1.2.3-20241213-152430-a1b2c3d4",
        D["c"],
        "v1.2.3-20241213-152430-a1b2c3d4",
        "1.2.3",
        "2024-12-13T15:24:30Z",
        "a1b2c3d4",
    ),
    (D["c"], D["c"], "v1.2.3", "1.2.3", "2024-12-13T15:24:30Z", "a1b2c3d4"),
    ("debug", D["b"], "debug", "1.2.0", "", ""),
    ("v1.2.0", D["b"], "v1.2.0", "1.2.0", "", ""),
]


@pytest.mark.parametrize("listing_digests", [True, False], ids=["ecr-like", "oci-like"])
@pytest.mark.parametrize(("selector", "digest", "tag", "version", "stamp", "commit"), CASES)
def test_resolve(listing_digests, selector, digest, tag, version, stamp, commit):
    result = resolve(
        query(selector),
        FakeRegistry(
            {"backend-production": TAGS}, pushed={D["c"]: PUSHED}, listing_digests=listing_digests
        ),
    ).to_external()
    assert result["digest"] == digest
    assert result["tag"] == tag
    assert result["version"] == version
    assert result["build_timestamp"] == stamp
    assert result["commit"] == commit
    assert result["image"] == f"registry.example.com/backend-production@{digest}"


def test_tags_on_the_digest_are_all_reported():
    result = resolve(query("v1.2.4"), fake(TAGS)).to_external()
    assert result["tags"] == "v1.2.4-20241221-101010-abcdef0"
    result = resolve(query("latest"), fake(TAGS)).to_external()
    assert result["tags"] == "20241213-152430,latest,v1.2.3,v1.2.3-20241213-152430-a1b2c3d4"


def test_oci_listing_heads_only_the_tags_that_can_share_the_image():
    """Without digests in the listing, only latest and the version's own tags are looked up."""
    registry = FakeRegistry(
        {"backend-production": TAGS}, pushed={D["c"]: PUSHED}, listing_digests=False
    )
    result = resolve(query("v1.2.3"), registry).to_external()
    assert result["tags"] == "20241213-152430,latest,v1.2.3,v1.2.3-20241213-152430-a1b2c3d4"
    assert sorted(registry.lookups) == sorted(
        ["v1.2.3", "latest", "v1.2.3-20241213-152430-a1b2c3d4", "20241213-152430"]
    )


def test_result_is_all_strings_with_every_key():
    result = resolve(query("v1.2.3"), fake(TAGS)).to_external()
    assert sorted(result) == [
        "build_timestamp",
        "commit",
        "digest",
        "image",
        "index_digest",
        "platform",
        "pushed_at",
        "registry",
        "repository",
        "tag",
        "tags",
        "version",
    ]
    assert all(isinstance(v, str) for v in result.values())
    assert result["pushed_at"] == "2024-12-13T15:30:00Z"
    assert result["registry"] == "registry.example.com"
    assert result["repository"] == "backend-production"


def test_prerelease_only_when_allowed():
    assert (
        resolve(
            query("v1.3", allow_prerelease=True),
            fake(TAGS),
        ).tag
        == "v1.3.0-rc.1"
    )
    with pytest.raises(NoMatchError) as info:
        resolve(query("v1.3"), fake(TAGS))
    assert (
        str(info.value) == "no tag of backend-production matches v1.3 "
        "(newest release: v1.2.3; a prerelease matches: set allow_prerelease)"
    )


@pytest.mark.parametrize(
    ("tags", "selector", "message"),
    [
        (
            TAGS,
            "v9",
            "no tag of backend-production matches v9 (newest release: v1.2.3)",
        ),
        (
            TAGS,
            ">= 1.2.4, < 1.2.5",
            "no tag of backend-production matches >= 1.2.4, < 1.2.5 (newest release: v1.2.3; "
            "skipped build-only v1.2.4-20241221-101010-abcdef0 (no plain v1.2.4 tag))",
        ),
        (
            {"v1.0.0-20240101-000000-aaaaaaa": D["a"]},
            "v1",
            "no tag of backend-production matches v1 (no releases; "
            "skipped build-only v1.0.0-20240101-000000-aaaaaaa (no plain v1.0.0 tag))",
        ),
        (
            {"v1.0.0": D["a"]},
            "latest",
            "no tag of backend-production matches latest (newest release: v1.0.0)",
        ),
        ({"debug": D["a"]}, "v1", "no tag of backend-production matches v1 (no releases)"),
        ({}, "v1", "no tag of backend-production matches v1 (no tags)"),
    ],
)
def test_no_match_names_the_newest_release(tags, selector, message):
    with pytest.raises(NoMatchError) as info:
        resolve(query(selector), fake(tags))
    assert str(info.value) == message


def test_unknown_digest_is_not_found():
    with pytest.raises(NotFoundError, match="not found"):
        resolve(
            query("sha256:" + "9" * 64),
            fake(TAGS),
        )


def test_resolution_image_reference():
    r = Resolution(
        "123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "backend-production",
        D["a"],
        "v1.1.0",
        "1.1.0",
        ("v1.1.0",),
    )
    assert r.image == f"123456789012.dkr.ecr.us-east-1.amazonaws.com/backend-production@{D['a']}"
    assert r.to_external()["build_timestamp"] == ""


BAD_QUERIES = [
    ({"tag": "v1"}, UsageError, "query key 'repository' is required"),
    ({"repository": "backend-production"}, UsageError, "query key 'tag' is required"),
    ({"repository": "backend-production", "tag": " "}, UsageError, "query key 'tag' is required"),
    (
        {"repository": "backend-production", "tag": "v1", "bogus": "x"},
        UsageError,
        (
            "unknown query key 'bogus'; "
            "allowed keys: repository, tag, registry, registry_id, region, allow_prerelease, insecure, "
            "platform"
        ),
    ),
    (
        {"repository": "backend-production", "tag": "v1", "allow_prerelease": "yes"},
        UsageError,
        "query value 'allow_prerelease' must be \"true\" or \"false\", got 'yes'",
    ),
    (
        {"repository": "backend-production", "tag": 1},
        UsageError,
        "query value 'tag' must be a string, got int",
    ),
    (
        {"repository": "Backend", "tag": "v1"},
        UsageError,
        (
            'invalid repository name "Backend": use lowercase letters, digits and separators '
            "(. _ __ -), path components joined by /"
        ),
    ),
]


@pytest.mark.parametrize(("raw", "error", "message"), BAD_QUERIES)
def test_query_validation(raw, error, message):
    with pytest.raises(error) as info:
        Query.from_mapping(raw)
    assert str(info.value) == message


def test_query_bad_selector_is_a_tag_error():
    with pytest.raises(TagError, match=r'invalid selector "v1\.2\.x"'):
        Query.from_mapping({"repository": "backend-production", "tag": "v1.2.x"})


def test_query_parses_registry_address():
    q = Query.from_mapping(
        {
            "repository": "backend-production",
            "tag": "v1",
            "registry": "127.0.0.1:5000",
            "insecure": "false",
        }
    )
    assert q.address == RegistryAddress("oci", host="127.0.0.1:5000", scheme="http")


# --- tags_on classifies only the tags it can check (issue 12): the same answer as classifying all

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from runlayer_tf.resolve import tags_on  # noqa: E402
from runlayer_tf.tags import Tag  # noqa: E402

_STAMPS = ["20241213-152430", "20241015-093000", "09990101-000000", "20240229-120000"]
_TAG_TEXTS = st.one_of(
    st.sampled_from(["latest", "debug", "v1.2", "v1.2.30", "v1.2.3-rc.1", "v01.2.3", *_STAMPS]),
    st.builds(lambda a, b, c: f"v{a}.{b}.{c}", *[st.integers(0, 3)] * 3),
    st.builds(
        lambda a, c, stamp, commit: f"v1.{a}.{c}-{stamp}-{commit}",
        st.integers(0, 3),
        st.integers(0, 3),
        st.sampled_from(_STAMPS),
        st.sampled_from(["a1b2c3d4", "0123456", "ABCDEF12"]),
    ),
    st.builds(
        lambda a, pre: f"v1.{a}.0-{pre}", st.integers(0, 3), st.sampled_from(["rc.1", "beta"])
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(_TAG_TEXTS, st.sampled_from(sorted(D.values())[:4]), min_size=1, max_size=25),
    st.data(),
)
def test_tags_on_answers_the_same_from_the_tags_it_classifies(tags, data):
    chosen_text = data.draw(st.sampled_from(sorted(tags)))
    chosen = Tag.classify(chosen_text)
    listing: dict[str, str | None] = dict.fromkeys(tags)
    full = {t: Tag.classify(t) for t in listing}
    registry = FakeRegistry({"r": tags}, listing_digests=False)
    digest = tags[chosen_text]
    expected = tags_on(registry, "r", digest, chosen, listing, classified=full)
    assert tags_on(registry, "r", digest, chosen, listing) == expected
    assert chosen_text in expected
    assert set(expected) <= {t for t, d in tags.items() if d == digest}
