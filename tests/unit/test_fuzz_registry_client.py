"""Property-based fuzzing of the registry client's side of every exchange.

A transport (no network) answers each request with a drawn status, drawn
headers (challenges, realms, digests, media types, ``Link``, ``Retry-After``,
``Content-Length``: grammar-like pieces and any text, non-ASCII digits and
characters no header codec takes included) and a drawn body.  Whatever it
answers, listing tags and looking up a digest give a value or one
:class:`RunlayerError` line; a digest handed back is a valid ``Digest``.  The
hostile registry (tests/unit/test_hostile_registry.py) holds the same
boundary on the wire, row by row.
"""

from __future__ import annotations

import time
import types
import urllib.parse

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runlayer_tf.errors import RunlayerError
from runlayer_tf.registries import _http, _oci
from runlayer_tf.registries._base import RegistryAddress
from runlayer_tf.registries._oci import Credentials, OciRegistry
from runlayer_tf.tags import Digest
from tests.fuzzing import examples

fuzz = settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

header_pieces = st.sampled_from(
    [
        "Bearer ",
        "Basic ",
        'realm="',
        "https://",
        "http://",
        "127.0.0.1",
        "registry.example.com",
        ":5000",
        ":99999",
        ":abc",
        "a..b",
        "/token",
        '"',
        ",",
        'service="r"',
        'scope="repository:app:pull"',
        "sha256:",
        "a" * 64,
        "A" * 64,
        "${file(",
        _http.OCI_MANIFEST,
        _http.OCI_INDEX,
        "text/html",
        "; charset=utf-8",
        "</v2/app/tags/list?last=a>",
        '; rel="next"',
        "<file:///etc/passwd>",
        "<//other.example/x>",
        "1",
        "3600",
        "-5",
        "\u00b2",
        "\u0663",
        "\u20ac",
        "\u00e9",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        " ",
    ]
)
hosts = st.sampled_from(["127.0.0.1", "registry.example.com", "a..b", "\u00e9.example", "", "x y"])
ports = st.sampled_from(["", ":5000", ":0", ":99999", ":abc"])
challenges = st.builds(
    lambda scheme, proto, host, port, path: (
        f'{scheme} realm="{proto}{host}{port}{path}",service="r"'
    ),
    st.sampled_from(["Bearer", "Basic", "bearer", "Digest"]),
    st.sampled_from(["https://", "http://", "file://", "ftp://", ""]),
    hosts,
    ports,
    st.sampled_from(["/token", "/token?x=1", ""]),
)
locations = st.builds(
    lambda proto, host, port, path: f"{proto}{host}{port}{path}",
    st.sampled_from(["https://", "http://", "file://", "//", ""]),
    hosts,
    ports,
    st.sampled_from(["/v2/app/tags/list", "/\u00e9", ""]),
)
header_value = st.one_of(
    challenges,
    locations,
    st.lists(header_pieces, max_size=8).map("".join),
    st.text(alphabet="0123456789-. \u00b2\u0663", max_size=6),  # numbers, or nearly
    st.text(max_size=40).filter(lambda t: "\n" not in t and "\r" not in t),
)
header_names = st.sampled_from(
    [
        "www-authenticate",
        "docker-content-digest",
        "content-type",
        "link",
        "retry-after",
        "content-length",
        "location",
    ]
)
body_pieces = st.sampled_from(
    [
        b'{"tags": ["v1", "v1.2.3", "latest"]}',
        b'{"tags": null}',
        b'{"tags": [1, {"a": 2}]}',
        b'{"tags": "v1"}',
        b'{"token": "t0k"}',
        b'{"access_token": "\\u20ac"}',
        b'{"token": "t\\u00e9"}',
        b'{"token": "a\\r\\nX-Injected: 1"}',
        b'{"token": 5}',
        b'{"schemaVersion": 2, "mediaType": "' + _http.OCI_MANIFEST.encode() + b'"}',
        b'{"mediaType": "text/html"}',
        b'{"mediaType": 7}',
        b"[" * 5000,
        b"<html>",
        b"\xff\xfe",
        b"",
    ]
)
bodies = st.one_of(body_pieces, st.binary(max_size=80))
answers = st.tuples(
    st.sampled_from([200, 200, 200, 307, 401, 403, 404, 429, 500, 502, 503]),
    st.dictionaries(header_names, header_value, max_size=4),
    bodies,
)


def one_line(err: BaseException) -> None:
    assert isinstance(err, RunlayerError), repr(err)
    assert "\n" not in str(err)


@fuzz
@given(
    st.lists(answers, min_size=1, max_size=8),
    st.sampled_from(["tags", "v1", "sha256:" + "a" * 64]),
    st.booleans(),
)
def test_the_registry_client_gives_a_value_or_one_line_for_any_answers(
    monkeypatch, script, call, with_credentials
):
    monkeypatch.setattr(_oci, "MAX_PAGES", 5)
    # Retries and Retry-After waits are honoured as asked, without waiting here.
    monkeypatch.setattr(
        _oci, "time", types.SimpleNamespace(monotonic=time.monotonic, sleep=lambda seconds: None)
    )
    answered = iter(script)
    last = script[-1]

    def transport(method, url, headers):
        # What urllib and http.client refuse before sending, as the real transport meets it.
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # ValueError: a port that is not 0-65535
        (parts.hostname or "").encode("idna")  # UnicodeError: a host no resolver takes
        for value in headers.values():
            value.encode("latin-1")  # UnicodeEncodeError: what no header can carry
        status, headers_out, body = next(answered, last)
        return _http.Response(status, headers_out, b"" if method == "HEAD" else body)

    registry = OciRegistry(
        RegistryAddress.parse("127.0.0.1:5000"),
        transport=transport,
        credentials=Credentials("u", "p") if with_credentials else None,
    )
    try:
        if call == "tags":
            tags = registry.list_tags("app")
            assert all(isinstance(t, str) for t in tags)
        else:
            digest = registry.digest_of("app", call)
            assert str(Digest.parse(digest)) == digest
            if call.startswith("sha256:"):
                assert digest == call
    except Exception as err:
        one_line(err)
