"""The shared resolver's process: one botocore start-up, one listing per repository, answers
over the Unix socket (see :mod:`runlayer_tf.shared_resolver` for the design)."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runlayer_tf import cache
from runlayer_tf.errors import RunlayerError
from runlayer_tf.shared_resolver import (
    HEARTBEAT,
    LISTING_WINDOW,
    MAX_LIFETIME,
    MAX_REQUEST,
    REPLY_TIMEOUT,
    _same_file,
    idle_timeout,
)

if TYPE_CHECKING:
    import socket as socket_module

    from runlayer_tf.registries import Registry, RegistryAddress


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

    def manifest(self, repository: str, digest: str) -> bytes:
        return self._registry.manifest(repository, digest)

    def image_config(self, repository: str, digest: str) -> bytes | None:
        return self._registry.image_config(repository, digest)


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
                request = _read_request(conn)
                sending = threading.Lock()
                done = threading.Event()

                def beat() -> None:
                    while not done.wait(HEARTBEAT):
                        with sending:
                            if done.is_set():
                                return
                            try:
                                conn.sendall(b" ")
                            except OSError:
                                return

                beater = threading.Thread(target=beat, daemon=True)
                beater.start()
                try:
                    reply = _answer(listings, request)
                finally:
                    with sending:
                        done.set()
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
