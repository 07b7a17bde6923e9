"""A web of fake hosts served on 127.0.0.1: pages keyed by absolute URL, reached through a proxy.

:class:`LoopbackWeb` is a small threaded HTTP/1.1 server bound to 127.0.0.1 that answers

* absolute-form requests (``GET http://levant-review.example/opinion/ HTTP/1.1``), as an HTTP
  forward proxy does, so a client with ``http_proxy=http://127.0.0.1:PORT`` reaches any ``http``
  URL it holds;
* ``CONNECT host:443``: it answers ``200``, then terminates TLS itself with a certificate for that
  host signed by a certificate authority made at start (:attr:`LoopbackWeb.ca_pem`; clients that
  do not verify certificates need nothing) and serves the requests inside the tunnel, so
  ``https_proxy`` works too;
* origin-form requests (``GET /opinion/``) by their ``Host`` header, as a plain virtual-host
  server.

Pages are matched by exact URL after light normalisation (scheme and host lower-cased, default
port dropped, empty path ``/``, percent-encoding of the path made uniform): the query string is
part of the key. With ``strip_query_fallback=True`` a URL whose query is unknown falls back to
the page without a query. Unknown URLs get a small ``404``; hosts marked with :meth:`set_down`
have their connections reset, as if the outlet were unreachable.

Everything received is kept in :attr:`LoopbackWeb.requests` and every response's exact bytes in
:attr:`LoopbackWeb.sent`, so tests can compare what a crawler archived with what went over the
wire.
"""

from __future__ import annotations

import contextlib
import gzip as gzip_module
import ipaddress
import socket
import socketserver
import ssl
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["LoggedRequest", "LoopbackWeb", "Page", "normalize_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_MAX_HEAD = 64 * 1024
_IDLE_TIMEOUT = 30.0
_NO_BODY_STATUSES = (204, 304)
_DEFAULT_CONTENT_TYPE = "text/html; charset=utf-8"


@dataclass
class Page:
    """One resource and how it is sent.

    ``headers`` are written in this order and exact case. The server adds, unless the page
    already names them: ``Date`` (first), ``Content-Type`` (default ``text/html;
    charset=utf-8``), ``ETag``, ``Last-Modified``, ``Content-Encoding: gzip``, then the framing
    (``Content-Length`` or ``Transfer-Encoding: chunked``) and ``Connection: keep-alive``, or
    ``Connection: close`` when the connection ends after this response.
    """

    body: bytes
    status: int = 200
    reason: str | None = None
    """Reason phrase; default the standard one for :attr:`status`."""
    headers: list[tuple[str, str]] = field(default_factory=list)
    chunked: bool = False
    """Send the body with ``Transfer-Encoding: chunked`` framing (chunks of :attr:`chunk_size`)."""
    chunk_size: int = 2048
    gzip: bool = False
    """Send the body gzip-compressed (deterministically: no file name, mtime 0) with
    ``Content-Encoding: gzip``, whatever the request's ``Accept-Encoding``."""
    etag: str | None = None
    """Entity tag, quoted as sent (``"abc"`` or ``W/"abc"``; quotes are added when missing).
    Enables ``If-None-Match`` -> ``304``."""
    last_modified: str | None = None
    """An HTTP date. Enables ``If-Modified-Since`` -> ``304``."""
    delay: float = 0.0
    """Seconds to wait before answering (slow servers, timeouts)."""

    @classmethod
    def html(cls, text: str, **kwargs: Any) -> Page:
        """A page from HTML text, encoded as UTF-8."""
        return cls(text.encode("utf-8"), **kwargs)

    @classmethod
    def redirect(cls, location: str, status: int = 301) -> Page:
        """A redirect to ``location`` with a tiny HTML body, as servers send."""
        body = f'<html><body><a href="{location}">Moved</a></body></html>\n'.encode()
        return cls(body, status=status, headers=[("Location", location)])

    def encoded_body(self) -> bytes:
        """The body as it goes on the wire, before any chunked framing."""
        if self.gzip:
            return gzip_module.compress(self.body, compresslevel=6, mtime=0)
        return self.body


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the server received it."""

    time: datetime
    method: str
    url: str
    """The absolute URL requested (normalised), or ``host:port`` for ``CONNECT``."""
    headers: list[tuple[str, str]]
    raw: bytes
    """Request line, headers, blank line and body exactly as received."""
    client: tuple[str, int]
    tls: bool
    """Received inside a ``CONNECT`` tunnel."""


def normalize_url(url: str) -> str:
    """The key a URL is served under: scheme and host lower-cased, default port dropped, empty
    path ``/``, path percent-encoding made uniform, fragment dropped; the query is kept as is."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    path = quote(unquote(parts.path), safe=_PATH_SAFE) or "/"
    return urlunsplit((scheme, netloc, path, parts.query, ""))


class _BadRequest(Exception):
    pass


@dataclass
class _Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return None

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in (self.header("Connection") or "").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


def _parse_head(head: bytes) -> _Request:
    try:
        text = head.decode("iso-8859-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
        raise _BadRequest("undecodable head") from None
    lines = text.replace("\r\n", "\n").split("\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequest(f"bad request line {lines[0]!r}")
    method, target, version = parts
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t" and headers:  # obsolete line folding
            k, v = headers[-1]
            headers[-1] = (k, f"{v} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _BadRequest(f"bad header line {line!r}")
        headers.append((name, value.strip()))
    return _Request(method, target, version, headers)


class _Conn:
    """A client connection with its own read buffer (so it can be upgraded to TLS)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def read_head(self) -> bytes | None:
        """The next request head up to and including its blank line; None at a clean EOF."""
        while True:
            while self.buf[:2] == b"\r\n":  # stray CRLF between requests
                del self.buf[:2]
            crlf, lf = self.buf.find(b"\r\n\r\n"), self.buf.find(b"\n\n")
            ends = [(i, n) for i, n in ((crlf, 4), (lf, 2)) if i >= 0]
            if ends:
                i, n = min(ends)
                head = bytes(self.buf[: i + n])
                del self.buf[: i + n]
                return head
            if len(self.buf) > _MAX_HEAD:
                raise _BadRequest("request head too large")
            if not self._fill():
                if self.buf:
                    raise _BadRequest("connection closed inside a request head")
                return None

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise _BadRequest("connection closed inside a request body")
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_line(self) -> bytes:
        while (i := self.buf.find(b"\n")) < 0:
            if len(self.buf) > _MAX_HEAD or not self._fill():
                raise _BadRequest("bad chunked body")
        data = bytes(self.buf[: i + 1])
        del self.buf[: i + 1]
        return data

    def read_body(self, req: _Request) -> bytes:
        """The request body exactly as received (chunked framing kept)."""
        if "chunked" in (req.header("Transfer-Encoding") or "").lower():
            raw = bytearray()
            while True:
                line = self.read_line()
                raw += line
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise _BadRequest("bad chunk size") from None
                if size == 0:
                    while (trailer := self.read_line()) not in (b"\r\n", b"\n"):
                        raw += trailer
                    raw += trailer
                    return bytes(raw)
                raw += self.read_exact(size)
                raw += self.read_line()
        length = req.header("Content-Length")
        if length is None:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise _BadRequest("bad Content-Length") from None
        return self.read_exact(n)

    def start_tls(self, context: ssl.SSLContext) -> None:
        if self.buf:
            raise _BadRequest("data sent before the CONNECT reply")
        self.sock = context.wrap_socket(self.sock, server_side=True)

    def reset(self) -> None:
        """Close with RST instead of FIN: the client sees 'connection reset'."""
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    def abort(self) -> None:
        """Wake a thread blocked reading this connection (used at shutdown)."""
        with contextlib.suppress(OSError):
            # socket.shutdown on the object itself: SSLSocket.shutdown would tear down the
            # TLS state under the reading thread's feet.
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class _Certificates:
    """A certificate authority made at start and a leaf certificate per host, on demand."""

    def __init__(self, now: datetime) -> None:
        self._now = now
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "opeds loopback CA")])
        self.ca = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    @property
    def ca_pem(self) -> bytes:
        return self.ca.public_bytes(serialization.Encoding.PEM)

    def context_for(self, host: str) -> ssl.SSLContext:
        with self._lock:
            ctx = self._contexts.get(host)
            if ctx is None:
                ctx = self._contexts[host] = self._make_context(host)
            return ctx

    def _make_context(self, host: str) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        try:
            alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            alt = x509.DNSName(host)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host[:64])]))
            .issuer_name(self.ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._now - timedelta(days=1))
            .not_valid_after(self._now + timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.set_alpn_protocols(["http/1.1"])
        pem = (
            cert.public_bytes(serialization.Encoding.PEM)
            + self.ca_pem
            + key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        # load_cert_chain only reads files.
        with tempfile.TemporaryDirectory(prefix="opeds-loopback-") as tmp:
            path = Path(tmp) / "cert.pem"
            path.write_bytes(pem)
            ctx.load_cert_chain(path)
        ctx.sni_callback = self._on_sni
        return ctx

    def _on_sni(self, sock: ssl.SSLObject, server_name: str | None, ctx: ssl.SSLContext) -> None:
        # The tunnel's context was chosen from the CONNECT target; follow SNI if it differs.
        if server_name:
            wanted = self.context_for(server_name.lower())
            if wanted is not ctx:
                sock.context = wanted


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    # socketserver's default backlog (5) drops SYNs when clients open connections in bursts: each
    # dropped one costs the client a 1 s retransmit; real servers listen with hundreds
    request_queue_size = 512

    def __init__(self, address: tuple[str, int], web: LoopbackWeb) -> None:
        self.web = web
        super().__init__(address, _Handler)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server
    request: socket.socket

    def handle(self) -> None:
        self.server.web._serve_connection(self.request, self.client_address)

    def finish(self) -> None:  # the connection is closed by _serve_connection
        pass


class LoopbackWeb:
    """Pages keyed by absolute URL, served on 127.0.0.1 through a forward proxy.

    >>> with LoopbackWeb({"http://a.example/": Page(b"hi")}) as web:  # doctest: +SKIP
    ...     urllib.request.build_opener(
    ...         urllib.request.ProxyHandler({"http": web.proxy_url})).open("http://a.example/")
    """

    def __init__(
        self,
        pages: Mapping[str, Page] | None = None,
        *,
        port: int = 0,
        strip_query_fallback: bool = False,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._pages: dict[str, Page] = {}
        self._down: set[str] = set()
        self._lock = threading.Lock()
        self._port = port
        self._clock = clock or (lambda: datetime.now(UTC))
        self.strip_query_fallback = strip_query_fallback
        self.requests: list[LoggedRequest] = []
        """Every request received, in arrival order (``CONNECT`` included)."""
        self.sent: dict[str, list[bytes]] = {}
        """Per normalised URL, the exact bytes of each response written (head and body)."""
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._conns: dict[int, tuple[_Conn, threading.Thread]] = {}
        self._stopping = threading.Event()
        self._certs: _Certificates | None = None
        for url, page in (pages or {}).items():
            self.add(url, page)

    # -- pages ---------------------------------------------------------------------------------

    def add(self, url: str, page: Page) -> None:
        """Serve ``page`` at ``url`` (replacing any page there)."""
        key = normalize_url(url)
        with self._lock:
            self._pages[key] = page

    def remove(self, url: str) -> None:
        """Stop serving ``url`` (it becomes a 404); unknown URLs are ignored."""
        with self._lock:
            self._pages.pop(normalize_url(url), None)

    def page(self, url: str) -> Page | None:
        with self._lock:
            return self._pages.get(normalize_url(url))

    def urls(self) -> list[str]:
        with self._lock:
            return sorted(self._pages)

    def set_down(self, host: str) -> None:
        """Make a host unreachable: its connections are reset."""
        with self._lock:
            self._down.add(host.lower())

    def set_up(self, host: str) -> None:
        with self._lock:
            self._down.discard(host.lower())

    # -- log -----------------------------------------------------------------------------------

    def hits(self, url: str) -> int:
        """How many requests (any method but ``CONNECT``) asked for ``url``."""
        key = normalize_url(url)
        with self._lock:
            return sum(1 for r in self.requests if r.method != "CONNECT" and r.url == key)

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self.sent.clear()

    # -- life cycle ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("LoopbackWeb is not started")
        return int(self._server.server_address[1])

    @property
    def proxy_url(self) -> str:
        """``http://127.0.0.1:PORT``: use it as ``http_proxy`` and ``https_proxy``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ca_pem(self) -> bytes:
        """The PEM certificate that signs every host's certificate (for clients that verify)."""
        if self._certs is None:
            raise RuntimeError("LoopbackWeb is not started")
        return self._certs.ca_pem

    def start(self) -> str:
        """Start serving; returns :attr:`proxy_url`. Starting a started server is a no-op."""
        if self._server is not None:
            return self.proxy_url
        self._stopping.clear()
        self._certs = _Certificates(datetime.now(UTC))  # certificates live in real time
        self._server = _Server(("127.0.0.1", self._port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"loopback-web:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self.proxy_url

    def stop(self) -> None:
        """Stop accepting, close every open connection and wait (briefly) for their threads."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        with self._lock:
            conns = list(self._conns.values())
        for conn, _ in conns:
            conn.abort()
        deadline = time.monotonic() + 5
        for _, t in conns:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        self._server = self._thread = None

    def __enter__(self) -> LoopbackWeb:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- serving -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _registered(self, conn: _Conn) -> Iterator[None]:
        key = id(conn)
        with self._lock:
            self._conns[key] = (conn, threading.current_thread())
        try:
            yield
        finally:
            with self._lock:
                self._conns.pop(key, None)
            conn.close()

    def _is_down(self, host: str) -> bool:
        with self._lock:
            return host.lower() in self._down

    def _log(self, req: _Request, url: str, raw: bytes, client: tuple[str, int], tls: bool) -> None:
        entry = LoggedRequest(self._clock(), req.method, url, list(req.headers), raw, client, tls)
        with self._lock:
            self.requests.append(entry)

    def _serve_connection(self, sock: socket.socket, client: tuple[str, int]) -> None:
        conn = _Conn(sock)
        with self._registered(conn):
            if self._stopping.is_set():
                return
            sock.settimeout(_IDLE_TIMEOUT)
            tunnel: tuple[str, int] | None = None
            try:
                while not self._stopping.is_set():
                    head = conn.read_head()
                    if head is None:
                        return
                    req = _parse_head(head)
                    raw = head + conn.read_body(req)
                    if req.method == "CONNECT":
                        if tunnel is not None:
                            raise _BadRequest("CONNECT inside a tunnel")
                        host, port = _split_authority(req.target, 443)
                        self._log(req, f"{host}:{port}", raw, client, False)
                        if self._is_down(host):
                            conn.reset()
                            return
                        conn.sock.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                        assert self._certs is not None
                        conn.start_tls(self._certs.context_for(host))
                        tunnel = (host, port)
                        continue
                    url = self._absolute_url(req, tunnel)
                    self._log(req, url, raw, client, tunnel is not None)
                    if self._is_down(urlsplit(url).hostname or ""):
                        conn.reset()
                        return
                    if not self._respond(conn, req, url):
                        return
            except _BadRequest:
                self._send_bad_request(conn)
            except (OSError, ssl.SSLError, ValueError):
                return  # client went away, TLS failed, or we are shutting down

    def _send_bad_request(self, conn: _Conn) -> None:
        body = b"<html><body><h1>400 Bad Request</h1></body></html>\n"
        head = (
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError, ssl.SSLError, ValueError):
            conn.sock.sendall(head.encode("ascii") + body)

    @staticmethod
    def _absolute_url(req: _Request, tunnel: tuple[str, int] | None) -> str:
        target = req.target
        if target.lower().startswith(("http://", "https://")):
            return normalize_url(target)
        if not target.startswith("/"):
            raise _BadRequest(f"unsupported request target {target!r}")
        host_header = req.header("Host")
        if tunnel is not None:
            host, port = _split_authority(host_header, tunnel[1]) if host_header else tunnel
            scheme = "https"
        else:
            if not host_header:
                raise _BadRequest("origin-form request without a Host header")
            host, port = _split_authority(host_header, 80)
            scheme = "http"
        return normalize_url(f"{scheme}://{host}:{port}{target}")

    def _lookup(self, url: str) -> Page | None:
        with self._lock:
            page = self._pages.get(url)
            if page is None and self.strip_query_fallback and "?" in url:
                page = self._pages.get(url.split("?", 1)[0])
            return page

    def _respond(self, conn: _Conn, req: _Request, url: str) -> bool:
        page = self._lookup(url)
        if page is None:
            page = _not_found()
        elif req.method not in ("GET", "HEAD"):
            page = Page(
                b"<html><body><h1>405 Method Not Allowed</h1></body></html>\n",
                status=405,
                headers=[("Allow", "GET, HEAD")],
            )
        if page.delay:
            self._stopping.wait(page.delay)
        keep_alive = req.keep_alive and not self._stopping.is_set()
        data, keep_alive = self._render(page, req, keep_alive)
        with self._lock:  # logged first: a client that has the response finds it in the log
            self.sent.setdefault(url, []).append(data)
        conn.sock.sendall(data)
        return keep_alive

    def _render(self, page: Page, req: _Request, keep_alive: bool) -> tuple[bytes, bool]:
        names = {k.lower() for k, _ in page.headers}
        etag = _quoted_etag(page.etag) if page.etag else None
        status = page.status
        if status == 200 and req.method in ("GET", "HEAD") and _not_modified(req, page, etag):
            status = 304
        reason = page.reason if page.reason is not None and status == page.status else None
        if reason is None:
            try:
                reason = HTTPStatus(status).phrase
            except ValueError:
                reason = "Unknown"
        headers: list[tuple[str, str]] = []
        if "date" not in names:
            headers.append(("Date", format_datetime(self._clock().astimezone(UTC), usegmt=True)))
        headers.extend(page.headers)
        has_body = status not in _NO_BODY_STATUSES and not 100 <= status < 200
        if has_body and "content-type" not in names:
            headers.append(("Content-Type", _DEFAULT_CONTENT_TYPE))
        if etag and "etag" not in names:
            headers.append(("ETag", etag))
        if page.last_modified and "last-modified" not in names:
            headers.append(("Last-Modified", page.last_modified))
        payload = b""
        if has_body:
            if page.gzip and "content-encoding" not in names:
                headers.append(("Content-Encoding", "gzip"))
            payload = page.encoded_body()
            if page.chunked and req.version != "HTTP/1.0":
                headers.append(("Transfer-Encoding", "chunked"))
                payload = _chunked(payload, page.chunk_size)
            else:
                headers.append(("Content-Length", str(len(payload))))
                if page.chunked:  # an HTTP/1.0 client cannot read chunks
                    keep_alive = False
        page_connection = next((v for k, v in page.headers if k.lower() == "connection"), None)
        if page_connection is not None:
            keep_alive = keep_alive and "close" not in page_connection.lower()
        elif not keep_alive:
            headers.append(("Connection", "close"))
        else:  # said even to HTTP/1.1 clients, as nginx and Apache do
            headers.append(("Connection", "keep-alive"))
        head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
        body = b"" if req.method == "HEAD" else payload
        return head.encode("iso-8859-1") + b"\r\n" + body, keep_alive


def _split_authority(authority: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(f"//{authority}")
    try:
        port = parts.port
    except ValueError:
        raise _BadRequest(f"bad authority {authority!r}") from None
    if not parts.hostname:
        raise _BadRequest(f"bad authority {authority!r}")
    return parts.hostname.lower(), port or default_port


def _quoted_etag(etag: str) -> str:
    return etag if etag.startswith(('"', 'W/"')) else f'"{etag}"'


def _not_modified(req: _Request, page: Page, etag: str | None) -> bool:
    inm = req.header("If-None-Match")
    if inm is not None:  # RFC 9110 13.1.3: If-None-Match wins over If-Modified-Since
        if etag is None:
            return False
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag.removeprefix("W/") in tags
    ims = req.header("If-Modified-Since")
    if ims is None or page.last_modified is None:
        return False
    try:
        return parsedate_to_datetime(page.last_modified) <= parsedate_to_datetime(ims)
    except (TypeError, ValueError):
        return False


def _chunked(payload: bytes, size: int) -> bytes:
    out = bytearray()
    for i in range(0, len(payload), max(1, size)):
        chunk = payload[i : i + size]
        out += f"{len(chunk):x}\r\n".encode("ascii") + chunk + b"\r\n"
    out += b"0\r\n\r\n"
    return bytes(out)


_NOT_FOUND_BODY = (
    b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
    b"<body><h1>Not Found</h1><p>There is no page at this address.</p></body></html>\n"
)


def _not_found() -> Page:
    return Page(_NOT_FOUND_BODY, status=404)
