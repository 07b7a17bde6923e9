"""A real S3 HTTP server for tests, and a proxy that makes it misbehave.

:class:`MotoS3` runs moto's S3 server in a thread on 127.0.0.1; boto3 talks to it over HTTP like
to any S3-compatible server. :class:`FaultProxy` sits between boto3 and that server and, on a
deterministic schedule keyed by request number, drops connections before or after forwarding a
request, delays requests past the client's read timeout, answers 500/503, or cuts a response
body short.
"""

from __future__ import annotations

import atexit
import http.client
import itertools
import logging
import random
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ACCESS_KEY = "AKIATESTOPEDS0000KEY"
SECRET_KEY = "opeds-test-secret-key-never-in-logs-0123"
REGION = "us-east-1"


class MotoS3:
    """moto's S3 server on 127.0.0.1 (a free port), with helpers to make clients and buckets."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.host = host
        self.port = port
        self.endpoint = f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.stop()

    def client(self, endpoint: str | None = None, **config: Any) -> S3Client:
        """A plain boto3 client (path-style, test credentials) for setting up and inspecting."""
        cfg = Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            **config,
        )
        return boto3.session.Session(
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
        ).client("s3", endpoint_url=endpoint or self.endpoint, config=cfg)

    def bucket(self, *, object_lock: bool = False) -> str:
        """A new, empty bucket with a unique name."""
        name = f"opeds-test-{uuid.uuid4().hex[:12]}"
        if object_lock:
            self.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
        else:
            self.client().create_bucket(Bucket=name)
        return name


_shared: MotoS3 | None = None


def shared_server() -> MotoS3:
    """One moto server for the whole test run, started on first use."""
    global _shared
    if _shared is None:
        _shared = MotoS3()
        atexit.register(_shared.stop)
    return _shared


@pytest.fixture(name="moto_s3")
def moto_s3_fixture() -> MotoS3:
    """The shared moto S3 server (tests use a fresh bucket each)."""
    return shared_server()


def store_options(endpoint: str, **extra: Any) -> dict[str, Any]:
    """Keyword arguments for :class:`opeds.storage.stores.s3.S3Store` against a test endpoint."""
    from opeds.storage.stores.s3_client import client_config

    opts: dict[str, Any] = {
        "endpoint_url": endpoint,
        "region": REGION,
        "aws_access_key_id": ACCESS_KEY,
        "aws_secret_access_key": SECRET_KEY,
        "config": Config(s3={"addressing_style": "path"}),
        "backoff": 0.01,
    }
    if "max_attempts" in extra or "read_timeout" in extra:
        opts["config"] = client_config(
            max_attempts=extra.pop("max_attempts", 5),
            read_timeout=extra.pop("read_timeout", 60.0),
            connect_timeout=2.0,
            addressing_style="path",
        )
    opts.update(extra)
    return opts


# -- fault injection ---------------------------------------------------------------------------

PASS = "pass"
DROP_BEFORE = "drop_before"  # close the connection without forwarding: the request is lost
DROP_AFTER = "drop_after"  # forward, then close without answering: the server did the work
DELAY = "delay"  # hold the request past the client's read timeout, then forward it
ERROR_500 = "500"  # answer 500 InternalError without forwarding
ERROR_503 = "503"  # answer 503 SlowDown without forwarding
TRUNCATE = "truncate"  # forward, then send the headers and half the body and reset
FAULTS = (DROP_BEFORE, DROP_AFTER, DELAY, ERROR_500, ERROR_503, TRUNCATE)

Schedule = Callable[[int, str, str], str]
"""(request number from 0, method, path) -> fault name."""


def cycle(pattern: Sequence[str]) -> Schedule:
    """A schedule that repeats ``pattern`` request after request."""
    return lambda n, method, path: pattern[n % len(pattern)]


def seeded(seed: int, rate: float, faults: Sequence[str] = FAULTS) -> Schedule:
    """A reproducible schedule: each request is faulty with probability ``rate``.

    Faulty requests take the ``faults`` in turn, so every kind occurs once there are enough.
    """
    rng = random.Random(seed)
    decided: list[str] = []
    rotation = itertools.cycle(faults)

    def pick(n: int, method: str, path: str) -> str:
        while len(decided) <= n:
            decided.append(next(rotation) if rng.random() < rate else PASS)
        return decided[n]

    return pick


@dataclass
class _Log:
    lock: threading.Lock = field(default_factory=threading.Lock)
    n: int = 0
    entries: list[tuple[int, str, str, str]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


class FaultProxy:
    """An HTTP/1.1 proxy on 127.0.0.1 forwarding to ``upstream`` and failing on ``schedule``.

    Only GET/HEAD requests can get :data:`TRUNCATE` (other methods pass instead). ``delay`` is
    how long a :data:`DELAY` holds a request; set the client's read timeout below it.
    """

    def __init__(
        self, upstream_host: str, upstream_port: int, schedule: Schedule, delay: float = 1.0
    ):
        self.upstream = (upstream_host, upstream_port)
        self.schedule = schedule
        self.delay = delay
        self.log = _Log()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy._handle(self)

            do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def counts(self) -> Counter[str]:
        with self.log.lock:
            return Counter(fault for _, _, _, fault in self.log.entries)

    @property
    def requests(self) -> list[tuple[int, str, str, str]]:
        with self.log.lock:
            return list(self.log.entries)

    def headers(self, n: int) -> dict[str, str]:
        """The headers of request ``n``, names in lower case."""
        with self.log.lock:
            return dict(self.log.headers[n])

    def _next(self, method: str, path: str, headers: dict[str, str]) -> str:
        with self.log.lock:
            n = self.log.n
            self.log.n += 1
            fault = self.schedule(n, method, path)
            if fault == TRUNCATE and method not in ("GET",):
                fault = PASS
            self.log.entries.append((n, method, path, fault))
            self.log.headers.append(headers)
        return fault

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        try:
            body = _read_body(h)
            fault = self._next(h.command, h.path, {k.lower(): v for k, v in h.headers.items()})
            if fault == DROP_BEFORE:
                _reset(h)
                return
            if fault in (ERROR_500, ERROR_503):
                code, status = ("InternalError", 500) if fault == ERROR_500 else ("SlowDown", 503)
                _send_error(h, status, code)
                return
            if fault == DELAY:
                time.sleep(self.delay)
            status, reason, headers, data = self._forward(h, body)
            if fault == DROP_AFTER:
                _reset(h)
                return
            h.send_response_only(status, reason)
            for name, value in headers:
                if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                    h.send_header(name, value)
            if h.command == "HEAD":
                length = dict((k.lower(), v) for k, v in headers).get("content-length", "0")
                h.send_header("Content-Length", length)
            else:
                h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            if fault == TRUNCATE and len(data) > 1:
                h.wfile.write(data[: len(data) // 2])
                h.wfile.flush()
                _reset(h)
                return
            if h.command != "HEAD":
                h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, TimeoutError, OSError):
            h.close_connection = True

    def _forward(
        self, h: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            headers = {
                k: v
                for k, v in h.headers.items()
                if k.lower() not in ("transfer-encoding", "connection", "content-length")
            }
            if body or h.command in ("PUT", "POST"):
                headers["Content-Length"] = str(len(body))
            conn.request(h.command, h.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.reason, resp.getheaders(), data
        finally:
            conn.close()


def _read_body(h: BaseHTTPRequestHandler) -> bytes:
    if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += h.rfile.read(size)
            h.rfile.readline()
    length = int(h.headers.get("Content-Length") or 0)
    return h.rfile.read(length) if length else b""


def _reset(h: BaseHTTPRequestHandler) -> None:
    """Close the client connection with a TCP reset, answering nothing."""
    h.close_connection = True
    sock: socket.socket = h.connection
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _send_error(h: BaseHTTPRequestHandler, status: int, code: str) -> None:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>injected fault</Message>"
        f"<RequestId>{uuid.uuid4().hex}</RequestId></Error>"
    ).encode()
    h.send_response_only(status)
    h.send_header("Content-Type", "application/xml")
    h.send_header("Content-Length", "0" if h.command == "HEAD" else str(len(xml)))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(xml)


@contextmanager
def fault_proxy(server: MotoS3, schedule: Schedule, delay: float = 1.0) -> Iterator[FaultProxy]:
    proxy = FaultProxy(server.host, server.port, schedule, delay=delay)
    try:
        yield proxy
    finally:
        proxy.close()


class Watcher:
    """Lists a bucket over and over (straight to the server) and records every object seen.

    Used to prove that no partial object is ever visible under a final key.
    """

    def __init__(self, client: S3Client, bucket: str, interval: float = 0.01):
        self.client = client
        self.bucket = bucket
        self.interval = interval
        self.seen: dict[str, set[int]] = {}
        self.listings = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._list_once()  # and a last look, once everything has settled

    def _list_once(self) -> None:
        page = self.client.list_objects_v2(Bucket=self.bucket)
        for obj in page.get("Contents", []):
            self.seen.setdefault(obj["Key"], set()).add(obj["Size"])
        self.listings += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self._list_once()
            time.sleep(self.interval)
