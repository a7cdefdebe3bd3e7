"""The registry client against a hostile registry on the wire: one row per threat-model row
(docs/security.md, "Registry HTTP responses and auth challenges")."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import time

import pytest

from runlayer_tf.errors import RegistryError
from runlayer_tf.registries import _http, _oci
from runlayer_tf.registries._base import RegistryAddress
from runlayer_tf.registries._oci import Credentials, OciRegistry

CREDS = Credentials("deploy", "s3cr3t-password")
BASIC = "Basic " + base64.b64encode(b"deploy:s3cr3t-password").decode()
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": _http.OCI_MANIFEST}).encode()
INJECTED = 'sha256:${file("~/.aws/credentials")}'


def challenge(realm):
    """401 with a bearer challenge naming ``realm`` until a token is presented."""

    def behave(h):
        if h.headers.get("Authorization", "").startswith("Bearer "):
            h.answer(200, b'{"tags": ["v1"]}')
        else:
            h.answer(401, headers={"WWW-Authenticate": f'Bearer realm="{realm}",service="r"'})

    return behave


def digest_header(value):
    def behave(h):
        h.answer(
            200, MANIFEST, {"Docker-Content-Digest": value, "Content-Type": _http.OCI_MANIFEST}
        )

    return behave


def typed(head_type, get_type=None, data=MANIFEST):
    """A HEAD answering ``head_type`` with the true digest (None: no Content-Type, no digest,
    so the client GETs); a GET answering ``data`` as ``get_type``."""

    def behave(h):
        content_type = head_type if h.command == "HEAD" else get_type
        headers = {"Content-Type": content_type} if content_type else {}
        if h.command == "HEAD" and head_type:
            headers["Docker-Content-Digest"] = "sha256:" + hashlib.sha256(data).hexdigest()
        h.answer(200, data, headers)

    return behave


def token_service(answer):
    """A bearer challenge whose realm (this registry's /token) answers ``answer``."""

    def behave(h):
        if h.path.startswith("/token"):
            h.answer(200, answer)
        elif h.headers.get("Authorization", "").startswith("Bearer "):
            h.answer(200, b'{"tags": ["v1"]}')
        else:
            port = h.server.server_address[1]
            realm = f"http://127.0.0.1:{port}/token"
            h.answer(401, headers={"WWW-Authenticate": f'Bearer realm="{realm}",service="r"'})

    return behave


def body(data, status=200):
    return lambda h: h.answer(status, data)


def redirect(location):
    return lambda h: h.answer(307, headers={"Location": location(h)})


def endless_pages(h):
    h.answer(
        200, b'{"tags": ["a"]}', {"Link": f'</v2/app/tags/list?last={len(h.path)}>; rel="next"'}
    )


def drip(h):
    h.send_response(200)
    h.send_header("Content-Length", "1000")
    h.end_headers()
    for _ in range(1000):
        try:
            h.wfile.write(b" ")
            h.wfile.flush()
        except OSError:
            return
        time.sleep(0.1)


def drip_headers(h):
    h.wfile.write(b"HTTP/1.1 200 OK\r\n")
    for _ in range(1000):
        try:
            h.wfile.write(b"X")
            h.wfile.flush()
        except OSError:
            return
        time.sleep(0.1)


def cut_without_close_notify(h):
    """A close-delimited body cut by a bare TCP close, as anyone on the path could forge it."""
    h.wfile.write(b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"tags": ["v1"')
    h.wfile.flush()
    h.connection.shutdown(socket.SHUT_RDWR)  # an SSLSocket's shutdown sends no close_notify
    h.close_connection = True


def giant_unannounced(h):
    h.send_response(200)
    h.send_header("Connection", "close")
    h.end_headers()
    chunk = b" " * 65536
    try:
        for _ in range(100):  # 6.4 MiB, no Content-Length
            h.wfile.write(chunk)
    except OSError:
        pass
    h.close_connection = True


def basic_then(behaviour):
    """Demand basic credentials first (so they are in play), then misbehave."""

    def behave(h):
        if h.headers.get("Authorization") != BASIC:
            h.answer(401, headers={"WWW-Authenticate": 'Basic realm="r"'})
        else:
            behaviour(h)

    return behave


# (row, registry: "plain" | "tls", behaviour(plain, tls, catcher), call, expected error)
ROWS = [
    (
        "http realm on another origin",
        "plain",
        lambda p, t, c: challenge("http://tokens.example.com/token"),
        "tags",
        "registry 127.0.0.1:{port} sent a token realm http://tokens.example.com/token over "
        "plain http on another origin; refusing to send credentials there (use https, or insecure)",
    ),
    (
        "file realm",
        "plain",
        lambda p, t, c: challenge("file:///etc/passwd"),
        "tags",
        "registry 127.0.0.1:{port} sent a token realm file:///etc/passwd that is not an "
        "http(s) URL; refused",
    ),
    (
        "ftp realm",
        "plain",
        lambda p, t, c: challenge("ftp://tokens.example.com/t"),
        "tags",
        "registry 127.0.0.1:{port} sent a token realm ftp://tokens.example.com/t that is not "
        "an http(s) URL; refused",
    ),
    (
        "data realm",
        "plain",
        lambda p, t, c: challenge("data:,token"),
        "tags",
        "registry 127.0.0.1:{port} sent a token realm data:,token that is not an http(s) URL; "
        "refused",
    ),
    (
        "http realm from an https registry",
        "tls",
        lambda p, t, c: challenge("http://tokens.example.com/token"),
        "tags",
        "registry 127.0.0.1:{port} sent a token realm http://tokens.example.com/token over "
        "plain http on another origin; refusing to send credentials there (use https, or insecure)",
    ),
    (
        "injected digest header",
        "plain",
        lambda p, t, c: digest_header(INJECTED),
        "digest",
        'registry 127.0.0.1:{port} sent an invalid digest "' + INJECTED + '"',
    ),
    (
        "digest header with control characters",
        "plain",
        lambda p, t, c: digest_header("sha256:\x1b[31mabc"),
        "digest",
        'registry 127.0.0.1:{port} sent an invalid digest "sha256:\\x1b[31mabc"',
    ),
    (
        "uppercase digest header",
        "plain",
        lambda p, t, c: digest_header("sha256:" + "A" * 64),
        "digest",
        'registry 127.0.0.1:{port} sent an invalid digest "sha256:' + "A" * 64 + '"',
    ),
    (
        "lying digest on GET",
        "plain",
        lambda p, t, c: (
            lambda h: (
                h.answer(200, MANIFEST)
                if h.command == "GET"
                else h.answer(200, headers={"Content-Length": "0"})
            )
        ),
        "digest",
        None,  # succeeds: the GET's hash is the digest (no header to lie with)
    ),
    (
        "manifest that is not a manifest",
        "plain",
        lambda p, t, c: body(b'{"mediaType": "text/html"}'),
        "digest",
        "registry 127.0.0.1:{port}: manifest app:v1 is not an image manifest or index",
    ),
    (
        "HEAD answering text/html",
        "plain",
        lambda p, t, c: typed("text/html; charset=utf-8"),
        "digest",
        'registry 127.0.0.1:{port}: manifest app:v1 answered Content-Type "text/html", '
        "not an image manifest or index type",
    ),
    (
        "HEAD answering a blob type",
        "plain",
        lambda p, t, c: typed("application/vnd.oci.image.layer.v1.tar+gzip"),
        "digest",
        "registry 127.0.0.1:{port}: manifest app:v1 answered Content-Type "
        '"application/vnd.oci.image.layer.v1.tar+gzip", not an image manifest or index type',
    ),
    (
        "GET answering text/html",
        "plain",
        lambda p, t, c: typed(None, "text/html"),
        "digest",
        'registry 127.0.0.1:{port}: manifest app:v1 answered Content-Type "text/html", '
        "not an image manifest or index type",
    ),
    (
        "GET answering a type its body contradicts",
        "plain",
        lambda p, t, c: typed(None, _http.DOCKER_MANIFEST),
        "digest",
        "registry 127.0.0.1:{port}: manifest app:v1 answered Content-Type "
        f'"{_http.DOCKER_MANIFEST}" for a {_http.OCI_MANIFEST} manifest',
    ),
    (
        "HEAD answering an asked type with parameters",
        "plain",
        lambda p, t, c: typed(_http.OCI_MANIFEST.upper() + "; charset=utf-8"),
        "digest",
        None,  # succeeds: parameters and case do not change a media type
    ),
    (
        "downgrade redirect https -> http",
        "tls",
        lambda p, t, c: redirect(lambda h: f"http://{c.host}/v2/app/tags/list"),
        "tags",
        "https://127.0.0.1:{port} redirected from https to plain http (http://127.0.0.2:{cport}); "
        "refused",
    ),
    (
        "redirect to file:",
        "plain",
        lambda p, t, c: redirect(lambda h: "file:///etc/passwd"),
        "tags",
        "registry 127.0.0.1:{port}: listing tags of app answered HTTP 307",
    ),
    (
        "endless redirects",
        "plain",
        lambda p, t, c: redirect(lambda h: h.path + "x"),
        "tags",
        "registry 127.0.0.1:{port}: listing tags of app answered HTTP 307",
    ),
    (
        "endless pagination",
        "plain",
        lambda p, t, c: endless_pages,
        "tags",
        "registry 127.0.0.1:{port}: tag listing of app does not end (over 20 pages)",
    ),
    (
        "tag list of the wrong type",
        "plain",
        lambda p, t, c: body(b'{"tags": {"a": 1}}'),
        "tags",
        "registry 127.0.0.1:{port}: malformed tag list for app",
    ),
    (
        "tag list of numbers",
        "plain",
        lambda p, t, c: body(b'{"tags": [1, 2]}'),
        "tags",
        "registry 127.0.0.1:{port}: malformed tag list for app (a tag that is not a string)",
    ),
    (
        "tag list that is a list",
        "plain",
        lambda p, t, c: body(b"[1]"),
        "tags",
        "registry 127.0.0.1:{port}: malformed tag list for app",
    ),
    (
        "deeply nested JSON",
        "plain",
        lambda p, t, c: body(b'{"tags": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"),
        "tags",
        "registry 127.0.0.1:{port}: malformed tag list for app",
    ),
    (
        "giant announced body",
        "plain",
        lambda p, t, c: lambda h: h.answer(200, b"", {"Content-Length": str(5 * 1024 * 1024)}),
        "tags",
        "http://127.0.0.1:{port} sent a body over 4194304 bytes; refused",
    ),
    (
        "giant unannounced body",
        "plain",
        lambda p, t, c: giant_unannounced,
        "tags",
        "http://127.0.0.1:{port} sent a body over 4194304 bytes; refused",
    ),
    (
        "dripping body",
        "plain",
        lambda p, t, c: drip,
        "tags",
        "http://127.0.0.1:{port} did not answer within 1s (RUNLAYER_TF_HTTP_TIMEOUT)",
    ),
    (
        # A new TLS connection's socket is not the TCP one the watchdog first saw (wrapping
        # detaches it): it was never shut, and a trickling https server held a read for the
        # whole body (found by a hostile review of the new transport).
        "dripping body over https",
        "tls",
        lambda p, t, c: drip,
        "tags",
        "https://127.0.0.1:{port} did not answer within 1s (RUNLAYER_TF_HTTP_TIMEOUT)",
    ),
    (
        "dripping headers over https",
        "tls",
        lambda p, t, c: drip_headers,
        "tags",
        "https://127.0.0.1:{port} did not answer within 1s (RUNLAYER_TF_HTTP_TIMEOUT)",
    ),
    (
        "close-delimited body cut without TLS close_notify",
        "tls",
        lambda p, t, c: cut_without_close_notify,
        "tags",
        "https://127.0.0.1:{port} cut the connection without closing TLS (no close_notify): "
        "its answer may be incomplete; refused",
    ),
    (
        "realm with a host no resolver takes",
        "plain",
        lambda p, t, c: challenge("https://a..b/token"),
        "tags",
        "registry 127.0.0.1:{port} sent a token realm https://a..b/token whose host or port "
        "is not valid; refused",
    ),
    (
        "realm with a port out of range",
        "plain",
        lambda p, t, c: challenge("https://tokens.example.com:99999/token"),
        "tags",
        "registry 127.0.0.1:{port} sent a token realm https://tokens.example.com:99999/token "
        "whose host or port is not valid; refused",
    ),
    (
        "realm with a port that is not a number",
        "plain",
        lambda p, t, c: challenge("http://tokens.example.com:abc/token"),
        "tags",
        "registry 127.0.0.1:{port} sent a token realm http://tokens.example.com:abc/token "
        "whose host or port is not valid; refused",
    ),
    (
        "token no header can carry",
        "plain",
        lambda p, t, c: token_service(json.dumps({"token": "t\u20ac"}).encode()),
        "tags",
        "registry 127.0.0.1:{port}: token service returned no token",
    ),
    (
        "token answer that is not JSON",
        "plain",
        lambda p, t, c: token_service(b"<html>login</html>"),
        "tags",
        "registry 127.0.0.1:{port}: token service returned no token",
    ),
    (
        "token answer nested too deeply",
        "plain",
        lambda p, t, c: token_service(b"[" * 100_000),
        "tags",
        "registry 127.0.0.1:{port}: token service returned no token",
    ),
    (
        "Content-Length in digits that are not ASCII",
        "plain",
        lambda p, t, c: lambda h: h.answer(200, b'{"tags": []}', {"Content-Length": "\u00b2"}),
        "tags",
        "http://127.0.0.1:{port} sent a malformed Content-Length (\u00b2)",
    ),
    (
        "429 with a Retry-After in digits that are not ASCII",
        "plain",
        lambda p, t, c: lambda h: h.answer(429, headers={"Retry-After": "\u00b2"}),
        "tags",
        "registry 127.0.0.1:{port}: listing tags of app answered HTTP 429",
    ),
    (
        "429 with a Retry-After beyond the deadline",
        "plain",
        lambda p, t, c: lambda h: h.answer(429, headers={"Retry-After": "3600"}),
        "tags",
        "registry 127.0.0.1:{port} asked to retry after 3600s, beyond the deadline "
        "(RUNLAYER_TF_RESOLVE_TIMEOUT)",
    ),
]


@pytest.mark.parametrize(
    ("row", "which", "behaviour", "call", "expected"), ROWS, ids=[r[0] for r in ROWS]
)
def test_a_hostile_registry_gets_one_line_and_nothing_leaks(
    hostile, monkeypatch, row, which, behaviour, call, expected
):
    plain, tls, catcher = hostile
    server = plain if which == "plain" else tls
    server.behaviour = behaviour(plain, tls, catcher)
    monkeypatch.setenv("RUNLAYER_TF_HTTP_TIMEOUT", "1")
    monkeypatch.setenv("RUNLAYER_TF_RESOLVE_TIMEOUT", "5")
    monkeypatch.setattr(_oci, "MAX_PAGES", 20)
    registry = OciRegistry(RegistryAddress.parse(server.url), credentials=CREDS)
    started = time.monotonic()

    def run():
        return registry.list_tags("app") if call == "tags" else registry.digest_of("app", "v1")

    if expected is None:
        assert run() == "sha256:" + __import__("hashlib").sha256(MANIFEST).hexdigest()
    else:
        with pytest.raises(RegistryError) as caught:
            run()
        assert str(caught.value) == expected.replace("{port}", str(server.port)).replace(
            "{cport}", str(catcher.port)
        )
    assert time.monotonic() - started < 4
    assert catcher.seen == []


def test_credentials_never_cross_to_another_origin_on_a_redirect(hostile):
    """Basic credentials in play, a 307 to another origin: the catcher gets the request bare."""
    plain, _, catcher = hostile
    plain.behaviour = basic_then(redirect(lambda h: f"http://{catcher.host}/v2/app/tags/list"))
    registry = OciRegistry(RegistryAddress.parse(plain.url), credentials=CREDS)
    assert registry.list_tags("app") == {}
    assert [(s.path, s.authorization) for s in catcher.seen] == [
        (f"http://{catcher.host}/v2/app/tags/list", None)
    ]
    assert [s.authorization for s in plain.seen] == [None, BASIC]


def test_a_foreign_https_realm_is_the_token_service(hostile):
    """Docker Hub's way (auth.docker.io): an https realm gets the credentials."""
    _, tls, _ = hostile
    registry = OciRegistry(RegistryAddress.parse(tls.url), credentials=CREDS)

    def token_then_tags(h):
        if h.path.startswith("/token"):
            h.answer(200, b'{"token": "t0k"}')
        else:
            challenge(f"https://{tls.host}/token")(h)

    tls.behaviour = token_then_tags
    assert registry.list_tags("app") == {"v1": None}
    assert [(s.path.split("?")[0], s.authorization) for s in tls.seen] == [
        ("/v2/app/tags/list", None),
        ("/token", BASIC),
        ("/v2/app/tags/list", "Bearer t0k"),
    ]


def test_retry_after_within_the_deadline_is_honoured(hostile, monkeypatch):
    plain, _, _ = hostile
    answers = iter([(429, {"Retry-After": "1"}, b""), (200, {}, b'{"tags": ["v1"]}')])

    def behave(h):
        status, headers, data = next(answers)
        h.answer(status, data, headers)

    plain.behaviour = behave
    started = time.monotonic()
    assert OciRegistry(RegistryAddress.parse(plain.url)).list_tags("app") == {"v1": None}
    assert 1.0 <= time.monotonic() - started < 3


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "data:,x"])
def test_the_transport_opens_http_and_https_only(url):
    with pytest.raises(RegistryError) as caught:
        _http.http_transport("GET", url, {})
    assert str(caught.value) == (
        f"refusing to open a {url.split(':')[0]!r} URL: only http and https"
    )


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("ftp://127.0.0.2/x", "http://127.0.0.1:{port} redirected to a 'ftp' URL; refused"),
        ("file:///etc/passwd", None),  # not followed: the 307 is the answer (urllib's rule)
        ("data:,x", None),
    ],
)
def test_a_redirect_never_opens_another_scheme(hostile, location, expected):
    plain, _, catcher = hostile
    plain.behaviour = redirect(lambda h: location)
    if expected is None:
        assert _http.http_transport("GET", f"{plain.url}/v2/", {}).status == 307
    else:
        with pytest.raises(RegistryError) as caught:
            _http.http_transport("GET", f"{plain.url}/v2/", {})
        assert str(caught.value) == expected.replace("{port}", str(plain.port))
    assert len(plain.seen) == 1
    assert catcher.seen == []


def test_pins_bump_digest_never_writes_a_registry_header_into_terraform(hostile, tmp_path, capsys):
    """The header ``sha256:${file("~/.aws/credentials")}``: exit 1, one line, main.tf unchanged."""
    plain, _, _ = hostile

    def behave(h):
        if "/tags/list" in h.path:
            h.answer(200, b'{"tags": ["v1.2.3", "v1.2.4"]}')
        else:
            h.answer(200, MANIFEST, {"Docker-Content-Digest": INJECTED})

    plain.behaviour = behave
    main_tf = tmp_path / "main.tf"
    original = f'image = "{plain.host}/app:v1.2.3"\n'
    main_tf.write_text(original)
    from runlayer_tf.cli import main

    assert main(["pins", "bump", "--digest", str(main_tf)]) == 1
    err = capsys.readouterr().err
    assert err == f'runlayer-tf: error: registry {plain.host} sent an invalid digest "{INJECTED}"\n'
    assert main_tf.read_text() == original


def test_listed_tags_outside_the_tag_grammar_are_dropped(hostile):
    """A tag carrying an escape sequence or a newline never reaches a terminal or a file."""
    plain, _, _ = hostile
    plain.behaviour = body(json.dumps({"tags": ["v1", "\x1b[2Jv2", "v3\nrm", "x" * 129]}).encode())
    assert OciRegistry(RegistryAddress.parse(plain.url)).list_tags("app") == {"v1": None}


def test_a_redirect_to_a_host_no_resolver_takes_is_one_line(hostile, monkeypatch):
    """Without a proxy the host name reaches the resolver: a registry error naming that host."""
    plain, _, catcher = hostile
    monkeypatch.delenv("http_proxy")
    plain.behaviour = redirect(lambda h: "http://a..b/v2/app/tags/list")
    with pytest.raises(RegistryError) as caught:
        OciRegistry(RegistryAddress.parse(plain.url), credentials=CREDS).list_tags("app")
    # Refused by the resolver (getaddrinfo), named as the redirect's host, one line.
    assert str(caught.value).startswith("cannot reach a..b: ")
    assert "\n" not in str(caught.value)
    assert catcher.seen == []


def test_a_reused_tls_connection_cut_without_close_notify_is_retried_once(hostile):
    """An idle TLS connection the server (or a load balancer) drops without close_notify, as
    our next request arrives: a closed idle connection, tried once more on a new one (it
    became an error when a cut TLS body became one; found by a second hostile review)."""
    _, tls, _ = hostile
    count = []

    def second_request_cut(h):
        count.append(1)
        if len(count) == 2:
            h.connection.shutdown(socket.SHUT_RDWR)  # no close_notify, no answer
            h.close_connection = True
            return
        h.answer(200, b'{"tags": []}')

    tls.behaviour = second_request_cut
    url = f"{tls.url}/v2/app/tags/list"
    for _ in range(2):
        assert _http.http_transport("GET", url, {}).body == b'{"tags": []}'
    assert len(count) == 3  # the cut request, then the same request once more
