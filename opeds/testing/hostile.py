"""A forward proxy on 127.0.0.1 whose fake hosts misbehave on purpose.

:class:`HostileWeb` answers absolute-form requests (``GET http://host.example/path HTTP/1.1``),
as an HTTP forward proxy does, so a crawler with ``http_proxy`` set reaches every fake host it
serves. It never connects anywhere itself: an URL it does not know gets a small ``404``, whatever
its host (``10.0.0.7``, ``localhost`` and ``169.254.169.254`` included).

Each URL has a :class:`Route`: the steps of one answer (bytes to send, seconds to wait, a
:data:`~tests.rawserver.HANG`, or a generator of bytes for bodies too large to hold), or one list
of steps per attempt, so a server can refuse the first request and answer the second. Every
request's bytes are logged with the time it arrived.
"""

from __future__ import annotations

import gzip
import socket
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from opeds.testing.raw import MAX_HANG, NOT_FOUND, Hang, _read_request, _ThreadedServer

Stream = Callable[[], Iterable[bytes]]
"""A step that sends the bytes a fresh generator yields (a 50 MB body without holding it)."""
HostileStep = bytes | float | Hang | Stream


@dataclass
class Route:
    """What the server sends for one URL: ``attempts[i]`` for the i-th request (the last one
    repeats), each a sequence of steps."""

    attempts: Sequence[Sequence[HostileStep]]

    @classmethod
    def of(cls, *steps: HostileStep) -> Route:
        return cls([list(steps)])


@dataclass(frozen=True)
class Hit:
    """One request as received."""

    url: str
    raw: bytes
    at: float
    """``time.monotonic()`` when the request head had arrived."""


def response(
    body: bytes = b"",
    *,
    status: int = 200,
    reason: str = "OK",
    headers: Sequence[tuple[str, str]] = (("Content-Type", "text/html; charset=utf-8"),),
    length: bool = True,
) -> bytes:
    """A complete response: status line, ``headers``, ``Content-Length`` (unless ``length`` is
    false), ``Connection: close`` and the body."""
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers)]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body


def redirect(location: str, status: int = 302) -> bytes:
    return response(
        b"", status=status, reason="Found", headers=[("Location", location)], length=True
    )


def chunked(body: bytes, size: int = 4096) -> bytes:
    out = bytearray()
    for i in range(0, len(body), size):
        part = body[i : i + size]
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    return bytes(out + b"0\r\n\r\n")


def repeat(block: bytes, total: int) -> Stream:
    """``total`` bytes made of ``block`` repeated, sent as they are made."""

    def gen() -> Iterator[bytes]:
        sent = 0
        while sent < total:
            part = block[: total - sent]
            sent += len(part)
            yield part

    return gen


def gzip_bomb(inflated: int) -> bytes:
    """A valid gzip member of ``inflated`` zero bytes (about a thousandth of that in size).

    Built from one compressed MiB of zeros repeated after full flushes, so even a GiB takes a
    moment; the trailer's CRC and size are exact, so the member is a valid gzip file.
    """
    mib = 1024 * 1024
    assert inflated % mib == 0
    zeros = bytes(mib)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    end = comp.flush(zlib.Z_FINISH)
    n = inflated // mib
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = crc.to_bytes(4, "little") + (inflated & 0xFFFFFFFF).to_bytes(4, "little")
    member = header + first + block * (n - 1) + end + trailer
    assert n > 1 or gzip.decompress(member) == zeros
    return member


class HostileWeb(_ThreadedServer):
    """Fake hosts behind a forward proxy on 127.0.0.1; see the module docstring.

    ``routes`` maps an absolute URL, as written in the request line, to its :class:`Route`;
    ``prefixes`` gives a route to every URL starting with a key (odd URLs whose exact
    spelling depends on the client's escaping).
    """

    def __init__(
        self, routes: Mapping[str, Route], prefixes: Mapping[str, Route] | None = None
    ) -> None:
        super().__init__()
        self.routes = dict(routes)
        self.prefixes = dict(prefixes or {})
        self.hits: list[Hit] = []
        self._counts: dict[str, int] = {}

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def urls_hit(self) -> list[str]:
        with self._lock:
            return [h.url for h in self.hits]

    def hits_of(self, url: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.url == url]

    def _route(self, url: str) -> Route | None:
        if url in self.routes:
            return self.routes[url]
        for prefix, route in self.prefixes.items():
            if url.startswith(prefix):
                return route
        return None

    def handle(self, conn: socket.socket) -> None:
        request = _read_request(conn)
        if not request:
            return
        line = request.split(b"\r\n", 1)[0].split(b" ")
        url = line[1].decode("latin-1") if len(line) > 1 else ""
        with self._lock:
            self.hits.append(Hit(url, request, time.monotonic()))
            n = self._counts[url] = self._counts.get(url, 0) + 1
        route = self._route(url)
        steps: Sequence[HostileStep] = [NOT_FOUND]
        if route is not None:
            steps = route.attempts[min(n, len(route.attempts)) - 1]
        for step in steps:
            if isinstance(step, Hang):
                self.stopping.wait(MAX_HANG)
                return
            if isinstance(step, float):
                self.stopping.wait(step)
            elif isinstance(step, bytes):
                conn.sendall(step)
            else:
                for part in step():
                    if self.stopping.is_set():
                        return
                    conn.sendall(part)
