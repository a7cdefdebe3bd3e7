"""The transport's connections: one persistent connection per origin and thread, a stale one
replaced once, and nothing kept after an error (the trust rules are in test_hostile_registry.py)."""

from __future__ import annotations

import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from runlayer_tf.errors import RegistryError
from runlayer_tf.registries import _deadlines, _http


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.peers.append(self.client_address[1])
        body = b'{"tags": []}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        if self.server.close_after:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "GET" or self.server.body_on_head:
            self.wfile.write(body)
        self.wfile.flush()
        if self.server.drop_idle:
            self.close_connection = True  # closes without saying so: a stale keep-alive

    do_HEAD = do_GET


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    peers: list[int]
    close_after = False
    drop_idle = False
    body_on_head = False


@pytest.fixture
def server():
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.peers = []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    _http.close_connections()
    yield srv
    _http.close_connections()
    srv.shutdown()
    srv.server_close()


def url(srv: _Server, path: str = "/v2/app/tags/list") -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}{path}"


def test_requests_to_one_origin_share_one_connection(server, monkeypatch):
    monkeypatch.delenv("http_proxy", raising=False)
    for method in ("GET", "HEAD", "GET", "HEAD"):
        assert _http.http_transport(method, url(server), {}).status == 200
    assert len(server.peers) == 4
    assert len(set(server.peers)) == 1


def test_a_connection_the_server_closes_is_not_reused(server):
    server.close_after = True
    for _ in range(3):
        assert _http.http_transport("GET", url(server), {}).body == b'{"tags": []}'
    assert len(set(server.peers)) == 3


def test_a_connection_dropped_while_idle_is_replaced_once(server):
    server.drop_idle = True
    for _ in range(3):
        assert _http.http_transport("GET", url(server), {}).status == 200
    assert len(server.peers) == 3  # each request answered once: no request was lost or doubled
    assert len(set(server.peers)) == 3


def test_a_body_sent_with_a_head_answer_does_not_spoil_the_next_answer(server):
    server.body_on_head = True
    answers = [_http.http_transport(m, url(server), {}) for m in ("HEAD", "GET", "HEAD", "GET")]
    assert [(a.status, a.body) for a in answers] == [
        (200, b""),
        (200, b'{"tags": []}'),
        (200, b""),
        (200, b'{"tags": []}'),
    ]


def test_each_thread_has_its_own_connection(server):
    def two_requests() -> None:
        for _ in range(2):
            assert _http.http_transport("GET", url(server), {}).status == 200
        _http.close_connections()

    threads = [threading.Thread(target=two_requests) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(server.peers) == 6
    assert len(set(server.peers)) == 3


def test_a_refused_connection_is_one_line_and_leaves_nothing_pooled(server):
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    with pytest.raises(RegistryError) as caught:
        _http.http_transport("GET", f"http://127.0.0.1:{port}/v2/", {})
    assert str(caught.value) == f"cannot reach 127.0.0.1:{port}: [Errno 111] Connection refused"
    assert _http._pool() == {}


# --- found by a hostile review of the socket transport (issue 12) -----------------------------


def _raw_server(answer: bytes) -> tuple[socket.socket, list[bytes]]:
    """A server that answers every connection's first request with ``answer`` (and nothing
    more), recording each request line it got."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            request = conn.recv(65536)
            seen.append(request.split(b"\r\n", 1)[0])
            conn.sendall(answer)
            threading.Thread(target=lambda c=conn: (c.recv(65536), c.close()), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener, seen


def test_bytes_after_a_complete_answer_never_answer_the_next_request():
    """A server that sends a second, unasked-for answer behind the first: the next request
    goes on a new connection (it was read as the next request's answer)."""
    smuggled = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"
    listener, seen = _raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + smuggled)
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        assert _http.http_transport("GET", f"{base}/v2/a", {}).body == b"ok"
        assert _http.http_transport("GET", f"{base}/v2/b", {}).body == b"ok"
        assert seen == [b"GET /v2/a HTTP/1.1", b"GET /v2/b HTTP/1.1"]  # one connection each
    finally:
        listener.close()
        _http.close_connections()


def test_a_redirect_to_a_malformed_url_names_the_redirect():
    for location in ("http://[::1/x", "http://127.0.0.1:99999/x"):
        answer = f"HTTP/1.1 307 Go\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
        listener, _ = _raw_server(answer.encode())
        origin = f"http://127.0.0.1:{listener.getsockname()[1]}"
        try:
            with pytest.raises(RegistryError) as caught:
                _http.http_transport("GET", f"{origin}/v2/", {})
            assert str(caught.value).startswith(
                f"{origin} redirected to a malformed URL ({location}): "
            )
        finally:
            listener.close()
            _http.close_connections()


def test_a_socket_added_after_the_deadline_is_shut_at_once():
    """The watchdog sets ``expired`` before it shuts what it has; a socket the request adds
    later (a connect that finished late, a redirect's new connection) is shut by the request."""
    watch = _deadlines.WATCHDOG.watch(time.monotonic() - 1)
    _deadlines.local.watch = watch
    deadline = time.monotonic() + 5
    while not watch.expired.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    ours, theirs = socket.socketpair()
    try:
        with pytest.raises(TimeoutError):
            _deadlines.watched(ours)
        assert ours.recv(1) == b""  # shut: reads end at once
    finally:
        _deadlines.local.watch = None
        _deadlines.WATCHDOG.forget(watch)
        ours.close()
        theirs.close()


def test_through_an_http_proxy_each_origin_has_its_own_connection(server, monkeypatch):
    """One proxy connection carried every origin's requests, so whatever one origin's answer
    left behind could reach another origin's request (with its Authorization)."""
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{server.server_address[1]}")
    for host in ("a.example", "b.example", "a.example", "b.example"):
        assert _http.http_transport("GET", f"http://{host}/v2/app/tags/list", {}).status == 200
    assert len(server.peers) == 4
    assert len(set(server.peers)) == 2  # one connection per origin, each reused


# --- found by a second hostile review --------------------------------------------------------


class _FakeConnection:
    """What _connect returns, recording which origin each connection was opened for."""

    def __init__(self, opened: list[str], target: str) -> None:
        self.sock = socket.socket()
        self.target = target
        opened.append(target)

    def send(self, method: str, target: str, headers: object) -> None:
        pass

    def answer(self, method: str, limit: int) -> object:
        from runlayer_tf.registries._wire import Answer

        return Answer(200, "OK", {}, self.target.encode(), False)

    def idle_and_clean(self) -> bool:
        return True

    def close(self) -> None:
        self.sock.close()


def test_through_a_proxy_an_https_tunnel_serves_one_origin(monkeypatch):
    """One CONNECT tunnel (its certificate checked for the first origin) carried every https
    origin behind the proxy, with each origin's Authorization."""
    opened: list[str] = []
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(
        _http, "_connect", lambda route, parts, deadline: _FakeConnection(opened, parts.netloc)
    )
    _http.close_connections()
    try:
        answers = [
            _http.http_transport("GET", f"https://{host}/v2/", {}).body
            for host in ("a.example", "b.example", "a.example", "b.example")
        ]
    finally:
        _http.close_connections()
    assert answers == [b"a.example", b"b.example", b"a.example", b"b.example"]
    assert opened == ["a.example", "b.example"]  # one tunnel per origin, each reused


def test_a_connection_on_a_descriptor_over_1023_is_still_reused():
    """select.select() refuses descriptors over 1023, which made every connection of a process
    with many files open look unclean: a new connection for every request."""
    ours, theirs = socket.socketpair()
    high = socket.socket(fileno=os.dup2(ours.fileno(), 1500))
    ours.close()
    try:
        from runlayer_tf.registries._wire import Connection

        conn = Connection(high)
        assert conn.idle_and_clean()
        theirs.sendall(b"x")
        assert not conn.idle_and_clean()
    finally:
        high.close()
        theirs.close()
