"""The registry transport's HTTP/1.1 reader and writer (runlayer_tf.registries._wire) on a real
socket pair: framing, limits, and one error class (OSError) for whatever the server sends."""

from __future__ import annotations

import socket
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runlayer_tf.registries import _wire

LIMIT = 1000


def answer_to(raw: bytes, method: str = "GET", limit: int = LIMIT) -> _wire.Answer:
    """What the reader makes of ``raw`` sent by a server that then closes its end."""
    ours, theirs = socket.socketpair()

    def write() -> None:
        try:
            theirs.sendall(raw)
        except OSError:
            pass  # the reader refused the answer and stopped reading
        finally:
            theirs.close()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    conn = _wire.Connection(ours)
    try:
        return conn.answer(method, limit)
    finally:
        conn.close()
        writer.join(5)


def test_a_content_length_body_and_keep_alive():
    got = answer_to(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\nhelloEXTRA")
    assert (got.status, got.reason, got.body, got.will_close) == (200, "OK", b"hello", False)
    assert got.headers == {"content-length": "5", "x-a": "2"}  # names lower-case, the last wins


def test_a_chunked_body_with_extensions_and_trailers():
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 999\r\n\r\n"
        b"5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n"
    )
    got = answer_to(raw)
    assert got.body == b"hello world"  # Transfer-Encoding wins over Content-Length
    assert got.will_close is False


def test_a_body_up_to_the_close_and_answers_without_a_body():
    got = answer_to(b"HTTP/1.0 200 OK\r\n\r\nall of it")
    assert (got.body, got.will_close) == (b"all of it", True)
    for status in (b"204 No Content", b"304 Not Modified"):
        assert answer_to(b"HTTP/1.1 " + status + b"\r\nContent-Length: 4\r\n\r\n").body == b""
    head = answer_to(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n", method="HEAD")
    assert (head.body, head.will_close) == (b"", False)


def test_interim_answers_are_skipped_and_connection_close_is_heard():
    got = answer_to(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early\r\nLink: x\r\n\r\n"
        b"HTTP/1.1 404 Not Found\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n"
    )
    assert (got.status, got.will_close) == (404, True)
    keep = answer_to(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
    assert keep.will_close is False


def test_lengths_with_leading_zeros_and_lenient_chunk_framing():
    zeros = b"0" * 20 + b"12"
    got = answer_to(b"HTTP/1.1 200 OK\r\nContent-Length: " + zeros + b'\r\n\r\n{"tags": []}')
    assert got.body == b'{"tags": []}'
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000005\nhello\n0\n\n"
    assert answer_to(raw).body == b"hello"  # LF-only framing, a size with leading zeros


def test_repeated_connection_headers_are_joined():
    got = answer_to(
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nConnection: keep-alive\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert got.headers["connection"] == "close, keep-alive"
    assert got.will_close is True  # not the last one's keep-alive


def test_a_connection_with_bytes_waiting_is_not_clean():
    ours, theirs = socket.socketpair()
    conn = _wire.Connection(ours)
    assert conn.idle_and_clean()
    theirs.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n")
    conn.answer("GET", LIMIT)
    assert not conn.idle_and_clean()  # what follows a complete answer is no one's answer
    other, theirs2 = socket.socketpair()
    idle = _wire.Connection(other)
    theirs2.close()
    assert not idle.idle_and_clean()  # closed by the server while idle
    for s in (conn, idle):
        s.close()
    theirs.close()


def test_two_answers_on_one_connection():
    ours, theirs = socket.socketpair()
    theirs.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 201 Made\r\n\r\n")
    theirs.close()
    conn = _wire.Connection(ours)
    assert conn.answer("GET", LIMIT).body == b"a"
    second = conn.answer("HEAD", LIMIT)
    assert second.status == 201
    with pytest.raises(_wire.ClosedBeforeAnswer):
        conn.answer("GET", LIMIT)  # a stale keep-alive: the caller tries once more
    conn.close()


REFUSED = [
    (b"", _wire.ClosedBeforeAnswer, "closed the connection without an answer"),
    (b"garbage\r\n\r\n", _wire.NotAnAnswer, "not an HTTP answer: garbage"),
    (b"HTTP/2 200\r\n\r\n", _wire.NotAnAnswer, "not an HTTP answer"),
    (b"HTTP/1.1 2x0 OK\r\n\r\n", _wire.NotAnAnswer, "not an HTTP answer"),
    (b"HTTP/1.1 099 Low\r\n\r\n", _wire.NotAnAnswer, "not an HTTP answer"),  # no status < 100
    (b"HTTP/1.1 000 Zero\r\n\r\n", _wire.NotAnAnswer, "not an HTTP answer"),
    (b"HTTP/1.1 200 OK", _wire.NotAnAnswer, "not an HTTP answer"),  # no line end
    (b"HTTP/1.1 200 OK\r\n" + b"A" * 70000, _wire.ProtocolError, "header line is over 65536"),
    (b"HTTP/1.1 200 " + b"x" * 70000, _wire.ProtocolError, "status line is over 65536"),
    (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n", _wire.ProtocolError, "more than 100"),
    (b"HTTP/1.1 200 OK\r\nX: y\r\n folded\r\n\r\n", _wire.ProtocolError, "folded"),
    (b"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", _wire.ProtocolError, "malformed header line"),
    (b"HTTP/1.1 200 OK\r\nBad name: x\r\n\r\n", _wire.ProtocolError, "malformed header line"),
    (b"HTTP/1.1 200 OK\r\nX: y\r\n", _wire.ProtocolError, "closed the connection in the headers"),
    (b"HTTP/1.1 100 Continue\r\n\r\n", _wire.ProtocolError, "after an interim answer"),
    (b"HTTP/1.1 100 Continue\r\n\r\n" * 9, _wire.ProtocolError, "more than 8 interim"),
    (b"HTTP/1.1 101 Switching\r\n\r\n", _wire.ProtocolError, "switched protocols"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", _wire.ProtocolError, "after 2 of 5"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", _wire.MalformedLength, "(-1)"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", _wire.MalformedLength, "(+5)"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n", _wire.MalformedLength, "(\u00b2)"),
    (b"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", _wire.MalformedLength, "()"),
    (
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        _wire.MalformedLength,
        "conflicting",
    ),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n", _wire.BodyTooBig, "1001 bytes"),
    # leading zeros are not cut into a smaller number (int() of the first 20 characters was)
    (
        b"HTTP/1.1 200 OK\r\nContent-Length: " + b"0" * 21 + b"2000\r\n\r\n",
        _wire.BodyTooBig,
        "2000",
    ),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" + b"x" * 5000 + b"\r\n",
        _wire.ProtocolError,
        "chunk size line is over 4096",
    ),
    (  # heads of interim answers count against one allowance: 58 MB were read for nothing
        (b"HTTP/1.1 103 Early\r\n" + (b"X: " + b"v" * 65000 + b"\r\n") * 99 + b"\r\n") * 8,
        _wire.ProtocolError,
        "beside its body",
    ),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", _wire.BodyTooBig, ""),
    (b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 1001, _wire.BodyTooBig, "over 1000"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n" + b"x" * 1001, _wire.BodyTooBig, ""),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n", _wire.BodyTooBig, ""),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1f4\r\n" + b"x" * 500 + b"\r\n"
        b"1f5\r\n",
        _wire.BodyTooBig,
        "",
    ),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", _wire.ProtocolError, "(-1)"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\n", _wire.ProtocolError, "0x5"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", _wire.ProtocolError, "size ()"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5", _wire.ProtocolError, "inside"),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX0\r\n\r\n",
        _wire.ProtocolError,
        "not followed by CRLF",
    ),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\r\n",
        _wire.ProtocolError,
        "in its trailer",
    ),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + b"T: 1\r\n" * 101,
        _wire.ProtocolError,
        "more than 100 trailer",
    ),
]


@pytest.mark.parametrize(("raw", "error", "text"), REFUSED)
def test_what_is_no_well_formed_answer_is_refused(raw, error, text):
    with pytest.raises(error) as caught:
        answer_to(raw)
    assert isinstance(caught.value, OSError)
    assert text in str(caught.value)
    assert "\n" not in str(caught.value)
    assert "\r" not in str(caught.value)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"HTTP/1.1 200 OK\r\n",
                b"HTTP/1.0 100 Continue\r\n",
                b"Content-Length: 3\r\n",
                b"Content-Length: 9999\r\n",
                b"Transfer-Encoding: chunked\r\n",
                b"Connection: close\r\n",
                b"\r\n",
                b"3\r\nabc\r\n",
                b"0\r\n",
                b"ff\r\n",
                b" x\r\n",
            ]
        )
        | st.binary(max_size=40),
        max_size=12,
    ),
    st.sampled_from(["GET", "HEAD"]),
)
def test_any_bytes_give_an_answer_within_the_limit_or_an_oserror(parts, method):
    try:
        got = answer_to(b"".join(parts), method=method)
    except OSError:
        return
    assert 100 <= got.status <= 999
    assert len(got.body) <= LIMIT
    assert all(k == k.lower() for k in got.headers)


def test_requests_cannot_carry_a_line_break_from_outside():
    assert _wire.request_bytes("GET", "/v2/", {"Host": "r", "Accept": "a"}) == (
        b"GET /v2/ HTTP/1.1\r\nHost: r\r\nAccept: a\r\n\r\n"
    )
    for target in ("/v2/a b", "/v2/\r\nX: y", "/v2/\x00", "", "/\x7f"):
        with pytest.raises(ValueError, match="space or control"):
            _wire.request_bytes("GET", target, {})
    for value in ("a\r\nX-Injected: 1", "a\nb", "a\rb", "a\x00"):
        with pytest.raises(ValueError, match="line break or NUL"):
            _wire.request_bytes("GET", "/", {"Authorization": value})
    for name in ("", "Bad Name", "X:Y", "X\r\n"):
        with pytest.raises(ValueError, match="invalid header name"):
            _wire.request_bytes("GET", "/", {name: "v"})
    with pytest.raises(UnicodeEncodeError):
        _wire.request_bytes("GET", "/", {"Authorization": "Bearer \u2603"})
    with pytest.raises(ValueError, match="method"):
        _wire.request_bytes("GE T", "/", {})


def test_a_proxy_tunnel_is_asked_for_and_its_refusal_is_one_line():
    for status, ok in ((b"200 Connection established", True), (b"407 Proxy Auth Required", False)):
        ours, theirs = socket.socketpair()
        theirs.sendall(b"HTTP/1.1 " + status + b"\r\nVia: p\r\n\r\n")
        conn = _wire.Connection(ours)
        if ok:
            _wire.tunnel(conn, "registry.example", 443, {"Proxy-Authorization": "Basic eA=="})
        else:
            with pytest.raises(OSError, match="Tunnel connection failed: 407 Proxy Auth"):
                _wire.tunnel(conn, "::1", 5000, {})
        sent = theirs.recv(4096)
        want = b"registry.example:443" if ok else b"[::1]:5000"
        assert sent.startswith(b"CONNECT " + want + b" HTTP/1.1\r\nHost: " + want + b"\r\n")
        assert (b"Proxy-Authorization: Basic eA==\r\n" in sent) is ok
        conn.close()
        theirs.close()
