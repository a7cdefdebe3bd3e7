"""The OCI distribution client against a scripted transport: auth challenges, paging, digest checks."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat

import pytest

from runlayer_tf.errors import AuthError, NotFoundError, RegistryError
from runlayer_tf.registries._base import RegistryAddress
from runlayer_tf.registries._oci import (
    Credentials,
    OciRegistry,
    Response,
    docker_credentials,
    parse_challenge,
)

MANIFEST = b'{"schemaVersion":2}'
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()


class Script:
    """A transport answering from a list of (method, url-prefix, predicate on headers, response)."""

    def __init__(self, routes):
        self.routes = routes
        self.calls = []

    def __call__(self, method, url, headers):
        self.calls.append((method, url, dict(headers)))
        for r_method, prefix, check, response in self.routes:
            if method == r_method and url.startswith(prefix) and check(headers):
                return response
        return Response(404, {}, b"")


def anyone(headers):
    return True


def registry(transport, host="registry.example.com", creds=None):
    return OciRegistry(RegistryAddress.parse(host), transport=transport, credentials=creds)


def test_tags_follow_link_pagination_as_given():
    base = "https://registry.example.com"
    transport = Script(
        [
            (
                "GET",
                f"{base}/v2/app/tags/list?n=1000",
                anyone,
                Response(
                    200,
                    {"link": '</v2/app/tags/list?last=b&n=1000>; rel="next"'},
                    b'{"tags":["a","b"]}',
                ),
            ),
            (
                "GET",
                f"{base}/v2/app/tags/list?last=b",
                anyone,
                Response(
                    200,
                    {
                        "link": '<https://registry.example.com/v2/app/tags/list?opaque=xyz>; rel="next"'
                    },
                    b'{"tags":["c"]}',
                ),
            ),
            (
                "GET",
                f"{base}/v2/app/tags/list?opaque=xyz",
                anyone,
                Response(200, {}, b'{"tags":["d"]}'),
            ),
        ]
    )
    assert list(registry(transport).list_tags("app")) == ["a", "b", "c", "d"]
    assert [c[1] for c in transport.calls] == [
        f"{base}/v2/app/tags/list?n=1000",
        f"{base}/v2/app/tags/list?last=b&n=1000",
        f"{base}/v2/app/tags/list?opaque=xyz",
    ]


def test_basic_challenge_uses_credentials():
    expected = "Basic " + base64.b64encode(b"user:pw").decode()
    transport = Script(
        [
            (
                "HEAD",
                "https://registry.example.com/v2/app/manifests/v1",
                lambda h: h.get("Authorization") == expected,
                Response(200, {"docker-content-digest": DIGEST}, b""),
            ),
            (
                "HEAD",
                "https://registry.example.com/v2/app/manifests/v1",
                anyone,
                Response(401, {"www-authenticate": 'Basic realm="r"'}, b""),
            ),
        ]
    )
    assert registry(transport, creds=Credentials("user", "pw")).digest_of("app", "v1") == DIGEST
    assert len(transport.calls) == 2


def test_basic_challenge_without_credentials_says_how_to_log_in(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    transport = Script(
        [
            (
                "HEAD",
                "https://registry.example.com/",
                anyone,
                Response(401, {"www-authenticate": 'Basic realm="r"'}, b""),
            )
        ]
    )
    with pytest.raises(AuthError) as info:
        registry(transport).digest_of("app", "v1")
    assert (
        str(info.value) == "registry registry.example.com requires credentials: "
        f"run 'docker login registry.example.com' or add it to {tmp_path / 'config.json'}"
    )


def test_bearer_challenge_fetches_a_token_for_the_scope():
    challenge = 'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/app:pull"'
    transport = Script(
        [
            (
                "GET",
                "https://auth.example.com/token?service=registry.example.com&scope=repository%3Ateam%2Fapp%3Apull",
                lambda h: h.get("Authorization", "").startswith("Basic "),
                Response(200, {}, b'{"token":"t0k"}'),
            ),
            (
                "GET",
                "https://registry.example.com/v2/team/app/tags/list",
                lambda h: h.get("Authorization") == "Bearer t0k",
                Response(200, {}, b'{"tags":["v1.0.0"]}'),
            ),
            (
                "GET",
                "https://registry.example.com/v2/team/app/tags/list",
                anyone,
                Response(401, {"www-authenticate": challenge}, b""),
            ),
        ]
    )
    reg = registry(transport, creds=Credentials("u", "p"))
    assert list(reg.list_tags("team/app")) == ["v1.0.0"]
    # The token is reused for the same scope.
    reg.list_tags("team/app")
    assert [c[1].split("?")[0] for c in transport.calls] == [
        "https://registry.example.com/v2/team/app/tags/list",
        "https://auth.example.com/token",
        "https://registry.example.com/v2/team/app/tags/list",
        "https://registry.example.com/v2/team/app/tags/list",
    ]


def test_anonymous_bearer_token_uses_access_token_field():
    challenge = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"'
    transport = Script(
        [
            (
                "GET",
                "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fnginx%3Apull",
                lambda h: "Authorization" not in h,
                Response(200, {}, b'{"access_token":"anon"}'),
            ),
            (
                "HEAD",
                "https://registry-1.docker.io/v2/library/nginx/manifests/latest",
                lambda h: h.get("Authorization") == "Bearer anon",
                Response(200, {"docker-content-digest": DIGEST}, b""),
            ),
            (
                "HEAD",
                "https://registry-1.docker.io/v2/library/nginx/manifests/latest",
                anyone,
                Response(401, {"www-authenticate": challenge}, b""),
            ),
        ]
    )
    reg = OciRegistry(RegistryAddress.parse("docker.io"), transport=transport, credentials=None)
    reg._credentials_loaded = True
    assert reg.digest_of("nginx", "latest") == DIGEST
    assert reg.display_host == "docker.io"


def test_refused_token_is_an_auth_error():
    challenge = 'Bearer realm="https://auth.example.com/token",service="s"'
    transport = Script(
        [
            ("GET", "https://auth.example.com/token", anyone, Response(401, {}, b"")),
            (
                "GET",
                "https://registry.example.com/",
                anyone,
                Response(401, {"www-authenticate": challenge}, b""),
            ),
        ]
    )
    with pytest.raises(AuthError) as info:
        registry(transport, creds=Credentials("u", "bad")).list_tags("app")
    assert (
        str(info.value)
        == "registry registry.example.com: the token service refused the credentials for repository:app:pull"
    )


def test_wrong_credentials_are_reported():
    transport = Script(
        [
            (
                "GET",
                "https://registry.example.com/",
                anyone,
                Response(401, {"www-authenticate": 'Basic realm="r"'}, b""),
            )
        ]
    )
    with pytest.raises(AuthError) as info:
        registry(transport, creds=Credentials("u", "bad")).list_tags("app")
    assert (
        str(info.value)
        == "registry registry.example.com refused the credentials for the tags of app"
    )


def test_head_without_digest_falls_back_to_get_and_verifies_bytes():
    transport = Script(
        [
            (
                "HEAD",
                "https://registry.example.com/v2/app/manifests/v1",
                anyone,
                Response(200, {}, b""),
            ),
            (
                "GET",
                "https://registry.example.com/v2/app/manifests/v1",
                anyone,
                Response(200, {}, MANIFEST),
            ),
        ]
    )
    assert registry(transport).digest_of("app", "v1") == DIGEST


def test_manifest_bytes_that_do_not_match_the_claimed_digest_are_rejected():
    bogus = "sha256:" + "0" * 64
    transport = Script(
        [
            (
                "HEAD",
                "https://registry.example.com/v2/app/manifests/v1",
                anyone,
                Response(200, {}, b""),
            ),
            (
                "GET",
                "https://registry.example.com/v2/app/manifests/v1",
                anyone,
                Response(200, {"docker-content-digest": bogus}, MANIFEST),
            ),
        ]
    )
    with pytest.raises(RegistryError) as info:
        registry(transport).digest_of("app", "v1")
    assert (
        str(info.value)
        == f"registry registry.example.com: manifest app:v1 hashes to {DIGEST}, not the {bogus} it claims"
    )


def test_accept_header_lists_index_and_manifest_types():
    transport = Script(
        [
            (
                "HEAD",
                "https://registry.example.com/",
                anyone,
                Response(200, {"docker-content-digest": DIGEST}, b""),
            )
        ]
    )
    registry(transport).digest_of("app", "v1")
    accept = transport.calls[0][2]["Accept"]
    assert accept.split(", ") == [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]


def test_retries_transient_errors(monkeypatch):
    monkeypatch.setattr("runlayer_tf.registries._oci.time.sleep", lambda s: None)
    answers = iter(
        [Response(503, {}, b""), Response(429, {}, b""), Response(200, {}, b'{"tags":["v1.0.0"]}')]
    )

    def flaky(method, url, headers):
        return next(answers)

    reg = OciRegistry(
        RegistryAddress.parse("registry.example.com"), transport=flaky, credentials=None
    )
    assert list(reg.list_tags("app")) == ["v1.0.0"]


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (404, NotFoundError, "repository app not found in registry registry.example.com"),
        (403, AuthError, "registry registry.example.com denied access to the tags of app"),
        (
            500,
            RegistryError,
            "registry registry.example.com: listing tags of app answered HTTP 500",
        ),
    ],
)
def test_tag_listing_errors(status, error, message):
    transport = Script(
        [("GET", "https://registry.example.com/", anyone, Response(status, {}, b""))]
    )
    with pytest.raises(error) as info:
        registry(transport).list_tags("app")
    assert str(info.value) == message


def test_parse_challenge():
    assert parse_challenge(
        'Bearer realm="https://a/token",service="reg",scope="repository:x:pull"'
    ) == (
        "bearer",
        {"realm": "https://a/token", "service": "reg", "scope": "repository:x:pull"},
    )


def write_config(tmp_path, config):
    (tmp_path / "config.json").write_text(json.dumps(config))
    return tmp_path / "config.json"


def test_docker_config_auths(tmp_path):
    auth = base64.b64encode(b"alice:s3cret:with:colons").decode()
    path = write_config(
        tmp_path,
        {
            "auths": {
                "https://registry.example.com": {"auth": auth},
                "ghcr.io": {"username": "bob", "password": "pw"},
            }
        },
    )
    assert docker_credentials("registry.example.com", path) == Credentials(
        "alice", "s3cret:with:colons"
    )
    assert docker_credentials("ghcr.io", path) == Credentials("bob", "pw")
    assert docker_credentials("other.example.com", path) is None


def test_docker_hub_legacy_key(tmp_path):
    path = write_config(
        tmp_path,
        {"auths": {"https://index.docker.io/v1/": {"auth": base64.b64encode(b"u:p").decode()}}},
    )
    assert docker_credentials("registry-1.docker.io", path) == Credentials("u", "p")


def test_credential_helper(tmp_path, monkeypatch):
    helper = tmp_path / "bin" / "docker-credential-fake"
    helper.parent.mkdir()
    helper.write_text(
        "#!/bin/sh\n"
        "read host\n"
        '[ "$host" = "registry.example.com" ] || exit 1\n'
        'echo \'{"Username":"helper-user","Secret":"helper-secret"}\'\n'
    )
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{helper.parent}{os.pathsep}{os.environ['PATH']}")
    path = write_config(tmp_path, {"credHelpers": {"registry.example.com": "fake"}})
    assert docker_credentials("registry.example.com", path) == Credentials(
        "helper-user", "helper-secret"
    )
    path = write_config(tmp_path, {"credsStore": "fake"})
    assert docker_credentials("registry.example.com", path) == Credentials(
        "helper-user", "helper-secret"
    )
    assert docker_credentials("unknown.example.com", path) is None


def test_unreadable_docker_config(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(AuthError, match=r"cannot read Docker config .*config\.json"):
        docker_credentials("registry.example.com", tmp_path / "config.json")


def test_credentials_repr_hides_the_secret():
    assert repr(Credentials("u", "hunter2")) == "Credentials(username='u', password=***)"
