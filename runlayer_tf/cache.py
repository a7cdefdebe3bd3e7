"""A small on-disk cache of resolutions, so one plan's many data sources (and
repeated plans) do not each hit the registry.

* Location: ``$RUNLAYER_TF_CACHE_DIR``, else ``$XDG_CACHE_HOME/runlayer-tf``,
  else ``~/.cache/runlayer-tf``; entries live in ``resolve/``.
* Freshness: ``RUNLAYER_TF_CACHE_TTL`` seconds (default 60).  ``0`` disables the
  cache entirely (no reads, no writes).  A digest selector names immutable
  content, so once its existence is confirmed the entry never expires.
* The key covers the query and everything that changes whose registry answers:
  AWS profile, region, endpoint, config and credentials file locations and role,
  a hash of the access key id, the inode, size and mtime of the AWS files
  botocore reads (so a login or an edited profile is seen at once), Docker
  config location.  Entries hold results only, never credentials.
* Writes are atomic (temp file + rename); an unreadable entry is a miss.
* Signature verdicts (:func:`verdict_known`, :func:`store_verdict`) live in
  ``verified/``: positive ones only, by digest and key fingerprint, never
  expiring (a digest is immutable).

Standard library only: this runs before anything heavy is imported.
"""

from __future__ import annotations

import math
import os
import stat
import time

from runlayer_tf import _fastjson
from runlayer_tf._hashing import sha256  # no OpenSSL to load on every data source

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: the hit path imports nothing it does not use
if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

DEFAULT_TTL = 60.0
_CONTEXT_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_ECR",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "DOCKER_CONFIG",
)


def ttl() -> float:
    """The configured TTL in seconds; 0 means the cache is off."""
    raw = os.environ.get("RUNLAYER_TF_CACHE_TTL", "").strip()
    if not raw:
        return DEFAULT_TTL
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_TTL
    return max(0.0, value)


def cache_dir() -> str:
    """The cache root (pathlib is avoided here: it costs milliseconds to import)."""
    explicit = os.environ.get("RUNLAYER_TF_CACHE_DIR")
    if explicit:
        return explicit
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "runlayer-tf")


def aws_files_stamp() -> list[object]:
    """(path, device, inode, size, mtime) of the AWS files botocore reads.

    Part of the cache key and of the shared resolver's identity: a login, an
    edited profile or new keys make earlier answers (perhaps another
    account's) unreachable at once instead of after the TTL.

    The config and credentials files (region, profiles, keys), the web
    identity token, and the SSO and CLI credential caches (their directories'
    mtimes change when a login writes a token).
    """
    home = os.path.expanduser("~")
    paths = [
        os.environ.get("AWS_CONFIG_FILE") or os.path.join(home, ".aws", "config"),
        os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join(home, ".aws", "credentials"),
        os.environ.get("AWS_WEB_IDENTITY_TOKEN_FILE", ""),
        os.path.join(home, ".aws", "sso", "cache"),
        os.path.join(home, ".aws", "cli", "cache"),
    ]
    stamp: list[object] = []
    for path in paths:
        if not path:
            continue
        try:
            info = os.stat(os.path.expanduser(path))
        except OSError:
            stamp.append([path, None])
            continue
        stamp.append([path, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns])
    return stamp


def key_for(query: Mapping[str, str], cwd: str | None = None) -> str:
    """A stable key for ``query`` in the current environment."""
    context = {name: os.environ.get(name, "") for name in _CONTEXT_ENV}
    access_key = os.environ.get("AWS_ACCESS_KEY_ID", "")
    context["aws_access_key_sha256"] = sha256(access_key.encode()).hexdigest() if access_key else ""
    if query.get("registry", "").startswith("oci-layout:"):
        # A relative layout path means something else in another directory.
        context["cwd"] = cwd if cwd is not None else os.getcwd()
    else:
        context["aws_files"] = _fastjson.dumps(aws_files_stamp())  # = json.dumps: lists only
    blob = _fastjson.dumps({"query": dict(query), "context": context})  # json.dumps, sort_keys
    return sha256(blob.encode()).hexdigest()


def _is_digest_query(query: Mapping[str, str]) -> bool:
    return query.get("tag", "").strip().startswith("sha256:")


MAX_ENTRY = 1 << 20  # bytes; a result is a few hundred
# What every served result holds (runlayer_tf.resolve.Resolution.to_external).
REQUIRED_KEYS = ("digest", "image", "registry", "repository", "platform")
_HEX = frozenset("0123456789abcdef")


def _is_digest(text: str) -> bool:
    # The grammar of runlayer_tf.tags.Digest, without importing it (the hot path).
    return len(text) == 71 and text.startswith("sha256:") and set(text[7:]) <= _HEX


def _platform_fits(asked: str, answered: str) -> bool:
    """Whether an answer's ``platform`` can be the answer to a query's (the key already
    separates them; this keeps a platform's digest from ever serving another query)."""
    if not asked:
        return answered == ""
    want, got = asked.split("/"), answered.split("/")
    if want[:2] != got[:2]:
        return False
    if len(want) < 3:
        return True
    offered = got[2] if len(got) > 2 else ("v8" if want[1] == "arm64" else "")
    return want[2] == offered


def valid_entry(entry: object, query: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The result of a cache entry if the entry is well-formed, else None (a miss).

    Well-formed: an object with a finite numeric ``stored_at`` and a ``result``
    mapping strings to strings that has every required key, a valid digest,
    an ``image`` ending in ``@<that digest>``, and (given the ``query``) a
    ``platform`` that answers the query's: "" for a query without one.
    """
    if not isinstance(entry, dict):
        return None
    stored_at, result = entry.get("stored_at"), entry.get("result")
    if isinstance(stored_at, bool) or not isinstance(stored_at, int | float):
        return None
    if not math.isfinite(stored_at):
        return None
    if not isinstance(result, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in result.items()
    ):
        return None
    if any(key not in result for key in REQUIRED_KEYS) or not _is_digest(result["digest"]):
        return None
    if not result["image"].endswith("@" + result["digest"]):
        return None
    if query is not None and not _platform_fits(
        query.get("platform", "").strip(), result["platform"]
    ):
        return None
    return result


def load(key: str, query: Mapping[str, str]) -> dict[str, str] | None:
    """The cached result for ``key``, or None when absent, stale, unreadable or disabled."""
    limit = ttl()
    if limit <= 0:
        return None
    path = os.path.join(cache_dir(), "resolve", f"{key}.json")
    # Entries are only ever renamed into place, so anything else (a FIFO, which an
    # open() would wait on forever, a device, a symlink) is a miss, not opened as one.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            raw = fh.read(MAX_ENTRY + 1)
        entry = _fastjson.loads(raw) if len(raw) <= MAX_ENTRY else None
    except (OSError, ValueError, RecursionError):
        return None
    result = valid_entry(entry, query)
    if result is None:
        return None
    age = time.time() - float(entry["stored_at"])  # type: ignore[index]
    if age < 0 or (age > limit and not _is_digest_query(query)):
        return None
    return result


def store(key: str, result: Mapping[str, str], *, now: float | None = None) -> None:
    """Save ``result`` under ``key`` atomically; failures to write are ignored (it is a cache)."""
    if ttl() <= 0:
        return
    import json
    import tempfile

    directory = os.path.join(cache_dir(), "resolve")
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(
                    {"stored_at": time.time() if now is None else now, "result": dict(result)}, fh
                )
            os.replace(tmp, os.path.join(directory, f"{key}.json"))
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError:
        return


def _verdict_path(digest: str, fingerprint: str, reference: str) -> str:
    blob = _fastjson.dumps([digest, fingerprint, reference])  # = json.dumps: a list of strings
    name = sha256(blob.encode()).hexdigest()
    return os.path.join(cache_dir(), "verified", f"{name}.json")


def verdict_known(digest: str, fingerprint: str, reference: str = "") -> bool:
    """True when a signature of ``digest`` by the key ``fingerprint`` was verified before.

    Only positive verdicts are kept, and they do not expire: a digest names
    immutable content, and a valid signature over it stays valid.  (A signature
    deleted from the registry afterwards is not noticed: clear the cache.)  Off
    with the cache (``RUNLAYER_TF_CACHE_TTL=0``).
    """
    if ttl() <= 0 or not _is_digest(digest):
        return False
    try:
        with open(_verdict_path(digest, fingerprint, reference), "rb") as fh:
            raw = fh.read(4097)
        entry = _fastjson.loads(raw) if len(raw) <= 4096 else None
    except (OSError, ValueError, RecursionError):
        return False
    return (
        isinstance(entry, dict)
        and entry.get("digest") == digest
        and entry.get("signed_by") == fingerprint
        and entry.get("reference") == reference
    )


def store_verdict(digest: str, fingerprint: str, reference: str = "") -> None:
    """Remember a positive verdict (atomically; a failure to write is ignored)."""
    if ttl() <= 0:
        return
    import json
    import tempfile

    path = _verdict_path(digest, fingerprint, reference)
    entry = {"digest": digest, "signed_by": fingerprint, "reference": reference}
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({**entry, "stored_at": time.time()}, fh)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError:
        return


LOCK_TIMEOUT = 60.0


class single_flight:  # lower case: used like the function it was, ``with single_flight(key):``
    """Hold an exclusive lock on ``key`` while it is resolved; a no-op when the cache is off.

    Concurrent misses for one key then cost one registry look-up instead of one
    each.  The lock dies with its holder's file descriptor; after LOCK_TIMEOUT
    seconds a waiter goes ahead unlocked (the cache is only an optimisation).
    (A class rather than a ``contextlib`` generator: contextlib is not imported on a hit.)
    """

    def __init__(self, key: str) -> None:
        self._key = key
        self._fd: int | None = None

    def __enter__(self) -> None:
        if ttl() <= 0:
            return
        try:
            import fcntl
        except ImportError:  # not POSIX: no single flight
            return
        directory = os.path.join(cache_dir(), "locks")  # beside resolve/, which holds entries only
        try:
            os.makedirs(directory, exist_ok=True)
            self._fd = os.open(
                os.path.join(directory, f"{self._key}.lock"), os.O_RDWR | os.O_CREAT, 0o600
            )
        except OSError:
            return
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return
                time.sleep(0.005)
            except BaseException:
                self.__exit__(None, None, None)
                raise

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
