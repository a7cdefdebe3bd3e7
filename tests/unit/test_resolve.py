"""The resolver core against a hand-written registry: which digest and metadata a query yields."""

from __future__ import annotations

import datetime

import pytest

from runlayer_tf.errors import NoMatchError, NotFoundError, TagError, UsageError
from runlayer_tf.registries._base import RegistryAddress
from runlayer_tf.resolve import Query, Resolution, resolve

D = {name: "sha256:" + (name * 64)[:64] for name in "abcdef0123456789"}
PUSHED = datetime.datetime(2024, 12, 13, 15, 30, tzinfo=datetime.timezone.utc)


class FakeRegistry:
    """Tags -> digests; ``listing_digests=False`` hides digests like an OCI registry listing."""

    def __init__(
        self,
        tags: dict[str, str],
        *,
        listing_digests: bool = True,
        host: str = "registry.example.com",
    ) -> None:
        self.tags = tags
        self.listing_digests = listing_digests
        self.display_host = host
        self.lookups: list[str] = []

    def list_tags(self, repository):
        if repository != "backend-production":
            raise NotFoundError(f"repository {repository} not found")
        return {t: (d if self.listing_digests else None) for t, d in self.tags.items()}

    def digest_of(self, repository, reference):
        self.lookups.append(reference)
        if reference.startswith("sha256:"):
            if reference in self.tags.values():
                return reference
            raise NotFoundError(f"{repository}@{reference} not found")
        return self.tags[reference]

    def pushed_at(self, repository, digest):
        return PUSHED if digest == D["c"] else None


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
    ("v1.2", D["e"], "v1.2.4-20241221-101010-abcdef0", "1.2.4", "2024-12-21T10:10:10Z", "abcdef0"),
    ("1.2", D["e"], "v1.2.4-20241221-101010-abcdef0", "1.2.4", "2024-12-21T10:10:10Z", "abcdef0"),
    ("v1.2.3", D["c"], "v1.2.3", "1.2.3", "2024-12-13T15:24:30Z", "a1b2c3d4"),
    (
        "~> 1.2.0",
        D["e"],
        "v1.2.4-20241221-101010-abcdef0",
        "1.2.4",
        "2024-12-21T10:10:10Z",
        "abcdef0",
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
        query(selector), FakeRegistry(TAGS, listing_digests=listing_digests)
    ).to_external()
    assert result["digest"] == digest
    assert result["tag"] == tag
    assert result["version"] == version
    assert result["build_timestamp"] == stamp
    assert result["commit"] == commit
    assert result["image"] == f"registry.example.com/backend-production@{digest}"


def test_tags_on_the_digest_are_all_reported():
    result = resolve(query("v1.2"), FakeRegistry(TAGS)).to_external()
    assert result["tags"] == "v1.2.4-20241221-101010-abcdef0"
    result = resolve(query("latest"), FakeRegistry(TAGS)).to_external()
    assert result["tags"] == "20241213-152430,latest,v1.2.3,v1.2.3-20241213-152430-a1b2c3d4"


def test_oci_listing_heads_only_the_tags_that_can_share_the_image():
    """Without digests in the listing, only latest and the version's own tags are looked up."""
    registry = FakeRegistry(TAGS, listing_digests=False)
    result = resolve(query("v1.2.3"), registry).to_external()
    assert result["tags"] == "20241213-152430,latest,v1.2.3,v1.2.3-20241213-152430-a1b2c3d4"
    assert sorted(registry.lookups) == sorted(
        ["v1.2.3", "latest", "v1.2.3-20241213-152430-a1b2c3d4", "20241213-152430"]
    )


def test_result_is_all_strings_with_every_key():
    result = resolve(query("v1.2.3"), FakeRegistry(TAGS)).to_external()
    assert sorted(result) == [
        "build_timestamp",
        "commit",
        "digest",
        "image",
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
    assert resolve(query("v1.3", allow_prerelease=True), FakeRegistry(TAGS)).tag == "v1.3.0-rc.1"
    with pytest.raises(NoMatchError) as info:
        resolve(query("v1.3"), FakeRegistry(TAGS))
    assert (
        str(info.value) == "no tag of backend-production matches v1.3 "
        "(newest release: v1.2.4-20241221-101010-abcdef0; a prerelease matches: set allow_prerelease)"
    )


@pytest.mark.parametrize(
    ("tags", "selector", "message"),
    [
        (
            TAGS,
            "v9",
            "no tag of backend-production matches v9 (newest release: v1.2.4-20241221-101010-abcdef0)",
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
        resolve(query(selector), FakeRegistry(tags))
    assert str(info.value) == message


def test_unknown_digest_is_not_found():
    with pytest.raises(NotFoundError, match="not found"):
        resolve(query("sha256:" + "9" * 64), FakeRegistry(TAGS))


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
            "allowed keys: repository, tag, registry, registry_id, region, allow_prerelease, insecure"
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
