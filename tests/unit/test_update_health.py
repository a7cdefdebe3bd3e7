"""Health polling: N consecutive 2xx per URL within a deadline."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from update_fakes import FakeClock, raw_http_server

from runlayer_tf.errors import UpdateError, UsageError
from runlayer_tf.update._health import (
    NoAnswer,
    UrlState,
    check_health_url,
    default_health_urls,
    urllib_get,
    wait_healthy,
)


class Scripted:
    """Answers each URL from its own script; an int is a status, an exception is raised."""

    def __init__(self, scripts: dict[str, list[int | OSError]]) -> None:
        self.scripts = {url: list(answers) for url, answers in scripts.items()}
        self.requests: list[str] = []

    def __call__(self, url: str, *, timeout: float) -> int:
        self.requests.append(url)
        answer = self.scripts[url].pop(0) if len(self.scripts[url]) > 1 else self.scripts[url][0]
        if isinstance(answer, OSError):
            raise answer
        return answer


@pytest.mark.parametrize(
    ("answers", "polls"),
    [
        ([200, 200, 200], 3),
        ([503, 200, 200, 200], 4),
        ([200, 500, 200, 200, 204], 5),
        ([ConnectionRefusedError(111, "Connection refused"), 200, 200, 200], 4),
    ],
)
def test_waits_for_consecutive_successes(answers: list[int | OSError], polls: int) -> None:
    clock = FakeClock()
    result = wait_healthy(
        ["http://b/"],
        get=Scripted({"http://b/": answers}),
        clock=clock,
        sleep=clock.sleep,
        consecutive=3,
        interval=5,
    )
    assert result.polls == polls
    assert result.urls == (UrlState("http://b/", str(answers[-1]), 3),)
    assert clock.slept == [5] * (polls - 1)


def test_healthy_urls_are_not_polled_again() -> None:
    clock = FakeClock()
    get = Scripted({"http://a/": [200], "http://b/": [503, 200, 200]})
    wait_healthy(["http://a/", "http://b/"], get=get, clock=clock, sleep=clock.sleep, consecutive=2)
    assert get.requests == ["http://a/", "http://b/", "http://a/", "http://b/", "http://b/"]


def test_deadline_names_failing_urls_and_hides_credentials() -> None:
    clock = FakeClock()
    get = Scripted(
        {
            "https://user:pw@a/": [200],
            "http://b/": [ConnectionRefusedError(111, "Connection refused")],
            "http://c/": [503],
        }
    )
    with pytest.raises(UpdateError) as caught:
        wait_healthy(
            list(get.scripts),
            get=get,
            clock=clock,
            sleep=clock.sleep,
            consecutive=2,
            deadline=20,
            interval=5,
        )
    assert str(caught.value) == (
        "health check failed after 20s: http://b/ (no answer (Connection refused)), http://c/ (503)"
    )
    assert clock.slept == [5, 5, 5, 5]


def test_no_urls_is_healthy() -> None:
    clock = FakeClock()
    assert wait_healthy([], get=Scripted({}), clock=clock, sleep=clock.sleep).polls == 0


@pytest.mark.parametrize(
    ("backend", "frontend", "urls"),
    [
        ("https://api.example.com", None, ("https://api.example.com/api/v1/utils/health-check/",)),
        (
            "https://x.io/",
            "https://x.io",
            ("https://x.io/api/v1/utils/health-check/", "https://x.io/"),
        ),
        (None, "https://app.example.com/", ("https://app.example.com/",)),
    ],
)
def test_default_health_urls(
    backend: str | None, frontend: str | None, urls: tuple[str, ...]
) -> None:
    assert default_health_urls(backend, frontend) == urls


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(503 if self.path == "/bad" else 200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_urllib_get_returns_status_codes(server: str) -> None:
    assert urllib_get(f"{server}/api/v1/utils/health-check/", timeout=5) == 200
    assert urllib_get(f"{server}/bad", timeout=5) == 503


def test_urllib_get_raises_oserror_without_answer() -> None:
    with pytest.raises(OSError):  # noqa: PT011 - any connection error is an OSError by contract
        urllib_get("http://127.0.0.1:9/", timeout=2)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (b"garbage\r\n\r\n", "not an HTTP answer: BadStatusLine: garbage"),
        (b"HTTP/1.1 2x0 OK\r\n\r\n", "not an HTTP answer: BadStatusLine: HTTP/1.1 2x0 OK"),
        (
            b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
            "not an HTTP answer: LineTooLong: got more than 65536 bytes when reading header line",
        ),
    ],
)
def test_urllib_get_turns_a_non_http_reply_into_no_answer(reply: bytes, reason: str) -> None:
    with raw_http_server(reply) as url, pytest.raises(NoAnswer) as caught:
        urllib_get(url, timeout=5)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (
            "runlayer.example.com/api/v1/utils/health-check/",
            "bad URL: ValueError: unknown url type: 'runlayer.example.com/api/v1/utils/health-check/'",
        ),
        ("http://127.0.0.1:abc/", "bad URL: InvalidURL: nonnumeric port: 'abc'"),
    ],
)
def test_urllib_get_turns_a_malformed_url_into_no_answer(url: str, reason: str) -> None:
    with pytest.raises(NoAnswer) as caught:
        urllib_get(url, timeout=2)
    assert caught.value.reason == reason


def test_a_non_http_reply_fails_the_deadline_instead_of_escaping() -> None:
    """Polling goes on through non-HTTP replies and ends in the deadline's UpdateError."""
    clock = FakeClock()
    with raw_http_server(b"garbage\r\n\r\n") as url, pytest.raises(UpdateError) as caught:
        wait_healthy([url], get=urllib_get, clock=clock, sleep=clock.sleep, deadline=10, interval=5)
    assert str(caught.value) == (
        f"health check failed after 10s: {url} (no answer (not an HTTP answer: BadStatusLine: garbage))"
    )
    assert clock.slept == [5, 5]


@pytest.mark.parametrize(
    "url",
    [
        "http://app.example.com/",
        "https://app.example.com/api/v1/utils/health-check/",
        "https://user:pw@10.0.0.5:8443/health",
        "http://[::1]:8080/",
    ],
)
def test_check_health_url_accepts_http_urls_with_a_host(url: str) -> None:
    assert check_health_url(url) == url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("runlayer.example.com/api/v1/utils/health-check/", None),
        ("ftp://app.example.com/", None),
        ("https:///health", None),
        ("http://app.example.com:abc/", None),
        ("https://user:secret@/health", "https://***@/health"),
        ("", None),
    ],
)
def test_check_health_url_rejects_the_rest(url: str, shown: str | None) -> None:
    with pytest.raises(UsageError) as caught:
        check_health_url(url)
    assert str(caught.value) == (
        f"bad health URL {shown or url!r}: expected http://HOST/... or https://HOST/..."
    )
