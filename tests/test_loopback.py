"""The loopback web: real HTTP over 127.0.0.1 through its proxy, compared byte for byte."""

from __future__ import annotations

import gzip
import http.client
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from opeds.testing.web import LoopbackWeb, Page, normalize_url

FIXED = datetime(2026, 11, 28, 2, 0, 0, tzinfo=UTC)
LONG_TEXT = b"".join(
    b"<p>Paragraph %d of a long op-ed about water and power.</p>\n" % i for i in range(60)
)


@pytest.fixture
def web() -> Iterator[LoopbackWeb]:
    pages = {
        "http://a.example/x": Page(b"<p>hello</p>"),
        "http://a.example/chunked": Page(LONG_TEXT, chunked=True, chunk_size=500),
        "http://a.example/gz": Page(LONG_TEXT, gzip=True),
        "http://a.example/both": Page(LONG_TEXT, gzip=True, chunked=True, chunk_size=16),
        "http://a.example/cached": Page(
            b"cached body", etag='"v1"', last_modified="Wed, 25 Nov 2026 10:00:00 GMT"
        ),
        "http://a.example/old": Page.redirect("http://a.example/x"),
        "http://a.example/search?q=syria": Page(b"results"),
        "https://b.example/secure?id=7": Page(b"<p>over tls</p>", headers=[("X-Served", "b")]),
    }
    w = LoopbackWeb(pages, clock=lambda: FIXED)
    w.start()
    yield w
    w.stop()


def opener(w: LoopbackWeb, context: ssl.SSLContext | None = None) -> urllib.request.OpenerDirector:
    if context is None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    proxies = {"http": w.proxy_url, "https": w.proxy_url}
    return urllib.request.build_opener(
        urllib.request.ProxyHandler(proxies), urllib.request.HTTPSHandler(context=context)
    )


def raw_exchange(w: LoopbackWeb, request: bytes) -> bytes:
    """Send ``request`` on a fresh connection to the proxy and read until the server closes."""
    with socket.create_connection(("127.0.0.1", w.port), timeout=5) as s:
        s.sendall(request)
        out = bytearray()
        while data := s.recv(65536):
            out += data
    return bytes(out)


def closed_by_peer(s: socket.socket) -> bool:
    try:
        return s.recv(4096) == b""
    except (ConnectionError, ssl.SSLError):
        return True


def dechunk(data: bytes) -> bytes:
    out = bytearray()
    while True:
        line, _, data = data.partition(b"\r\n")
        size = int(line, 16)
        if size == 0:
            assert data == b"\r\n"
            return bytes(out)
        out += data[:size]
        assert data[size : size + 2] == b"\r\n"
        data = data[size + 2 :]


def test_http_absolute_form_through_the_proxy(web: LoopbackWeb) -> None:
    with opener(web).open("http://a.example/x", timeout=5) as r:
        assert r.status == 200
        assert r.read() == b"<p>hello</p>"
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert r.headers["Date"] == "Sat, 28 Nov 2026 02:00:00 GMT"
    assert web.hits("http://a.example/x") == 1
    (req,) = web.requests
    assert req.method == "GET" and req.url == "http://a.example/x" and not req.tls
    assert req.raw.startswith(b"GET http://a.example/x HTTP/1.1\r\n")
    assert req.raw.endswith(b"\r\n\r\n")
    assert ("Host", "a.example") in req.headers


def test_https_connect_then_tls_with_a_certificate_the_ca_signs(web: LoopbackWeb) -> None:
    verifying = ssl.create_default_context(cadata=web.ca_pem.decode("ascii"))
    with opener(web, verifying).open("https://b.example/secure?id=7", timeout=5) as r:
        assert r.read() == b"<p>over tls</p>"
        assert r.headers["X-Served"] == "b"
    with opener(web).open("https://b.example/secure?id=7", timeout=5) as r:
        assert r.status == 200
    connects = [q for q in web.requests if q.method == "CONNECT"]
    gets = [q for q in web.requests if q.method == "GET"]
    assert [q.url for q in connects] == ["b.example:443", "b.example:443"]
    assert all(q.raw.startswith(b"CONNECT b.example:443 HTTP/1.0\r\n") for q in connects)
    assert [(q.url, q.tls) for q in gets] == [("https://b.example/secure?id=7", True)] * 2
    assert gets[0].raw.startswith(b"GET /secure?id=7 HTTP/1.1\r\n")
    assert web.hits("https://b.example/secure?id=7") == 2


def test_https_certificate_is_per_host_and_untrusted_by_default(web: LoopbackWeb) -> None:
    verifying = ssl.create_default_context(cadata=web.ca_pem.decode("ascii"))
    with socket.create_connection(("127.0.0.1", web.port), timeout=5) as s:
        s.sendall(b"CONNECT b.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\n")
        assert s.recv(1024) == b"HTTP/1.1 200 Connection Established\r\n\r\n"
        with verifying.wrap_socket(s, server_hostname="b.example") as tls:
            cert = tls.getpeercert()
    assert ("DNS", "b.example") in cert["subjectAltName"]
    # The certificate authority is made at start: nobody trusts it unless told to.
    with socket.create_connection(("127.0.0.1", web.port), timeout=5) as s:
        s.sendall(b"CONNECT b.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\n")
        assert s.recv(1024).startswith(b"HTTP/1.1 200 ")
        with pytest.raises(ssl.SSLCertVerificationError):
            ssl.create_default_context().wrap_socket(s, server_hostname="b.example")


def test_chunked_bytes_on_the_wire_are_the_logged_bytes(web: LoopbackWeb) -> None:
    got = raw_exchange(
        web,
        b"GET http://a.example/chunked HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n",
    )
    assert web.sent["http://a.example/chunked"] == [got]
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [
        b"HTTP/1.1 200 OK",
        b"Date: Sat, 28 Nov 2026 02:00:00 GMT",
        b"Content-Type: text/html; charset=utf-8",
        b"Transfer-Encoding: chunked",
        b"Connection: close",
    ]
    assert body.startswith(b"1f4\r\n")  # 500-byte chunks
    assert dechunk(body) == LONG_TEXT


def test_gzip_bytes_on_the_wire_are_the_logged_bytes(web: LoopbackWeb) -> None:
    got = raw_exchange(
        web, b"GET http://a.example/gz HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n"
    )
    assert web.sent["http://a.example/gz"] == [got]
    head, _, body = got.partition(b"\r\n\r\n")
    assert b"\r\nContent-Encoding: gzip\r\n" in head
    assert f"\r\nContent-Length: {len(body)}\r\n".encode() in head
    assert gzip.decompress(body) == LONG_TEXT
    assert body == gzip.compress(LONG_TEXT, compresslevel=6, mtime=0)  # deterministic


def test_gzip_inside_chunks(web: LoopbackWeb) -> None:
    got = raw_exchange(
        web, b"GET http://a.example/both HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n"
    )
    assert web.sent["http://a.example/both"] == [got]
    head, _, body = got.partition(b"\r\n\r\n")
    assert b"Content-Encoding: gzip\r\nTransfer-Encoding: chunked" in head
    assert body.startswith(b"10\r\n") and body.count(b"\r\n10\r\n") >= 2  # 16-byte chunks
    assert gzip.decompress(dechunk(body)) == LONG_TEXT


def test_conditional_get_answers_304(web: LoopbackWeb) -> None:
    url = "http://a.example/cached"
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=5)
    try:
        conn.request("GET", url, headers={"If-None-Match": '"v1"'})
        r = conn.getresponse()
        assert (r.status, r.read()) == (304, b"")
        assert r.headers["ETag"] == '"v1"' and r.headers["Content-Length"] is None
        conn.request("GET", url, headers={"If-None-Match": 'W/"v0", W/"v1"'})
        r = conn.getresponse()
        assert (r.status, r.read()) == (304, b"")  # weak comparison, list of tags
        conn.request("GET", url, headers={"If-None-Match": '"v0"'})
        r = conn.getresponse()
        assert (r.status, r.read()) == (200, b"cached body")
        conn.request("GET", url, headers={"If-Modified-Since": "Thu, 26 Nov 2026 00:00:00 GMT"})
        r = conn.getresponse()
        assert (r.status, r.read()) == (304, b"")
        conn.request("GET", url, headers={"If-Modified-Since": "Tue, 24 Nov 2026 00:00:00 GMT"})
        r = conn.getresponse()
        assert (r.status, r.read()) == (200, b"cached body")
        # If-None-Match takes precedence over If-Modified-Since.
        conn.request(
            "GET",
            url,
            headers={"If-None-Match": '"v0"', "If-Modified-Since": "Thu, 26 Nov 2026 00:00:00 GMT"},
        )
        r = conn.getresponse()
        assert (r.status, r.read()) == (200, b"cached body")
    finally:
        conn.close()
    statuses = [s.split(b" ", 2)[1] for s in web.sent[url]]
    assert statuses == [b"304", b"304", b"200", b"304", b"200", b"200"]
    assert len({q.client for q in web.requests}) == 1  # one keep-alive connection


def test_down_host_resets_the_connection(web: LoopbackWeb) -> None:
    web.set_down("a.example")
    web.set_down("b.example")
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        opener(web).open("http://a.example/x", timeout=5)
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        opener(web).open("https://b.example/secure?id=7", timeout=5)
    assert "https://b.example/secure?id=7" not in web.sent  # reset at CONNECT
    assert "http://a.example/x" not in web.sent
    web.set_up("a.example")
    with opener(web).open("http://a.example/x", timeout=5) as r:
        assert r.status == 200


def test_unknown_url_is_a_small_404_and_head_has_no_body(web: LoopbackWeb) -> None:
    with pytest.raises(urllib.error.HTTPError) as e:
        opener(web).open("http://a.example/nothing-here", timeout=5)
    assert e.value.code == 404
    body = e.value.read()
    assert b"Not Found" in body and len(body) < 300
    got = raw_exchange(
        web, b"HEAD http://a.example/x HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n"
    )
    assert got.endswith(b"Content-Length: 12\r\nConnection: close\r\n\r\n")


def test_query_string_is_part_of_the_key(web: LoopbackWeb) -> None:
    with opener(web).open("http://a.example/search?q=syria", timeout=5) as r:
        assert r.read() == b"results"
    with pytest.raises(urllib.error.HTTPError) as e:
        opener(web).open("http://a.example/search?q=iraq", timeout=5)
    assert e.value.code == 404
    web.strip_query_fallback = True
    web.add("http://a.example/search", Page(b"all results"))
    with opener(web).open("http://a.example/search?q=iraq", timeout=5) as r:
        assert r.read() == b"all results"


def test_origin_form_by_host_header(web: LoopbackWeb) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=5)
    try:
        conn.request("GET", "/x", headers={"Host": "A.Example:80"})
        r = conn.getresponse()
        assert (r.status, r.read()) == (200, b"<p>hello</p>")
    finally:
        conn.close()
    assert web.requests[0].url == "http://a.example/x"


def test_redirect_is_followed(web: LoopbackWeb) -> None:
    with opener(web).open("http://a.example/old", timeout=5) as r:
        assert r.geturl() == "http://a.example/x" and r.read() == b"<p>hello</p>"
    first = web.sent["http://a.example/old"][0]
    assert first.startswith(b"HTTP/1.1 301 Moved Permanently\r\n")
    assert b"\r\nLocation: http://a.example/x\r\n" in first


def test_pages_added_and_removed_while_serving(web: LoopbackWeb) -> None:
    web.add("HTTP://New.Example:80", Page(b"new", status=203, reason="Edited Copy"))
    got = raw_exchange(web, b"GET http://new.example/ HTTP/1.0\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 203 Edited Copy\r\n")
    assert got.endswith(b"Connection: close\r\n\r\nnew")  # HTTP/1.0 without keep-alive
    web.remove("http://new.example/")
    got = raw_exchange(web, b"GET http://new.example/ HTTP/1.0\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 404 Not Found\r\n")


def test_connection_header_decides_whether_the_connection_stays_open(web: LoopbackWeb) -> None:
    web.add("http://a.example/closing", Page(b"bye", headers=[("Connection", "close")]))
    got = raw_exchange(web, b"GET http://a.example/closing HTTP/1.1\r\nHost: a.example\r\n\r\n")
    assert got.count(b"Connection:") == 1 and got.endswith(b"\r\n\r\nbye")  # and then EOF
    with socket.create_connection(("127.0.0.1", web.port), timeout=5) as s:
        for _ in range(2):  # HTTP/1.0 keep-alive is acknowledged and honoured
            s.sendall(b"GET http://a.example/x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            got = s.recv(4096)
            assert b"\r\nConnection: keep-alive\r\n" in got and got.endswith(b"<p>hello</p>")
    assert len({q.client for q in web.requests if q.url == "http://a.example/x"}) == 1


def test_path_encoding_is_normalised_but_query_is_exact() -> None:
    assert normalize_url("HTTPS://Host.Example:443/a'b") == "https://host.example/a'b"
    assert normalize_url("https://host.example/a%27b") == "https://host.example/a'b"
    assert normalize_url("http://host.example:8080") == "http://host.example:8080/"
    assert normalize_url("http://h.example/x?b=1&a=2#frag") == "http://h.example/x?b=1&a=2"


def test_request_body_is_logged_raw_and_post_is_refused(web: LoopbackWeb) -> None:
    got = raw_exchange(
        web,
        b"POST http://a.example/x HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    )
    assert got.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")
    assert web.requests[0].raw.endswith(b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n")


def test_malformed_request_gets_400(web: LoopbackWeb) -> None:
    got = raw_exchange(web, b"NONSENSE\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 400 Bad Request\r\n")


def test_concurrent_connections() -> None:
    results: list[bytes] = []
    with LoopbackWeb({"http://slow.example/": Page(b"slow", delay=1.0)}) as w:

        def fetch() -> None:
            with opener(w).open("http://slow.example/", timeout=20) as r:
                results.append(r.read())

        threads = [threading.Thread(target=fetch) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        arrivals = sorted(q.time for q in w.requests)
    assert results == [b"slow"] * 8
    # All eight arrived while the first was still being answered: served in parallel.
    assert (arrivals[-1] - arrivals[0]).total_seconds() < 1.0


def test_stop_closes_idle_connections_and_tunnels_quickly() -> None:
    w = LoopbackWeb({"http://a.example/": Page(b"a"), "https://b.example/": Page(b"b")})
    w.start()
    port = w.port
    idle = socket.create_connection(("127.0.0.1", port), timeout=5)
    idle.sendall(b"GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n")
    assert idle.recv(4096).endswith(b"\r\n\r\na")  # kept alive, now idle
    tunnel = socket.create_connection(("127.0.0.1", port), timeout=5)
    tunnel.sendall(b"CONNECT b.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\n")
    assert tunnel.recv(1024).startswith(b"HTTP/1.1 200 ")
    context = ssl.create_default_context(cadata=w.ca_pem.decode("ascii"))
    tls = context.wrap_socket(tunnel, server_hostname="b.example")
    half_sent = socket.create_connection(("127.0.0.1", port), timeout=5)
    half_sent.sendall(b"GET http://a.example/ HTTP/1.1\r\n")  # head never finished
    time.sleep(0.1)

    started = time.monotonic()
    w.stop()
    assert time.monotonic() - started < 2
    assert idle.recv(4096) == b""
    assert closed_by_peer(half_sent)
    assert closed_by_peer(tls)
    for s in (idle, tls, half_sent):
        s.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    w.stop()  # idempotent


def test_context_manager_returns_a_started_web() -> None:
    with LoopbackWeb() as w:
        assert w.proxy_url == f"http://127.0.0.1:{w.port}"
        got = raw_exchange(
            w, b"GET / HTTP/1.1\r\nHost: anything.example\r\nConnection: close\r\n\r\n"
        )
        assert got.startswith(b"HTTP/1.1 404 ")
    with pytest.raises(RuntimeError):
        _ = w.port
