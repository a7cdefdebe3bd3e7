"""The OCI distribution backend against Debian's docker-registry (anonymous and htpasswd auth)."""

from __future__ import annotations

import base64
import json

import pytest

from runlayer_tf.errors import AuthError, NoMatchError, NotFoundError
from runlayer_tf.registries._base import RegistryAddress
from runlayer_tf.registries._oci import OciRegistry
from runlayer_tf.resolve import Query, resolve
from tests.conftest import REGISTRY_CREDENTIALS

RELEASES = [
    ("v1.1.0", "20241015-093000", "5e6f7a8b"),
    ("v1.2.0", "20241120-140000", "9c0d1e2f"),
    ("v1.2.3", "20241213-152430", "a1b2c3d4"),
    ("v1.3.0-rc.1", None, None),
]


@pytest.fixture(scope="module")
def pushed(oci_registry):
    pusher = oci_registry.pusher()
    digests = {}
    for version, stamp, commit in RELEASES:
        tags = [version] + ([stamp, f"{version}-{stamp}-{commit}"] if stamp else [])
        if version == "v1.2.3":
            tags.append("latest")
        digests[version] = pusher.push_image("it/frontend-production", tags, seed=version).digest
    # v2.0.0 is multi-platform: an OCI index over two manifests.
    index, children = pusher.push_index(
        "it/frontend-production", ["v2.0.0", "v2.0.0-20250301-101010-deadbeef"], seed="v2"
    )
    digests["v2.0.0"] = index.digest
    digests["v2.0.0/children"] = [c.digest for c in children]
    # A Docker manifest list too.
    lst, _ = pusher.push_index("it/docker-list", ["v3.0.0"], seed="v3", docker_media_types=True)
    digests["v3.0.0"] = lst.digest
    docker_v2 = pusher.push_image(
        "it/docker-list", ["v3.0.1"], seed="v3.0.1", docker_media_types=True
    )
    digests["v3.0.1"] = docker_v2.digest
    return digests


def q(registry, tag, repository="it/frontend-production", **extra):
    return Query.from_mapping(
        {"repository": repository, "tag": tag, "registry": registry.host, **extra}
    )


def backend(registry, **kw):
    return OciRegistry(RegistryAddress.parse(registry.host), **kw)


def test_resolve_partial_version(oci_registry, pushed):
    result = resolve(q(oci_registry, "v1.2"), backend(oci_registry)).to_external()
    assert result == {
        "digest": pushed["v1.2.3"],
        "image": f"{oci_registry.host}/it/frontend-production@{pushed['v1.2.3']}",
        "tag": "v1.2.3",
        "version": "1.2.3",
        "tags": "20241213-152430,latest,v1.2.3,v1.2.3-20241213-152430-a1b2c3d4",
        "build_timestamp": "2024-12-13T15:24:30Z",
        "commit": "a1b2c3d4",
        "pushed_at": "",
        "registry": oci_registry.host,
        "repository": "it/frontend-production",
        "platform": "",
        "index_digest": "",
    }


def test_multi_platform_index_resolves_to_the_index_digest(oci_registry, pushed):
    result = resolve(q(oci_registry, "v2"), backend(oci_registry))
    assert result.digest == pushed["v2.0.0"]
    assert result.digest not in pushed["v2.0.0/children"]
    assert result.tags == ("v2.0.0", "v2.0.0-20250301-101010-deadbeef")


@pytest.mark.parametrize(("selector", "key"), [("v3.0.0", "v3.0.0"), ("v3", "v3.0.1")])
def test_docker_media_types(oci_registry, pushed, selector, key):
    assert (
        resolve(
            q(oci_registry, selector, repository="it/docker-list"), backend(oci_registry)
        ).digest
        == pushed[key]
    )


def test_tag_listing_follows_link_pages(oci_registry, pushed):
    registry = backend(oci_registry)
    registry.page_size = 2
    tags = list(registry.list_tags("it/frontend-production"))
    assert len(tags) == 13
    assert sorted(tags) == sorted(
        [
            "v1.1.0",
            "20241015-093000",
            "v1.1.0-20241015-093000-5e6f7a8b",
            "v1.2.0",
            "20241120-140000",
            "v1.2.0-20241120-140000-9c0d1e2f",
            "v1.2.3",
            "20241213-152430",
            "v1.2.3-20241213-152430-a1b2c3d4",
            "latest",
            "v1.3.0-rc.1",
            "v2.0.0",
            "v2.0.0-20250301-101010-deadbeef",
        ]
    )


def test_digest_selector_and_missing_digest(oci_registry, pushed):
    assert resolve(q(oci_registry, pushed["v1.1.0"]), backend(oci_registry)).tag == "v1.1.0"
    with pytest.raises(NotFoundError) as info:
        resolve(q(oci_registry, "sha256:" + "1" * 64), backend(oci_registry))
    assert (
        str(info.value)
        == f"it/frontend-production@sha256:{'1' * 64} not found in registry {oci_registry.host}"
    )


def test_missing_repository_and_no_match(oci_registry, pushed):
    with pytest.raises(NotFoundError) as info:
        resolve(q(oci_registry, "v1", repository="it/nothing-here"), backend(oci_registry))
    assert (
        str(info.value) == f"repository it/nothing-here not found in registry {oci_registry.host}"
    )
    with pytest.raises(NoMatchError) as info:
        resolve(q(oci_registry, "v9"), backend(oci_registry))
    assert str(info.value) == "no tag of it/frontend-production matches v9 (newest release: v2.0.0)"


@pytest.fixture
def private_image(auth_registry):
    return auth_registry.pusher().push_image("it/private", ["v1.0.0", "latest"], seed="private")


def docker_config(path, host, user, password):
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))


def test_basic_auth_with_docker_config(auth_registry, private_image, tmp_path, monkeypatch):
    docker_config(tmp_path / "docker", auth_registry.host, *REGISTRY_CREDENTIALS)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    result = resolve(q(auth_registry, "v1", repository="it/private"), backend(auth_registry))
    assert result.digest == private_image.digest
    assert result.tags == ("latest", "v1.0.0")


def test_anonymous_access_to_auth_registry_is_refused(
    auth_registry, private_image, tmp_path, monkeypatch
):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "empty"))
    with pytest.raises(AuthError) as info:
        resolve(q(auth_registry, "v1", repository="it/private"), backend(auth_registry))
    assert str(info.value) == (
        f"registry {auth_registry.host} requires credentials: run 'docker login {auth_registry.host}' "
        f"or add it to {tmp_path / 'empty' / 'config.json'}"
    )


def test_wrong_password_is_refused(auth_registry, private_image, tmp_path, monkeypatch):
    docker_config(tmp_path / "docker", auth_registry.host, REGISTRY_CREDENTIALS[0], "wrong")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    with pytest.raises(AuthError) as info:
        resolve(q(auth_registry, "v1", repository="it/private"), backend(auth_registry))
    assert (
        str(info.value)
        == f"registry {auth_registry.host} refused the credentials for the tags of it/private"
    )


def test_bearer_token_auth(token_registry, tmp_path, monkeypatch):
    """The registry challenges with Bearer; credentials from config.json buy a token from the realm."""
    registry, tokens = token_registry
    image = registry.pusher().push_image(
        "it/bearer", ["v1.4.0", "v1.4.0-20250301-101010-abcdef0"], seed="bearer"
    )
    docker_config(tmp_path / "docker", registry.host, *REGISTRY_CREDENTIALS)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    before = len(tokens.issued)
    result = resolve(q(registry, "v1", repository="it/bearer"), backend(registry))
    assert (result.digest, result.tag, result.commit) == (image.digest, "v1.4.0", "abcdef0")
    # One token for the repository's pull scope, reused for every request after it.
    assert tokens.issued[before:] == [
        {
            "user": "runlayer",
            "access": [{"type": "repository", "name": "it/bearer", "actions": ["pull"]}],
        }
    ]


def test_anonymous_bearer_token_for_public_repositories(token_registry, tmp_path, monkeypatch):
    registry, tokens = token_registry
    image = registry.pusher().push_image("public/tool", ["v0.9.0"], seed="public")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    assert (
        resolve(q(registry, "v0", repository="public/tool"), backend(registry)).digest
        == image.digest
    )
    assert tokens.issued[-1]["user"] is None
    with pytest.raises(AuthError) as info:
        resolve(q(registry, "v1", repository="it/bearer"), backend(registry))
    assert str(info.value) == (
        f"registry {registry.host} requires credentials for the tags of it/bearer: "
        f"run 'docker login {registry.host}' or add it to {tmp_path / 'none' / 'config.json'}"
    )
