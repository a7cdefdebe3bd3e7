"""A registry that misbehaves on request, and a server that catches what leaks to it.

:class:`HostileRegistry` is a real HTTP (optionally HTTPS) server on 127.0.0.1,
run in a daemon thread for the whole session.  A test sets ``behaviour``: a
function given the request handler, which writes whatever answer the threat
model row needs (odd realms, lying digests, downgrade redirects, dripping or
giant bodies, endless pages, malformed JSON, 429s).  Every request is recorded.

:class:`Catcher` stands on another origin (127.0.0.2) and records every request
and ``Authorization`` header it is sent; it also works as an HTTP proxy, so a
realm or a redirect naming any host name can be caught on loopback.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import attrs

Behaviour = Callable[["Handler"], None]


@attrs.define
class Seen:
    method: str
    path: str
    authorization: str | None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def _handle(self) -> None:
        self.server.seen.append(Seen(self.command, self.path, self.headers.get("Authorization")))
        self.server.behaviour(self)

    do_GET = do_HEAD = _handle

    def answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        """Send a complete answer (Content-Length set unless ``headers`` gives one)."""
        self.send_response(status)
        headers = dict(headers or {})
        headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()


def _default(handler: Handler) -> None:
    handler.answer(404)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    seen: list[Seen]
    behaviour: Behaviour


class _Running:
    def __init__(self, host: str, context: ssl.SSLContext | None = None) -> None:
        self._server = _Server((host, 0), Handler)
        self._server.seen = []
        self._server.behaviour = _default
        if context is not None:
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.host = f"{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def seen(self) -> list[Seen]:
        return self._server.seen

    @property
    def behaviour(self) -> Behaviour:
        return self._server.behaviour

    @behaviour.setter
    def behaviour(self, value: Behaviour) -> None:
        self._server.behaviour = value

    def reset(self, behaviour: Behaviour = _default) -> None:
        self._server.seen.clear()
        self._server.behaviour = behaviour

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class HostileRegistry(_Running):
    """The misbehaving registry on 127.0.0.1 (``scheme`` http or https)."""

    def __init__(self, certificate: tuple[Path, Path] | None = None) -> None:
        context = None
        if certificate is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*certificate)
        super().__init__("127.0.0.1", context)
        self.scheme = "https" if certificate else "http"
        self.url = f"{self.scheme}://{self.host}"


class Catcher(_Running):
    """Another origin (127.0.0.2): records what reaches it, answers 200 ``{}``.

    As a proxy (``http_proxy=http://<host>``) it sees absolute-URL requests for
    any host name, so ``self.seen[i].path`` is the full URL asked for.
    """

    def __init__(self) -> None:
        super().__init__("127.0.0.2")
        self.behaviour = lambda h: h.answer(200, b'{"token": "caught", "tags": []}')
        self._initial = self.behaviour

    def reset(self, behaviour: Behaviour | None = None) -> None:
        super().reset(behaviour or self._initial)


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (cert.pem, key.pem); trust it with SSL_CERT_FILE."""
    from cryptography.hazmat.primitives import serialization

    from tests.harness.token_server import self_signed

    key, cert = self_signed("127.0.0.1", ip="127.0.0.1")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
