"""Platforms: the one parser, the match rules, choosing an index entry, the backends' checked
manifest reads (scripted OCI transport, crafted layouts) and the cache's platform check."""

from __future__ import annotations

import hashlib
import json

import pytest

from runlayer_tf import cache
from runlayer_tf.errors import NoMatchError, NotFoundError, RegistryError, UsageError
from runlayer_tf.registries import platform_image
from runlayer_tf.registries._base import RegistryAddress
from runlayer_tf.registries._layout import OciLayoutRegistry
from runlayer_tf.registries._oci import OciRegistry, Response
from runlayer_tf.resolve import Query, resolve
from runlayer_tf.tags import Platform, choose_platform

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("linux/amd64", Platform("linux", "amd64")),
        (" linux/arm64/v8 ", Platform("linux", "arm64", "v8")),
        ("linux/arm/v7", Platform("linux", "arm", "v7")),
        ("windows/amd64", Platform("windows", "amd64")),
        ("linux/386", Platform("linux", "386")),
        ("linux/ppc64le", Platform("linux", "ppc64le")),
    ],
)
def test_parse(text, parsed):
    assert Platform.parse(text) == parsed
    assert str(parsed) == text.strip()


SHAPE = "expected OS/ARCH[/VARIANT] such as linux/amd64 or linux/arm64/v8"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", f'invalid platform "": {SHAPE}'),
        ("linux", f'invalid platform "linux": {SHAPE}'),
        ("/amd64", f'invalid platform "/amd64": {SHAPE}'),
        ("linux//v8", f'invalid platform "linux//v8": {SHAPE}'),
        ("linux/arm64/v8/1", f'invalid platform "linux/arm64/v8/1": {SHAPE}'),
        ("Linux/amd64", 'invalid platform "Linux/amd64": write it in lowercase'),
        (
            "linux/aarch64",
            'invalid platform "linux/aarch64": the OCI name of aarch64 is arm64 (linux/arm64)',
        ),
        (
            "linux/armhf",
            'invalid platform "linux/armhf": the OCI name of armhf is arm/v7 (linux/arm/v7)',
        ),
        (
            "linux/amd 64",
            'invalid platform "linux/amd 64": OS, ARCH and VARIANT are lowercase letters and '
            "digits, such as linux/amd64 or linux/arm64/v8",
        ),
        (
            "linux/amd64\x1b[2J",
            'invalid platform "linux/amd64?[2J": OS, ARCH and VARIANT are lowercase letters and '
            "digits, such as linux/amd64 or linux/arm64/v8",
        ),
        (
            "unknown/unknown",
            'invalid platform "unknown/unknown": unknown/unknown marks build attestations, '
            "not a platform",
        ),
    ],
)
def test_parse_refuses_in_one_line(text, message):
    with pytest.raises(UsageError) as err:
        Platform.parse(text)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("wanted", "offered", "matches"),
    [
        ("linux/amd64", "linux/amd64", True),
        ("linux/amd64", "linux/arm64", False),
        ("linux/amd64", "windows/amd64", False),
        ("linux/arm64", "linux/arm64/v8", True),  # no variant asked: any
        ("linux/arm64/v8", "linux/arm64", True),  # v8 is arm64's default
        ("linux/arm64/v8", "linux/arm64/8", True),  # as some tools write it
        ("linux/arm64/v9", "linux/arm64", False),
        ("linux/arm/v7", "linux/arm/v6", False),
        ("linux/arm/v7", "linux/arm", False),  # arm has no default variant here
        ("linux/arm", "linux/arm/v6", True),
    ],
)
def test_match_rules(wanted, offered, matches):
    parts = offered.split("/")
    assert Platform.parse(wanted).matches(Platform(*parts)) is matches


ENTRIES = [
    ("sha256:" + "a" * 64, Platform("linux", "amd64")),
    ("sha256:" + "b" * 64, Platform("unknown", "unknown")),
    ("sha256:" + "c" * 64, None),  # a nested index or an artifact
    ("sha256:" + "d" * 64, Platform("linux", "arm", "v7")),
    ("sha256:" + "e" * 64, Platform("linux", "amd64")),  # a second amd64: the first wins
]


def test_choose_the_first_match_in_index_order():
    assert choose_platform(ENTRIES, Platform.parse("linux/amd64"), what="x") == ENTRIES[0]
    assert choose_platform(ENTRIES, Platform.parse("linux/arm"), what="x") == ENTRIES[3]


def test_choose_names_the_platforms_without_attestations():
    with pytest.raises(NoMatchError) as err:
        choose_platform(ENTRIES, Platform.parse("linux/arm64"), what="app:v1")
    assert (
        str(err.value)
        == "app:v1 has no image for linux/arm64 (platforms: linux/amd64, linux/arm/v7)"
    )
    with pytest.raises(NoMatchError) as err:
        choose_platform(ENTRIES[1:3], Platform.parse("linux/arm64"), what="app:v1")
    assert str(err.value) == "app:v1 has no image for linux/arm64 (platforms: none)"


def test_an_entry_platform_outside_the_names_is_not_offered():
    assert Platform.of({"os": "linux", "architecture": "amd64\x1b[2J"}) is None
    assert Platform.of({"os": "linux", "architecture": "amd64", "variant": 8}) is None
    assert Platform.of({"os": "linux"}) is None
    assert Platform.of("linux/amd64") is None
    assert Platform.of({"os": "linux", "architecture": "arm64", "variant": "v8"}) == Platform(
        "linux", "arm64", "v8"
    )


# --- the OCI client's checked manifest reads ---------------------------------------------

CONFIG = json.dumps({"os": "linux", "architecture": "arm64", "variant": "v8"}).encode()
CHILD = json.dumps(
    {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"digest": sha(CONFIG)}}
).encode()
INDEX = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": sha(CHILD),
                "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
            }
        ],
    }
).encode()


class Serve:
    """A transport serving fixed bodies by URL suffix; records every request."""

    def __init__(self, bodies):
        self.bodies = bodies
        self.calls = []

    def __call__(self, method, url, headers):
        self.calls.append((method, url))
        for suffix, response in self.bodies.items():
            if url.endswith(suffix):
                return response
        return Response(404, {}, b"")


def oci(transport):
    return OciRegistry(RegistryAddress.parse("registry.example.com"), transport=transport)


def test_the_index_then_its_chosen_manifest_are_read_once():
    transport = Serve(
        {
            f"/manifests/{sha(INDEX)}": Response(200, {"content-type": OCI_INDEX}, INDEX),
            f"/manifests/{sha(CHILD)}": Response(200, {"content-type": OCI_MANIFEST}, CHILD),
        }
    )
    image = platform_image(oci(transport), "app", sha(INDEX), Platform.parse("linux/arm64"))
    assert (image.digest, str(image.platform), image.index_digest) == (
        sha(CHILD),
        "linux/arm64/v8",
        sha(INDEX),
    )
    assert transport.calls == [
        ("GET", f"https://registry.example.com/v2/app/manifests/{sha(INDEX)}"),
        ("GET", f"https://registry.example.com/v2/app/manifests/{sha(CHILD)}"),
    ]


def test_a_chosen_entry_that_is_an_index_is_refused():
    nested = json.dumps({"mediaType": OCI_INDEX, "manifests": []}).encode()
    index = json.dumps(
        {
            "mediaType": OCI_INDEX,
            "manifests": [
                {"digest": sha(nested), "platform": {"os": "linux", "architecture": "arm64"}}
            ],
        }
    ).encode()
    transport = Serve(
        {
            f"/manifests/{sha(index)}": Response(200, {"content-type": OCI_INDEX}, index),
            f"/manifests/{sha(nested)}": Response(200, {"content-type": OCI_INDEX}, nested),
        }
    )
    with pytest.raises(RegistryError) as err:
        platform_image(
            oci(transport), "app", sha(index), Platform.parse("linux/arm64"), what="app:v1"
        )
    assert str(err.value) == (
        f"registry registry.example.com: app@{sha(nested)} is listed for linux/arm64 in app:v1 "
        "but is an index"
    )


def test_a_single_manifest_costs_its_config_blob():
    transport = Serve(
        {
            f"/manifests/{sha(CHILD)}": Response(200, {"content-type": OCI_MANIFEST}, CHILD),
            f"/blobs/{sha(CONFIG)}": Response(200, {}, CONFIG),
        }
    )
    image = platform_image(oci(transport), "app", sha(CHILD), Platform.parse("linux/arm64/v8"))
    assert (image.digest, str(image.platform), image.index_digest) == (
        sha(CHILD),
        "linux/arm64/v8",
        "",
    )
    assert len(transport.calls) == 2


@pytest.mark.parametrize(
    ("response", "error", "message"),
    [
        (
            Response(200, {"content-type": OCI_INDEX}, INDEX + b" "),
            RegistryError,
            f"registry registry.example.com: manifest app@{sha(INDEX)} hashes to {sha(INDEX + b' ')}; refused",
        ),
        (
            Response(200, {"content-type": "text/html"}, INDEX),
            RegistryError,
            f"registry registry.example.com: manifest app@{sha(INDEX)} came as "
            '"text/html", not an image manifest or index',
        ),
        (
            Response(404, {}, b""),
            NotFoundError,
            f"app@{sha(INDEX)} not found in registry registry.example.com",
        ),
        (
            Response(500, {}, b""),
            RegistryError,
            f"registry registry.example.com: manifest app@{sha(INDEX)} answered HTTP 500",
        ),
    ],
)
def test_a_manifest_read_is_checked(response, error, message):
    transport = Serve({f"/manifests/{sha(INDEX)}": response})
    with pytest.raises(error) as err:
        platform_image(oci(transport), "app", sha(INDEX), Platform.parse("linux/arm64"))
    assert str(err.value) == message


def test_a_body_that_is_not_a_manifest_is_refused():
    body = json.dumps({"mediaType": "application/vnd.cncf.helm.config.v1+json"}).encode()
    transport = Serve({f"/manifests/{sha(body)}": Response(200, {}, body)})
    with pytest.raises(RegistryError) as err:
        platform_image(oci(transport), "app", sha(body), Platform.parse("linux/arm64"))
    assert str(err.value) == (
        f"registry registry.example.com: app@{sha(body)} is not an image manifest or index"
    )


def test_an_index_entry_with_a_bad_digest_is_refused():
    body = json.dumps(
        {"mediaType": OCI_INDEX, "manifests": [{"digest": "sha256:../../x", "platform": {}}]}
    ).encode()
    transport = Serve({f"/manifests/{sha(body)}": Response(200, {"content-type": OCI_INDEX}, body)})
    with pytest.raises(RegistryError) as err:
        platform_image(oci(transport), "app", sha(body), Platform.parse("linux/arm64"))
    assert str(err.value) == (
        f"registry registry.example.com: app@{sha(body)} manifests[0] sent an invalid digest "
        '"sha256:../../x"'
    )


# --- an OCI layout with a multi-platform image ---------------------------------------------


def write_layout(root, blobs, tagged):
    repo = root / "app"
    (repo / "blobs" / "sha256").mkdir(parents=True)
    (repo / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    for body in blobs:
        (repo / "blobs" / "sha256" / sha(body)[7:]).write_bytes(body)
    manifests = [
        {
            "mediaType": media,
            "digest": sha(body),
            "size": len(body),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }
        for tag, body, media in tagged
    ]
    (repo / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": manifests}))
    return repo


def test_a_layout_resolves_a_platform_from_its_index(tmp_path):
    write_layout(tmp_path, [CONFIG, CHILD, INDEX], [("v1.0.0", INDEX, OCI_INDEX)])
    registry = OciLayoutRegistry(RegistryAddress.parse(f"oci-layout:{tmp_path}"))

    def ask(**extra):
        query = Query.from_mapping(
            {"repository": "app", "tag": "v1", "registry": f"oci-layout:{tmp_path}", **extra}
        )
        return resolve(query, registry)

    assert ask().digest == sha(INDEX)
    result = ask(platform="linux/arm64")
    assert (result.digest, result.platform, result.index_digest) == (
        sha(CHILD),
        "linux/arm64/v8",
        sha(INDEX),
    )
    with pytest.raises(NoMatchError) as err:
        ask(platform="linux/amd64")
    assert str(err.value) == "app:v1.0.0 has no image for linux/amd64 (platforms: linux/arm64/v8)"


def test_a_layout_checks_the_platform_manifest_blob(tmp_path):
    repo = write_layout(tmp_path, [CONFIG, INDEX], [("v1.0.0", INDEX, OCI_INDEX)])
    registry = OciLayoutRegistry(RegistryAddress.parse(f"oci-layout:{tmp_path}"))
    with pytest.raises(NotFoundError):
        platform_image(registry, "app", sha(INDEX), Platform.parse("linux/arm64"))
    (repo / "blobs" / "sha256" / sha(CHILD)[7:]).write_bytes(CHILD + b"\n")
    with pytest.raises(RegistryError) as err:
        platform_image(registry, "app", sha(INDEX), Platform.parse("linux/arm64"))
    blob = repo / "blobs" / "sha256" / sha(CHILD)[7:]
    assert str(err.value) == f"{blob} does not hash to {sha(CHILD)}: the layout is corrupt"


def test_a_layout_single_manifest_is_checked_against_its_config(tmp_path):
    write_layout(tmp_path, [CONFIG, CHILD], [("v1.0.0", CHILD, OCI_MANIFEST)])
    registry = OciLayoutRegistry(RegistryAddress.parse(f"oci-layout:{tmp_path}"))
    with pytest.raises(NoMatchError) as err:
        platform_image(
            registry, "app", sha(CHILD), Platform.parse("linux/amd64"), what="app:v1.0.0"
        )
    assert (
        str(err.value)
        == "app:v1.0.0 is a single-platform image for linux/arm64/v8, not linux/amd64"
    )


# --- the cache ------------------------------------------------------------------------------

DIGEST = "sha256:" + "f" * 64


def entry(platform):
    return {
        "stored_at": 1.0,
        "result": {
            "digest": DIGEST,
            "image": f"r/app@{DIGEST}",
            "registry": "r",
            "repository": "app",
            "platform": platform,
        },
    }


def test_the_platform_is_part_of_the_cache_key():
    base = {"repository": "app", "tag": "v1", "registry": "r.example.com"}
    keys = {
        cache.key_for(base),
        cache.key_for({**base, "platform": "linux/amd64"}),
        cache.key_for({**base, "platform": "linux/arm64"}),
    }
    assert len(keys) == 3


@pytest.mark.parametrize(
    ("asked", "answered", "served"),
    [
        ("", "", True),
        ("", "linux/arm64/v8", False),  # a platform's answer never serves a platform-less query
        ("linux/arm64", "", False),  # nor the index's a platform's
        ("linux/arm64", "linux/arm64/v8", True),
        ("linux/arm64/v8", "linux/arm64", True),
        ("linux/arm64/v8", "linux/arm64/v9", False),
        ("linux/amd64", "linux/arm64", False),
        ("linux/arm/v7", "linux/arm/v6", False),
    ],
)
def test_a_cached_answer_must_fit_the_querys_platform(asked, answered, served):
    query = {"repository": "app", "tag": "v1", **({"platform": asked} if asked else {})}
    assert (cache.valid_entry(entry(answered), query) is not None) is served


def test_an_entry_without_a_platform_key_is_a_miss():
    old = entry("")
    del old["result"]["platform"]  # written before platforms existed
    assert cache.valid_entry(old, {"repository": "app", "tag": "v1"}) is None
