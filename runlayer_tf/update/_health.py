"""Health checks: poll URLs until each has answered 2xx enough times in a row.

The real getter (:func:`urllib_get`) cannot be fooled the ways urllib can: it
follows a redirect only within the URL's origin (a 3xx to another origin is an
answer that is not healthy, its location reported), sends URL userinfo as
basic auth (never as part of the host; masked wherever the URL is shown), and
gives each request a wall-clock deadline, so a server dripping its headers
cannot hold verify past ``--health-timeout``.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import socket
import ssl
import threading
import urllib.error
import urllib.parse
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

import attrs

from runlayer_tf.errors import UpdateError, UsageError
from runlayer_tf.update._progress import redact

__all__ = [
    "BACKEND_HEALTH_PATH",
    "FRONTEND_HEALTH_PATH",
    "Answer",
    "HealthResult",
    "HttpGet",
    "NoAnswer",
    "UrlState",
    "check_health_url",
    "default_health_urls",
    "urllib_get",
    "wait_healthy",
]

BACKEND_HEALTH_PATH = "/api/v1/utils/health-check/"
FRONTEND_HEALTH_PATH = "/"


MAX_REDIRECTS = 5


@attrs.frozen
class Answer:
    """An HTTP answer: its status and, for a redirect not followed, where it pointed."""

    status: int
    location: str | None = None

    def __str__(self) -> str:
        if self.location is None:
            return str(self.status)
        return f"{self.status} redirect to {redact(self.location)} (another origin: not followed)"


class HttpGet(Protocol):
    """GET ``url`` within ``timeout`` seconds; the status (or :class:`Answer`); OSError when no answer."""

    def __call__(self, url: str, *, timeout: float) -> int | Answer: ...


class NoAnswer(OSError):
    """A request got no usable HTTP answer (a malformed URL, a non-HTTP reply); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_health_url(url: str) -> str:
    """``url`` itself when it is an http(s) URL with a host; raises UsageError naming it otherwise."""
    try:
        parts = urllib.parse.urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        valid = False
    if not valid:
        raise UsageError(
            f"bad health URL {redact(url)!r}: expected http://HOST/... or https://HOST/..."
        )
    return url


def urllib_get(url: str, *, timeout: float) -> int | Answer:
    """The real :class:`HttpGet` (the standard library's http.client; see the module docstring).

    Every failure of the one request is "no answer": OSErrors as they are,
    anything else (a malformed URL, a reply that is not HTTP, the deadline)
    as :class:`NoAnswer`, so polling goes on.
    """
    result: list[int | Answer | BaseException] = []
    connections: list[http.client.HTTPConnection] = []
    worker = threading.Thread(
        target=_get_into, args=(url, timeout, result, connections), daemon=True
    )
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        for conn in connections:  # unblock the worker's read; it ends on its own
            if conn.sock is not None:
                with contextlib.suppress(OSError):
                    conn.sock.shutdown(socket.SHUT_RDWR)
        raise NoAnswer(f"no complete answer within {timeout:g}s")
    outcome = result[0]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def _get_into(
    url: str,
    timeout: float,
    result: list[int | Answer | BaseException],
    connections: list[http.client.HTTPConnection],
) -> None:
    try:
        result.append(_get(url, timeout, connections))
    except OSError as err:
        result.append(err)
    except (ValueError, http.client.InvalidURL) as err:
        result.append(NoAnswer(_described("bad URL", err)))
    except http.client.HTTPException as err:
        result.append(NoAnswer(_described("not an HTTP answer", err)))
    except Exception as err:  # one failed poll must not abort verify and its roll-back
        result.append(NoAnswer(_described("request failed", err)))


def _origin(parts: urllib.parse.SplitResult) -> tuple[str, str, int]:
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _get(url: str, timeout: float, connections: list[http.client.HTTPConnection]) -> int | Answer:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"unknown url type: {url!r}")
    headers = {"User-Agent": "runlayer-tf-health", "Connection": "close"}
    if parts.username is not None or parts.password is not None:
        user = urllib.parse.unquote(parts.username or "")
        password = urllib.parse.unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    origin = _origin(parts)
    for _hop in range(MAX_REDIRECTS + 1):
        host = parts.netloc.rpartition("@")[2]
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                host, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(host, timeout=timeout)
        connections.append(conn)
        try:
            path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            status, location = response.status, response.getheader("Location")
        finally:
            conn.close()
        if not (300 <= status < 400 and location):
            return status
        target = urllib.parse.urlsplit(urllib.parse.urljoin(url, location))
        if _origin(target) != origin:
            return Answer(status, location)
        url, parts = target.geturl(), target
    return Answer(status, location)


def _described(what: str, err: Exception) -> str:
    # One line: a bad status line arrives with its CRLF.
    detail = " ".join(redact(str(err)).split())
    return f"{what}: {type(err).__name__}: {detail}" if detail else f"{what}: {type(err).__name__}"


def default_health_urls(backend: str | None = None, frontend: str | None = None) -> tuple[str, ...]:
    """The runbook's health URLs under a backend and/or a frontend base URL."""
    urls = []
    if backend:
        urls.append(backend.rstrip("/") + BACKEND_HEALTH_PATH)
    if frontend:
        urls.append(frontend.rstrip("/") + FRONTEND_HEALTH_PATH)
    return tuple(urls)


@attrs.frozen
class UrlState:
    """One URL's last answer (a status code, or the connection error) and its run of 2xx answers."""

    url: str
    last: str = "not polled"
    streak: int = 0


@attrs.frozen
class HealthResult:
    """Every URL reached the required streak; ``polls`` rounds were made."""

    urls: tuple[UrlState, ...]
    polls: int


def wait_healthy(
    urls: Sequence[str],
    *,
    get: HttpGet,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    consecutive: int = 3,
    deadline: float = 300.0,
    interval: float = 5.0,
    request_timeout: float = 5.0,
    on_poll: Callable[[tuple[UrlState, ...]], None] = lambda states: None,
) -> HealthResult:
    """Poll every URL until each has answered 2xx ``consecutive`` times in a row.

    A non-2xx answer or a connection error resets that URL's streak.  Raises
    UpdateError naming the URLs still failing (with their last answer) when
    ``deadline`` seconds pass first.
    """
    states = {url: UrlState(url) for url in urls}
    if not states:
        return HealthResult((), 0)
    end = clock().timestamp() + deadline
    polls = 0
    while True:
        polls += 1
        for url, state in states.items():
            if state.streak >= consecutive:
                continue
            # Each request ends by the deadline, so no server holds verify past it.
            left = max(end - clock().timestamp(), 0.1)
            try:
                answer = get(url, timeout=min(request_timeout, left))
            except OSError as err:
                states[url] = UrlState(url, f"no answer ({_reason(err)})", 0)
                continue
            if isinstance(answer, int):
                answer = Answer(answer)
            streak = state.streak + 1 if 200 <= answer.status < 300 else 0
            states[url] = UrlState(url, str(answer), streak)
        snapshot = tuple(states.values())
        on_poll(snapshot)
        if all(state.streak >= consecutive for state in snapshot):
            return HealthResult(snapshot, polls)
        if clock().timestamp() + interval > end:
            failing = ", ".join(
                f"{redact(state.url)} ({state.last})"
                for state in snapshot
                if state.streak < consecutive
            )
            raise UpdateError(f"health check failed after {deadline:.0f}s: {failing}")
        sleep(interval)


def _reason(err: OSError) -> str:
    if isinstance(err, NoAnswer):
        return err.reason
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    return err.strerror or type(err).__name__
