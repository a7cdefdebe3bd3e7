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

from runlayer_tf.registries._base import printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Mapping

MAX_LINE = 65536
MAX_HEADERS = 100
MAX_INTERIM = 8
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


class Answer:
    """One answer: status, headers (lower-case names; the last of repeated ones), body."""

    __slots__ = ("body", "headers", "reason", "status", "will_close")

    def __init__(
        self, status: int, reason: str, headers: dict[str, str], body: bytes, will_close: bool
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.will_close = will_close


class Connection:
    """A socket (plain, or TLS) with a buffered reader for answers."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._reader = sock.makefile("rb")

    def detach_reader(self) -> None:
        """Drop the reader, keeping the socket open (before it is wrapped in TLS)."""
        self._reader.close()

    def close(self) -> None:
        try:
            self._reader.close()
        finally:
            self.sock.close()

    def send(self, method: str, target: str, headers: Mapping[str, str]) -> None:
        self.sock.sendall(request_bytes(method, target, headers))

    # --- reading -------------------------------------------------------------------------

    def _line(self, what: str) -> bytes:
        line = self._reader.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise ProtocolError(f"the {what} is over {MAX_LINE} bytes")
        return line

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
            or not line.endswith(b"\n")
        ):
            raise NotAnAnswer(f"not an HTTP answer: {_shown(line)}")
        reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
        headers: dict[str, str] = {}
        lengths: list[bytes] = []
        for count in range(MAX_HEADERS + 1):
            raw = self._line("header line")
            if raw in (b"\r\n", b"\n"):
                return int(code), reason, version, headers, lengths
            if not raw:
                raise ProtocolError("the server closed the connection in the headers")
            if count == MAX_HEADERS:
                break
            if raw[:1] in (b" ", b"\t"):
                raise ProtocolError("a folded header line (obsolete, refused)")
            name, colon, value = raw.partition(b":")
            if not colon or not name or not set(name) <= _TOKEN:
                raise ProtocolError(f"a malformed header line: {_shown(raw)}")
            text = value.strip(b" \t\r\n")
            key = name.decode("ascii").lower()
            if key == "content-length":
                lengths.append(text)
            headers[key] = text.decode("latin-1")
        raise ProtocolError(f"more than {MAX_HEADERS} header lines")

    def answer(self, method: str, limit: int) -> Answer:
        """Read one answer to ``method``; its body at most ``limit`` bytes (else BodyTooBig)."""
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
            length = int(text[:20])
            if length > limit:
                raise BodyTooBig(f"a body of {length} bytes, over {limit}")
            return Answer(status, reason, headers, self._exactly(length), will_close)
        return Answer(status, reason, headers, self._until_close(limit), True)

    def _exactly(self, length: int) -> bytes:
        chunks: list[bytes] = []
        left = length
        while left:
            chunk = self._reader.read1(min(left, 65536))
            if not chunk:
                raise ProtocolError(f"the body ended after {length - left} of {length} bytes")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _until_close(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = self._reader.read1(65536)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                raise BodyTooBig(f"a body over {limit} bytes")
            chunks.append(chunk)

    def _chunked(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            line = self._line("chunk size line")
            if not line.endswith(b"\n"):
                raise ProtocolError("the body ended inside a chunk size line")
            digits = line.split(b";", 1)[0].strip(b" \t\r\n")
            if not digits or len(digits) > 16 or not set(digits) <= _HEX:
                raise ProtocolError(f"a malformed chunk size ({_shown(digits)})")
            length = int(digits, 16)
            if length == 0:
                break
            size += length
            if size > limit:
                raise BodyTooBig(f"a body over {limit} bytes")
            chunks.append(self._exactly(length))
            if self._reader.read(2) not in (b"\r\n",):
                raise ProtocolError("a chunk not followed by CRLF")
        for _ in range(MAX_HEADERS + 1):  # trailer fields, read and dropped
            trailer = self._line("trailer line")
            if trailer in (b"\r\n", b"\n"):
                return b"".join(chunks)
            if not trailer:
                raise ProtocolError("the body ended in its trailer")
        raise ProtocolError(f"more than {MAX_HEADERS} trailer lines")


def tunnel(conn: Connection, host: str, port: int, headers: Mapping[str, str]) -> None:
    """Ask an HTTP proxy for a tunnel to ``host:port`` (CONNECT); OSError unless it says 2xx."""
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    conn.sock.sendall(request_bytes("CONNECT", authority, {"Host": authority, **headers}))
    status, reason, _, _, _ = conn._head(first=True)
    if not 200 <= status < 300:
        raise OSError(f"Tunnel connection failed: {status} {_shown(reason.encode('latin-1'))}")
