"""Threaded raw-socket servers on 127.0.0.1 for HTTP tests.

:class:`RawServer` is an origin that answers each request target with exactly the bytes it is
told to (pauses, hangs and early closes included) and logs every request's bytes as received.
:class:`ForwardProxy` is a tiny forward proxy: absolute-form requests for http URLs and CONNECT
tunnels for https ones, logging what clients sent it. :func:`self_signed_tls` makes a server TLS
context with a throwaway certificate.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import ssl
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class Hang:
    """A step that keeps the connection open, silent, until the server stops."""


HANG = Hang()
Step = bytes | float | Hang
"""What the server does in turn: send bytes, sleep that many seconds, or hang."""

NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
MAX_HANG = 30.0


def _read_request(sock: socket.socket) -> bytes:
    """One request's bytes: head up to the blank line, then a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _request_target(request: bytes) -> str:
    parts = request.split(b"\r\n", 1)[0].split(b" ")
    return parts[1].decode("latin-1") if len(parts) > 1 else ""


class _ThreadedServer:
    """Accepts on 127.0.0.1 in a thread and handles each connection in its own thread."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)

    def __enter__(self) -> Self:
        self._acceptor.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        self._acceptor.start()

    def stop(self) -> None:
        self.stopping.set()
        self._acceptor.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.closing(conn):
            conn.settimeout(MAX_HANG)
            # the client may go away early: several tests do that on purpose
            with contextlib.suppress(OSError):
                self.handle(conn)

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError


class RawServer(_ThreadedServer):
    """An origin server: ``routes`` maps a request target (``/path?query``) to its steps."""

    def __init__(
        self,
        routes: Mapping[str, Sequence[Step]] | None = None,
        *,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__()
        self.routes: dict[str, Sequence[Step]] = dict(routes or {})
        self.received: dict[str, list[bytes]] = {}
        self._tls = tls

    @property
    def base_url(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    def url(self, target: str) -> str:
        return self.base_url + target

    def handle(self, conn: socket.socket) -> None:
        sock: socket.socket = conn
        if self._tls is not None:
            sock = self._tls.wrap_socket(conn, server_side=True)
        request = _read_request(sock)
        if not request:
            return
        target = _request_target(request)
        with self._lock:
            self.received.setdefault(target, []).append(request)
        for step in self.routes.get(target, [NOT_FOUND]):
            if isinstance(step, Hang):
                self.stopping.wait(MAX_HANG)
                return
            if isinstance(step, float):
                self.stopping.wait(step)
            else:
                sock.sendall(step)
        if isinstance(sock, ssl.SSLSocket):
            with contextlib.suppress(OSError, ValueError):
                sock.unwrap()  # close_notify, as well-behaved TLS servers send


class ForwardProxy(_ThreadedServer):
    """A forward proxy: origin-form forwarding of absolute-form requests, CONNECT tunnels.

    ``received`` holds the request heads clients sent to the proxy (CONNECT or absolute-form).
    Like real proxies it drops ``Proxy-Authorization`` and ``Proxy-Connection`` before
    forwarding; with ``authorization`` set, a request without the matching ``Proxy-Authorization``
    value gets ``407``.
    """

    def __init__(self, *, authorization: bytes | None = None) -> None:
        super().__init__()
        self.received: list[bytes] = []
        self._authorization = authorization

    def handle(self, conn: socket.socket) -> None:
        request = _read_request(conn)
        head, _, body = request.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        with self._lock:
            self.received.append(head + b"\r\n\r\n")
        method, target, version = lines[0].split(b" ")
        auth = [
            v
            for n, _, v in (x.partition(b": ") for x in lines[1:])
            if n.lower() == b"proxy-authorization"
        ]
        if self._authorization is not None and auth != [self._authorization]:
            conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            return
        if method == b"CONNECT":
            host, _, port = target.decode("ascii").rpartition(":")
            upstream = socket.create_connection((host, int(port)), timeout=MAX_HANG)
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self._relay(conn, upstream)
            return
        url = urlsplit(target.decode("ascii"))
        upstream = socket.create_connection((url.hostname, url.port or 80), timeout=MAX_HANG)
        origin_target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        kept = [
            x
            for x in lines[1:]
            if x.partition(b":")[0].strip().lower()
            not in (b"proxy-authorization", b"proxy-connection")
        ]
        forwarded = b"\r\n".join(
            [b" ".join([method, origin_target.encode("ascii"), version]), *kept]
        )
        upstream.sendall(forwarded + b"\r\n\r\n" + body)
        self._relay(conn, upstream)

    @staticmethod
    def _relay(client: socket.socket, upstream: socket.socket) -> None:
        def pump(src: socket.socket, dst: socket.socket) -> None:
            with contextlib.suppress(OSError):
                while data := src.recv(65536):
                    dst.sendall(data)
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

        with contextlib.closing(upstream):
            upward = threading.Thread(target=pump, args=(client, upstream), daemon=True)
            upward.start()
            pump(upstream, client)
            upward.join(timeout=MAX_HANG)


def self_signed_tls(directory: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for localhost and 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context
