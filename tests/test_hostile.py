"""Hostile and broken input: the night finishes, loses nothing and counts every case with a reason.

One night crawls five outlets at once through :class:`opeds.testing.hostile.HostileWeb` (a forward
proxy on 127.0.0.1 that never connects anywhere): ``hostile`` lists dozens of misbehaving URLs in
its feeds, sitemaps and listing page, ``good`` is a plain outlet whose pages must be archived all
the same, and three outlets have a robots.txt that is huge, malformed or closes everything. A
second crawl runs with private addresses blocked (production mode). Each case below is its own
test id and reads the shared result: its reason in the crawl result and the night report, and what
the WARC files hold. Run as ``python -m tests.test_hostile JOB.json`` this module is a crawl
process with ``OPEDS_BLOCK_PRIVATE_ADDRESSES`` switched on.
"""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from opeds.crawler.capture.process import CrawlResult, SourceResult
from opeds.crawler.sources.config import Source, load_sources
from opeds.crawler.sources.discovery import DiscoveryError, parse_feed, parse_sitemap
from opeds.extraction.article import extract_article
from opeds.night import (
    begin_night,
    build_report,
    crawl_night,
    crawl_summary,
    night_id,
    warcinfo_fields,
)
from opeds.settings import Settings
from opeds.testing.hostile import (
    HostileStep,
    HostileWeb,
    Route,
    gzip_bomb,
    redirect,
    repeat,
    response,
)
from opeds.testing.raw import HANG
from tests.sitekit import article_html, proxy_env
from tests.warccheck import check_warc

ROOT = Path(__file__).resolve().parent.parent
NIGHT = "2026-12-01"
H = "http://hostile.example"
MIB = 1024 * 1024
CAP = 4 * MIB  # max_page_bytes of the night
TIMEOUT = 2.0  # download_timeout of the night
TRAP = f"{H}/trap/honeypot.html"


def page(n: int, title: str = "A hostile outlet's opinion") -> bytes:
    """An ordinary article that, like every page of the outlet, links to the honeypot."""
    html = article_html(n, title).replace("</article>", f'<a href="{TRAP}">more</a></article>')
    return response(html.encode())


def nested_divs(depth: int) -> bytes:
    return (
        b"<html><head><title>Deep</title></head><body>"
        + b"<div>" * depth
        + b"<p>Buried text at the bottom of a very deep page.</p>"
        + b"</div>" * depth
        + b"</body></html>"
    )


def rng_bytes(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


HTML = ("Content-Type", "text/html; charset=utf-8")
BOMB = gzip_bomb(1024 * MIB)


@dataclass(frozen=True)
class Case:
    """One misbehaving URL of the hostile outlet and what the night must make of it."""

    id: str
    url: str
    steps: list[list[HostileStep]]
    reason: str | None
    """The ``failed/<reason>`` it is counted under; None when it is fetched."""
    archived: str | None = "complete"
    """``complete``, a WARC-Truncated value, or None when nothing was received to archive."""


def one(*steps: HostileStep) -> list[list[HostileStep]]:
    return [list(steps)]


HEAD_200 = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
CASES = [
    # -- size and decompression ----------------------------------------------------------------
    Case(
        "gzip-bomb",
        f"{H}/a/gzip-bomb.html",
        one(response(BOMB, headers=[HTML, ("Content-Encoding", "gzip")])),
        "decompressed_too_large",
    ),
    Case(
        "50mb-page-with-length",
        f"{H}/a/huge-length.html",
        one(
            HEAD_200 + f"Content-Length: {50 * MIB}\r\n\r\n".encode(),
            repeat(b"<p>" + b"x" * 65533, 50 * MIB),
        ),
        "too_large",
        archived="length",
    ),
    Case(
        "50mb-page-chunked",
        f"{H}/a/huge-chunked.html",
        one(
            HEAD_200 + b"Transfer-Encoding: chunked\r\n\r\n",
            repeat(b"10000\r\n" + b"y" * 0x10000 + b"\r\n", 50 * MIB),
        ),
        "too_large",
        archived="length",
    ),
    Case(
        "50mb-page-until-close",
        f"{H}/a/huge-close.html",
        one(HEAD_200 + b"\r\n", repeat(b"z" * 65536, 50 * MIB)),
        "too_large",
        archived="length",
    ),
    # -- time -----------------------------------------------------------------------------------
    Case("never-answers", "http://t1.hostile.example/a/silent.html", one(HANG), "timeout", None),
    Case(
        "body-never-finishes",
        "http://t2.hostile.example/a/endless.html",
        one(HEAD_200 + b"Content-Length: 100000\r\n\r\n<html><body><p>Start", HANG),
        "timeout",
        archived="time",
    ),
    Case(
        "trickle",
        "http://t3.hostile.example/a/trickle.html",
        one(HEAD_200 + b"\r\n", *[s for _ in range(40) for s in (b"<p>drip</p>", 0.2)]),
        "timeout",
        archived="time",
    ),
    Case(
        "chunks-never-end",
        "http://t4.hostile.example/a/chunks-hang.html",
        one(HEAD_200 + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", HANG),
        "timeout",
        archived="time",
    ),
    # -- redirects ------------------------------------------------------------------------------
    Case(
        "redirect-loop", f"{H}/a/loop-1.html", one(redirect(f"{H}/a/loop-2.html")), "redirect_loop"
    ),
    Case(
        "redirect-to-self", f"{H}/a/self.html", one(redirect(f"{H}/a/self.html")), "redirect_loop"
    ),
    Case(
        "redirect-to-file",
        f"{H}/a/to-file.html",
        one(redirect("file:///etc/passwd")),
        "bad_redirect",
    ),
    Case(
        "redirect-to-ftp",
        f"{H}/a/to-ftp.html",
        one(redirect("ftp://hostile.example/x")),
        "bad_redirect",
    ),
    Case(
        "redirect-to-javascript",
        f"{H}/a/to-js.html",
        one(redirect("javascript:alert(document.cookie)")),
        "bad_url",
    ),
    Case(
        "redirect-to-data",
        f"{H}/a/to-data.html",
        one(redirect("data:text/html,<p>injected</p>")),
        "bad_redirect",
    ),
    Case(
        "redirect-without-location",
        f"{H}/a/no-location.html",
        one(response(b"", status=302, reason="Found")),
        "bad_redirect",
    ),
    # -- framing --------------------------------------------------------------------------------
    Case(
        "content-length-too-long-then-close",
        f"{H}/a/cl-long.html",
        one(HEAD_200 + b"Content-Length: 1000\r\n\r\n<html><body><p>short</p>"),
        "data_loss",
        archived="disconnect",
    ),
    Case(
        "content-length-too-short",
        f"{H}/a/cl-short.html",
        one(HEAD_200 + b"Content-Length: 12\r\n\r\n<html><body><p>the rest is never read</p>"),
        None,
    ),
    Case(
        "content-length-not-a-number",
        f"{H}/a/cl-nan.html",
        one(HEAD_200 + b"Content-Length: lots\r\n\r\n<html></html>"),
        "malformed_response",
        archived="unspecified",
    ),
    Case(
        "content-length-negative",
        f"{H}/a/cl-negative.html",
        one(HEAD_200 + b"Content-Length: -5\r\n\r\n<html></html>"),
        "malformed_response",
        archived="unspecified",
    ),
    Case(
        "content-length-conflicting",
        f"{H}/a/cl-conflict.html",
        one(HEAD_200 + b"Content-Length: 13\r\nContent-Length: 20\r\n\r\n<html></html>"),
        "malformed_response",
        archived="unspecified",
    ),
    Case(
        "chunk-size-not-hex",
        f"{H}/a/chunk-bad.html",
        one(HEAD_200 + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n"),
        "data_loss",
        archived="unspecified",
    ),
    Case(
        "chunk-cut-short",
        f"{H}/a/chunk-short.html",
        one(HEAD_200 + b"Transfer-Encoding: chunked\r\n\r\n400\r\nonly a few bytes"),
        "data_loss",
        archived="disconnect",
    ),
    Case(
        "chunk-without-crlf",
        f"{H}/a/chunk-nocrlf.html",
        one(HEAD_200 + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"),
        "data_loss",
        archived="unspecified",
    ),
    Case(
        "not-http-at-all",
        f"{H}/a/ssh.html",
        one(b"SSH-2.0-OpenSSH_9.6\r\n"),
        "malformed_response",
        None,
    ),
    Case("closed-without-a-byte", f"{H}/a/closed.html", one(b""), "connection_closed", None),
    Case(
        "endless-header",
        f"{H}/a/big-header.html",
        one(HEAD_200 + b"X-Junk: " + b"j" * 300_000 + b"\r\n\r\n"),
        "malformed_response",
        None,
    ),
    Case(
        "too-many-interim-responses",
        f"{H}/a/continue.html",
        one(b"HTTP/1.1 100 Continue\r\n\r\n" * 20 + response(b"<p>late</p>")),
        "malformed_response",
        None,
    ),
    # -- content encoding and content -----------------------------------------------------------
    Case(
        "gzip-body-broken",
        f"{H}/a/gzip-broken.html",
        one(
            response(
                b"\x1f\x8b\x08\x00" + rng_bytes(2000, 1),
                headers=[HTML, ("Content-Encoding", "gzip")],
            )
        ),
        "bad_encoding",
    ),
    Case(
        "deflate-body-garbage",
        f"{H}/a/deflate-garbage.html",
        one(response(rng_bytes(2000, 2), headers=[HTML, ("Content-Encoding", "deflate")])),
        "bad_encoding",
    ),
    Case(
        "gzip-body-truncated",
        f"{H}/a/gzip-truncated.html",
        one(
            response(
                gzip.compress(article_html(7, "Cut gzip").encode())[:-40],
                headers=[HTML, ("Content-Encoding", "gzip")],
            )
        ),
        None,
    ),
    Case(
        "wrong-charset",
        f"{H}/a/wrong-charset.html",
        one(
            response(
                "<html><title>Caf\xe9</title><p>na\xefve r\xe9sum\xe9</p></html>".encode("cp1252")
            )
        ),
        None,
    ),
    Case(
        "unknown-charset",
        f"{H}/a/unknown-charset.html",
        one(response(b"<p>text</p>", headers=[("Content-Type", "text/html; charset=x-klingon")])),
        None,
    ),
    Case("binary-as-html", f"{H}/a/binary.html", one(response(rng_bytes(200_000, 3))), None),
    Case("nested-100k-divs", f"{H}/a/nested.html", one(response(nested_divs(100_000))), None),
    Case("empty-article", f"{H}/a/empty.html", one(response(b"")), None),
    Case(
        "no-title-no-date",
        f"{H}/a/no-title.html",
        one(
            response(b"<html><body><p>" + b"Words without a heading. " * 40 + b"</p></body></html>")
        ),
        None,
    ),
    # -- back off -------------------------------------------------------------------------------
    Case(
        "503-retry-after-then-ok",
        f"{H}/a/busy-once.html",
        [
            [response(b"busy", status=503, reason="Busy", headers=[HTML, ("Retry-After", "1")])],
            [page(3)],
        ],
        None,
    ),
    Case(
        "429-always",
        f"{H}/a/busy-always.html",
        one(
            response(
                b"slow down", status=429, reason="Too Many", headers=[HTML, ("Retry-After", "3600")]
            )
        ),
        "http_429",
    ),
    Case(
        "503-retry-after-date",
        f"{H}/a/busy-date.html",
        one(
            response(
                b"",
                status=503,
                reason="Busy",
                headers=[HTML, ("Retry-After", "Fri, 31 Dec 1999 23:59:59 GMT")],
            )
        ),
        "http_503",
    ),
]
CASE_BY_ID = {c.id: c for c in CASES}

# URLs with odd spellings: every URL under this prefix is an ordinary article
ODD_URLS = {
    "space-in-path": f"{H}/odd/with space.html",
    "unicode-path": f"{H}/odd/café-ünïcödé-مقال.html",
    "percent-encoded-slash": f"{H}/odd/a%2Fb.html",
    "invalid-percent": f"{H}/odd/100%zz.html",
    "query-with-unicode": f"{H}/odd/q.html?q=ñ&x=a b",
}

# hosts the outlet's allowed_domains name (as a misconfigured or hijacked outlet's may) ...
LONG_URL = f"{H}/odd/" + "long-" * 600 + ".html"

REDIRECT_TARGETS = {
    "rfc1918": "http://10.0.0.7/internal",
    "loopback-name": "http://localhost:8080/admin",
    "loopback-ip": "http://127.0.0.1:9/",
    "link-local-metadata": "http://169.254.169.254/latest/meta-data/",
}
# ... and private addresses off the outlet's domains, which are never requested at all
OFFSITE_TARGETS = {
    "ipv6-loopback": "http://[::1]/",
    "home-router": "http://192.168.1.1/",
}

XML = ("Content-Type", "application/xml")
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]><rss><channel><item><title>&lol9;</title><link>http://hostile.example/a/laughs.html</link>"
    b"</item></channel></rss>"
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">'
    b'<!ENTITY net SYSTEM "http://hostile.example/xxe-probe"><!ENTITY % p SYSTEM '
    b'"http://hostile.example/xxe-dtd">%p;]><rss><channel><item><title>&xxe;&net;</title>'
    b"<link>http://hostile.example/a/xxe.html</link></item></channel></rss>"
)


def rss(urls: list[str]) -> bytes:
    items = "".join(f"<item><link>{u.replace('&', '&amp;')}</link></item>" for u in urls)
    return f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'.encode()


def urlset(urls: list[str]) -> bytes:
    locs = "".join(f"<url><loc>{u.replace('&', '&amp;')}</loc></url>" for u in urls)
    return (
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}'
        "</urlset>"
    ).encode()


def sitemapindex(urls: list[str]) -> bytes:
    locs = "".join(f"<sitemap><loc>{u}</loc></sitemap>" for u in urls)
    return (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{locs}</sitemapindex>"
    ).encode()


# feeds and sitemaps of the hostile outlet: (url, body or steps, expected failed reason or None)
DOCS: dict[str, tuple[str, bytes | list[list[HostileStep]], str | None]] = {
    "feed-malformed-xml": (
        f"{H}/feeds/malformed.xml",
        b"<rss><channel><item><link>http://hostile.example/a/from-broken-feed.html</link></item>"
        b"<item><link>http://hostile.example/a/cut",
        None,
    ),
    "feed-binary": (f"{H}/feeds/binary.xml", rng_bytes(50_000, 4), "bad_feed"),
    "feed-json-broken": (
        f"{H}/feeds/broken.json",
        b'{"version": "x", "items": [{"url": ',
        "bad_feed",
    ),
    "feed-billion-laughs": (f"{H}/feeds/laughs.xml", BILLION_LAUGHS, "bad_feed"),
    "feed-external-entities": (f"{H}/feeds/xxe.xml", XXE, None),
    "feed-offsite-20k": (
        f"{H}/feeds/offsite.xml",
        rss([f"http://elsewhere{i % 50}.example/a/{i}.html" for i in range(20_000)]),
        None,
    ),
    "feed-gigantic": (
        f"{H}/feeds/gigantic.xml",
        one(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n\r\n<rss><channel>",
            repeat(b"<item><title>" + b"t" * 4000 + b"</title></item>", 10 * MIB),
        ),
        "too_large",
    ),
    "sitemap-malformed": (
        f"{H}/sitemaps/malformed.xml",
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>',
        "bad_sitemap",
    ),
    "sitemap-gzip-bomb": (
        f"{H}/sitemaps/bomb.xml.gz",
        one(response(BOMB, headers=[("Content-Type", "application/x-gzip")])),
        "bad_sitemap",
    ),
    "sitemap-index-offsite": (
        f"{H}/sitemaps/index-offsite.xml",
        sitemapindex(["http://elsewhere.example/sitemap.xml", "ftp://hostile.example/s.xml"]),
        None,
    ),
    "sitemap-index-loops-to-itself": (
        f"{H}/sitemaps/index-self.xml",
        sitemapindex([f"{H}/sitemaps/index-self.xml", f"{H}/sitemaps/index-self.xml?again=1"]),
        None,
    ),
    "sitemap-wrong-root": (
        f"{H}/sitemaps/html.xml",
        b"<html><body>not a sitemap</body></html>",
        "bad_sitemap",
    ),
}

GOOD = "http://good.example"
GOOD_ARTICLES = [f"{GOOD}/opinion/g{i}.html" for i in range(1, 6)]
BIG_ROBOTS = "http://bigrobots.example"
JUNK_ROBOTS = "http://junkrobots.example"
CLOSED = "http://closed.example"


def hostile_routes() -> tuple[dict[str, Route], dict[str, Route]]:
    routes: dict[str, Route] = {}
    for case in CASES:
        routes[case.url] = Route(case.steps)
    routes[f"{H}/a/loop-2.html"] = Route.of(redirect(f"{H}/a/loop-1.html"))
    for name, target in (REDIRECT_TARGETS | OFFSITE_TARGETS).items():
        routes[f"{H}/a/to-private-{name}.html"] = Route.of(redirect(target))
    for _name, (url, body, _) in DOCS.items():
        routes[url] = (
            Route(body) if isinstance(body, list) else Route.of(response(body, headers=[XML]))
        )
    for path in ("from-broken-feed", "laughs", "xxe", "ok-1", "ok-2"):
        routes[f"{H}/a/{path}.html"] = Route.of(page(len(path)))
    robots = b"User-agent: *\nDisallow: /trap/\n"
    routes[f"{H}/robots.txt"] = Route.of(response(robots, headers=[("Content-Type", "text/plain")]))
    routes[TRAP] = Route.of(page(666, "The honeypot"))
    listing = "".join(
        f'<a href="{u}">x</a>' for u in (TRAP, f"{H}/a/ok-1.html", f"{H}/trap/2.html")
    )
    routes[f"{H}/list.html"] = Route.of(response(f"<html><body>{listing}</body></html>".encode()))
    feed_urls = [c.url for c in CASES]
    feed_urls += [f"{H}/a/to-private-{n}.html" for n in REDIRECT_TARGETS | OFFSITE_TARGETS]
    feed_urls += [*ODD_URLS.values(), LONG_URL, TRAP, f"{H}/a/ok-2.html"]
    routes[f"{H}/feed.xml"] = Route.of(response(rss(feed_urls), headers=[XML]))
    # the good outlet
    routes[f"{GOOD}/robots.txt"] = Route.of(response(b"User-agent: *\nDisallow: /trap/\n"))
    routes[f"{GOOD}/feed.xml"] = Route.of(response(rss(GOOD_ARTICLES), headers=[XML]))
    for i, url in enumerate(GOOD_ARTICLES, 1):
        routes[url] = Route.of(page(100 + i, f"Good opinion {i}"))
    # three outlets with a hostile robots.txt
    huge = b"User-agent: *\nDisallow: /trap/\n" + b"# filler line of a huge robots.txt\n" * 400_000
    routes[f"{BIG_ROBOTS}/robots.txt"] = Route.of(
        response(huge, headers=[("Content-Type", "text/plain")])
    )
    routes[f"{JUNK_ROBOTS}/robots.txt"] = Route.of(
        response(rng_bytes(5000, 5) + b"\nDisallow /no-colon\nUser-agent\n\x00\n", headers=[HTML])
    )
    routes[f"{CLOSED}/robots.txt"] = Route.of(response(b"User-agent: *\nDisallow: /\n"))
    for host in (BIG_ROBOTS, JUNK_ROBOTS, CLOSED):
        urls = [f"{host}/a/1.html", f"{host}/trap/2.html"]
        routes[f"{host}/feed.xml"] = Route.of(response(rss(urls), headers=[XML]))
        routes[f"{host}/a/1.html"] = Route.of(page(200))
        routes[f"{host}/trap/2.html"] = Route.of(page(201))
    prefixes = {f"{H}/odd/": Route.of(page(300, "An oddly addressed opinion"))}
    return routes, prefixes


SOURCES_TOML = f"""
[[source]]
name = "hostile"
feeds = ["{H}/feed.xml", {", ".join(f'"{u}"' for u, _, _ in DOCS.values() if "/feeds/" in u)}]
sitemaps = [{", ".join(f'"{u}"' for u, _, _ in DOCS.values() if "/sitemaps/" in u)}]
start_urls = ["{H}/list.html"]
article_pattern = "/(a|trap|odd)/"
allowed_domains = ["hostile.example", "10.0.0.7", "localhost", "127.0.0.1", "169.254.169.254"]
crawl_delay = 0.0
""" + "".join(
    f"""
[[source]]
name = "{name}"
feeds = ["{host}/feed.xml"]
allowed_domains = ["{name}.example"]
crawl_delay = 0.0
"""  # one plain outlet per feed host
    for name, host in (
        ("good", GOOD),
        ("bigrobots", BIG_ROBOTS),
        ("junkrobots", JUNK_ROBOTS),
        ("closed", CLOSED),
    )
)


# -- the nights -----------------------------------------------------------------------------------
@dataclass
class Night:
    settings: Settings
    result: CrawlResult
    report: dict[str, Any]
    web: HostileWeb
    seconds: float
    responses: dict[str, list[Any]]
    """Per WARC-Target-URI, the response records' headers, in order."""
    payloads: dict[str, bytes]
    """Per WARC-Target-URI, the block of its response record (of a revisit when it has none)."""


def read_night(settings: Settings) -> tuple[dict[str, list[Any]], dict[str, bytes]]:
    heads: dict[str, list[Any]] = {}
    payloads: dict[str, bytes] = {}
    for path in sorted(settings.archive_path.rglob("*.warc.gz")):
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh, no_record_parse=True):
                if rec.rec_type not in ("response", "revisit"):
                    continue
                uri = rec.rec_headers.get_header("WARC-Target-URI")
                heads.setdefault(uri, []).append(rec.rec_headers)
                block = rec.raw_stream.read()
                if rec.rec_type == "response" or uri not in payloads:
                    payloads[uri] = block
    return heads, payloads


def run_night(tmp: Path, web: HostileWeb, *, blocking: bool = False) -> Night:
    src = tmp / "sources.toml"
    src.write_text(SOURCES_TOML)
    sf = load_sources(src)
    settings = Settings(
        archive=str(tmp / "archive"),
        crawl_delay=0.0,
        download_timeout=TIMEOUT,
        max_page_bytes=CAP,
        retry_after_max=1.5,
    )
    begin_night(settings, sf, NIGHT)
    started = time.monotonic()
    if blocking:
        result = crawl_blocking_private(settings, sf.sources, web, tmp)
    else:
        result = crawl_night(
            settings,
            sf.sources,
            NIGHT,
            sources_sha256=sf.sha256,
            env=proxy_env(web.proxy_url),
            log_path=tmp / "crawl.log",
        )
    seconds = time.monotonic() - started
    runs = {name: [crawl_summary(name, result, None)] for name in result.sources}
    report = build_report(NIGHT, runs, None, [])
    heads, payloads = read_night(settings)
    return Night(settings, result, report, web, seconds, heads, payloads)


def crawl_blocking_private(
    settings: Settings, sources: Sequence[Source], web: HostileWeb, tmp: Path
) -> CrawlResult:
    """The night's crawl as ``opeds.crawler.capture.process`` runs it, with private addresses
    blocked."""
    settings.spool_path.mkdir(parents=True, exist_ok=True)
    result_path = tmp / "result.json"
    job = {
        "settings": settings.public_dict(),
        "sources": [s.to_dict() for s in sources],
        "night": night_id(NIGHT),
        "warcinfo": warcinfo_fields(settings, NIGHT, "0" * 64),
        "result_path": str(result_path),
    }
    job_path = tmp / "job.json"
    job_path.write_text(json.dumps(job))
    with open(tmp / "crawl.log", "ab") as log:
        subprocess.run(
            [sys.executable, "-m", "tests.test_hostile", str(job_path)],
            env=proxy_env(web.proxy_url),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=120,
            check=True,
        )
    data = json.loads(result_path.read_text())
    return CrawlResult(
        night=data["night"],
        sources={name: SourceResult(**r) for name, r in data["sources"].items()},
    )


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Night]:
    routes, prefixes = hostile_routes()
    with HostileWeb(routes, prefixes) as web:
        yield run_night(tmp_path_factory.mktemp("night"), web)


@pytest.fixture(scope="module")
def blocking_night(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Night]:
    routes, prefixes = hostile_routes()
    with HostileWeb(routes, prefixes) as web:
        yield run_night(tmp_path_factory.mktemp("blocking_night"), web, blocking=True)


def hostile(n: Night) -> SourceResult:
    return n.result.sources["hostile"]


def failures_of(n: Night, url: str, source: str = "hostile") -> list[dict[str, str]]:
    return [f for f in n.result.sources[source].failures if f["url"] == url]


def assert_counted(n: Night, url: str, reason: str, source: str = "hostile") -> None:
    """The URL is logged with ``reason`` and counted under it in the crawl result and report."""
    got = failures_of(n, url, source)
    assert [f["reason"] for f in got] == [reason], (url, got)
    assert n.result.sources[source].counts.get(f"failed/{reason}", 0) >= 1
    assert n.report["sources"][source]["failed_reasons"].get(reason, 0) >= 1


# -- the night as a whole -------------------------------------------------------------------------
def test_night_finishes_in_time_with_every_source(night: Night) -> None:
    assert set(night.result.sources) == {"hostile", "good", "bigrobots", "junkrobots", "closed"}
    for r in night.result.sources.values():
        assert r.finish_reason == "finished"
    assert night.seconds < 60


def test_good_outlet_is_archived_in_full(night: Night) -> None:
    for url in GOOD_ARTICLES:
        assert [h.get_header("WARC-Truncated") for h in night.responses[url]] == [None]
        assert b"Good opinion" in night.payloads[url]
    assert night.result.sources["good"].counts.get("articles_fetched") == len(GOOD_ARTICLES)
    assert night.report["sources"]["good"]["failed"] == 0


def test_every_warc_file_passes_the_checkers(night: Night) -> None:
    files = sorted(night.settings.archive_path.rglob("*.warc.gz"))
    assert files and not list(night.settings.archive_path.rglob("*.open"))
    for f in files:
        check_warc(f)


def test_every_failure_in_the_report_has_a_reason(night: Night) -> None:
    rep = night.report["sources"]["hostile"]
    assert rep["failed"] == sum(rep["failed_reasons"].values()) > 20
    assert all(f["reason"] and f["url"] for f in hostile(night).failures)
    # reasons are short keys, not exception class names
    assert all(k.islower() for k in rep["failed_reasons"]), rep["failed_reasons"]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(night: Night, case: Case) -> None:
    if case.reason is None:
        assert not failures_of(night, case.url), failures_of(night, case.url)
        assert night.responses[case.url][-1].get_header("WARC-Truncated") is None
    else:
        assert_counted(night, case.url, case.reason)
    if case.archived is None:
        assert case.url not in night.responses
    elif case.archived == "complete":
        heads = night.responses[case.url]
        assert all(h.get_header("WARC-Truncated") is None for h in heads)
    else:
        truncated = {h.get_header("WARC-Truncated") for h in night.responses[case.url]}
        assert truncated == {case.archived}


def test_gzip_bomb_is_archived_compressed_and_never_inflated(night: Night) -> None:
    head = night.payloads[CASE_BY_ID["gzip-bomb"].url]  # the sitemap bomb is the same payload
    assert f"Content-Length: {len(BOMB)}\r\n".encode() in head
    assert any(block.endswith(b"\r\n\r\n" + BOMB) for block in night.payloads.values())


def test_50mb_page_stops_at_the_configured_cap(night: Night) -> None:
    for cid in ("50mb-page-chunked", "50mb-page-until-close"):
        body = night.payloads[CASE_BY_ID[cid].url].partition(b"\r\n\r\n")[2]
        assert len(body) == CAP


def test_retry_after_is_retried_and_counted(night: Night) -> None:
    once = night.web.hits_of(CASE_BY_ID["503-retry-after-then-ok"].url)
    assert len(once) == 2  # retried, then fetched
    assert once[1].at - once[0].at >= 0.9  # after the one second Retry-After asked for
    always = night.web.hits_of(CASE_BY_ID["429-always"].url)
    assert len(always) == 3  # RETRY_TIMES + 1, not an hour's wait
    # every attempt is archived
    assert len(night.responses[CASE_BY_ID["429-always"].url]) == 3


def test_redirect_loop_is_archived_hop_by_hop_and_left_at_the_first_repeat(night: Night) -> None:
    assert len(night.responses[f"{H}/a/loop-1.html"]) == 1
    assert len(night.responses[f"{H}/a/loop-2.html"]) == 1


def test_redirects_to_other_schemes_are_never_followed(night: Night) -> None:
    everything = b"".join(night.payloads.values())
    assert b"root:x:0:0" not in everything
    assert not any(u.startswith(("file:", "ftp:", "data:", "javascript:")) for u in night.responses)


@pytest.mark.parametrize("name", list(REDIRECT_TARGETS))
def test_redirect_to_private_address_followed_only_when_allowed(night: Night, name: str) -> None:
    # tests and the demo crawl through a loopback proxy: the check is off, the proxy answers 404
    url = f"{H}/a/to-private-{name}.html"
    assert_counted(night, url, "http_404")


@pytest.mark.parametrize("name", list(REDIRECT_TARGETS))
def test_redirect_to_private_address_is_blocked_in_production(
    blocking_night: Night, name: str
) -> None:
    url = f"{H}/a/to-private-{name}.html"
    assert_counted(blocking_night, url, "blocked_address")
    target = REDIRECT_TARGETS[name]
    assert not any(u.startswith(target.rstrip("/")) for u in blocking_night.web.urls_hit())
    assert [h.get_header("WARC-Truncated") for h in blocking_night.responses[url]] == [None]


@pytest.mark.parametrize("name", list(OFFSITE_TARGETS))
def test_redirect_off_the_outlet_is_counted_not_followed(night: Night, name: str) -> None:
    url = f"{H}/a/to-private-{name}.html"
    assert_counted(night, url, "offsite_redirect")
    assert not any(u.startswith(OFFSITE_TARGETS[name].rstrip("/")) for u in night.web.urls_hit())


def test_blocking_night_still_archives_the_rest(blocking_night: Night) -> None:
    for url in GOOD_ARTICLES:
        assert url in blocking_night.responses
    for f in sorted(blocking_night.settings.archive_path.rglob("*.warc.gz")):
        check_warc(f)


@pytest.mark.parametrize("name", list(ODD_URLS))
def test_odd_urls_are_fetched_and_archived(night: Night, name: str) -> None:
    from w3lib.url import safe_url_string

    wire = safe_url_string(ODD_URLS[name])
    assert wire in night.web.urls_hit()
    assert wire in night.responses
    assert night.payloads[wire].startswith(b"HTTP/1.1 200 OK\r\n")
    assert not failures_of(night, wire)


def test_very_long_url_is_counted_not_dropped_silently(night: Night) -> None:
    assert_counted(night, LONG_URL, "url_too_long")
    assert LONG_URL not in night.web.urls_hit()


@pytest.mark.parametrize("name", list(DOCS))
def test_feed_or_sitemap(night: Night, name: str) -> None:
    url, _, reason = DOCS[name]
    if reason is None:
        assert not failures_of(night, url)
    else:
        assert_counted(night, url, reason)
    assert url in night.responses  # archived as received, however bad


def test_broken_feed_yields_what_it_could_read(night: Night) -> None:
    assert f"{H}/a/from-broken-feed.html" in night.responses


def test_xml_bombs_expand_nothing_and_fetch_nothing(night: Night) -> None:
    hit = night.web.urls_hit()
    assert f"{H}/xxe-probe" not in hit and f"{H}/xxe-dtd" not in hit
    assert f"{H}/a/xxe.html" in night.responses
    assert f"{H}/a/laughs.html" not in night.web.urls_hit()  # the parser gave up: bad_feed


def test_offsite_links_are_counted_not_fetched(night: Night) -> None:
    assert hostile(night).counts.get("offsite", 0) >= 20_000 + 2  # feed items, index entries
    assert not any("elsewhere" in u for u in night.web.urls_hit())


def test_sitemap_index_that_lists_itself_is_read_once(night: Night) -> None:
    assert len(night.web.hits_of(f"{H}/sitemaps/index-self.xml")) == 1


def test_honeypot_is_never_fetched(night: Night) -> None:
    hit = [u for u in night.web.urls_hit() if not u.startswith(JUNK_ROBOTS)]
    assert not any("/trap/" in u for u in hit)
    assert hostile(night).counts.get("robots_disallowed", 0) >= 2


def test_huge_robots_txt_is_read_as_far_as_the_cap_and_obeyed(night: Night) -> None:
    r = night.result.sources["bigrobots"]
    assert f"{BIG_ROBOTS}/a/1.html" in night.responses
    assert not any(u.startswith(f"{BIG_ROBOTS}/trap/") for u in night.web.urls_hit())
    assert r.counts.get("robots_disallowed") == 1
    (head,) = night.responses[f"{BIG_ROBOTS}/robots.txt"]
    assert head.get_header("WARC-Truncated") == "length"


def test_malformed_robots_txt_allows_the_crawl(night: Night) -> None:
    r = night.result.sources["junkrobots"]
    assert r.counts.get("articles_fetched", 0) >= 1
    assert f"{JUNK_ROBOTS}/robots.txt" in night.responses


def test_robots_txt_closing_everything_means_only_robots_txt_is_fetched(night: Night) -> None:
    hit = [u for u in night.web.urls_hit() if u.startswith(CLOSED)]
    assert hit == [f"{CLOSED}/robots.txt"]
    r = night.result.sources["closed"]
    assert r.counts.get("robots_disallowed") == 1  # the feed: its articles are never known
    assert night.report["sources"]["closed"]["robots_disallowed"] == 1


# -- the parsers and the extractor on their own ----------------------------------------------------
def test_extraction_survives_100k_nested_divs() -> None:
    art = extract_article(nested_divs(100_000), f"{H}/a/nested.html")
    assert isinstance(art.body, str)


@pytest.mark.parametrize(
    "body",
    [b"", rng_bytes(20_000, 6), "<p>na\xefve</p>".encode("cp1252"), b"<html><body></body></html>"],
    ids=["empty", "binary", "cp1252-as-utf8", "no-text"],
)
def test_extraction_of_unusable_pages_gives_an_empty_article(body: bytes) -> None:
    art = extract_article(body, f"{H}/a/x.html", content_type="text/html; charset=utf-8")
    assert (art.title, art.body, art.authors) == (None, "", [])


def test_billion_laughs_parse_is_quick_and_refused() -> None:
    started = time.monotonic()
    with pytest.raises(DiscoveryError, match="amplification"):
        parse_feed(BILLION_LAUGHS, f"{H}/feeds/laughs.xml")
    assert time.monotonic() - started < 1


def test_external_entities_are_not_resolved() -> None:
    links = parse_feed(XXE, f"{H}/feeds/xxe.xml")
    assert [link.url for link in links] == [f"{H}/a/xxe.html"]
    assert "root:" not in (links[0].title or "")


def test_gzip_bomb_sitemap_is_refused() -> None:
    with pytest.raises(DiscoveryError, match="inflates beyond"):
        parse_sitemap(BOMB, f"{H}/sitemap.xml.gz")


# -- the crawl process with private addresses blocked -------------------------------------------
def _main(argv: list[str]) -> int:
    import opeds.crawler.capture.process as process

    plain = process.scrapy_settings

    def blocking(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**plain(*args, **kwargs), "OPEDS_BLOCK_PRIVATE_ADDRESSES": True}

    process.scrapy_settings = blocking
    return process.main(argv)


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
