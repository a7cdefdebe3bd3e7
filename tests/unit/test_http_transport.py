"""The transport's connections: one persistent connection per origin and thread, a stale one
replaced once, and nothing kept after an error (the trust rules are in test_hostile_registry.py)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from runlayer_tf.errors import RegistryError
from runlayer_tf.registries import _http


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
