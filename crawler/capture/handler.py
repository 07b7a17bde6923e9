"""A Scrapy download handler that keeps every HTTP/1.1 exchange exactly as it went over the wire.

Scrapy's Twisted handler normalises header names, loses their order and removes the chunked
transfer coding without saying so. Web archives need the exchange as received, so this handler
speaks HTTP/1.1 itself over asyncio sockets and, for every response it gets (any status:
redirects, 304, 4xx, 5xx), stores an :class:`~opeds.crawler.capture.exchange.Exchange` in
``request.meta["opeds_exchange"]`` before returning the Scrapy :class:`~scrapy.http.Response`.

Enable it with::

    DOWNLOAD_HANDLERS = {
        "http": "opeds.crawler.capture.handler.ArchivingDownloadHandler",
        "https": "opeds.crawler.capture.handler.ArchivingDownloadHandler",
    }

What it records:

- ``request_bytes``: the request line, headers, blank line and body exactly as the origin
  receives them. For a plain ``http`` URL fetched through a proxy the handler sends the
  absolute-form request line to the proxy and records the origin-form one (``GET /path?q
  HTTP/1.1``), which is what the origin sees from us; headers the proxy itself may add (``Via``,
  ``X-Forwarded-For``) cannot be known and are not recorded. Through a CONNECT tunnel the
  recorded bytes are the bytes sent inside the tunnel. ``Proxy-Authorization`` never reaches
  ``request_bytes``: it only goes to the proxy.
- ``response_head``: the final status line and header block, byte for byte, with the blank line
  that ends it. Interim ``1xx`` responses are skipped and left out.
- ``headers``: names and values as received, in order, decoded as latin-1 (so the bytes survive a
  round trip); an obs-folded value is joined with a single space. ``reason`` is latin-1 too.
- ``body``: the chunked transfer coding removed (``transfer_decoded == ["chunked"]``); any other
  transfer coding and every Content-Encoding kept, so a gzip body stays gzip (Scrapy's
  ``HttpCompressionMiddleware`` decodes the copy the spider sees).
- ``ip``: the address of the server the socket talked to, or ``None`` through a proxy, where
  the origin's address is unknown (the proxy's address is still in ``Response.ip_address``).
- ``truncated``: ``"length"`` when ``download_maxsize`` cut the body, ``"time"`` when
  ``download_timeout`` struck mid-body, ``"disconnect"`` when the connection closed before the
  body was complete, ``"unspecified"`` when the body framing broke (bad chunk size) or a
  ``StopDownload`` stopped it; ``None`` when the body is complete.

An incomplete exchange is stored in the request meta too, before the handler raises Scrapy's
usual exception (``DownloadCancelledError``, ``DownloadTimeoutError``,
``ResponseDataLossError``), so a capture component can still write it from an errback.

Each request gets its own connection and is sent with ``Connection: close``: simple, polite and
exact (no pooled connection can leak one response's bytes into the next exchange).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
import ssl
import time
from base64 import b64encode
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import unquote, urlsplit

from scrapy import signals
from scrapy.core.downloader.handlers._base_http import BaseHttpDownloadHandler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    NotConfigured,
    NotSupported,
    ResponseDataLossError,
)
from scrapy.http import Headers
from scrapy.utils._download_handlers import (
    check_stop_download,
    get_dataloss_msg,
    get_maxsize_msg,
    get_warnsize_msg,
    make_response,
    normalize_bind_address,
)
from scrapy.utils.asyncio import is_asyncio_available
from scrapy.utils.ssl import _log_sslobj_debug_info, _make_insecure_ssl_ctx, _make_ssl_context
from scrapy.utils.url import add_http_if_no_scheme

from opeds.crawler.capture.exchange import Exchange
from opeds.crawler.capture.writer_process import ARCHIVE_FAILED_STAT
from opeds.faults import crash_point

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

__all__ = [
    "EXCHANGE_META_KEY",
    "ArchivingDownloadHandler",
    "BlockedAddressError",
    "ConnectionClosedError",
    "MalformedResponseError",
    "ProxyTunnelError",
    "ResponseHead",
    "body_framing",
    "is_blocked_address",
    "read_response_head",
]

logger = logging.getLogger(__name__)

EXCHANGE_META_KEY = "opeds_exchange"
"""The request meta key under which the handler stores each :class:`Exchange`."""

LINE_LIMIT = 64 * 1024
"""Longest accepted status, header or chunk-size line."""
HEAD_LIMIT = 256 * 1024
"""Largest accepted response head (status line and all header lines)."""
MAX_INTERIM_RESPONSES = 10
"""How many ``1xx`` responses may precede the final one."""
READ_SIZE = 64 * 1024
ROBOTSTXT_MAXSIZE = 500 * 1024
"""Default ``OPEDS_ROBOTSTXT_MAXSIZE``: a longer robots.txt is read this far and obeyed (as
RFC 9309 §2.5 allows), not dropped (which would allow everything)."""

_DEFAULT_PORTS = {"http": 80, "https": 443}
_STATUS_LINE = re.compile(rb"(HTTP/\d(?:\.\d)?)[ \t]+(\d{3})(?:[ \t](.*))?\Z", re.IGNORECASE)
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}\Z")
_DECIMAL = re.compile(r"\d{1,18}\Z")
# Headers the handler writes itself (or, for proxy credentials, only sends to the proxy).
_MANAGED_REQUEST_HEADERS = {
    b"host",
    b"connection",
    b"content-length",
    b"transfer-encoding",
    b"proxy-authorization",
    b"proxy-connection",
}


class MalformedResponseError(DownloadFailedError):
    """The server's answer is not an HTTP/1.x response: a garbage status line, an oversized head,
    or an invalid Content-Length. Retryable, like Scrapy's other download failures."""


class ConnectionClosedError(DownloadFailedError):
    """The server (or proxy) closed the connection before a complete response head arrived."""


class ProxyTunnelError(DownloadConnectionRefusedError):
    """The proxy did not open the CONNECT tunnel needed for an https URL."""


class BlockedAddressError(IgnoreRequest):
    """The URL's host is, or resolves to, an address that is not globally routable (private,
    loopback, link-local, ...), and ``OPEDS_BLOCK_PRIVATE_ADDRESSES`` is on. Not retried."""


def is_blocked_address(address: str) -> bool:
    """Whether an IP address is one a production crawl must not reach: anything not globally
    routable (RFC 1918, loopback, link-local incl. cloud metadata, CGNAT, unspecified, ...)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


class _BodyIncomplete(Exception):
    """The body stopped before its framing said it ends; ``reason`` is a WARC-Truncated value."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ResponseHead:
    """A parsed status line and header block, with the bytes they were parsed from."""

    raw: bytes
    http_version: str
    status: int
    reason: str
    headers: list[tuple[str, str]]

    def values(self, name: str) -> list[str]:
        """Every value of a header, case-insensitively, in the order received."""
        lname = name.lower()
        return [v for k, v in self.headers if k.lower() == lname]

    def scrapy_headers(self) -> Headers:
        """The headers as a Scrapy :class:`Headers` object (repeated names kept, in order)."""
        return Headers([(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers])


async def read_response_head(reader: asyncio.StreamReader) -> ResponseHead:
    """Read one status line and its header block from ``reader``.

    Tolerates a missing, empty or non-ASCII reason phrase, bare LF line ends, obs-folded header
    values and header lines without a colon (kept in ``raw``, not parsed). Raises
    :class:`ConnectionClosedError` on EOF and :class:`MalformedResponseError` when the bytes are
    not an HTTP/1.x response head.
    """
    line = await _read_head_line(reader, first=True)
    for _ in range(4):  # RFC 9112 §2.2: ignore stray blank lines before the status line
        if line.strip(b"\r\n"):
            break
        line = await _read_head_line(reader, first=True)
    match = _STATUS_LINE.match(_strip_eol(line))
    if match is None:
        raise MalformedResponseError(f"not an HTTP/1.x status line: {line[:100]!r}")
    raw = bytearray(line)
    headers: list[tuple[str, str]] = []
    while True:
        line = await _read_head_line(reader, first=False)
        raw += line
        if len(raw) > HEAD_LIMIT:
            raise MalformedResponseError(f"response head larger than {HEAD_LIMIT} bytes")
        content = _strip_eol(line)
        if not content:
            break
        text = content.decode("latin-1")
        if text[0] in " \t":
            if headers:  # obs-fold: a continuation of the previous header's value
                name, value = headers[-1]
                headers[-1] = (name, (value + " " + text.strip(" \t")).strip(" "))
            continue
        name, colon, value = text.partition(":")
        name = name.rstrip(" \t")
        if colon and name:
            headers.append((name, value.strip(" \t")))
    version, status, reason = match.group(1), match.group(2), match.group(3) or b""
    return ResponseHead(
        raw=bytes(raw),
        http_version=version.decode("ascii").upper(),
        status=int(status),
        reason=reason.strip(b" \t").decode("latin-1"),
        headers=headers,
    )


async def _read_head_line(reader: asyncio.StreamReader, *, first: bool) -> bytes:
    try:
        return await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as e:
        if first and not e.partial:
            raise ConnectionClosedError("connection closed before any response") from e
        if first and not _STATUS_LINE.match(_strip_eol(e.partial)):
            raise MalformedResponseError(f"not an HTTP/1.x status line: {e.partial[:100]!r}") from e
        raise ConnectionClosedError("connection closed in the middle of the response head") from e
    except asyncio.LimitOverrunError as e:
        raise MalformedResponseError(f"response head line longer than {LINE_LIMIT} bytes") from e
    except OSError as e:
        raise ConnectionClosedError(f"connection lost while reading the response head: {e}") from e


def _strip_eol(line: bytes) -> bytes:
    if line.endswith(b"\n"):
        line = line[:-1]
    if line.endswith(b"\r"):
        line = line[:-1]
    return line


def body_framing(method: str, head: ResponseHead) -> tuple[str, int | None]:
    """How the body of a response is delimited (RFC 9112 §6.3).

    Returns ``("none", 0)`` for HEAD, 1xx, 204 and 304, ``("chunked", None)`` when chunked is the
    final transfer coding, ``("length", n)`` for a valid Content-Length and ``("close", None)``
    when the body runs until the server closes. Conflicting or invalid Content-Length values
    raise :class:`MalformedResponseError`.
    """
    if method.upper() == "HEAD" or head.status < 200 or head.status in (204, 304):
        return "none", 0
    codings = [c.strip().lower() for v in head.values("Transfer-Encoding") for c in v.split(",")]
    codings = [c for c in codings if c]
    if codings:
        return ("chunked", None) if codings[-1] == "chunked" else ("close", None)
    lengths = {
        v.strip() for value in head.values("Content-Length") for v in value.split(",") if v.strip()
    }
    if not lengths:
        return "close", None
    if len(lengths) > 1 or not _DECIMAL.match(next(iter(lengths))):
        raise MalformedResponseError(f"invalid Content-Length: {sorted(lengths)!r}")
    return "length", int(lengths.pop())


class _BodyReader:
    """Yields the body's bytes with the chunked transfer coding removed."""

    def __init__(self, reader: asyncio.StreamReader, framing: str, length: int | None) -> None:
        self._reader = reader
        self._framing = framing
        self._length = length
        self.done = framing == "none" or (framing == "length" and length == 0)
        """Whether the whole body has been read."""

    async def chunks(self) -> AsyncIterator[bytes]:
        if self.done:
            return
        if self._framing == "length":
            assert self._length is not None
            async for data in self._read_exactly(self._length, "body", final=True):
                yield data
        elif self._framing == "chunked":
            async for data in self._dechunk():
                yield data
        else:
            while data := await self._read(READ_SIZE):
                yield data
            self.done = True

    async def _read_exactly(self, size: int, what: str, *, final: bool) -> AsyncIterator[bytes]:
        remaining = size
        while remaining:
            data = await self._read(min(remaining, READ_SIZE))
            if not data:
                raise _BodyIncomplete(
                    "disconnect",
                    f"connection closed with {remaining} of {size} {what} bytes still expected",
                )
            remaining -= len(data)
            if final and not remaining:
                self.done = True
            yield data

    async def _dechunk(self) -> AsyncIterator[bytes]:
        while True:
            line = await self._line("chunk size")
            size_field = _strip_eol(line).split(b";", 1)[0].strip(b" \t")
            if not _CHUNK_SIZE.match(size_field):
                raise _BodyIncomplete("unspecified", f"invalid chunk size line: {line[:100]!r}")
            size = int(size_field, 16)
            if size == 0:
                break
            async for data in self._read_exactly(size, "chunk", final=False):
                yield data
            line = await self._line("chunk end")
            if _strip_eol(line):
                raise _BodyIncomplete("unspecified", f"chunk not followed by CRLF: {line[:100]!r}")
        # Trailer section: read and drop it; a connection closed here lost no body bytes.
        for _ in range(1000):
            try:
                line = await self._line("trailer")
            except _BodyIncomplete:
                break
            if not _strip_eol(line):
                break
        self.done = True

    async def _read(self, size: int) -> bytes:
        try:
            return await self._reader.read(size)
        except ssl.SSLError as e:
            if self._framing == "close" and "EOF" in str(e):
                return b""  # no TLS close_notify: the usual way servers end such bodies
            raise _BodyIncomplete("disconnect", f"TLS error while reading the body: {e}") from e
        except OSError as e:
            raise _BodyIncomplete("disconnect", f"connection lost: {e}") from e

    async def _line(self, what: str) -> bytes:
        try:
            return await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as e:
            raise _BodyIncomplete("disconnect", f"connection closed while reading {what}") from e
        except asyncio.LimitOverrunError as e:
            raise _BodyIncomplete("unspecified", f"{what} line longer than {LINE_LIMIT}") from e
        except OSError as e:
            raise _BodyIncomplete("disconnect", f"connection lost: {e}") from e


@dataclass(frozen=True)
class _Target:
    """Where a URL points and how it is written in a request."""

    scheme: str
    host: str
    port: int
    host_header: bytes
    origin_form: bytes
    """``/path?query``: the request target sent to the origin."""

    @classmethod
    def from_url(cls, url: str) -> _Target:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise NotSupported(f"{url!r} is not an http(s) URL with a host")
        default_port = _DEFAULT_PORTS[scheme]
        port = parts.port or default_port
        host = parts.hostname
        authority = f"[{host}]" if ":" in host else host
        host_header = authority if port == default_port else f"{authority}:{port}"
        # The path and query as written in the URL (a bare "?" survives), without fragment.
        rest = url.split("://", 1)[1].split("#", 1)[0]
        cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
        target = rest[cut:]
        if not target.startswith("/"):
            target = "/" + target
        return cls(scheme, host, port, host_header.encode("ascii"), target.encode("utf-8"))

    @property
    def absolute_form(self) -> bytes:
        return self.scheme.encode("ascii") + b"://" + self.host_header + self.origin_form

    @property
    def authority(self) -> bytes:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}".encode("ascii")


@dataclass(frozen=True)
class _Proxy:
    scheme: str
    host: str
    port: int
    authorization: bytes | None

    @classmethod
    def from_request(cls, request: Request, auth_encoding: str) -> _Proxy | None:
        url: str | None = request.meta.get("proxy")
        if not url:
            return None
        parts = urlsplit(add_http_if_no_scheme(url))
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise NotSupported(f"unsupported proxy {url!r}: only http:// and https:// proxies")
        auth: bytes | None = request.headers.get(b"Proxy-Authorization")
        if auth is None and parts.username is not None:
            creds = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            auth = b"Basic " + b64encode(creds.encode(auth_encoding))
        return cls(scheme, parts.hostname, parts.port or _DEFAULT_PORTS[scheme], auth)


def _request_head(request: Request, target: _Target, request_target: bytes) -> bytes:
    """The request line and headers Scrapy asked for, with Host and Content-Length managed here
    and proxy credentials left out (HTTP/1.1: the connection stays open unless a side closes it)."""
    host = request.headers.get(b"Host") or target.host_header
    lines = [
        request.method.encode("ascii") + b" " + request_target + b" HTTP/1.1",
        b"Host: " + host,
    ]
    for name, values in request.headers.items():
        if name.lower() in _MANAGED_REQUEST_HEADERS:
            continue
        lines.extend(name + b": " + value for value in values)
    if request.body or request.method.upper() in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: " + str(len(request.body)).encode("ascii"))
    for line in lines:
        if b"\r" in line or b"\n" in line:
            raise ValueError(f"line break in a request header: {line[:100]!r}")
    return b"\r\n".join(lines) + b"\r\n\r\n"


@dataclass
class _Attempt:
    """The state of one exchange in progress, so any exit (timeout included) can record it."""

    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    peer: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    proxied: bool = False
    certificate: bytes | None = None
    request_bytes: bytes = b""
    started: datetime | None = None
    head: ResponseHead | None = None
    framing: str = "none"
    body: bytearray = field(default_factory=bytearray)
    pool_key: tuple[Any, ...] | None = None
    """Which kept connections may serve this exchange (host, port, proxy, bind address)."""
    reused: bool = False
    """The connection carried an earlier exchange."""
    reusable: bool = False
    """The exchange ended cleanly on a connection that may carry another."""

    def record(self, request: Request, truncated: str | None) -> bytes:
        """Store the exchange so far in ``request.meta``; return its body (shared, not copied)."""
        exchange = self.exchange(request, truncated)
        request.meta[EXCHANGE_META_KEY] = exchange
        return exchange.body

    def exchange(self, request: Request, truncated: str | None) -> Exchange:
        assert self.head is not None and self.started is not None
        return Exchange(
            url=request.url,
            method=request.method,
            request_bytes=self.request_bytes,
            started=self.started,
            http_version=self.head.http_version,
            status=self.head.status,
            reason=self.head.reason,
            response_head=self.head.raw,
            headers=list(self.head.headers),
            body=bytes(self.body),
            transfer_decoded=["chunked"] if self.framing == "chunked" else [],
            ip=None if self.proxied or self.peer is None else str(self.peer),
            truncated=truncated,
        )

    def close(self, *, clean: bool) -> None:
        if self.writer is None:
            return
        if clean:
            self.writer.close()
        else:
            self.writer.transport.abort()
        self.writer = None


MAX_IDLE_PER_HOST = 4
"""Open connections kept per host (and proxy) between requests."""
IDLE_SECONDS = 4.0
"""A kept connection unused this long is closed rather than reused (servers close idle ones)."""


@dataclass
class _Idle:
    """A connection between two exchanges."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    peer: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    proxied: bool
    certificate: bytes | None
    since: float

    def resume(self, attempt: _Attempt) -> None:
        attempt.reader, attempt.writer = self.reader, self.writer
        attempt.peer, attempt.proxied, attempt.certificate = (
            self.peer,
            self.proxied,
            self.certificate,
        )
        attempt.reused = True


def _reusable(head: ResponseHead | None, framing: str) -> bool:
    """Whether a connection may carry another exchange after this complete response.

    Only when the server says so (``Connection: keep-alive``, as nginx, Apache and CDNs do): a
    server that answers HTTP/1.1 without it may still neither read another request nor close.
    """
    if head is None or head.http_version != "HTTP/1.1" or framing == "close":
        return False
    tokens = {t.strip().lower() for v in head.values("Connection") for t in v.split(",")}
    return "keep-alive" in tokens and "close" not in tokens


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ArchivingDownloadHandler(BaseHttpDownloadHandler):
    """HTTP/1.1 over asyncio sockets, recording each exchange in ``request.meta``.

    Honours ``download_timeout`` (connect and whole response), ``download_maxsize``,
    ``download_warnsize``, ``download_fail_on_dataloss``, ``proxy`` (absolute-form for http URLs,
    CONNECT then TLS for https URLs), ``bindaddress``, the ``headers_received`` and
    ``bytes_received`` signals (``StopDownload``) and Scrapy's TLS settings. Certificates are not
    verified unless ``DOWNLOAD_VERIFY_CERTIFICATES`` is set: an archive captures what the server
    sends.
    """

    lazy = False

    def __init__(self, crawler: Crawler, *, clock: Callable[[], datetime] = _utc_now) -> None:
        if not is_asyncio_available():
            raise NotConfigured(
                f"{type(self).__name__} needs asyncio: keep Scrapy's default TWISTED_REACTOR "
                "(twisted.internet.asyncioreactor.AsyncioSelectorReactor)."
            )
        super().__init__(crawler)
        settings = crawler.settings
        self._clock = clock
        self._default_timeout = settings.getfloat("DOWNLOAD_TIMEOUT")
        self._bind_address = normalize_bind_address(settings.get("DOWNLOAD_BIND_ADDRESS"))
        self._auth_encoding: str = settings.get("HTTPPROXY_AUTH_ENCODING") or "latin-1"
        self._ssl_context = _make_ssl_context(settings)
        self._ssl_context.set_alpn_protocols(["http/1.1"])
        self._proxy_ssl_context = _make_insecure_ssl_ctx()
        self._block_private = settings.getbool("OPEDS_BLOCK_PRIVATE_ADDRESSES", False)
        self._robots_maxsize = settings.getint("OPEDS_ROBOTSTXT_MAXSIZE", ROBOTSTXT_MAXSIZE)
        self._idle: dict[tuple[Any, ...], list[_Idle]] = {}

    def _take_idle(self, key: tuple[Any, ...]) -> _Idle | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            fresh = time.monotonic() - conn.since < IDLE_SECONDS
            if fresh and not conn.writer.is_closing() and not conn.reader.at_eof():
                return conn
            conn.writer.transport.abort()
        return None

    def _keep(self, key: tuple[Any, ...], attempt: _Attempt) -> bool:
        """Park a connection whose exchange ended cleanly, for the next request to the host."""
        assert attempt.reader is not None and attempt.writer is not None
        idle = self._idle.setdefault(key, [])
        if len(idle) >= MAX_IDLE_PER_HOST or len(getattr(attempt.reader, "_buffer", b"")):
            return False  # bytes beyond the response: the connection is out of step
        idle.append(
            _Idle(
                attempt.reader,
                attempt.writer,
                attempt.peer,
                attempt.proxied,
                attempt.certificate,
                time.monotonic(),
            )
        )
        attempt.writer = attempt.reader = None
        return True

    async def download_request(self, request: Request) -> Response:
        stats = self.crawler.stats
        if stats and stats.get_value(ARCHIVE_FAILED_STAT):
            # queued before archiving failed: what cannot be archived is not fetched
            raise IgnoreRequest("not fetched: archiving has stopped")
        # A retried or redirected request carries a copy of the previous attempt's meta.
        request.meta.pop(EXCHANGE_META_KEY, None)
        timeout = float(request.meta.get("download_timeout", self._default_timeout) or 0)
        attempt = _Attempt()
        clean = False
        try:
            async with asyncio.timeout(timeout if timeout > 0 else None):
                response = await self._download(request, attempt)
            clean = True
            return response
        except TimeoutError as e:
            if attempt.head is not None:
                attempt.record(request, "time")
            raise DownloadTimeoutError(
                f"Getting {request.url} took longer than {timeout} seconds."
            ) from e
        finally:
            key = attempt.pool_key
            if not (clean and attempt.reusable and key is not None and self._keep(key, attempt)):
                attempt.close(clean=clean)

    async def _download(self, request: Request, attempt: _Attempt) -> Response:
        target = _Target.from_url(request.url)
        proxy = _Proxy.from_request(request, self._auth_encoding)
        origin_bytes = _request_head(request, target, target.origin_form) + request.body
        wire_bytes = origin_bytes
        if proxy is not None and target.scheme == "http":
            wire_bytes = _request_head(request, target, target.absolute_form)
            if proxy.authorization:
                wire_bytes = wire_bytes[:-2] + _header(b"Proxy-Authorization", proxy.authorization)
                wire_bytes += b"\r\n"
            wire_bytes += request.body

        start_time = time.monotonic()
        if self._block_private:
            await _refuse_blocked_host(target.host)
        bind = request.meta.get("bindaddress") or self._bind_address
        key = (
            target.scheme,
            target.host,
            target.port,
            None if proxy is None else (proxy.scheme, proxy.host, proxy.port, proxy.authorization),
            str(bind),
        )
        attempt.pool_key = key
        idle = self._take_idle(key)
        if idle is not None:
            idle.resume(attempt)
        else:
            await self._connect(request, attempt, target, proxy)
        peer = None if attempt.proxied else attempt.peer
        if self._block_private and peer is not None and is_blocked_address(str(peer)):
            # a name that resolved to a public address a moment ago, and not now
            raise BlockedAddressError(f"{target.host} is at {attempt.peer}: not fetched")
        attempt.request_bytes = origin_bytes
        attempt.started = self._clock()
        try:
            await _send(attempt, wire_bytes)
            head = await self._read_final_head(attempt)
        except (DownloadFailedError, ConnectionError) as e:
            if not attempt.reused:
                raise
            # the server closed the idle connection before it saw this request: a new one
            logger.debug("kept-alive connection to %s gone (%s); reconnecting", target.host, e)
            attempt.close(clean=False)
            attempt.reused = False
            await self._connect(request, attempt, target, proxy)
            attempt.started = self._clock()
            await _send(attempt, wire_bytes)
            head = await self._read_final_head(attempt)
        request.meta["download_latency"] = time.monotonic() - start_time
        attempt.head = head
        try:
            framing, length = body_framing(request.method, head)
        except MalformedResponseError:
            attempt.record(request, "unspecified")  # the head is archived; the body unread
            raise
        attempt.framing = framing
        return await self._read_body(request, attempt, length)

    async def _read_final_head(self, attempt: _Attempt) -> ResponseHead:
        assert attempt.reader is not None
        for _ in range(MAX_INTERIM_RESPONSES + 1):
            head = await read_response_head(attempt.reader)
            if not 100 <= head.status < 200 or head.status == 101:
                return head
        raise MalformedResponseError(f"more than {MAX_INTERIM_RESPONSES} interim responses")

    async def _read_body(self, request: Request, attempt: _Attempt, length: int | None) -> Response:
        assert attempt.head is not None and attempt.reader is not None
        maxsize: int = request.meta.get("download_maxsize", self._default_maxsize)
        warnsize: int = request.meta.get("download_warnsize", self._default_warnsize)
        keep_prefix = _is_robots_request(request) and self._robots_maxsize > 0
        if keep_prefix:  # read a robots.txt this far and use it, rather than fail
            maxsize = min(maxsize, self._robots_maxsize) if maxsize else self._robots_maxsize
        headers = attempt.head.scrapy_headers()
        response_args: dict[str, Any] = {
            "url": request.url,
            "status": attempt.head.status,
            "headers": headers,
            "certificate": attempt.certificate,
            "ip_address": attempt.peer,
            "protocol": attempt.head.http_version,
        }
        if maxsize and length and length > maxsize and not keep_prefix:
            attempt.record(request, "length")
            _cancel_maxsize(length, maxsize, request, expected=True)
        warned = False
        if warnsize and length and length > warnsize:
            warned = True
            logger.warning(get_warnsize_msg(length, warnsize, request, expected=True))

        body = _BodyReader(attempt.reader, attempt.framing, length)
        if stop := check_stop_download(
            signals.headers_received, self.crawler, request, headers=headers, body_length=length
        ):
            attempt.record(request, None if body.done else "unspecified")
            return make_response(**response_args, stop_download=stop)

        try:
            async for chunk in body.chunks():
                attempt.body += chunk
                crash_point("http-response")
                received = len(attempt.body)
                if stop := check_stop_download(
                    signals.bytes_received, self.crawler, request, data=chunk
                ):
                    received_body = attempt.record(request, None if body.done else "unspecified")
                    return make_response(**response_args, body=received_body, stop_download=stop)
                if maxsize and received > maxsize:
                    del attempt.body[maxsize:]
                    received_body = attempt.record(request, "length")
                    if keep_prefix:
                        logger.warning(
                            "%s is larger than %d bytes: only its first %d bytes are used",
                            request.url,
                            maxsize,
                            maxsize,
                        )
                        return make_response(
                            **response_args, body=received_body, flags=["truncated"]
                        )
                    _cancel_maxsize(received, maxsize, request, expected=False)
                if warnsize and received > warnsize and not warned:
                    warned = True
                    logger.warning(get_warnsize_msg(received, warnsize, request, expected=False))
        except _BodyIncomplete as e:
            received_body = attempt.record(request, e.reason)
            fail: bool = request.meta.get("download_fail_on_dataloss", self._fail_on_dataloss)
            if not fail:
                return make_response(**response_args, body=received_body, flags=["dataloss"])
            if not self._fail_on_dataloss_warned:
                logger.warning(get_dataloss_msg(request.url))
                self._fail_on_dataloss_warned = True
            raise ResponseDataLossError(str(e)) from e

        attempt.reusable = _reusable(attempt.head, attempt.framing)
        return make_response(**response_args, body=attempt.record(request, None))

    async def _connect(
        self, request: Request, attempt: _Attempt, target: _Target, proxy: _Proxy | None
    ) -> None:
        """Open the connection (through the proxy and its tunnel, if any), TLS included."""
        bind = request.meta.get("bindaddress") or self._bind_address
        if isinstance(bind, str):
            bind = (bind, 0)
        if proxy is None:
            ssl_ctx = self._ssl_context if target.scheme == "https" else None
            await _open(attempt, target.host, target.port, ssl_ctx, target.host, bind)
        else:
            ssl_ctx = self._proxy_ssl_context if proxy.scheme == "https" else None
            await _open(attempt, proxy.host, proxy.port, ssl_ctx, proxy.host, bind)
            attempt.proxied = True
            if target.scheme == "https":
                await _open_tunnel(attempt, target, proxy)
                await _start_tls(attempt, self._ssl_context, target.host)
        assert attempt.writer is not None
        ssl_object = attempt.writer.get_extra_info("ssl_object")
        if isinstance(ssl_object, ssl.SSLObject):
            attempt.certificate = ssl_object.getpeercert(binary_form=True)
            if self._tls_verbose_logging:
                _log_sslobj_debug_info(ssl_object)

    async def close(self) -> None:
        """Close the connections kept for further requests."""
        for idle in self._idle.values():
            for conn in idle:
                conn.writer.close()
        self._idle.clear()


def _is_robots_request(request: Request) -> bool:
    """The robots.txt request of Scrapy's RobotsTxtMiddleware."""
    return bool(request.meta.get("dont_obey_robotstxt")) and urlsplit(request.url).path == (
        "/robots.txt"
    )


async def _refuse_blocked_host(host: str) -> None:
    """Raise :class:`BlockedAddressError` when ``host`` is, or resolves to, a blocked address.

    The URL's own host is checked, not the proxy's: through a proxy a name that does not
    resolve here is left to the proxy; without one it fails at connect time as usual.
    """
    try:
        if is_blocked_address(host):
            raise BlockedAddressError(f"{host} is not a public address: not fetched")
        return
    except ValueError:
        pass  # a name, not an address
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return
    blocked = sorted({str(info[4][0]) for info in infos if is_blocked_address(str(info[4][0]))})
    if blocked:
        raise BlockedAddressError(f"{host} resolves to {', '.join(blocked)}: not fetched")


def _header(name: bytes, value: bytes) -> bytes:
    return name + b": " + value + b"\r\n"


async def _open(
    attempt: _Attempt,
    host: str,
    port: int,
    ssl_ctx: ssl.SSLContext | None,
    server_hostname: str,
    bind: tuple[str, int] | None,
) -> None:
    try:
        attempt.reader, attempt.writer = await asyncio.open_connection(
            host,
            port,
            ssl=ssl_ctx,
            server_hostname=server_hostname if ssl_ctx else None,
            local_addr=bind,
            limit=LINE_LIMIT,
            happy_eyeballs_delay=0.25,
        )
    except socket.gaierror as e:
        raise CannotResolveHostError(f"cannot resolve {host!r}: {e}") from e
    except ssl.SSLError as e:
        raise DownloadFailedError(f"TLS handshake with {host}:{port} failed: {e}") from e
    except TimeoutError:
        raise
    except OSError as e:
        raise DownloadConnectionRefusedError(f"cannot connect to {host}:{port}: {e}") from e
    peer = attempt.writer.get_extra_info("peername")
    if peer:
        attempt.peer = ipaddress.ip_address(peer[0])


async def _open_tunnel(attempt: _Attempt, target: _Target, proxy: _Proxy) -> None:
    assert attempt.reader is not None
    connect = b"CONNECT " + target.authority + b" HTTP/1.1\r\n" + _header(b"Host", target.authority)
    if proxy.authorization:
        connect += _header(b"Proxy-Authorization", proxy.authorization)
    await _send(attempt, connect + b"\r\n")
    try:
        head = await read_response_head(attempt.reader)
    except DownloadFailedError as e:
        raise ProxyTunnelError(
            f"Could not open CONNECT tunnel with proxy {proxy.host}:{proxy.port}: {e}"
        ) from e
    if not 200 <= head.status < 300:
        raise ProxyTunnelError(
            f"Could not open CONNECT tunnel with proxy {proxy.host}:{proxy.port} "
            f"[{{'status': {head.status}, 'reason': {head.reason!r}}}]"
        )


async def _start_tls(attempt: _Attempt, ssl_ctx: ssl.SSLContext, server_hostname: str) -> None:
    assert attempt.writer is not None
    try:
        await attempt.writer.start_tls(ssl_ctx, server_hostname=server_hostname)
    except ssl.SSLError as e:
        raise DownloadFailedError(f"TLS handshake with {server_hostname} failed: {e}") from e
    except OSError as e:
        if isinstance(e, TimeoutError):
            raise
        raise DownloadFailedError(f"TLS handshake with {server_hostname} failed: {e}") from e


async def _send(attempt: _Attempt, data: bytes) -> None:
    assert attempt.writer is not None
    try:
        attempt.writer.write(data)
        await attempt.writer.drain()
    except OSError as e:
        if isinstance(e, TimeoutError):
            raise
        raise DownloadFailedError(f"connection lost while sending the request: {e}") from e


def _cancel_maxsize(size: int, limit: int, request: Request, *, expected: bool) -> NoReturn:
    message = get_maxsize_msg(size, limit, request, expected=expected)
    logger.warning(message)
    raise DownloadCancelledError(message)
