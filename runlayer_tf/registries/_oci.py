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

import datetime
import json
import math
import re
import threading
import time
import urllib.parse
from collections.abc import Mapping

from runlayer_tf.errors import AuthError, NotFoundError, RegistryError
from runlayer_tf.registries._base import (
    TAG_NAME,
    RegistryAddress,
    checked_digest,
    is_loopback,
    printable,
)
from runlayer_tf.registries._credentials import Credentials, docker_config_path, docker_credentials
from runlayer_tf.registries._http import (
    MANIFEST_ACCEPT,
    MAX_PAGES,
    Response,
    Transport,
    http_transport,
    resolve_timeout,
    same_origin,
)
from runlayer_tf.tags import Digest

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: typing is not imported on the resolve path
if TYPE_CHECKING:
    from typing import Any

_RETRY_STATUS = {429, 502, 503, 504}
_ATTEMPTS = 3
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


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
        transport: Transport = http_transport,
        credentials: Credentials | None = None,
    ) -> None:
        self.address = address
        self.base = f"{address.scheme}://{address.host}"
        self._transport = transport
        self._credentials = credentials
        self._credentials_loaded = credentials is not None
        self._authorization: dict[str, str] = {}  # scope -> Authorization header value
        # The deadline of the public call in progress, per thread: ``versions``
        # asks for many digests at once from a small thread pool.
        self._calls = threading.local()

    @property
    def _deadline(self) -> float | None:
        return getattr(self._calls, "deadline", None)

    @_deadline.setter
    def _deadline(self, value: float | None) -> None:
        self._calls.deadline = value

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
            try:
                resp = self._transport(method, url, headers)
            except ValueError as err:  # UnicodeError included: a header or host no codec takes
                raise RegistryError(
                    f"registry {self.display_host}: malformed HTTP exchange with "
                    f"{printable(urllib.parse.urlsplit(url).netloc, 80)} ({printable(err, 120)})"
                ) from None
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
        if parts.scheme in ("http", "https") and not _valid_host(parts):
            raise RegistryError(
                f"registry {self.display_host} sent a token realm {shown} whose host or port "
                "is not valid; refused"
            )
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
            return _basic(creds)
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
                headers["Authorization"] = _basic(creds)
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
            if (
                not isinstance(bearer, str)
                or not bearer
                or not (bearer.isascii() and bearer.isprintable())  # a header value: no CR/LF
            ):
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
        if resp.status == 200:
            _checked_manifest("HEAD", resp, MANIFEST_ACCEPT, f"registry {self.display_host}", what)
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
            _checked_manifest("GET", resp, MANIFEST_ACCEPT, f"registry {self.display_host}", what)
            actual = str(Digest.of_bytes(resp.body))
            claimed = resp.headers.get("docker-content-digest", "")
            digest = checked_digest(claimed, f"registry {self.display_host}") if claimed else actual
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

    def manifest(self, repository: str, digest: str) -> bytes:
        with self._call():
            return self._fetch(repository, "manifests", digest, MANIFEST_ACCEPT)

    def image_config(self, repository: str, digest: str) -> bytes | None:
        with self._call():
            return self._fetch(repository, "blobs", digest, "*/*")

    def _fetch(self, repository: str, kind: str, digest: str, accept: str) -> bytes:
        """GET a manifest or blob by digest: capped, media type checked, hash checked."""
        name = self._api_name(repository)
        what = f"{repository}@{digest}"
        resp = self._request(
            "GET",
            f"{self.base}/v2/{name}/{kind}/{digest}",
            scope=f"repository:{name}:pull",
            accept=accept,
            what=what,
        )
        if resp.status == 404:
            raise NotFoundError(f"{what} not found in registry {self.display_host}")
        if resp.status != 200:
            raise RegistryError(
                f"registry {self.display_host}: {kind[:-1]} {what} answered HTTP {resp.status}"
            )
        actual = str(Digest.of_bytes(resp.body))
        if actual != digest:
            raise RegistryError(
                f"registry {self.display_host}: {kind[:-1]} {what} hashes to {actual}; refused"
            )
        if kind == "manifests":
            content_type = resp.headers.get("content-type", "").split(";")[0].strip()
            if content_type and content_type not in MANIFEST_ACCEPT.split(", "):
                raise RegistryError(
                    f"registry {self.display_host}: manifest {what} came as "
                    f'"{printable(content_type, 80)}", not an image manifest or index'
                )
        return resp.body


class _Deadline:
    """The deadline of one public registry call (its retries, pages and token fetch)."""

    def __init__(self, registry: OciRegistry) -> None:
        self._registry = registry

    def __enter__(self) -> None:
        self._registry._deadline = time.monotonic() + resolve_timeout()

    def __exit__(self, *exc: object) -> None:
        self._registry._deadline = None


def _basic(creds: Credentials) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()


def _retry_after(value: str) -> float:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), at least 0."""
    value = value.strip()
    if value.isascii() and value.isdigit():  # not "²" or "٣": str.isdigit takes those
        return float(int(value[:9]))
    import email.utils  # loaded only for an HTTP-date Retry-After

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return 1.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds())


def _valid_host(parts: urllib.parse.SplitResult) -> bool:
    """True when a URL's host can be looked up (IDNA-encodable) and its port, if any, is 1-65535."""
    try:
        port = parts.port
        (parts.hostname or "").encode("idna")
    except (ValueError, UnicodeError):
        return False
    return bool(parts.hostname) and (port is None or 1 <= port <= 65535)


def _checked_manifest(method: str, resp: Response, accept: str, source: str, what: str) -> None:
    """Refuse a manifest answer (HEAD or GET) whose media type is not one ``accept`` asked for.

    ``Content-Type`` (parameters ignored) must be one of the asked types when
    present; a GET's body must be a JSON object whose ``mediaType``, when
    present, is one of them too and matches ``Content-Type`` (the distribution
    spec's rule).  A registry answering ``text/html`` (a login page, a proxy's
    error page) or a blob type is an error naming it, not a digest.
    """
    asked = {media.strip() for media in accept.split(",")}
    content_type = resp.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type and content_type not in asked:
        raise RegistryError(
            f"{source}: manifest {what} answered Content-Type "
            f'"{printable(content_type, 80)}", not an image manifest or index type'
        )
    if method == "HEAD":
        return
    manifest = _json_object(resp.body)
    media = manifest.get("mediaType") if manifest is not None else None
    if (
        manifest is None
        or not isinstance(media, (str, type(None)))
        or (media is not None and media not in asked)
    ):
        raise RegistryError(f"{source}: manifest {what} is not an image manifest or index")
    if media is not None and content_type and media != content_type:
        raise RegistryError(
            f"{source}: manifest {what} answered Content-Type "
            f'"{printable(content_type, 80)}" for a {printable(media, 80)} manifest'
        )


def _json_object(body: bytes) -> dict[str, Any] | None:
    """``body`` as a JSON object, or None for anything else (bad JSON, too deep, not an object)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None
