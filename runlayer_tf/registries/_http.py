"""The registry client's HTTP transport: HTTP/1.1 (``_wire``) over one persistent connection per
origin (and thread), http and https only, credential-safe redirects, a deadline per request and a
cap on every body read.

It keeps urllib's rules where urllib had them (it was built on urllib's opener before): at most
five redirects, a 3xx to a scheme other than http(s) is answered as it came, proxies come from
the ``*_proxy`` variables exactly as urllib reads them (``urllib.request`` is imported only when
such a variable is set).  What it adds: never https -> http, ``Authorization`` dropped on a change
of origin, a wall-clock deadline per request (connect, headers and body together), 4 MiB bodies.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
import urllib.parse
from collections.abc import Mapping

from runlayer_tf import _values
from runlayer_tf.errors import RegistryError, UsageError
from runlayer_tf.registries import _deadlines, _wire
from runlayer_tf.registries._base import (
    printable,
)
from runlayer_tf.registries._deadlines import WATCHDOG, left, open_socket, watched

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from typing import Protocol
else:
    Protocol = object  # at run time the interface is a plain class: no isinstance checks

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
MAX_BODY = 4 * 1024 * 1024  # every body read: manifests, tag pages, token answers
MAX_PAGES = 1000  # tag-list pages (n=1000 tags a page: a million tags)
MAX_REDIRECTS = 5
MAX_REPEATS = 4  # the same redirect target at most this often (urllib's rule)
DEFAULT_HTTP_TIMEOUT = 30.0
DEFAULT_RESOLVE_TIMEOUT = 120.0
_REDIRECTS = frozenset((301, 302, 303, 307, 308))
_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"  # string.punctuation, kept unquoted


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


@_values.frozen
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


# --- where a request goes: proxies ------------------------------------------------------------


@_values.frozen
class _Route:
    """Where to connect for a URL: the origin itself, or an HTTP proxy (a CONNECT tunnel for https)."""

    scheme: str  # of the URL asked for
    host: str  # the connection's host and port (the proxy's when there is one)
    port: int
    proxy_tls: bool = False  # the proxy itself is spoken to over https
    proxy_authorization: str = ""
    via_proxy: bool = False


def _environment_proxy(scheme: str, netloc: str) -> str | None:
    """The proxy URL for ``scheme://netloc`` from the environment, as urllib's ProxyHandler picks
    it (its ``getproxies`` and ``proxy_bypass``: lowercase before uppercase, ``no_proxy``, CGI's
    ``HTTP_PROXY`` ignored), or None."""
    if not any(name[-6:].lower() == "_proxy" for name in os.environ):
        return None  # the common case: no urllib.request (and its imports) at all
    import urllib.request

    proxy = urllib.request.getproxies().get(scheme)
    if not proxy or urllib.request.proxy_bypass(netloc):
        return None
    return proxy


def _route(parts: urllib.parse.SplitResult) -> _Route:
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or ""
    proxy = _environment_proxy(parts.scheme, parts.netloc.rpartition("@")[2])
    if proxy is None:
        return _Route(parts.scheme, host, port)
    # urllib's reading of a proxy URL: "[scheme://][user:password@]host[:port][/...]".
    proxy_scheme, sep, rest = proxy.partition("://")
    if not sep:
        proxy_scheme, rest = "", proxy
    userinfo, at, hostport = rest.split("/", 1)[0].rpartition("@")
    user, _, password = userinfo.partition(":")
    authorization = ""
    if at and user and password:
        import base64

        pair = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}"
        authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    proxy_parts = urllib.parse.urlsplit("//" + urllib.parse.unquote(hostport))
    tls = proxy_scheme == "https"
    return _Route(
        parts.scheme,
        proxy_parts.hostname or "",
        proxy_parts.port or (443 if tls else 80),
        proxy_tls=tls,
        proxy_authorization=authorization,
        via_proxy=True,
    )


# --- connections ------------------------------------------------------------------------------

_local = _deadlines.local  # .watch: the request in progress; .pool: this thread's connections
_tls_lock = threading.Lock()
_tls_contexts: dict[tuple[str, str], ssl.SSLContext] = {}


def _tls_context() -> ssl.SSLContext:
    """One verifying context per process (and CA setting): loading the CA store is the costly part
    of a first https connection.  ``ssl`` is imported here, for https only."""
    key = (os.environ.get("SSL_CERT_FILE", ""), os.environ.get("SSL_CERT_DIR", ""))
    with _tls_lock:
        context = _tls_contexts.get(key)
        if context is None:
            import ssl

            context = ssl.create_default_context()
            context.set_alpn_protocols(["http/1.1"])
            _tls_contexts[key] = context
        return context


def _connect(route: _Route, target: urllib.parse.SplitResult, deadline: float) -> _wire.Connection:
    """A new connection for ``route``: TCP, then a CONNECT tunnel through a proxy for an https
    URL (urllib's way: the tunnel is asked in plain text), then TLS where the URL or the proxy
    is https, with the registry's (or the proxy's) name.  Every socket is watched (the TLS one
    too: wrapping detaches the TCP socket's descriptor)."""
    sock = open_socket(route.host, route.port, deadline)
    tls: ssl.SSLSocket | None = None
    try:
        conn = _wire.Connection(sock)
        tls_host: str | None = None
        if route.scheme == "https":
            tls_host = target.hostname or ""
            if route.via_proxy:
                tunnel_headers = (
                    {"Proxy-Authorization": route.proxy_authorization}
                    if route.proxy_authorization
                    else {}
                )
                _wire.tunnel(conn, target.hostname or "", target.port or 443, tunnel_headers)
        elif route.proxy_tls:
            tls_host = route.host
        if tls_host is None:
            return conn
        # suppress_ragged_eofs=False: a TCP close without TLS's close_notify (anyone on the
        # path can send one) is an error, not the end of a body read up to the close.
        tls = _tls_context().wrap_socket(
            sock,
            server_hostname=tls_host,
            do_handshake_on_connect=False,
            suppress_ragged_eofs=False,
        )
        watched(tls)
        tls.settimeout(left(deadline))
        tls.do_handshake()
        return _wire.Connection(tls)
    except BaseException:
        (tls or sock).close()  # wrapping detached the TCP socket: the TLS one owns the descriptor
        raise


def _pool() -> dict[tuple[_Route, str], _wire.Connection]:
    pool: dict[tuple[_Route, str], _wire.Connection] | None = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    return pool


def close_connections() -> None:
    """Close this thread's idle connections (the next request opens new ones)."""
    for conn in _pool().values():
        conn.close()
    _pool().clear()


# --- one request ------------------------------------------------------------------------------


# A reused connection the server closed while idle, or one that starts with bytes that are no
# status line (a server that sent a body with a HEAD answer): the request goes once more, alone
# on a new connection, as it would have without reuse.
_STALE = (_wire.NotAnAnswer, BrokenPipeError, ConnectionResetError)


def _exchange(
    method: str,
    url: str,
    headers: Mapping[str, str],
    *,
    shown_url: str,
    deadline: float,
) -> Response:
    """One request and its whole answer, over this thread's connection for the route (reused
    when the previous answer left it open; a stale one is replaced once)."""
    parts = urllib.parse.urlsplit(url)
    route = _route(parts)
    netloc = parts.netloc.rpartition("@")[2]
    if route.via_proxy and route.scheme == "http":
        target = url.partition("#")[0]  # an absolute URL, for the proxy
    else:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    send = {"Host": netloc, "Accept-Encoding": "identity", **headers}
    if route.via_proxy and route.scheme == "http" and route.proxy_authorization:
        send["Proxy-Authorization"] = route.proxy_authorization
    pool = _pool()
    # Through a proxy one connection could carry many origins (plain http), or be a tunnel to
    # one origin (https, its certificate checked for that origin only): keep one per origin,
    # so no origin's request or credentials go down another origin's connection.
    key = (route, netloc if route.via_proxy else "")
    for attempt in (1, 2):
        conn = pool.pop(key, None)
        if conn is not None and not conn.idle_and_clean():
            conn.close()  # closed by the server while idle, or bytes no request asked for
            conn = None
        reused = conn is not None
        if conn is None:
            conn = _connect(route, parts, deadline)
        else:
            watched(conn.sock)
            conn.sock.settimeout(left(deadline))
        try:
            try:
                try:
                    conn.send(method, target, send)
                except (BrokenPipeError, ConnectionResetError):
                    if reused:
                        raise
                    # A new connection the server answered (a 431, a 413) and closed before
                    # the request was all sent: its answer, if it left one, is the answer.
                got = conn.answer(method, MAX_BODY)
            except _STALE:
                conn.close()
                if reused and attempt == 1 and time.monotonic() < deadline:
                    continue  # the server closed an idle connection: once more, on a new one
                raise
            except _wire.BodyTooBig:
                raise RegistryError(
                    f"{_origin(shown_url)} sent a body over {MAX_BODY} bytes; refused"
                ) from None
            except _wire.MalformedLength as err:
                raise RegistryError(f"{_origin(shown_url)} sent {err}") from None
            if time.monotonic() >= deadline:
                raise TimeoutError("deadline")  # the watchdog may have cut the body short
        except BaseException:
            conn.close()
            raise
        if got.will_close or not conn.idle_and_clean():
            conn.close()  # (bytes after a complete answer: never read as another's answer)
        else:
            pool[key] = conn
        return Response(got.status, got.headers, got.body)
    raise AssertionError("unreachable")


def _redirect_target(url: str, resp: Response) -> str | None:
    """Where a 3xx answer sends the request (urllib's reading of it), or None to answer with it."""
    location = resp.headers.get("location", resp.headers.get("uri"))
    if location is None:
        return None
    parts = urllib.parse.urlsplit(location)
    if parts.scheme not in ("http", "https", "ftp", ""):
        return None  # urllib answers such a redirect with the 3xx itself
    if not parts.path and parts.netloc:
        parts = parts._replace(path="/")
    quoted = urllib.parse.quote(
        urllib.parse.urlunsplit(parts), encoding="iso-8859-1", safe=_PUNCTUATION
    )
    target = urllib.parse.urljoin(url, quoted)
    scheme = urllib.parse.urlsplit(target).scheme
    if scheme not in ("http", "https"):
        raise RegistryError(
            f"{_origin(url)} redirected to a {printable(scheme, 20)!r} URL; refused"
        )
    if url.startswith("https:") and scheme == "http":
        raise RegistryError(
            f"{_origin(url)} redirected from https to plain http ({_origin(target)}); refused"
        )
    return target.replace(" ", "%20")


def http_transport(method: str, url: str, headers: Mapping[str, str]) -> Response:
    """The default transport: http(s) only, no shell, no proxies beyond the environment's; each
    request (with its redirects) bounded by :func:`http_timeout`, each body by :data:`MAX_BODY`.

    Redirects: at most :data:`MAX_REDIRECTS` (the same URL at most :data:`MAX_REPEATS` times),
    never from https to http, never to another scheme; ``Authorization`` is dropped when the
    origin changes.  A redirect that is not followed is the answer.
    """
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise RegistryError(
            f"refusing to open a {printable(scheme, 20)!r} URL: only http and https"
        )
    timeout = http_timeout()
    deadline = time.monotonic() + timeout
    watch = _local.watch = WATCHDOG.watch(deadline)
    current, current_headers = url, dict(headers)
    visited: dict[str, int] = {}
    try:
        try:
            while True:
                resp = _exchange(method, current, current_headers, shown_url=url, deadline=deadline)
                if resp.status not in _REDIRECTS:
                    return resp
                try:
                    target = _redirect_target(current, resp)
                    same = target is None or same_origin(current, target)
                except ValueError as err:  # "Invalid IPv6 URL", a port out of range, ...
                    shown = printable(resp.headers.get("location", resp.headers.get("uri")), 120)
                    raise RegistryError(
                        f"{_origin(current)} redirected to a malformed URL ({shown}): "
                        f"{printable(err)}"
                    ) from None
                if target is None:
                    return resp
                if visited.get(target, 0) >= MAX_REPEATS or len(visited) >= MAX_REDIRECTS:
                    return resp
                visited[target] = visited.get(target, 0) + 1
                if not same:
                    current_headers = {
                        k: v for k, v in current_headers.items() if k.lower() != "authorization"
                    }
                current = target
        except (OSError, ValueError) as err:
            late = time.monotonic() >= deadline or watch.expired.is_set()
            if late or isinstance(err, TimeoutError):
                # The origin that did not answer: after a redirect, the redirect's.
                raise RegistryError(
                    f"{_origin(current)} did not answer within {timeout:g}s"
                    " (RUNLAYER_TF_HTTP_TIMEOUT)"
                ) from None
            tls = sys.modules.get("ssl")  # loaded only if https was used
            if tls is not None and isinstance(err, tls.SSLEOFError):
                raise RegistryError(
                    f"{_origin(current)} cut the connection without closing TLS"
                    " (no close_notify): its answer may be incomplete; refused"
                ) from None
            # The host that could not be reached: after a redirect, the redirect's.
            raise RegistryError(
                f"cannot reach {printable(urllib.parse.urlsplit(current).netloc)}: {printable(err)}"
            ) from None
    finally:
        WATCHDOG.forget(watch)
        _local.watch = None
        if watch.expired.is_set():
            # The watchdog shut this request's sockets: none of them may be pooled; the
            # thread's other connections are untouched.
            pool = _pool()
            for key, conn in list(pool.items()):
                if conn.sock in watch.sockets:
                    conn.close()
                    del pool[key]
