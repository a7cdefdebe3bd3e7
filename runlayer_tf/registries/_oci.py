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
import datetime
import hashlib
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import attrs

from runlayer_tf.errors import AuthError, NotFoundError, RegistryError
from runlayer_tf.registries._base import RegistryAddress

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
_RETRY_STATUS = {429, 502, 503, 504}
_ATTEMPTS = 3
_TIMEOUT = 30.0
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


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


class _CredentialSafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but never carry ``Authorization`` to another origin.

    Registries redirect blob and sometimes manifest requests to storage on
    other hosts; urllib would copy the header there (and from https to http).
    """

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and not same_origin(req.full_url, new.full_url):
            new.remove_header("Authorization")
        return new


_OPENER: urllib.request.OpenerDirector | None = None


def urllib_transport(method: str, url: str, headers: Mapping[str, str]) -> Response:
    """The default transport: urllib, no shell, no proxies beyond the environment's."""
    global _OPENER
    if _OPENER is None:
        _OPENER = urllib.request.build_opener(_CredentialSafeRedirects)
    request = urllib.request.Request(url, method=method, headers=dict(headers))
    try:
        with _OPENER.open(request, timeout=_TIMEOUT) as resp:
            return Response(
                resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
            )
    except urllib.error.HTTPError as err:
        return Response(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise RegistryError(f"cannot reach {urllib.parse.urlsplit(url).netloc}: {reason}") from None


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

    def _exchange(self, method: str, url: str, headers: dict[str, str]) -> Response:
        for attempt in range(_ATTEMPTS):
            resp = self._transport(method, url, headers)
            if resp.status not in _RETRY_STATUS or attempt == _ATTEMPTS - 1:
                return resp
            time.sleep(min(2.0, 0.2 * 2**attempt))
        raise AssertionError("unreachable")

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
            bearer: str | None
            try:
                data = json.loads(resp.body)
                bearer = data.get("token") or data.get("access_token")
            except (ValueError, AttributeError):
                bearer = None
            if not bearer:
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
            try:
                page = json.loads(resp.body)
            except ValueError:
                raise RegistryError(
                    f"registry {self.display_host}: malformed tag list for {repository}"
                ) from None
            for tag in page.get("tags") or []:
                tags[str(tag)] = None
            link = resp.headers.get("link", "")
            match = _LINK_NEXT.search(link)
            url = urllib.parse.urljoin(self.base + "/", match.group(1)) if match else None
            if url is not None and not same_origin(url, self.base):
                raise RegistryError(
                    f"registry {self.display_host} pointed the next tag page at another host ({url}); "
                    "refusing to send credentials there"
                )
            pages += 1
            if pages > 10_000:
                raise RegistryError(
                    f"registry {self.display_host}: tag listing of {repository} does not end"
                )
        return tags

    def digest_of(self, repository: str, reference: str) -> str:
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
            digest = resp.headers.get("docker-content-digest", "") or actual
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
