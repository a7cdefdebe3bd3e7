"""OCI distribution registries (Docker Hub, GHCR, Harbor, self-hosted) over HTTP.

Only the standard library is used, so a plan that resolves from a registry does
not pay for an HTTP framework.  Covered:

* ``GET /v2/<name>/tags/list`` with ``Link`` pagination (the cursor is opaque:
  the ``next`` URL is followed as given);
* ``HEAD``/``GET /v2/<name>/manifests/<ref>`` accepting the OCI index, OCI
  manifest, Docker manifest list and Docker v2 manifest; the digest is
  ``Docker-Content-Digest``, and fetched bytes are checked to hash to it;
* anonymous, basic and bearer-token auth, following the ``WWW-Authenticate``
  challenge, with credentials from ``$DOCKER_CONFIG/config.json`` (default
  ``~/.docker/config.json``): ``auths`` entries, ``credHelpers`` and ``credsStore``;
* HTTPS by default; plain HTTP only for loopback hosts or when asked (insecure).

For a multi-platform image the digest is the index's: what one deploys.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import email.utils
import hashlib
import http.client
import json
import math
import os
import re
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs

from runlayer_tf.errors import AuthError, NotFoundError, RegistryError, UsageError
from runlayer_tf.registries._base import (
    TAG_NAME,
    RegistryAddress,
    checked_digest,
    is_loopback,
    printable,
)

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
_RETRY_STATUS = {429, 502, 503, 504}
_ATTEMPTS = 3
MAX_BODY = 4 * 1024 * 1024  # every body read: manifests, tag pages, token answers
MAX_PAGES = 1000  # tag-list pages (n=1000 tags a page: a million tags)
MAX_REDIRECTS = 5
DEFAULT_HTTP_TIMEOUT = 30.0
DEFAULT_RESOLVE_TIMEOUT = 120.0
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


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


@attrs.frozen(repr=False)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never print a secret
        return f"Credentials(username={self.username!r}, password=***)"


def docker_config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return (Path(base) if base else Path.home() / ".docker") / "config.json"


def _host_keys(host: str) -> list[str]:
    keys = [host, f"https://{host}", f"http://{host}", f"https://{host}/v1/", f"https://{host}/v2/"]
    if host in ("registry-1.docker.io", "docker.io", "index.docker.io"):
        keys += [
            "https://index.docker.io/v1/",
            "index.docker.io",
            "docker.io",
            "registry-1.docker.io",
        ]
    return keys


def _credential_helper(helper: str, host: str) -> Credentials | None:
    try:
        proc = subprocess.run(
            [f"docker-credential-{helper}", "get"],
            input=host,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise AuthError(
            f"docker credential helper docker-credential-{helper} failed for {host}: {err}"
        ) from None
    if proc.returncode != 0:
        return None  # "credentials not found in native keychain"
    try:
        data = json.loads(proc.stdout)
        return Credentials(str(data["Username"]), str(data["Secret"]))
    except (ValueError, KeyError, TypeError):
        raise AuthError(f"docker-credential-{helper} returned malformed JSON for {host}") from None


def docker_credentials(host: str, config_path: Path | None = None) -> Credentials | None:
    """Credentials for ``host`` from Docker's config.json, or None when it has none."""
    path = config_path or docker_config_path()
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise AuthError(f"cannot read Docker config {path}: {err}") from None
    if not isinstance(config, dict):
        raise AuthError(f"cannot read Docker config {path}: not a JSON object")
    keys = _host_keys(host)
    helpers = config.get("credHelpers") or {}
    for key in keys:
        if key in helpers:
            return _credential_helper(str(helpers[key]), host)
    auths = config.get("auths") or {}
    for key in keys:
        entry = auths.get(key)
        if not isinstance(entry, dict):
            continue
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise AuthError(f"Docker config {path}: malformed auth for {key}") from None
            return Credentials(user, password)
        if entry.get("username"):
            return Credentials(str(entry["username"]), str(entry.get("password", "")))
    if config.get("credsStore"):
        return _credential_helper(str(config["credsStore"]), host)
    return None


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="..."`` -> ("bearer", {realm, service, ...})."""
    scheme, _, params = header.strip().partition(" ")
    return scheme.lower(), {k.lower(): v for k, v in _CHALLENGE_PARAM.findall(params)}


class OciRegistry:
    """A :class:`~runlayer_tf.registries._base.Registry` speaking the OCI distribution API."""

    page_size = 1000  # tags asked for per page (``n``); registries may return fewer

    def __init__(
        self,
        address: RegistryAddress,
        transport: Transport = urllib_transport,
        credentials: Credentials | None = None,
    ) -> None:
        self.address = address
        self.base = f"{address.scheme}://{address.host}"
        self._transport = transport
        self._credentials = credentials
        self._credentials_loaded = credentials is not None
        self._authorization: dict[str, str] = {}  # scope -> Authorization header value
        self._deadline: float | None = None  # of the public call in progress

    @property
    def display_host(self) -> str:
        return "docker.io" if self.address.host == "registry-1.docker.io" else self.address.host

    def _api_name(self, repository: str) -> str:
        if self.address.host == "registry-1.docker.io" and "/" not in repository:
            return f"library/{repository}"
        return repository

    def _creds(self) -> Credentials | None:
        if not self._credentials_loaded:
            self._credentials = docker_credentials(self.address.host)
            self._credentials_loaded = True
        return self._credentials

    def _call(self) -> _Deadline:
        return _Deadline(self)

    def _remaining(self) -> float:
        if self._deadline is None:
            return math.inf
        return self._deadline - time.monotonic()

    def _exchange(self, method: str, url: str, headers: dict[str, str]) -> Response:
        for attempt in range(_ATTEMPTS):
            if self._remaining() <= 0:
                raise RegistryError(
                    f"registry {self.display_host} did not answer within the "
                    f"{resolve_timeout():g}s deadline (RUNLAYER_TF_RESOLVE_TIMEOUT)"
                )
            resp = self._transport(method, url, headers)
            if resp.status not in _RETRY_STATUS or attempt == _ATTEMPTS - 1:
                return resp
            wait = min(2.0, 0.2 * 2**attempt)
            if resp.status in (429, 503) and "retry-after" in resp.headers:
                wait = _retry_after(resp.headers["retry-after"])
                if wait > self._remaining():
                    raise RegistryError(
                        f"registry {self.display_host} asked to retry after {wait:g}s, "
                        "beyond the deadline (RUNLAYER_TF_RESOLVE_TIMEOUT)"
                    )
            time.sleep(wait)
        raise AssertionError("unreachable")

    def _check_realm(self, realm: str) -> None:
        """Credentials go to an https realm, or an http one on loopback, the registry's
        own origin, or when the registry itself was chosen insecure (plain http)."""
        parts = urllib.parse.urlsplit(realm)
        shown = printable(realm, 120)
        if parts.scheme == "https" and parts.hostname:
            return
        if parts.scheme == "http" and parts.hostname:
            if (
                is_loopback(parts.hostname)
                or same_origin(realm, self.base)
                or (self.address.scheme == "http" and not is_loopback(self.address.host))
            ):
                return
            raise RegistryError(
                f"registry {self.display_host} sent a token realm {shown} over plain http "
                "on another origin; refusing to send credentials there (use https, or insecure)"
            )
        raise RegistryError(
            f"registry {self.display_host} sent a token realm {shown} that is not an "
            "http(s) URL; refused"
        )

    def _authorize(self, challenge: str, scope: str) -> str:
        scheme, params = parse_challenge(challenge)
        creds = self._creds()
        if scheme == "basic":
            if creds is None:
                raise AuthError(
                    f"registry {self.display_host} requires credentials: "
                    f"run 'docker login {self.display_host}' or add it to {docker_config_path()}"
                )
            token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
            return f"Basic {token}"
        if scheme == "bearer":
            realm = params.get("realm")
            if not realm:
                raise RegistryError(
                    f"registry {self.display_host} sent a bearer challenge without a realm"
                )
            self._check_realm(realm)
            query = {
                k: v
                for k, v in (
                    ("service", params.get("service")),
                    ("scope", params.get("scope") or scope),
                )
                if v
            }
            url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
            headers = {"Accept": "application/json"}
            if creds is not None:
                headers["Authorization"] = (
                    "Basic "
                    + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
                )
            resp = self._exchange("GET", url, headers)
            if resp.status in (401, 403):
                raise AuthError(
                    f"registry {self.display_host}: the token service refused "
                    f"{'the credentials' if creds else 'anonymous access'} for {scope}"
                )
            if resp.status != 200:
                raise RegistryError(
                    f"registry {self.display_host}: token service answered HTTP {resp.status}"
                )
            data = _json_object(resp.body)
            bearer = (data or {}).get("token") or (data or {}).get("access_token")
            if not isinstance(bearer, str) or not bearer or not bearer.isprintable():
                raise RegistryError(
                    f"registry {self.display_host}: token service returned no token"
                )
            return f"Bearer {bearer}"
        raise RegistryError(
            f"registry {self.display_host}: unsupported authentication scheme {scheme!r}"
        )

    def _request(self, method: str, url: str, *, scope: str, accept: str, what: str) -> Response:
        headers = {"Accept": accept, "User-Agent": "runlayer-tf"}
        if scope in self._authorization:
            headers["Authorization"] = self._authorization[scope]
        resp = self._exchange(method, url, headers)
        if resp.status == 401 and "Authorization" not in headers:
            challenge = resp.headers.get("www-authenticate", "")
            if not challenge:
                raise AuthError(
                    f"registry {self.display_host} requires authentication for {what} but sent no challenge"
                )
            self._authorization[scope] = self._authorize(challenge, scope)
            headers["Authorization"] = self._authorization[scope]
            resp = self._exchange(method, url, headers)
        if resp.status == 401:
            if self._creds() is None:
                raise AuthError(
                    f"registry {self.display_host} requires credentials for {what}: "
                    f"run 'docker login {self.display_host}' or add it to {docker_config_path()}"
                )
            raise AuthError(f"registry {self.display_host} refused the credentials for {what}")
        if resp.status == 403:
            raise AuthError(f"registry {self.display_host} denied access to {what}")
        return resp

    def list_tags(self, repository: str) -> Mapping[str, str | None]:
        with self._call():
            return self._list_tags(repository)

    def digest_of(self, repository: str, reference: str) -> str:
        with self._call():
            return self._digest_of(repository, reference)

    def _list_tags(self, repository: str) -> Mapping[str, str | None]:
        name = self._api_name(repository)
        scope = f"repository:{name}:pull"
        url: str | None = f"{self.base}/v2/{name}/tags/list?n={self.page_size}"
        tags: dict[str, str | None] = {}
        pages = 0
        while url:
            resp = self._request(
                "GET", url, scope=scope, accept="application/json", what=f"the tags of {repository}"
            )
            if resp.status == 404:
                raise NotFoundError(
                    f"repository {repository} not found in registry {self.display_host}"
                )
            if resp.status != 200:
                raise RegistryError(
                    f"registry {self.display_host}: listing tags of {repository} answered HTTP {resp.status}"
                )
            page = _json_object(resp.body)
            listed = page.get("tags") if page is not None else None
            if page is None or not isinstance(listed, (list, type(None))):
                raise RegistryError(
                    f"registry {self.display_host}: malformed tag list for {repository}"
                )
            for tag in listed or []:
                if not isinstance(tag, str):
                    raise RegistryError(
                        f"registry {self.display_host}: malformed tag list for {repository} "
                        "(a tag that is not a string)"
                    )
                if TAG_NAME.fullmatch(tag):  # others cannot be asked for, nor printed safely
                    tags[tag] = None
            link = resp.headers.get("link", "")
            match = _LINK_NEXT.search(link)
            url = urllib.parse.urljoin(self.base + "/", match.group(1)) if match else None
            if url is not None and not same_origin(url, self.base):
                raise RegistryError(
                    f"registry {self.display_host} pointed the next tag page at another host ({url}); "
                    "refusing to send credentials there"
                )
            pages += 1
            if url is not None and pages >= MAX_PAGES:
                raise RegistryError(
                    f"registry {self.display_host}: tag listing of {repository} does not end "
                    f"(over {MAX_PAGES} pages)"
                )
        return tags

    def _digest_of(self, repository: str, reference: str) -> str:
        name = self._api_name(repository)
        url = f"{self.base}/v2/{name}/manifests/{reference}"
        scope = f"repository:{name}:pull"
        what = (
            f"{repository}:{reference}"
            if not reference.startswith("sha256:")
            else f"{repository}@{reference}"
        )
        resp = self._request("HEAD", url, scope=scope, accept=MANIFEST_ACCEPT, what=what)
        if resp.status == 404:
            raise NotFoundError(f"{what} not found in registry {self.display_host}")
        digest = resp.headers.get("docker-content-digest", "")
        if resp.status == 200 and digest:
            digest = checked_digest(digest, f"registry {self.display_host}")
        if resp.status != 200 or not digest:
            # Some registries omit the header on HEAD: fetch and hash the bytes.
            resp = self._request("GET", url, scope=scope, accept=MANIFEST_ACCEPT, what=what)
            if resp.status == 404:
                raise NotFoundError(f"{what} not found in registry {self.display_host}")
            if resp.status != 200:
                raise RegistryError(
                    f"registry {self.display_host}: manifest {what} answered HTTP {resp.status}"
                )
            actual = "sha256:" + hashlib.sha256(resp.body).hexdigest()
            claimed = resp.headers.get("docker-content-digest", "")
            digest = checked_digest(claimed, f"registry {self.display_host}") if claimed else actual
            manifest = _json_object(resp.body)
            media = manifest.get("mediaType") if manifest is not None else None
            if (
                manifest is None
                or not isinstance(media, (str, type(None)))
                or (media is not None and media not in MANIFEST_ACCEPT.split(", "))
            ):
                raise RegistryError(
                    f"registry {self.display_host}: manifest {what} is not an image manifest or index"
                )
            if digest != actual:
                raise RegistryError(
                    f"registry {self.display_host}: manifest {what} hashes to {actual}, not the {digest} it claims"
                )
        if reference.startswith("sha256:") and digest != reference:
            raise RegistryError(
                f"registry {self.display_host}: asked for {reference}, got {digest}"
            )
        return digest

    def pushed_at(self, repository: str, digest: str) -> datetime.datetime | None:
        return None  # the distribution API does not record push times


class _Deadline:
    """The deadline of one public registry call (its retries, pages and token fetch)."""

    def __init__(self, registry: OciRegistry) -> None:
        self._registry = registry

    def __enter__(self) -> None:
        self._registry._deadline = time.monotonic() + resolve_timeout()

    def __exit__(self, *exc: object) -> None:
        self._registry._deadline = None


def _retry_after(value: str) -> float:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), at least 0."""
    value = value.strip()
    if value.isdigit():
        return float(int(value[:9]))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return 1.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds())


def _json_object(body: bytes) -> dict[str, Any] | None:
    """``body`` as a JSON object, or None for anything else (bad JSON, too deep, not an object)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None
