"""Deadlines of the registry transport's requests: one watchdog thread for the process, and
sockets that are watched from before their first use.

A request (``_http.http_transport``) registers a :class:`Watch` with :data:`WATCHDOG` for its
deadline and keeps it in :data:`local` while it runs.  Every socket it opens or reuses goes
through :func:`watched` before it is used (the TCP socket before its connect, the TLS socket
after wrapping, which detaches the TCP one's descriptor), every blocking call gets at most the
time :func:`left`, and at the deadline the watchdog shuts them all, so no server can hold a
read past it by trickling bytes.  The name look-up (``getaddrinfo``) is the one call nothing
here can interrupt.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from runlayer_tf.registries._base import printable

__all__ = ["WATCHDOG", "Watch", "left", "local", "open_socket", "watched"]

local = threading.local()  # .watch: the request in progress (a Watch); .pool: _http's connections


class Watch:
    """One request's deadline and every socket it has used (the watchdog shuts them)."""

    __slots__ = ("deadline", "expired", "sockets")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.sockets: list[socket.socket] = []
        self.expired = threading.Event()


class _Watchdog:
    """One daemon thread for the whole process that shuts the sockets of every request still
    running at its deadline, so a server that trickles bytes cannot hold a read past it.

    At a deadline it sets the request's ``expired`` first and then shuts the sockets it has;
    a socket the request adds later is shut by :func:`watched` itself, which appends first
    and then looks at ``expired``, so one of the two always sees it.  It replaced a
    ``threading.Timer`` per request: starting a thread cost about 0.2 ms, which was the
    biggest part of our CPU per request in ``versions`` (hundreds of requests).
    """

    def __init__(self) -> None:
        self._lock = threading.Condition(threading.Lock())
        self._watched: dict[int, Watch] = {}
        self._thread: threading.Thread | None = None
        self._wake_at: float | None = None  # when the thread wakes next (None: when told)

    def watch(self, deadline: float) -> Watch:
        watch = Watch(deadline)
        with self._lock:
            self._watched[id(watch)] = watch
            if self._thread is None or not self._thread.is_alive():  # also after a fork
                self._thread = threading.Thread(
                    target=self._run, name="runlayer-tf-http-deadlines", daemon=True
                )
                self._thread.start()
            elif self._wake_at is None or deadline < self._wake_at:
                self._lock.notify()  # (a thread switch per request otherwise)
        return watch

    def forget(self, watch: Watch) -> None:
        with self._lock:
            self._watched.pop(id(watch), None)

    def _run(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                for key in [k for k, w in self._watched.items() if w.deadline <= now]:
                    watch = self._watched.pop(key)
                    watch.expired.set()
                    for sock in list(watch.sockets):
                        with contextlib.suppress(OSError):
                            sock.shutdown(socket.SHUT_RDWR)
                self._wake_at = min((w.deadline for w in self._watched.values()), default=None)
                self._lock.wait(None if self._wake_at is None else max(self._wake_at - now, 0.001))


WATCHDOG = _Watchdog()


def left(deadline: float) -> float:
    """Seconds to the deadline, for one blocking socket call; TimeoutError when none are left."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline")
    return left


def watched(sock: socket.socket) -> socket.socket:
    """Put ``sock`` in the request's watch list before it is used; a request already past its
    deadline (the watchdog went by) gets it shut at once, so nothing escapes the deadline."""
    watch: Watch | None = getattr(local, "watch", None)
    if watch is not None:
        watch.sockets.append(sock)
        if watch.expired.is_set():
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            raise TimeoutError("deadline")
    return sock


def open_socket(host: str, port: int, deadline: float) -> socket.socket:
    """A TCP connection, each attempt watched from before its connect and bounded by the time
    left (``socket.create_connection``'s loop over the addresses).  The name look-up itself
    cannot be interrupted (getaddrinfo)."""
    # getaddrinfo() runs a str host through the idna codec, an import, even when it is ASCII.
    name: str | bytes = host.encode("ascii") if host.isascii() else host
    error: OSError | None = None
    for family, kind, proto, _, address in socket.getaddrinfo(name, port, 0, socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            watched(sock)
            sock.settimeout(left(deadline))
            sock.connect(address)
            sock.settimeout(left(deadline))
            return sock
        except OSError as err:
            sock.close()
            if isinstance(err, TimeoutError) or time.monotonic() >= deadline:
                raise
            error = err
    raise error or OSError(f"no address for {printable(host)}")
