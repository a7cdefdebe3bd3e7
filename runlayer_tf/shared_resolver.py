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

The client half (everything but :func:`serve`) imports the standard library
only: it runs in every data source process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runlayer_tf import cache
from runlayer_tf.errors import RunlayerError, debug_enabled

if TYPE_CHECKING:
    import socket as socket_module

    from runlayer_tf.registries import Registry, RegistryAddress

__all__ = ["ask", "serve", "socket_path", "usable"]

SWITCH_ENV = "RUNLAYER_TF_SHARED_RESOLVER"
IDLE_ENV = "RUNLAYER_TF_SHARED_RESOLVER_IDLE"
DEFAULT_IDLE = 10.0
MAX_LIFETIME = 600.0  # seconds; also never longer than the cache TTL
LISTING_WINDOW = 10.0  # seconds a listing serves other selectors (and never longer than the TTL)
START_WAIT = 10.0  # how long a data source waits for a starting resolver
REPLY_TIMEOUT = 300.0  # botocore's own timeouts and retries end well before this
MAX_SOCKET_PATH = 100  # bytes; sun_path holds 104 (macOS) or 108 (Linux)
MAX_REQUEST = 1 << 16
MAX_LOG = 1 << 20  # the resolver's stderr log is appended to, and emptied past this size
_OFF = ("0", "false", "no", "off")
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


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
    for directory in (_PACKAGE_DIR, os.path.join(_PACKAGE_DIR, "registries")):
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
                "from runlayer_tf.shared_resolver import serve; "
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
        sock.settimeout(REPLY_TIMEOUT)
        sock.sendall(json.dumps({"query": dict(query)}).encode() + b"\n")
        chunks = []
        while True:
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
    if (
        not isinstance(result, dict)
        or not all(isinstance(v, str) for v in result.values())
        or not isinstance(as_of, int | float)
    ):
        return None
    return result, float(as_of)


# --- the resolver process ----------------------------------------------------


class _Listings:
    """ECR clients created once and repository listings shared for a short window (thread-safe).

    Only the listing (tags and digests) and the botocore client are shared.
    Each query gets a fresh registry object, so image descriptions (push
    times, whether a digest exists) are asked anew for every query.
    """

    def __init__(self, ttl: float) -> None:
        import threading

        self._ttl = ttl
        self._guard = threading.Lock()
        self._locks: dict[object, Any] = {}
        self._clients: dict[RegistryAddress, Any] = {}
        self._listings: dict[
            tuple[RegistryAddress, str], tuple[float, Mapping[str, str | None]]
        ] = {}

    def _lock(self, key: object) -> Any:
        import threading

        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def registry(self, address: RegistryAddress) -> Registry:
        """A new registry object for one query; for ECR, on the shared botocore client."""
        from runlayer_tf.registries import open_registry

        if address.kind != "ecr":
            return open_registry(address)
        from runlayer_tf import aws

        with self._lock(address):
            if address not in self._clients:
                self._clients[address] = aws.ecr(address.region)
            return open_registry(address, ecr_client=self._clients[address])

    def forget(self, address: RegistryAddress) -> None:
        """Drop ``address``'s client and listings (after an authentication error)."""
        with self._lock(address):
            self._clients.pop(address, None)
        with self._guard:
            for key in list(self._listings):
                if key[0] == address:
                    self._listings.pop(key, None)

    def listing(
        self,
        address: RegistryAddress,
        registry: Registry,
        repository: str,
        *,
        not_before: float = 0.0,
    ) -> tuple[float, Mapping[str, str | None]]:
        """(when it was listed, the listing): one ListImages pass per repository and window.

        ``registry`` (a registry of ``address``) lists when no listing can be
        reused; a listing made before ``not_before`` is not.
        """
        key = (address, repository)
        with self._lock(key):
            held = self._listings.get(key)
            if (
                held is not None
                and held[0] >= not_before
                and 0 <= time.time() - held[0] <= min(self._ttl, LISTING_WINDOW)
            ):
                return held
            listed_at = time.time()
            tags = registry.list_tags(repository)
            self._listings[key] = (listed_at, tags)
            return listed_at, tags


class _SharedView:
    """A Registry whose ``list_tags`` comes from the shared listings; remembers the listing's time."""

    def __init__(
        self, listings: _Listings, address: RegistryAddress, *, not_before: float = 0.0
    ) -> None:
        self._listings = listings
        self._address = address
        self._registry = listings.registry(address)
        self._not_before = not_before
        self.as_of: float | None = None  # when the (oldest) listing used was made

    @property
    def display_host(self) -> str:
        return self._registry.display_host

    def list_tags(self, repository: str) -> Mapping[str, str | None]:
        listed_at, tags = self._listings.listing(
            self._address, self._registry, repository, not_before=self._not_before
        )
        self.as_of = listed_at if self.as_of is None else min(self.as_of, listed_at)
        return tags

    def digest_of(self, repository: str, reference: str) -> str:
        return self._registry.digest_of(repository, reference)

    def pushed_at(self, repository: str, digest: str) -> Any:
        return self._registry.pushed_at(repository, digest)


def _answer(listings: _Listings, request: bytes) -> dict[str, Any]:
    from runlayer_tf.errors import AuthError, NoMatchError, NotFoundError
    from runlayer_tf.resolve import Query, resolve

    arrived = time.time()

    try:
        raw = json.loads(request)
        query = raw["query"]
        if not isinstance(query, dict):
            raise TypeError("query is not an object")
    except (ValueError, KeyError, TypeError) as err:
        return {"fallback": f"bad request: {err}"}
    try:
        parsed = Query.from_mapping(query)
        view = _SharedView(listings, parsed.address)
        try:
            result = resolve(parsed, view).to_external()
        except (NoMatchError, NotFoundError):
            if view.as_of is None or view.as_of >= arrived:
                raise  # the listing was fresh: the answer stands
            # An older listing may predate a push: ask again on a new one.
            view = _SharedView(listings, parsed.address, not_before=arrived)
            result = resolve(parsed, view).to_external()
    except AuthError as err:
        listings.forget(parsed.address)  # credentials may be fixed by the next query
        return {"error": str(err)}
    except RunlayerError as err:
        return {"error": str(err)}
    except Exception as err:  # the client resolves in process and reports it there
        import traceback

        traceback.print_exc()
        return {"fallback": f"{type(err).__name__}: {err}"}
    return {"result": result, "as_of": arrived if view.as_of is None else view.as_of}


def _peer_is_us(conn: socket_module.socket) -> bool:
    import socket
    import struct

    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return True  # the socket's directory is private; that is the check elsewhere
    try:
        _pid, uid, _gid = struct.unpack(
            "3i", conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
        )
    except OSError:
        return False
    return bool(uid == os.getuid())


def _read_request(conn: socket_module.socket) -> bytes:
    data = b""
    while b"\n" not in data and len(data) < MAX_REQUEST:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _empty(path: str) -> bool:
    try:
        return os.path.getsize(path) == 0
    except OSError:
        return False


def serve(path: str, lock_fd: int) -> int:
    """Run the resolver on ``path`` (the parent passed the held lock as ``lock_fd``)."""
    import socket
    import threading

    with contextlib.suppress(OSError):
        os.setsid()  # out of the plan's process group: a Ctrl-C reaches the plan, not us
    os.umask(0o077)
    ttl = cache.ttl()
    idle = idle_timeout()
    lifetime = min(ttl, MAX_LIFETIME)
    started = time.monotonic()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # a dead resolver's socket; we hold the lock, so no live one owns it
    server.bind(path)
    server.listen(128)
    with contextlib.suppress(OSError):  # for whoever wonders which process this is
        os.ftruncate(lock_fd, 0)
        os.pwrite(lock_fd, f"{os.getpid()}\n".encode(), 0)
    bound = os.stat(path)
    inode = (bound.st_dev, bound.st_ino)
    server.settimeout(0.2)
    # The heavy imports, once, while the first clients queue on the socket.
    import runlayer_tf.resolve  # noqa: F401
    from runlayer_tf import aws

    aws.preload()

    listings = _Listings(ttl)
    active = 0
    last = time.monotonic()
    state = threading.Lock()
    workers: list[threading.Thread] = []

    def handle(conn: socket.socket) -> None:
        nonlocal active, last
        try:
            with conn:
                conn.settimeout(REPLY_TIMEOUT)
                if not _peer_is_us(conn):
                    return
                reply = _answer(listings, _read_request(conn))
                conn.sendall(json.dumps(reply).encode())
        except OSError:
            pass
        finally:
            with state:
                active -= 1
                last = time.monotonic()

    def dispatch(conn: socket.socket) -> None:
        nonlocal active
        with state:
            active += 1
        worker = threading.Thread(target=handle, args=(conn,), daemon=True)
        worker.start()
        workers.append(worker)

    def still_ours() -> bool:
        try:
            now = os.stat(path)
        except OSError:
            return False
        return (now.st_dev, now.st_ino) == inode

    try:
        while still_ours():
            with state:
                quiet = active == 0 and time.monotonic() - last >= idle
            if quiet or time.monotonic() - started >= lifetime:
                break
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            dispatch(conn)
    finally:
        if still_ours():
            os.unlink(path)  # new clients start a new resolver from here on
        server.setblocking(False)
        while True:  # answer whoever connected before the unlink
            try:
                conn, _ = server.accept()
            except OSError:
                break
            conn.setblocking(True)
            dispatch(conn)
        server.close()
        for worker in workers:
            worker.join(REPLY_TIMEOUT)
        # Our lock file and an empty log go too, unless a successor's replaced them.
        leftovers = [(lock_fd, f"{path}.lock")] + (
            [(2, f"{path}.log")] if _empty(f"{path}.log") else []
        )
        for fd, name in leftovers:
            if _same_file(fd, name):
                with contextlib.suppress(OSError):
                    os.unlink(name)
        os.close(lock_fd)
    return 0
