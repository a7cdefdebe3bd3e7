"""A short-lived resolver process shared by the ECR data sources of one plan.

Every ``data "external"`` block is its own process.  A plan that resolves 20
different images from ECR would otherwise start botocore 20 times (about
200 ms of CPU each) to make 20 listings of the same repository.  Instead, the
first ``runlayer-tf external`` that misses the answer cache starts one
resolver process in the background; it and every later data source send their
query over a Unix socket and get the answer back.  The resolver imports
botocore once, lists each repository once and describes only the images the
answers need (the same calls as an in-process resolve, made once).

* Only ECR queries use it; OCI registries and layouts are answered in process
  (they never import botocore).  It is off when the cache is off
  (``RUNLAYER_TF_CACHE_TTL=0``), with ``RUNLAYER_TF_DEBUG`` set (so tracebacks
  are real) and with ``RUNLAYER_TF_SHARED_RESOLVER=0``.
* One resolver per user, environment and working directory: the socket's name
  is a hash of the whole environment (credentials, profile, endpoint, region),
  the AWS config, credentials, web identity token and SSO/CLI cache files'
  inode, size and mtime, the working directory, the interpreter and the
  package's code.  Another environment, or an edited AWS file, gets its own
  resolver.  After an authentication error the resolver drops that client.  The socket lives in a directory only its
  owner can enter (``<cache dir>/resolver``, else ``$XDG_RUNTIME_DIR`` or
  ``/tmp/runlayer-tf-<uid>``), and on Linux the resolver also checks that each
  peer runs as its own user.
* It exits after ``RUNLAYER_TF_SHARED_RESOLVER_IDLE`` seconds without a query
  (default 10), after the cache TTL at the latest, and as soon as its socket
  is removed; queries it has accepted are answered first.  Its process id is
  in ``<socket>.lock``.
* A repository listing serves other selectors for 10 seconds (never longer
  than the cache TTL): one plan sees one listing.  Image descriptions (push
  times, whether a digest exists) are asked for every query.  A selector that matches
  nothing in a listing made before the query arrived is tried once more on a
  fresh listing, so a release pushed moments ago is found.  An answer is
  stored in the cache as old as the listing it came from.
* Anything that goes wrong with the resolver itself (cannot start, socket
  refused, a crash, a garbled reply) makes the data source resolve in process,
  as it did before: the resolver can make a plan faster, never wrong.  The
  resolver's stderr is appended to ``<socket>.log`` (emptied past 1 MiB).

This module is the client half, which runs in every data source process and
imports the standard library only; the resolver process itself is ``_server``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from runlayer_tf import cache
from runlayer_tf.errors import RunlayerError, debug_enabled

if TYPE_CHECKING:
    import socket as socket_module

__all__ = ["ask", "fingerprint", "idle_timeout", "socket_path", "usable"]

SWITCH_ENV = "RUNLAYER_TF_SHARED_RESOLVER"
IDLE_ENV = "RUNLAYER_TF_SHARED_RESOLVER_IDLE"
DEFAULT_IDLE = 10.0
MAX_LIFETIME = 600.0  # seconds; also never longer than the cache TTL
LISTING_WINDOW = 10.0  # seconds a listing serves other selectors (and never longer than the TTL)
START_WAIT = 10.0  # how long a data source waits for a starting resolver
REPLY_TIMEOUT = 300.0  # botocore's own timeouts and retries end well before this
# The resolver sends a space (JSON whitespace) every HEARTBEAT seconds while it
# works; a client hearing nothing for SILENCE_LIMIT seconds gives up on it and
# resolves in process, so a stopped or wedged resolver costs seconds, not minutes.
HEARTBEAT = 0.5
SILENCE_LIMIT = 3.0
MAX_SOCKET_PATH = 100  # bytes; sun_path holds 104 (macOS) or 108 (Linux)
MAX_REQUEST = 1 << 16
MAX_LOG = 1 << 20  # the resolver's stderr log is appended to, and emptied past this size
_OFF = ("0", "false", "no", "off")
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # runlayer_tf/


# The same host pattern as runlayer_tf.registries._base.ECR_HOST (importing that
# module would import attrs on every data source; a unit test keeps them equal).
_ECR_HOST = re.compile(r"[0-9]{12}\.dkr\.ecr(?:-fips)?\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?")


def _is_ecr(registry: str) -> bool:
    """Whether ``RegistryAddress.parse`` makes an ECR address of the ``registry`` query value."""
    text = registry.strip()
    if text in ("", "ecr"):
        return True
    if text.startswith("oci-layout:"):
        return False
    if "://" in text:
        scheme, text = text.split("://", 1)
        if scheme not in ("http", "https"):
            return False
    return _ECR_HOST.fullmatch(text.rstrip("/").lower()) is not None


def usable(query: Mapping[str, str]) -> bool:
    """Whether ``query`` should go to the shared resolver (an ECR query, cache on, not switched off)."""
    if os.environ.get(SWITCH_ENV, "").strip().lower() in _OFF:
        return False
    if debug_enabled():
        return False
    if (
        cache.ttl() <= 0
        or not sys.executable
        or not hasattr(os, "posix_spawn")
        or not hasattr(os, "getuid")
    ):
        return False
    return _is_ecr(query.get("registry", ""))


def idle_timeout() -> float:
    """Seconds without a query after which the resolver exits."""
    try:
        value = float(os.environ.get(IDLE_ENV, "").strip() or DEFAULT_IDLE)
    except ValueError:
        return DEFAULT_IDLE
    return min(max(value, 0.05), MAX_LIFETIME)


def _code_stamp() -> list[object]:
    """Names and mtimes of the package's modules: an edited install gets a fresh resolver."""
    stamp: list[object] = []
    for directory in (
        _PACKAGE_DIR,
        os.path.join(_PACKAGE_DIR, "registries"),
        os.path.join(_PACKAGE_DIR, "shared_resolver"),
    ):
        try:
            with os.scandir(directory) as entries:
                stamp.extend(
                    sorted(
                        (e.name, e.stat().st_mtime_ns) for e in entries if e.name.endswith(".py")
                    )
                )
        except OSError:
            stamp.append(directory)
    return stamp


def fingerprint() -> str:
    """What a resolver's answers depend on, hashed.

    The environment, the AWS files, working directory, interpreter and code.
    """
    from runlayer_tf._version import __version__

    blob = json.dumps(
        {
            "environ": sorted(os.environ.items()),
            "cwd": os.getcwd(),
            "uid": os.getuid(),
            "python": sys.executable,
            "package": _PACKAGE_DIR,
            "version": __version__,
            "code": _code_stamp(),
            "aws_files": cache.aws_files_stamp(),
        }
    )
    return hashlib.sha256(blob.encode("utf-8", "surrogateescape")).hexdigest()[:24]


def _private_dir(directory: str) -> bool:
    """Create ``directory`` (mode 0700) if needed; True when it is ours and closed to others."""
    import stat

    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        info = os.lstat(directory)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return False
        if info.st_mode & 0o077:
            os.chmod(directory, 0o700)
        return True
    except OSError:
        return False


def socket_path(fp: str | None = None) -> str | None:
    """Where the resolver for this environment listens, or None when no safe, short path exists."""
    name = f"{fp or fingerprint()}.sock"  # 24 hex digits: 96 bits
    candidates = [os.path.join(cache.cache_dir(), "resolver")]
    if os.environ.get("XDG_RUNTIME_DIR"):
        candidates.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "runlayer-tf"))
    candidates.append(f"/tmp/runlayer-tf-{os.getuid()}")
    for directory in candidates:
        path = os.path.join(directory, name)
        if len(os.fsencode(path)) <= MAX_SOCKET_PATH and _private_dir(directory):
            return path
    return None


def _connect(path: str) -> socket_module.socket | None:
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    return sock


def _same_file(fd: int, path: str) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        held, named = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)


def _start(path: str, *, may_spawn: bool) -> str:
    """Start a resolver for ``path`` unless one holds its lock.

    Returns ``"running"`` (one holds the lock), ``"spawned"`` (this call
    started one), ``"free"`` (none runs and ``may_spawn`` is false) or
    ``"failed"``.  The lock (``<socket>.lock``) is taken here and handed to the
    resolver as an inherited descriptor, so there is no moment when a second
    one could start.
    """
    import fcntl

    try:
        fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return "failed"
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return "running"  # or shutting down: it unlinks its socket first
        except OSError:
            return "failed"
        if not _same_file(fd, f"{path}.lock"):
            return "running"  # an exiting resolver removed the file we locked: try again
        if not may_spawn:
            return "free"  # the one this client started has died: resolve in process
        try:
            log = os.open(f"{path}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            if os.fstat(log).st_size > MAX_LOG:
                os.ftruncate(log, 0)
        except OSError:
            return "failed"
        try:
            os.set_inheritable(fd, True)
            code = (
                "import sys; sys.path[0] = sys.argv[1]; "
                "from runlayer_tf.shared_resolver._server import serve; "
                "raise SystemExit(serve(sys.argv[2], int(sys.argv[3])))"
            )
            os.posix_spawn(
                sys.executable,
                [sys.executable, "-c", code, os.path.dirname(_PACKAGE_DIR), path, str(fd)],
                dict(os.environ),
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_DUP2, log, 2),
                ],
            )
        except OSError:
            return "failed"
        finally:
            os.close(log)
        return "spawned"
    finally:
        os.close(fd)  # a spawned resolver holds the lock through its own copy


class _QueryFailed(RunlayerError):
    """The resolver's answer was an error about the query itself."""


def ask(query: Mapping[str, str]) -> tuple[dict[str, str], float] | None:
    """The shared resolver's answer to ``query`` and the time of the listing it came from.

    Returns None when the resolver cannot be used, for whatever reason (the
    caller then resolves in process); raises :class:`RunlayerError` with the
    resolver's one-line message when the query itself fails (no match, unknown
    repository, ...).
    """
    try:
        return _ask(query)
    except _QueryFailed:
        raise
    except Exception:  # a resolver fault, never the query's: resolve in process
        return None


def _ask(query: Mapping[str, str]) -> tuple[dict[str, str], float] | None:
    path = socket_path()
    if path is None:
        return None
    deadline = time.monotonic() + START_WAIT
    spawned = False
    pause = 0.001
    while True:
        sock = _connect(path)
        if sock is not None:
            break
        state = _start(path, may_spawn=not spawned)
        if state == "spawned":
            spawned = True
        elif state != "running" or time.monotonic() >= deadline:
            return None
        time.sleep(pause)
        pause = min(pause * 1.5, 0.02)
    try:
        sock.settimeout(SILENCE_LIMIT)
        sock.sendall(json.dumps({"query": dict(query)}).encode() + b"\n")
        chunks = []
        give_up = time.monotonic() + REPLY_TIMEOUT
        while True:
            if time.monotonic() > give_up:
                return None
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        reply = json.loads(b"".join(chunks))
    except (OSError, ValueError):
        return None
    finally:
        sock.close()
    if not isinstance(reply, dict):
        return None
    if isinstance(reply.get("error"), str):
        raise _QueryFailed(reply["error"])
    result, as_of = reply.get("result"), reply.get("as_of")
    checked = cache.valid_entry({"stored_at": as_of, "result": result}, query)
    if checked is None:
        return None
    return checked, float(as_of)  # type: ignore[arg-type]
