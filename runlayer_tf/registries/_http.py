"""The registry client's HTTP transport: explicit handlers (http and https only), credential-safe
redirects, a deadline per request and a cap on every body read."""

from __future__ import annotations

import contextlib
import http.client
import math
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from runlayer_tf.errors import RegistryError, UsageError
from runlayer_tf.registries._base import (
    printable,
)

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
MAX_BODY = 4 * 1024 * 1024  # every body read: manifests, tag pages, token answers
MAX_PAGES = 1000  # tag-list pages (n=1000 tags a page: a million tags)
MAX_REDIRECTS = 5
DEFAULT_HTTP_TIMEOUT = 30.0
DEFAULT_RESOLVE_TIMEOUT = 120.0


def _seconds_from_env(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0 or value > 3600:
        raise UsageError(f'invalid {name} "{printable(raw, 40)}": give seconds, 0 < N <= 3600')
    return value


def http_timeout() -> float:
    """Overall deadline of one HTTP request (connect, headers, body): RUNLAYER_TF_HTTP_TIMEOUT."""
    return _seconds_from_env("RUNLAYER_TF_HTTP_TIMEOUT", DEFAULT_HTTP_TIMEOUT)


def resolve_timeout() -> float:
    """Deadline of one registry call with its retries and pages: RUNLAYER_TF_RESOLVE_TIMEOUT."""
    return _seconds_from_env("RUNLAYER_TF_RESOLVE_TIMEOUT", DEFAULT_RESOLVE_TIMEOUT)


@attrs.frozen
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport(Protocol):
    """One HTTP exchange; headers are matched case-insensitively by the caller."""

    def __call__(self, method: str, url: str, headers: Mapping[str, str]) -> Response: ...


def same_origin(a: str, b: str) -> bool:
    """True when two URLs share scheme, host and port (where credentials may go)."""
    x, y = urllib.parse.urlsplit(a), urllib.parse.urlsplit(b)
    return (x.scheme, x.hostname, x.port) == (y.scheme, y.hostname, y.port)


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return printable(f"{parts.scheme}://{parts.netloc}", 120)


class _CredentialSafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a few redirects, never to another scheme than http(s), never https -> http,
    and never carry ``Authorization`` to another origin.

    Registries redirect blob and sometimes manifest requests to storage on
    other hosts; urllib would copy the header there (and from https to http).
    A plain-http registry (loopback or insecure) was chosen insecure by the
    user, so only an https start is protected from a downgrade.
    """

    max_redirections = MAX_REDIRECTS

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        old = urllib.parse.urlsplit(req.full_url)
        target = urllib.parse.urlsplit(urllib.parse.urljoin(req.full_url, newurl))
        if target.scheme not in ("http", "https"):
            raise RegistryError(
                f"{_origin(req.full_url)} redirected to a {printable(target.scheme, 20)!r} URL; refused"
            )
        if old.scheme == "https" and target.scheme == "http":
            raise RegistryError(
                f"{_origin(req.full_url)} redirected from https to plain http "
                f"({_origin(target.geturl())}); refused"
            )
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and not same_origin(req.full_url, new.full_url):
            new.remove_header("Authorization")
        return new


_local = threading.local()


class _TrackedConnection:
    """Records its socket so the request's deadline can close it (headers and body included)."""

    sock: socket.socket | None

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        sockets: list[socket.socket] | None = getattr(_local, "sockets", None)
        if sockets is not None and self.sock is not None:
            sockets.append(self.sock)


class _HTTPConnection(_TrackedConnection, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_TrackedConnection, http.client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):  # type: ignore[no-untyped-def]
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):  # type: ignore[no-untyped-def]
        return self.do_open(_HTTPSConnection, req, context=self._context)  # type: ignore[attr-defined]


def build_opener() -> urllib.request.OpenerDirector:
    """An opener that can open http and https only (no file:, ftp:, data: handlers)."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        _HTTPHandler(),
        _HTTPSHandler(),
        _CredentialSafeRedirects(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
        urllib.request.UnknownHandler(),  # refuses every other scheme
    ):
        opener.add_handler(handler)
    return opener


_OPENER: urllib.request.OpenerDirector | None = None


def _read_capped(resp: Any, url: str, deadline: float) -> bytes:
    length = resp.headers.get("Content-Length")
    if length and length.isdigit() and int(length[:12]) > MAX_BODY:
        raise RegistryError(f"{_origin(url)} sent a body over {MAX_BODY} bytes; refused")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
        if not chunk:
            if time.monotonic() >= deadline:
                raise TimeoutError("deadline")
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY:
            raise RegistryError(f"{_origin(url)} sent a body over {MAX_BODY} bytes; refused")
        if time.monotonic() > deadline:
            raise TimeoutError("deadline")
        chunks.append(chunk)


def urllib_transport(method: str, url: str, headers: Mapping[str, str]) -> Response:
    """The default transport: urllib over http(s) only, no shell, no proxies beyond the
    environment's; each request bounded by :func:`http_timeout` and :data:`MAX_BODY`."""
    global _OPENER
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise RegistryError(
            f"refusing to open a {printable(scheme, 20)!r} URL: only http and https"
        )
    if _OPENER is None:
        _OPENER = build_opener()
    timeout = http_timeout()
    deadline = time.monotonic() + timeout
    sockets: list[socket.socket] = []
    _local.sockets = sockets

    def expire() -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    request = urllib.request.Request(url, method=method, headers=dict(headers))
    try:
        try:
            with _OPENER.open(request, timeout=timeout) as resp:
                body = _read_capped(resp, url, deadline)
                return Response(resp.status, {k.lower(): v for k, v in resp.headers.items()}, body)
        except urllib.error.HTTPError as err:
            body = _read_capped(err, url, deadline)
            return Response(err.code, {k.lower(): v for k, v in err.headers.items()}, body)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        if time.monotonic() >= deadline or isinstance(err, TimeoutError):
            raise RegistryError(
                f"{_origin(url)} did not answer within {timeout:g}s (RUNLAYER_TF_HTTP_TIMEOUT)"
            ) from None
        reason = getattr(err, "reason", err)
        raise RegistryError(
            f"cannot reach {printable(urllib.parse.urlsplit(url).netloc)}: {printable(reason)}"
        ) from None
    finally:
        timer.cancel()
        _local.sockets = None
