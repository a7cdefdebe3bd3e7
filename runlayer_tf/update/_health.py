"""Health checks: poll URLs until each has answered 2xx enough times in a row."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

import attrs

from runlayer_tf.errors import UpdateError, UsageError
from runlayer_tf.update._progress import redact

__all__ = [
    "BACKEND_HEALTH_PATH",
    "FRONTEND_HEALTH_PATH",
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


class HttpGet(Protocol):
    """GET ``url`` and return the status code; raise OSError when there is no answer."""

    def __call__(self, url: str, *, timeout: float) -> int: ...


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


def urllib_get(url: str, *, timeout: float) -> int:
    """The real :class:`HttpGet`, with the standard library.

    Every failure of the one request is "no answer": OSErrors as they are,
    anything else (ValueError for a malformed URL, http.client.HTTPException
    for a reply that is not HTTP) as :class:`NoAnswer`, so polling goes on.
    """
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "runlayer-tf-health"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except OSError:
        raise
    except (ValueError, http.client.InvalidURL) as err:
        raise NoAnswer(_described("bad URL", err)) from err
    except http.client.HTTPException as err:
        raise NoAnswer(_described("not an HTTP answer", err)) from err
    except Exception as err:  # one failed poll must not abort verify and its roll-back
        raise NoAnswer(_described("request failed", err)) from err


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
            try:
                code = get(url, timeout=request_timeout)
            except OSError as err:
                states[url] = UrlState(url, f"no answer ({_reason(err)})", 0)
                continue
            streak = state.streak + 1 if 200 <= code < 300 else 0
            states[url] = UrlState(url, str(code), streak)
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
