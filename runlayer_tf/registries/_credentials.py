"""Docker credentials for a registry host: ``$DOCKER_CONFIG/config.json`` ``auths``, ``credHelpers``
and ``credsStore``."""

from __future__ import annotations

import json
import os

from runlayer_tf import _values
from runlayer_tf.errors import AuthError

TYPE_CHECKING = False  # read only on an auth challenge: pathlib, subprocess, base64 load then
if TYPE_CHECKING:
    from pathlib import Path


@_values.frozen(repr=False)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never print a secret
        return f"Credentials(username={self.username!r}, password=***)"


def docker_config_path() -> Path:
    from pathlib import Path

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
    import subprocess

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
            import base64

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
