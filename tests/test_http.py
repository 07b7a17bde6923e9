"""ArchivingDownloadHandler against real sockets: a raw origin, a TLS origin, a forward proxy.

Each crawl runs as a real Scrapy crawl in a subprocess (one reactor per process): a spider
requests every case at once and pickles what it saw (responses, errors, and the Exchange of
every hop from the ``response_downloaded`` signal). Run as ``python -m tests.test_http SPEC``
this module is that crawl.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import pickle
import subprocess
import sys
from base64 import b64encode
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest

from opeds.crawler.capture.exchange import Exchange
from opeds.crawler.capture.handler import (
    EXCHANGE_META_KEY,
    MalformedResponseError,
    body_framing,
    read_response_head,
)
from opeds.testing.raw import HANG, ForwardProxy, RawServer, Step, self_signed_tls

ROOT = Path(__file__).resolve().parent.parent
HANDLER = "opeds.crawler.capture.handler.ArchivingDownloadHandler"

ODD_BODY = b"<html><body><p>odd</p></body></html>"
ODD_HEAD = (
    b"HTTP/1.1 200 Everything Fine Here\r\n"
    b"x-lower: first\r\n"
    b"Set-Cookie: a=1\r\n"
    b"CONTENT-TYPE: text/html; charset=utf-8\r\n"
    b"X-MiXeD-CaSe: yes\r\n"
    b"Set-Cookie: b=2\r\n"
    b"Content-Length: " + str(len(ODD_BODY)).encode() + b"\r\n"
    b"\r\n"
)
GZ_TEXT = b"<html><body><p>Gzipped op-ed text</p></body></html>"
GZ_BODY = gzip.compress(GZ_TEXT, mtime=0)
CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"


def _ok(body: bytes, *extra: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + b"".join(extra)
    return head + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body


ORIGIN_ROUTES: dict[str, list[Step]] = {
    "/robots.txt": [_ok(b"User-agent: *\nDisallow: /private\n")],
    "/odd?x=1&y=a%20b": [ODD_HEAD + ODD_BODY],
    "/chunked": [CHUNKED_HEAD + b"5;ext=1\r\nHello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n"],
    "/gzip": [
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: " + str(len(GZ_BODY)).encode() + b"\r\n\r\n" + GZ_BODY
    ],
    "/r1": [b"HTTP/1.1 301 Moved Permanently\r\nLocation: /r2\r\nContent-Length: 0\r\n\r\n"],
    "/r2": [b"HTTP/1.1 302 Found\r\nLocation: r3?hop=3\r\nContent-Length: 3\r\n\r\nbye"],
    "/r3?hop=3": [_ok(b"final")],
    "/lying": [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"],
    "/lying-lenient": [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"],
    "/mid-chunk": [CHUNKED_HEAD + b"5\r\nHello\r\n10\r\nonly part"],
    "/bad-chunk": [CHUNKED_HEAD + b"5\r\nHello\r\nzz\r\nwhat\r\n0\r\n\r\n"],
    "/never": [HANG],
    "/slow-body": [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", HANG],
    "/big-declared": [_ok(b"x" * 100)],
    "/big-streamed": [
        CHUNKED_HEAD + b"8\r\nabcdefgh\r\n8\r\nijklmnop\r\n8\r\nqrstuvwx\r\n0\r\n\r\n"
    ],
    "/garbage": [b"SSH-2.0-OpenSSH_9.6\r\nProtocol mismatch.\r\n"],
    "/interim": [
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" + _ok(b"after 1xx")
    ],
    "/folded": [
        "HTTP/1.1 200 Très Bien\r\n".encode()
        + b"X-Folded: one\r\n  two\r\n\tthree\r\nBroken line without colon\r\n"
        b"X-Latin: caf\xe9\r\nContent-Length: 2\r\n\r\nok"
    ],
    "/no-reason": [b"HTTP/1.1 204\r\nX-Empty:\r\n\r\n", HANG],
    "/not-modified": [
        b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 1000\r\n\r\n',
        HANG,
    ],
    "/head": [b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", HANG],
    "/until-close": [b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nread until close", 0.2],
    "/post": [b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"],
    "/missing": [b"HTTP/1.1 404 Nope\r\nContent-Length: 9\r\n\r\nnot found"],
    # says keep-alive, then closes anyway (as servers do with idle connections): whichever
    # request next takes the kept connection meets a closed one and must go through a new one
    **{
        f"/kept-{i}": [
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 4\r\n\r\nkept"
        ]
        for i in range(4)
    },
    "/broken": [b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n"],
    "/private": [_ok(b"robots.txt forbids this")],
    "/stop-at-head": [_ok(b"x" * 50)],
    "/stop-at-bytes": [CHUNKED_HEAD + b"5\r\nfirst\r\n6\r\nsecond\r\n0\r\n\r\n"],
    # requested through the forward proxy
    "/via-proxy?a=1": [ODD_HEAD + ODD_BODY],
}
TLS_ROUTES: dict[str, list[Step]] = {
    "/tls?q=1": [ODD_HEAD + ODD_BODY],
    "/tls-until-close": [b"HTTP/1.1 200 OK\r\n\r\nuntil close over TLS"],
    "/tls-via-proxy?b=2": [ODD_HEAD + ODD_BODY],
}


@dataclass
class Case:
    key: str
    url: str
    meta: dict[str, Any] = field(default_factory=dict)
    method: str = "GET"
    body: str = ""


@dataclass
class CrawlResult:
    responses: dict[str, dict[str, Any]]
    errors: dict[str, dict[str, Any]]
    downloaded: list[tuple[str, Exchange | None]]
    stats: dict[str, Any]
    stderr: str

    def exchange(self, key: str) -> Exchange:
        seen = self.responses.get(key) or self.errors[key]
        exchange = seen["exchange"]
        assert isinstance(exchange, Exchange), f"{key}: no exchange recorded"
        return exchange


@dataclass
class Servers:
    origin: RawServer
    tls: RawServer
    proxy: ForwardProxy
    strict_proxy: ForwardProxy


PROXY_USER, PROXY_PASSWORD = "archivist", "s3cret"
PROXY_AUTH = b"Basic " + b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode())


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    tls = self_signed_tls(tmp_path_factory.mktemp("tls"))
    with (
        RawServer(ORIGIN_ROUTES) as origin,
        RawServer(TLS_ROUTES, tls=tls) as tls_origin,
        ForwardProxy(authorization=PROXY_AUTH) as proxy,
        ForwardProxy(authorization=b"Basic bm9ib2R5Og==") as strict_proxy,
    ):
        yield Servers(origin, tls_origin, proxy, strict_proxy)


class Crawl:
    """A crawl running in its own process (one reactor each); :meth:`result` waits for it."""

    def __init__(
        self, tmp: Path, cases: list[Case], settings: dict[str, Any], env: dict[str, str]
    ) -> None:
        spec, self._out, self._log = tmp / "spec.json", tmp / "result.pickle", tmp / "stderr.txt"
        spec.write_text(
            json.dumps(
                {"cases": [c.__dict__ for c in cases], "settings": settings, "out": str(self._out)}
            )
        )
        clean_env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        clean_env["PYTHONPATH"] = str(ROOT)
        # Scrapy's cookie middleware would try to download the public suffix list: use the
        # snapshot tldextract ships instead (no network, no warning in the log).
        clean_env["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
        with self._log.open("wb") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tests.test_http", str(spec)],
                cwd=ROOT,
                env=clean_env | env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self._result: CrawlResult | None = None

    def result(self) -> CrawlResult:
        if self._result is None:
            returncode = self._proc.wait(timeout=90)
            stderr = self._log.read_text()
            assert returncode == 0, stderr[-5000:]
            data = pickle.loads(self._out.read_bytes())
            self._result = CrawlResult(
                data["responses"], data["errors"], data["downloaded"], data["stats"], stderr
            )
        return self._result


CRAWL_SETTINGS: dict[str, Any] = {
    "DOWNLOAD_HANDLERS": {"http": HANDLER, "https": HANDLER},
    "RETRY_ENABLED": False,
    "TELNETCONSOLE_ENABLED": False,
    "LOG_LEVEL": "WARNING",
    "REMOTE_CONTROL_ENABLED": False,
    # Generous, so a loaded machine cannot fail a good exchange; the cases that must time out
    # set their own download_timeout.
    "DOWNLOAD_TIMEOUT": 20,
    "CONCURRENT_REQUESTS": 64,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 64,
}


def _direct_crawl(servers: Servers, tmp: Path) -> Crawl:
    o, t = servers.origin, servers.tls
    cases = [
        Case("odd", o.url("/odd?x=1&y=a%20b")),
        Case("chunked", o.url("/chunked")),
        Case("gzip", o.url("/gzip")),
        Case("redirect", o.url("/r1")),
        Case("lying", o.url("/lying")),
        Case("lying-lenient", o.url("/lying-lenient"), {"download_fail_on_dataloss": False}),
        Case("mid-chunk", o.url("/mid-chunk")),
        Case("bad-chunk", o.url("/bad-chunk")),
        Case("never", o.url("/never"), {"download_timeout": 1}),
        Case("slow-body", o.url("/slow-body"), {"download_timeout": 2}),
        Case("big-declared", o.url("/big-declared"), {"download_maxsize": 10}),
        Case("big-streamed", o.url("/big-streamed"), {"download_maxsize": 10}),
        Case("garbage", o.url("/garbage")),
        Case("interim", o.url("/interim")),
        Case("folded", o.url("/folded")),
        Case("no-reason", o.url("/no-reason")),
        Case("not-modified", o.url("/not-modified")),
        Case("head", o.url("/head"), method="HEAD"),
        Case("until-close", o.url("/until-close")),
        Case("post", o.url("/post"), method="POST", body="title=Op-ed&x=%C3%A9"),
        Case("missing", o.url("/missing")),
        *(Case(f"kept-{i}", o.url(f"/kept-{i}")) for i in range(4)),
        Case("broken", o.url("/broken")),
        Case("private", o.url("/private")),
        Case("stop-at-head", o.url("/stop-at-head")),
        Case("stop-at-bytes", o.url("/stop-at-bytes")),
        Case("tls", t.url("/tls?q=1")),
        Case("tls-until-close", t.url("/tls-until-close")),
        Case(
            "tunnel-refused",
            t.url("/tls-refused"),
            {"proxy": f"http://127.0.0.1:{servers.strict_proxy.port}"},
        ),
        Case("refused", "http://127.0.0.1:9/", {"dont_obey_robotstxt": True}),
    ]
    settings = CRAWL_SETTINGS | {"ROBOTSTXT_OBEY": True}
    return Crawl(tmp, cases, settings, {})


def _proxied_crawl(servers: Servers, tmp: Path) -> Crawl:
    proxy_url = f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{servers.proxy.port}"
    cases = [
        Case("http", servers.origin.url("/via-proxy?a=1")),
        Case("https", servers.tls.url("/tls-via-proxy?b=2")),
    ]
    env = {"http_proxy": proxy_url, "https_proxy": proxy_url}
    return Crawl(tmp, cases, CRAWL_SETTINGS, env)


@pytest.fixture(scope="module")
def crawls(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Crawl]:
    """Both crawls, started together: on two cores their start-up overlaps."""
    return {
        "direct": _direct_crawl(servers, tmp_path_factory.mktemp("direct")),
        "proxied": _proxied_crawl(servers, tmp_path_factory.mktemp("proxied")),
    }


@pytest.fixture(scope="module")
def direct(crawls: dict[str, Crawl]) -> CrawlResult:
    return crawls["direct"].result()


@pytest.fixture(scope="module")
def proxied(crawls: dict[str, Crawl]) -> CrawlResult:
    return crawls["proxied"].result()


# --- a faithful exchange ---------------------------------------------------------------


def test_unusual_reason_header_case_and_order_are_kept(direct: CrawlResult) -> None:
    ex = direct.exchange("odd")
    assert ex.response_head == ODD_HEAD
    assert (ex.http_version, ex.status, ex.reason) == ("HTTP/1.1", 200, "Everything Fine Here")
    assert ex.headers == [
        ("x-lower", "first"),
        ("Set-Cookie", "a=1"),
        ("CONTENT-TYPE", "text/html; charset=utf-8"),
        ("X-MiXeD-CaSe", "yes"),
        ("Set-Cookie", "b=2"),
        ("Content-Length", str(len(ODD_BODY))),
    ]
    assert ex.body == ODD_BODY
    assert ex.transfer_decoded == []
    assert ex.truncated is None
    assert ex.ip == "127.0.0.1"
    assert ex.started.tzinfo is not None


def test_scrapy_response_behaves_like_scrapys_own(direct: CrawlResult) -> None:
    seen = direct.responses["odd"]
    assert seen["class"] == "HtmlResponse"
    assert seen["status"] == 200
    assert seen["set_cookie"] == [b"a=1", b"b=2"]
    assert seen["content_type"] == b"text/html; charset=utf-8"
    assert seen["ip_address"] == "127.0.0.1"
    assert seen["protocol"] == "HTTP/1.1"
    assert seen["text"] == ODD_BODY.decode()
    assert seen["flags"] == []
    assert seen["latency"] > 0


def test_request_bytes_are_what_the_server_received(direct: CrawlResult, servers: Servers) -> None:
    ex = direct.exchange("odd")
    assert ex.url == servers.origin.url("/odd?x=1&y=a%20b")
    assert ex.method == "GET"
    assert ex.request_bytes.startswith(b"GET /odd?x=1&y=a%20b HTTP/1.1\r\n")
    assert f"\r\nHost: 127.0.0.1:{servers.origin.port}\r\n".encode() in ex.request_bytes
    assert b"\r\nConnection:" not in ex.request_bytes  # HTTP/1.1: persistent unless closed
    assert ex.request_bytes.endswith(b"\r\n\r\n")
    assert servers.origin.received["/odd?x=1&y=a%20b"] == [ex.request_bytes]


def test_post_body_is_part_of_request_bytes(direct: CrawlResult, servers: Servers) -> None:
    ex = direct.exchange("post")
    assert ex.method == "POST"
    assert ex.request_bytes.startswith(b"POST /post HTTP/1.1\r\n")
    assert ex.request_bytes.endswith(b"\r\nContent-Length: 20\r\n\r\ntitle=Op-ed&x=%C3%A9")
    assert servers.origin.received["/post"] == [ex.request_bytes]
    assert (ex.status, ex.reason, ex.body) == (201, "Created", b"")


def test_chunked_body_is_dechunked_and_says_so(direct: CrawlResult) -> None:
    ex = direct.exchange("chunked")
    assert ex.body == b"Hello, world"
    assert ex.transfer_decoded == ["chunked"]
    assert ex.truncated is None
    assert ex.response_head == CHUNKED_HEAD
    assert direct.responses["chunked"]["text"] == "Hello, world"


def test_gzip_stays_gzip_in_the_exchange_and_is_decoded_for_the_spider(
    direct: CrawlResult,
) -> None:
    ex = direct.exchange("gzip")
    assert ex.body == GZ_BODY
    assert ex.header("content-encoding") == "gzip"
    assert gzip.decompress(ex.body) == GZ_TEXT
    assert direct.responses["gzip"]["text"] == GZ_TEXT.decode()


def test_redirect_chain_gives_one_exchange_per_hop(direct: CrawlResult, servers: Servers) -> None:
    hops = [ex for url, ex in direct.downloaded if "/r" in url and "/robots" not in url]
    assert [ex.status if ex else None for ex in hops] == [301, 302, 200]
    assert [ex.url for ex in hops if ex] == [
        servers.origin.url("/r1"),
        servers.origin.url("/r2"),
        servers.origin.url("/r3?hop=3"),
    ]
    assert hops[1] is not None and hops[1].body == b"bye"
    assert hops[2] is not None and hops[2].request_bytes.startswith(b"GET /r3?hop=3 HTTP/1.1")
    final = direct.responses["redirect"]
    assert final["url"] == servers.origin.url("/r3?hop=3")
    assert final["exchange"].status == 200
    assert final["text"] == "final"


def test_robots_txt_is_fetched_and_obeyed(direct: CrawlResult, servers: Servers) -> None:
    robots = [
        ex for url, ex in direct.downloaded if url.endswith(f"{servers.origin.port}/robots.txt")
    ]
    assert len(robots) == 1 and robots[0] is not None and robots[0].status == 200
    assert robots[0].body == b"User-agent: *\nDisallow: /private\n"
    robot_stats = {k: v for k, v in direct.stats.items() if k.startswith(("robotstxt", "downl"))}
    assert "private" in direct.errors, (robot_stats, robots[0], direct.stderr[-4000:])
    assert direct.errors["private"]["type"] == "IgnoreRequest"
    assert "/private" not in servers.origin.received


def test_a_kept_connection_the_server_closed_is_replaced(
    direct: CrawlResult, servers: Servers
) -> None:
    for i in range(4):
        ex = direct.exchange(f"kept-{i}")
        assert (ex.status, ex.body) == (200, b"kept")
        # one request each reached the server: none was lost, none answered twice
        assert len(servers.origin.received[f"/kept-{i}"]) == 1
    assert direct.exchange("missing").status == 404


def test_error_statuses_are_recorded(direct: CrawlResult) -> None:
    missing, broken = direct.exchange("missing"), direct.exchange("broken")
    assert (missing.status, missing.reason, missing.body) == (404, "Nope", b"not found")
    assert (broken.status, broken.header("retry-after")) == (503, "1")
    assert direct.responses["missing"]["status"] == 404


# --- odd but valid responses ------------------------------------------------------------


def test_interim_responses_are_skipped(direct: CrawlResult) -> None:
    ex = direct.exchange("interim")
    assert ex.response_head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"100 Continue" not in ex.response_head and b"Early Hints" not in ex.response_head
    assert ex.body == b"after 1xx"


def test_obs_fold_non_ascii_reason_and_latin1_values(direct: CrawlResult) -> None:
    ex = direct.exchange("folded")
    assert ex.response_head.startswith("HTTP/1.1 200 Très Bien\r\n".encode())
    assert ex.reason == "Très Bien".encode().decode("latin-1")
    assert ex.headers == [
        ("X-Folded", "one two three"),
        ("X-Latin", "café"),
        ("Content-Length", "2"),
    ]
    assert b"Broken line without colon\r\n" in ex.response_head
    assert ex.body == b"ok"


def test_empty_reason_and_bodiless_statuses_do_not_wait_for_a_body(direct: CrawlResult) -> None:
    no_reason = direct.exchange("no-reason")
    assert (no_reason.status, no_reason.reason) == (204, "")
    assert no_reason.headers == [("X-Empty", "")]
    not_modified = direct.exchange("not-modified")
    assert (not_modified.status, not_modified.body, not_modified.truncated) == (304, b"", None)
    head = direct.exchange("head")
    assert (head.method, head.status, head.body, head.truncated) == ("HEAD", 200, b"", None)
    assert head.request_bytes.startswith(b"HEAD /head HTTP/1.1\r\n")


def test_http10_body_read_until_close(direct: CrawlResult) -> None:
    ex = direct.exchange("until-close")
    assert (ex.http_version, ex.body, ex.truncated) == ("HTTP/1.0", b"read until close", None)
    assert direct.responses["until-close"]["protocol"] == "HTTP/1.0"


def test_https_exchange(direct: CrawlResult, servers: Servers) -> None:
    ex = direct.exchange("tls")
    assert ex.response_head == ODD_HEAD
    assert ex.body == ODD_BODY
    assert ex.url == servers.tls.url("/tls?q=1")
    assert servers.tls.received["/tls?q=1"] == [ex.request_bytes]
    assert direct.responses["tls"]["has_certificate"]
    until_close = direct.exchange("tls-until-close")
    assert (until_close.body, until_close.truncated) == (b"until close over TLS", None)


# --- broken servers ---------------------------------------------------------------------


def test_lying_content_length_is_a_truncated_exchange(direct: CrawlResult) -> None:
    assert direct.errors["lying"]["type"] == "ResponseDataLossError"
    ex = direct.exchange("lying")
    assert (ex.body, ex.truncated) == (b"0123456789", "disconnect")
    lenient = direct.responses["lying-lenient"]
    assert lenient["flags"] == ["dataloss"]
    assert lenient["exchange"].truncated == "disconnect"
    assert lenient["text"] == "0123456789"


def test_mid_body_disconnect_is_a_truncated_exchange(direct: CrawlResult) -> None:
    assert direct.errors["mid-chunk"]["type"] == "ResponseDataLossError"
    ex = direct.exchange("mid-chunk")
    assert (ex.body, ex.truncated, ex.transfer_decoded) == (
        b"Helloonly part",
        "disconnect",
        ["chunked"],
    )


def test_invalid_chunk_size_is_data_loss(direct: CrawlResult) -> None:
    assert direct.errors["bad-chunk"]["type"] == "ResponseDataLossError"
    ex = direct.exchange("bad-chunk")
    assert (ex.body, ex.truncated) == (b"Hello", "unspecified")


def test_garbage_status_line_is_a_clear_download_error(direct: CrawlResult) -> None:
    error = direct.errors["garbage"]
    assert error["type"] == "MalformedResponseError"
    assert "DownloadFailedError" in error["mro"]
    assert error["exchange"] is None


def test_silent_server_times_out(direct: CrawlResult) -> None:
    error = direct.errors["never"]
    assert error["type"] == "DownloadTimeoutError"
    assert error["exchange"] is None


def test_timeout_mid_body_is_a_truncated_exchange(direct: CrawlResult) -> None:
    assert direct.errors["slow-body"]["type"] == "DownloadTimeoutError"
    ex = direct.exchange("slow-body")
    assert (ex.body, ex.truncated) == (b"0123456789", "time")


def test_maxsize_cancels_and_marks_length(direct: CrawlResult) -> None:
    assert direct.errors["big-declared"]["type"] == "DownloadCancelledError"
    declared = direct.exchange("big-declared")
    assert (declared.status, declared.body, declared.truncated) == (200, b"", "length")
    assert direct.errors["big-streamed"]["type"] == "DownloadCancelledError"
    streamed = direct.exchange("big-streamed")
    assert (streamed.body, streamed.truncated) == (b"abcdefghij", "length")


def test_stop_download_keeps_what_was_received(direct: CrawlResult) -> None:
    at_head = direct.responses["stop-at-head"]
    assert at_head["flags"] == ["download_stopped"]
    assert (at_head["exchange"].body, at_head["exchange"].truncated) == (b"", "unspecified")
    at_bytes = direct.responses["stop-at-bytes"]
    assert at_bytes["flags"] == ["download_stopped"]
    assert (at_bytes["exchange"].body, at_bytes["exchange"].truncated) == (b"first", "unspecified")


def test_connection_errors_are_scrapy_exceptions(direct: CrawlResult) -> None:
    assert direct.errors["refused"]["type"] == "DownloadConnectionRefusedError"
    tunnel = direct.errors["tunnel-refused"]
    assert tunnel["type"] == "ProxyTunnelError"
    assert "407" in tunnel["message"]


def test_nothing_unhandled_in_the_crawl_log(direct: CrawlResult) -> None:
    # Every failure went to an errback: Scrapy logged no error and no handler traceback.
    assert " ERROR: " not in direct.stderr, direct.stderr[-3000:]
    assert str(ROOT / "crawler" / "http.py") not in direct.stderr, direct.stderr[-3000:]


# --- proxies ----------------------------------------------------------------------------


def test_http_through_proxy_uses_absolute_form(proxied: CrawlResult, servers: Servers) -> None:
    url = servers.origin.url("/via-proxy?a=1")
    sent = [r for r in servers.proxy.received if r.startswith(b"GET http://")]
    assert len(sent) == 1
    assert sent[0].startswith(f"GET {url} HTTP/1.1\r\n".encode())
    assert b"\r\nProxy-Authorization: " + PROXY_AUTH + b"\r\n" in sent[0]
    ex = proxied.exchange("http")
    assert ex.request_bytes.startswith(b"GET /via-proxy?a=1 HTTP/1.1\r\n")
    assert b"Proxy-Authorization" not in ex.request_bytes
    assert PROXY_PASSWORD.encode() not in ex.request_bytes
    assert servers.origin.received["/via-proxy?a=1"] == [ex.request_bytes]
    assert (ex.response_head, ex.body, ex.ip) == (ODD_HEAD, ODD_BODY, None)


def test_https_through_proxy_uses_connect_tunnel(proxied: CrawlResult, servers: Servers) -> None:
    authority = f"127.0.0.1:{servers.tls.port}".encode()
    connects = [r for r in servers.proxy.received if r.startswith(b"CONNECT ")]
    assert len(connects) == 1
    assert connects[0] == (
        b"CONNECT " + authority + b" HTTP/1.1\r\nHost: " + authority + b"\r\n"
        b"Proxy-Authorization: " + PROXY_AUTH + b"\r\n\r\n"
    )
    ex = proxied.exchange("https")
    assert ex.request_bytes.startswith(b"GET /tls-via-proxy?b=2 HTTP/1.1\r\n")
    assert b"Proxy-Authorization" not in ex.request_bytes
    assert servers.tls.received["/tls-via-proxy?b=2"] == [ex.request_bytes]
    assert (ex.response_head, ex.body, ex.ip) == (ODD_HEAD, ODD_BODY, None)
    assert proxied.responses["https"]["has_certificate"]


# --- the parser on its own --------------------------------------------------------------


def _parse(data: bytes) -> Any:
    async def run() -> Any:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await read_response_head(reader)

    return asyncio.run(run())


def test_status_line_variants() -> None:
    assert _parse(b"HTTP/1.1 200\r\n\r\n").reason == ""
    assert _parse(b"HTTP/1.0 404 Not  Found \n\n").reason == "Not  Found"
    head = _parse(b"\r\nHTTP/1.1 200 OK\r\nA: 1\r\n\r\nbody")
    assert head.raw == b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\n"
    with pytest.raises(MalformedResponseError):
        _parse(b"<html>hello</html>\r\n\r\n")
    with pytest.raises(MalformedResponseError):
        _parse(b"HTTP/1.1 2000 OK\r\n\r\n")


def test_framing_rules() -> None:
    def framing(head: bytes, method: str = "GET") -> tuple[str, int | None]:
        return body_framing(method, _parse(head))

    assert framing(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n") == ("length", 7)
    assert framing(b"HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n") == ("length", 7)
    assert framing(
        b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
    ) == ("chunked", None)
    assert framing(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n") == ("close", None)
    assert framing(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n", "HEAD") == ("none", 0)
    with pytest.raises(MalformedResponseError):
        framing(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 8\r\n\r\n")
    with pytest.raises(MalformedResponseError):
        framing(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")


# --- the crawl, when this module runs as a script ---------------------------------------


def _crawl(spec_path: str) -> None:
    from scrapy import Request, Spider, signals
    from scrapy.crawler import CrawlerProcess
    from scrapy.exceptions import StopDownload
    from scrapy.http import Response, TextResponse
    from twisted.python.failure import Failure

    spec = json.loads(Path(spec_path).read_text())
    responses: dict[str, dict[str, Any]] = {}
    errors: dict[str, dict[str, Any]] = {}
    downloaded: list[tuple[str, Exchange | None]] = []

    class CaseSpider(Spider):
        name = "cases"
        custom_settings: ClassVar[dict[str, Any]] = {"HTTPERROR_ALLOW_ALL": True}

        async def start(self) -> Any:
            for case in spec["cases"]:
                yield Request(
                    case["url"],
                    method=case["method"],
                    body=case["body"].encode(),
                    headers={"Content-Type": "application/x-www-form-urlencoded"}
                    if case["body"]
                    else None,
                    meta={"case": case["key"], **case["meta"]},
                    callback=self.parsed,
                    errback=self.failed,
                    dont_filter=True,
                )

        def parsed(self, response: Response) -> None:
            responses[response.meta["case"]] = {
                "class": type(response).__name__,
                "url": response.url,
                "status": response.status,
                "flags": response.flags,
                "text": response.text if isinstance(response, TextResponse) else None,
                "set_cookie": response.headers.getlist("Set-Cookie"),
                "content_type": response.headers.get("Content-Type"),
                "ip_address": str(response.ip_address),
                "protocol": response.protocol,
                "has_certificate": response.certificate is not None,
                "latency": response.meta.get("download_latency", 0),
                "exchange": response.meta.get(EXCHANGE_META_KEY),
            }

        def failed(self, failure: Failure) -> None:
            request = failure.request  # type: ignore[attr-defined]
            errors[request.meta["case"]] = {
                "type": type(failure.value).__name__,
                "mro": [c.__name__ for c in type(failure.value).__mro__],
                "message": str(failure.value),
                "exchange": request.meta.get(EXCHANGE_META_KEY),
            }

    def on_downloaded(response: Response, request: Request, spider: Spider) -> None:
        downloaded.append((request.url, request.meta.get(EXCHANGE_META_KEY)))

    def stop_at_head(request: Request, **kwargs: Any) -> None:
        if request.meta.get("case") == "stop-at-head":
            raise StopDownload(fail=False)

    def stop_at_bytes(request: Request, **kwargs: Any) -> None:
        if request.meta.get("case") == "stop-at-bytes":
            raise StopDownload(fail=False)

    process = CrawlerProcess(settings=spec["settings"])
    crawler = process.create_crawler(CaseSpider)
    crawler.signals.connect(on_downloaded, signal=signals.response_downloaded)
    crawler.signals.connect(stop_at_head, signal=signals.headers_received)
    crawler.signals.connect(stop_at_bytes, signal=signals.bytes_received)
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    data = {"responses": responses, "errors": errors, "downloaded": downloaded, "stats": stats}
    Path(spec["out"]).write_bytes(pickle.dumps(data))


if __name__ == "__main__":
    _crawl(sys.argv[1])
