"""HTTP/1.1 on one socket: the request the registry transport sends and how it reads the answer.

It replaced :mod:`http.client` on the registry path: ``http.client`` imports email's header
parser (``email.parser``, ``email.utils``, ``calendar``, ``random``, ...) and ``ssl`` when it is
imported, about a sixth of a cold ``resolve`` (issue 12; ``ssl`` is now imported for https
only).  This is the part of the trust boundary that reads bytes from the network, so it is
written for a server that lies (``tests/unit/test_wire.py`` and the hostile registry):

* the status line and each header line are at most :data:`MAX_LINE` bytes, at most
  :data:`MAX_HEADERS` header lines (``http.client``'s limits), the status a 3-digit code;
* a body is framed as RFC 9112 section 6.3 says: none for ``HEAD``, 1xx, 204 and 304; chunked
  when ``Transfer-Encoding``'s last coding is ``chunked``; else ``Content-Length`` (ASCII
  digits, several that differ are refused); else up to the server's close;
* a body over the caller's ``limit`` is refused as soon as it is known (a ``Content-Length``
  or a chunk size over it) or read (up to ``limit + 1`` bytes of a close-delimited body);
* interim 1xx answers are skipped (at most 8), obsolete line folding is refused, header
  values are read as ISO-8859-1 (as ``http.client`` does);
* what is sent: no CR, LF or NUL in the request target or any header (a value from outside
  cannot add a header), header names are RFC 9110 tokens.

The caller (``_http``) owns connections, deadlines (socket timeouts and the watchdog) and
redirects; every error here is an :class:`OSError` (a network or framing failure) or a
:class:`ValueError` (a request that cannot be sent), which it reports in one line.
"""

from __future__ import annotations

import select
import sys

from runlayer_tf import _values
from runlayer_tf.registries._base import printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Mapping

MAX_LINE = 65536
MAX_HEADERS = 100
MAX_INTERIM = 8
MAX_CHUNK_LINE = 4096  # a chunk size with its extensions
MAX_FRAMING = 1 << 20  # wire bytes of one answer beside its body: heads, chunk lines, trailers
_JOINED = frozenset(("connection", "transfer-encoding"))
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_HEX = frozenset(b"0123456789abcdefABCDEF")


class ProtocolError(OSError):
    """The server's bytes are not a well-formed HTTP/1.1 answer."""


class NotAnAnswer(ProtocolError):
    """What came where a status line belongs is none (also: a reused connection's leftovers)."""


class ClosedBeforeAnswer(ConnectionResetError):
    """The server closed the connection before the first byte of an answer."""


class BodyTooBig(ProtocolError):
    """The answer's body is over the caller's limit."""


class MalformedLength(ProtocolError):
    """A Content-Length that is not one run of ASCII digits, or several that differ."""


def _shown(data: bytes, limit: int = 60) -> str:
    """Bytes from the server as printable text (ISO-8859-1, control characters escaped)."""
    return printable(data[: limit + 1].decode("latin-1"), limit)


def request_bytes(method: str, target: str, headers: Mapping[str, str]) -> bytes:
    """The request head; ValueError for a target or header that would change its meaning."""
    if not method.isascii() or not method.isalpha():
        raise ValueError(f"invalid HTTP method {method!r}")
    if not target or any(c <= " " or c == "\x7f" for c in target):
        raise ValueError("the URL has a space or control character in it")
    lines = [f"{method} {target} HTTP/1.1"]
    for name, value in headers.items():
        raw = name.encode("latin-1")
        if not raw or not set(raw) <= _TOKEN:
            raise ValueError(f"invalid header name {name!r}")
        if "\r" in value or "\n" in value or "\0" in value:
            raise ValueError(f"the {name} header has a line break or NUL in it")
        lines.append(f"{name}: {value}")
    # latin-1 as http.client encodes header values: anything else is a UnicodeEncodeError.
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@_values.frozen
class Answer:
    """One answer: status, headers (lower-case names; the last of repeated ones), body."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    will_close: bool


class Connection:
    """A socket (plain, or TLS) and the bytes read from it that no answer has used yet.

    Every answer is read against a budget of wire bytes (its body limit, half that again for
    the framing of small chunks, and :data:`MAX_FRAMING` for status lines, headers, interim
    answers, chunk lines and trailers), so no answer can make the client read much more than
    it keeps.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray()
        self._budget = 0
        self._fresh = True  # no byte of the current answer read yet

    def close(self) -> None:
        self.sock.close()

    def idle_and_clean(self) -> bool:
        """True when nothing is waiting to be read: no bytes left over from the last answer and
        none (nor a close) arriving.  Bytes there would be read as the next request's answer."""
        if self._buffer:
            return False
        pending = getattr(self.sock, "pending", None)  # TLS: decrypted bytes ssl holds
        if pending is not None and pending():
            return False
        try:
            if hasattr(select, "poll"):  # select.select() refuses descriptors over 1023
                poller = select.poll()
                poller.register(self.sock, select.POLLIN)
                return not poller.poll(0)
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def send(self, method: str, target: str, headers: Mapping[str, str]) -> None:
        self.sock.sendall(request_bytes(method, target, headers))

    # --- reading -------------------------------------------------------------------------

    def _fill(self) -> bool:
        """Read what the socket has (at most 64 KiB); False at its end.

        A TLS connection cut without close_notify before the first byte of an answer is a
        connection the server closed (an idle one's timeout racing our reuse): the caller
        retries it as it retries a plain close.  Once an answer has begun it is an error.
        """
        try:
            data = self.sock.recv(65536)
        except OSError as err:
            tls = sys.modules.get("ssl")
            if self._fresh and tls is not None and isinstance(err, tls.SSLEOFError):
                return False
            raise
        if not data:
            return False
        self._fresh = False
        self._budget -= len(data)
        if self._budget < 0:
            raise ProtocolError(f"an answer over {MAX_FRAMING} bytes beside its body")
        self._buffer += data
        return True

    def _line(self, what: str, limit: int = 0) -> bytes:
        """One line, its LF included (without it: the connection ended first)."""
        limit = limit or MAX_LINE
        start = 0
        while True:
            end = self._buffer.find(b"\n", start, limit)
            if end >= 0:
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                return line
            if len(self._buffer) >= limit:
                raise ProtocolError(f"the {what} is over {limit} bytes")
            start = len(self._buffer)
            if not self._fill():
                line = bytes(self._buffer)
                self._buffer.clear()
                return line

    def _take(self, length: int, into: bytearray) -> bool:
        """Move ``length`` bytes into ``into``; False when the connection ends first."""
        while len(self._buffer) < length:
            if not self._fill():
                into += self._buffer
                self._buffer.clear()
                return False
        into += self._buffer[:length]
        del self._buffer[:length]
        return True

    def _chunk_end(self) -> None:
        """The CRLF (or a bare LF) after a chunk's data."""
        while len(self._buffer) < 2 and self._buffer[:1] != b"\n" and self._fill():
            pass
        if self._buffer[:2] == b"\r\n":
            del self._buffer[:2]
        elif self._buffer[:1] == b"\n":
            del self._buffer[:1]
        else:
            raise ProtocolError("a chunk not followed by CRLF")

    def _head(self, *, first: bool) -> tuple[int, str, bytes, dict[str, str], list[bytes]]:
        """The status line and header block of one answer (a 1xx one too)."""
        line = self._line("status line")
        if not line:
            if first:
                raise ClosedBeforeAnswer("the server closed the connection without an answer")
            raise ProtocolError("the server closed the connection after an interim answer")
        parts = line.rstrip(b"\r\n").split(b" ", 2)
        version = parts[0]
        code = parts[1] if len(parts) > 1 else b""
        if (
            version not in (b"HTTP/1.1", b"HTTP/1.0")
            or len(code) != 3
            or not code.isdigit()
            or code[:1] == b"0"
            or not line.endswith(b"\n")
        ):
            raise NotAnAnswer(f"not an HTTP answer: {_shown(line)}")
        reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
        return int(code), reason, version, *self._fields("header")

    def _fields(self, what: str, ended: str = "") -> tuple[dict[str, str], list[bytes]]:
        """A header (or trailer) block up to its empty line: names lower-case; Connection and
        Transfer-Encoding joined with commas when repeated (RFC 9110 5.3), others the last.
        ``ended``: the error when the connection ends inside the block."""
        headers: dict[str, str] = {}
        lengths: list[bytes] = []
        for count in range(MAX_HEADERS + 1):
            raw = self._line(f"{what} line")
            if raw in (b"\r\n", b"\n"):
                return headers, lengths
            if not raw.endswith(b"\n"):
                raise ProtocolError(ended or f"the server closed the connection in the {what}s")
            if count == MAX_HEADERS:
                break
            if raw[:1] in (b" ", b"\t"):
                raise ProtocolError(f"a folded {what} line (obsolete, refused)")
            name, colon, value = raw.partition(b":")
            if not colon or not name or not set(name) <= _TOKEN:
                raise ProtocolError(f"a malformed {what} line: {_shown(raw)}")
            text = value.strip(b" \t\r\n").decode("latin-1")
            key = name.decode("ascii").lower()
            if key == "content-length":
                lengths.append(value.strip(b" \t\r\n"))
            if key in _JOINED and key in headers:
                text = f"{headers[key]}, {text}"
            headers[key] = text
        raise ProtocolError(f"more than {MAX_HEADERS} {what} lines")

    def answer(self, method: str, limit: int) -> Answer:
        """Read one answer to ``method``; its body at most ``limit`` bytes (else BodyTooBig)."""
        # Chunked framing of small chunks is up to half the body again (16-byte chunks).
        self._budget = limit + limit // 2 + MAX_FRAMING - len(self._buffer)
        self._fresh = not self._buffer
        first = True
        for _ in range(MAX_INTERIM + 1):
            status, reason, version, headers, lengths = self._head(first=first)
            first = False
            if status >= 200 or status == 101:
                break
        else:
            raise ProtocolError(f"more than {MAX_INTERIM} interim (1xx) answers")
        connection = {t.strip().lower() for t in headers.get("connection", "").split(",")}
        will_close = "close" in connection or (
            version == b"HTTP/1.0" and "keep-alive" not in connection
        )
        if status == 101:
            raise ProtocolError("the server switched protocols (101)")
        if method == "HEAD" or status in (204, 304):
            return Answer(status, reason, headers, b"", will_close)
        codings = [c.strip().lower() for c in headers.get("transfer-encoding", "").split(",")]
        if codings != [""]:
            if codings[-1] != "chunked":
                return Answer(status, reason, headers, self._until_close(limit), True)
            return Answer(status, reason, headers, self._chunked(limit), will_close)
        if lengths:
            if len(set(lengths)) != 1:
                raise MalformedLength("conflicting Content-Length headers")
            text = lengths[0]
            if not text or not text.isdigit():
                raise MalformedLength(f"a malformed Content-Length ({_shown(text)})")
            digits = text.lstrip(b"0") or b"0"
            if len(digits) > 18 or int(digits) > limit:
                raise BodyTooBig(f"a body of {_shown(digits, 30)} bytes, over {limit}")
            body = bytearray()
            if not self._take(int(digits), body):
                raise ProtocolError(f"the body ended after {len(body)} of {int(digits)} bytes")
            return Answer(status, reason, headers, bytes(body), will_close)
        return Answer(status, reason, headers, self._until_close(limit), True)

    def _until_close(self, limit: int) -> bytes:
        body = bytearray()
        while True:
            if len(self._buffer) + len(body) > limit:
                raise BodyTooBig(f"a body over {limit} bytes")
            body += self._buffer
            self._buffer.clear()
            if not self._fill():
                return bytes(body)

    def _chunked(self, limit: int) -> bytes:
        body = bytearray()
        while True:
            line = self._line("chunk size line", MAX_CHUNK_LINE)
            if not line.endswith(b"\n"):
                raise ProtocolError("the body ended inside a chunk size line")
            digits = line.split(b";", 1)[0].strip(b" \t\r\n")
            if not digits or not set(digits) <= _HEX:
                raise ProtocolError(f"a malformed chunk size ({_shown(digits)})")
            digits = digits.lstrip(b"0") or b"0"
            if len(digits) > 15 or len(body) + int(digits, 16) > limit:
                raise BodyTooBig(f"a body over {limit} bytes")
            length = int(digits, 16)
            if length == 0:
                break
            if not self._take(length, body):
                raise ProtocolError("the body ended inside a chunk")
            self._chunk_end()
        self._fields("trailer", ended="the body ended in its trailer")  # read and dropped
        return bytes(body)


def tunnel(conn: Connection, host: str, port: int, headers: Mapping[str, str]) -> None:
    """Ask an HTTP proxy for a tunnel to ``host:port`` (CONNECT); OSError unless it says 2xx."""
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    conn.sock.sendall(request_bytes("CONNECT", authority, {"Host": authority, **headers}))
    conn._budget = MAX_FRAMING
    conn._fresh = False  # a proxy that cuts the tunnel's answer is an error, not a stale reuse
    status, reason, _, _, _ = conn._head(first=True)
    if not 200 <= status < 300:
        raise OSError(f"Tunnel connection failed: {status} {_shown(reason.encode('latin-1'))}")
    if conn._buffer:
        raise ProtocolError("the proxy sent bytes after its CONNECT answer")
