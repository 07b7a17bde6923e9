"""A night's crawl end to end, through an http_proxy on 127.0.0.1, checked byte by byte."""

from __future__ import annotations

import gzip
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from opeds.crawler.capture.process import CrawlResult
from opeds.crawler.sources.config import load_sources
from opeds.night import begin_night, crawl_night
from opeds.settings import Settings
from opeds.storage.catalog.db import Catalog
from opeds.testing.web import LoopbackWeb, Page
from tests.sitekit import proxy_env, small_outlet, small_outlet_sources
from tests.warccheck import check_warc

NIGHT = "2026-11-28"
HOST = "http://news.example"


@pytest.fixture
def web() -> Iterator[LoopbackWeb]:
    with LoopbackWeb(small_outlet(HOST)) as w:
        yield w


@pytest.fixture(scope="module")
def night1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, LoopbackWeb]]:
    """One crawl shared by the read-only tests below."""
    tmp = tmp_path_factory.mktemp("night1")
    with LoopbackWeb(small_outlet(HOST)) as w:
        settings, _ = crawl(tmp, w)
        yield settings, w


def crawl(
    tmp_path: Path,
    web: LoopbackWeb,
    night: str = NIGHT,
    *,
    sources: str | None = None,
    **settings: Any,
) -> tuple[Settings, CrawlResult]:
    """Begin and crawl ``night`` through ``web``'s proxy (sources: the small outlet's)."""
    src = tmp_path / "sources.toml"
    src.write_text(small_outlet_sources(HOST) if sources is None else sources)
    sf = load_sources(src)
    config = Settings(archive=str(tmp_path / "archive"), **settings)
    begin_night(config, sf, night)
    result = crawl_night(
        config,
        sf.sources,
        night,
        sources_sha256=sf.sha256,
        env=proxy_env(web.proxy_url),
        log_path=tmp_path / "crawl.log",
    )
    return config, result


def records(archive: Path) -> list[tuple[str, str, bytes, object]]:
    out = []
    for p in sorted(archive.rglob("*.warc.gz")):
        with open(p, "rb") as fh:
            for r in ArchiveIterator(fh, no_record_parse=True):  # blocks as stored
                uri = r.rec_headers.get_header("WARC-Target-URI") or ""
                raw = r.raw_stream.read()
                out.append((r.rec_type, uri, raw, r))
    return out


def test_crawl_archives_feed_and_sitemap_articles_and_obeys_robots(
    night1: tuple[Settings, LoopbackWeb],
) -> None:
    settings, web = night1
    fetched = {r.url for r in web.requests}
    articles = {u for u in web.urls() if "/opinion/" in u}
    assert articles <= fetched  # every article listed in the feed and sitemaps
    assert not any("/private/" in u for u in fetched)  # robots.txt disallows it
    assert f"{HOST}/robots.txt" in fetched

    with Catalog(settings.effective_catalog_url) as cat:
        caps = list(cat.iter_captures())
    by_url = {c.url: c for c in caps}
    # the exact URL requested is archived, tracking parameters and odd encodings included
    assert f"{HOST}/opinion/a1.html?utm_source=rss&utm_medium=feed" in by_url
    assert f"{HOST}/opinion/a4.html?page=1&x=%7Ey" in by_url
    assert by_url[f"{HOST}/opinion/a5.html"].status == 301  # redirects are captured too
    assert {c.kind for c in caps} >= {"robots", "feed", "sitemap", "article"}
    # a URL listed in both the feed and the sitemap is fetched once
    assert web.hits(f"{HOST}/opinion/a2.html") == 1


def test_response_records_equal_what_the_server_sent(night1: tuple[Settings, LoopbackWeb]) -> None:
    settings, web = night1
    recs = records(settings.archive_path)
    responses = {uri: raw for kind, uri, raw, _ in recs if kind == "response"}
    assert responses
    for url, sent_list in web.sent.items():
        if url not in responses:
            continue
        wire = sent_list[0]
        head, _, framed = wire.partition(b"\r\n\r\n")
        stored = responses[url]
        s_head, _, s_body = stored.partition(b"\r\n\r\n")
        if b"transfer-encoding: chunked" in head.lower():
            # stored de-chunked, the header kept under a name that says so
            assert s_head == head.replace(b"Transfer-Encoding", b"X-Archive-Orig-Transfer-Encoding")
            assert s_body == dechunk(framed)
        else:
            assert stored == wire, url  # status line, reason, header case and order, body
    a1 = responses[f"{HOST}/opinion/a1.html?utm_source=rss&utm_medium=feed"]
    assert a1.startswith(b"HTTP/1.1 200 Everything Fine Here\r\n")
    assert a1.index(b"x-served-BY: edge-7") < a1.index(b"x-served-by: origin")
    a2 = responses[f"{HOST}/opinion/a2.html"]
    assert gzip.decompress(a2.partition(b"\r\n\r\n")[2]).startswith(b"<!doctype html>")


def test_request_records_are_what_was_sent(night1: tuple[Settings, LoopbackWeb]) -> None:
    settings, _web = night1
    recs = records(settings.archive_path)
    requests = {uri: raw for kind, uri, raw, _ in recs if kind == "request"}
    ids = {r.rec_headers.get_header("WARC-Record-ID"): r for kind, _, _, r in recs}
    for kind, _, _, r in recs:
        if kind == "request":
            target = ids[r.rec_headers.get_header("WARC-Concurrent-To")]
            assert target.rec_type in ("response", "revisit")
    raw = requests[f"{HOST}/opinion/a4.html?page=1&x=%7Ey"]
    assert raw.startswith(b"GET /opinion/a4.html?page=1&x=%7Ey HTTP/1.1\r\nHost: news.example\r\n")
    assert b"Proxy-Authorization" not in raw


def test_connections_are_kept_alive_and_every_exchange_is_archived_apart(
    night1: tuple[Settings, LoopbackWeb],
) -> None:
    settings, web = night1
    served = [r for r in web.requests if r.method != "CONNECT"]
    connections = {r.client for r in served}
    assert len(connections) < len(served)  # the outlet said keep-alive: connections were reused
    # ...and each request record holds one request, exactly as the server received it
    recs = records(settings.archive_path)
    sent = sorted(
        raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n", 1)[1]
        for kind, _, raw, _ in recs
        if kind == "request"
    )
    got = sorted(r.raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n", 1)[1] for r in served)
    assert sent == got


def test_files_pass_warcio_check(night1: tuple[Settings, LoopbackWeb]) -> None:
    settings, _web = night1
    files = sorted(settings.archive_path.rglob("*.warc.gz"))
    assert files and not list(settings.archive_path.rglob("*.open"))
    for f in files:
        check_warc(f)  # warcio check, and FastWARC verifying every digest


def test_checkers_catch_a_flipped_byte(
    night1: tuple[Settings, LoopbackWeb], tmp_path: Path
) -> None:
    settings, _web = night1
    src = sorted(settings.archive_path.rglob("*.warc.gz"))[0]
    recs = records(settings.archive_path)
    body = next(raw for kind, _, raw, _ in recs if kind == "response" and b"First opinion" in raw)
    raw = gzip.decompress(src.read_bytes())
    assert body in raw
    flipped = raw.replace(b"First opinion", b"Furst opinion", 1)
    bad = tmp_path / "bad.warc"
    bad.write_bytes(flipped)
    bindir = Path(sys.executable).parent
    assert subprocess.run(
        [str(bindir / "warcio"), "check", str(bad)], capture_output=True
    ).returncode
    res = subprocess.run([str(bindir / "fastwarc"), "check", "-p", str(bad)], capture_output=True)
    assert res.returncode != 0


def shifted(years: int) -> str:
    """The test night moved ``years`` either side of today's date: nights in the past (a
    backfill) and ahead of the clock must behave alike."""
    today = date.today()
    return (today + timedelta(days=round(365.25 * years))).isoformat()


@pytest.mark.parametrize("first", [NIGHT, shifted(-5), shifted(5)], ids=["fixed", "past", "future"])
def test_second_night_writes_revisits_and_conditional_gets(
    tmp_path: Path, web: LoopbackWeb, first: str
) -> None:
    second = next_night(first, 1)  # one night later: the first re-check is due
    settings, _ = crawl(tmp_path, web, first)
    web.clear_log()
    settings, _ = crawl(tmp_path, web, second)
    with Catalog(settings.effective_catalog_url) as cat:
        caps = cat.captures_for_night(second)
    kinds = {(c.kind, c.record_type, c.revisit_profile) for c in caps}
    # feeds, sitemaps and robots.txt are fetched every night; unchanged, they become revisits
    assert (
        "robots",
        "revisit",
        "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
    ) in kinds
    # the article with an ETag is re-checked with a conditional GET and answered 304
    a2 = [c for c in caps if c.url == f"{HOST}/opinion/a2.html"]
    assert a2 and a2[0].status == 304
    assert a2[0].revisit_profile == "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
    cond = [r for r in web.requests if r.url == f"{HOST}/opinion/a2.html"]
    assert any(k.lower() == "if-none-match" for k, _ in cond[0].headers)


def next_night(night: str, days: int) -> str:
    return (date.fromisoformat(night) + timedelta(days=days)).isoformat()


ARTICLES = {
    f"{HOST}/opinion/a1.html?utm_source=rss&utm_medium=feed",
    f"{HOST}/opinion/a2.html",
    f"{HOST}/opinion/a3.html",
    f"{HOST}/opinion/a4.html?page=1&x=%7Ey",
    f"{HOST}/opinion/a5.html",
}


def article_requests(web: LoopbackWeb) -> dict[str, set[str]]:
    """Each article URL requested (redirect targets left out) and the validators it sent."""
    out: dict[str, set[str]] = {}
    for r in web.requests:
        if r.url in ARTICLES:
            names = {k.lower() for k, _ in r.headers}
            out[r.url] = names & {"if-none-match", "if-modified-since"}
    return out


def test_nights_archived_out_of_order_each_do_what_their_night_calls_for(
    tmp_path: Path, web: LoopbackWeb
) -> None:
    """A backfill and a re-run behave as their nights say: D+7 archived first, then D, D+1,
    D+8 and D+7 again. Only captures of nights up to a night's own count for it."""
    d = date(2026, 11, 2)
    night = {k: (d + timedelta(days=k)).isoformat() for k in (0, 1, 7, 8)}
    full = {url: set() for url in ARTICLES}  # every article, plain GET

    crawl(tmp_path, web, night[7])  # nothing archived before: every article fetched in full
    assert article_requests(web) == full

    web.clear_log()  # night D knows no capture of its own or earlier nights: fetched in full
    settings, _ = crawl(tmp_path, web, night[0])
    assert article_requests(web) == full
    with Catalog(settings.effective_catalog_url) as cat:
        d_caps = {c.url: c for c in cat.captures_for_night(night[0], kind="article")}
    # the bytes were archived (on night D+7): an identical-payload revisit, not a second copy
    a2 = d_caps[f"{HOST}/opinion/a2.html"]
    assert (a2.record_type, a2.status) == ("revisit", 200)

    web.clear_log()  # D+1: the first re-check of night D's captures, conditional where possible
    settings, _ = crawl(tmp_path, web, night[1])
    sent = article_requests(web)
    assert set(sent) == ARTICLES
    assert sent[f"{HOST}/opinion/a2.html"] == {"if-none-match", "if-modified-since"}
    assert all(not v for u, v in sent.items() if u != f"{HOST}/opinion/a2.html")
    with Catalog(settings.effective_catalog_url) as cat:
        a2s = [
            c
            for c in cat.captures_for_night(night[1], kind="article")
            if c.url == f"{HOST}/opinion/a2.html"
        ]
    assert [c.revisit_profile for c in a2s] == [
        "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
    ]

    web.clear_log()  # D+8: the 7-night re-check was made by D+7's night: nothing is due
    crawl(tmp_path, web, night[8])
    assert article_requests(web) == {}

    web.clear_log()  # D+7 again (a cleared run): its own captures are there, nothing is due
    crawl(tmp_path, web, night[7])
    assert article_requests(web) == {}


def test_already_archived_articles_are_not_refetched(tmp_path: Path, web: LoopbackWeb) -> None:
    crawl(tmp_path, web, "2026-11-28")
    web.clear_log()
    crawl(tmp_path, web, "2026-11-28")  # the same night again
    fetched = {r.url for r in web.requests}
    assert not any("/opinion/" in u for u in fetched)


def dechunk(data: bytes) -> bytes:
    out = b""
    while True:
        line, _, data = data.partition(b"\r\n")
        size = int(line.split(b";")[0], 16)
        if size == 0:
            return out
        out += data[:size]
        data = data[size + 2 :]


def test_a_page_cut_at_the_size_cap_is_archived_as_truncated(tmp_path: Path) -> None:
    big = "<p>" + "x" * 200_000 + "</p>"
    pages = {
        "http://big.example/robots.txt": Page(b"", status=404),
        "http://big.example/feed.xml": Page(
            b"<rss><channel><item><link>http://big.example/huge.html</link></item></channel></rss>"
        ),
        "http://big.example/huge.html": Page.html(f"<html><body>{big}</body></html>"),
    }
    sources = '[[source]]\nname = "big"\nfeeds = ["http://big.example/feed.xml"]\n'
    with LoopbackWeb(pages) as web:
        settings, result = crawl(tmp_path, web, sources=sources, max_page_bytes=50_000)
    counts = result.sources["big"].counts
    assert counts.get("failed/too_large") == 1
    recs = records(settings.archive_path)
    huge = [r for kind, uri, _, r in recs if kind == "response" and uri.endswith("/huge.html")]
    assert len(huge) == 1
    assert huge[0].rec_headers.get_header("WARC-Truncated") == "length"  # type: ignore[attr-defined]
    for f in settings.archive_path.rglob("*.warc.gz"):
        check_warc(f)


def test_a_rerun_of_some_sources_keeps_the_others_and_every_try_in_the_report(
    tmp_path: Path,
) -> None:
    from opeds.night import run_night

    pages = {**small_outlet("http://one.example"), **small_outlet("http://two.example")}
    src = tmp_path / "sources.toml"
    src.write_text(
        small_outlet_sources("http://one.example", "one")
        + small_outlet_sources("http://two.example", "two")
    )
    sf = load_sources(src)
    config = Settings(archive=str(tmp_path / "archive"))
    with LoopbackWeb(pages) as w:
        env = proxy_env(w.proxy_url)
        first = run_night(config, sf, NIGHT, env=env, log_path=tmp_path / "1.log").report
        again = run_night(
            config, sf, NIGHT, source_names=["one"], env=env, log_path=tmp_path / "2.log"
        ).report
    assert set(again["sources"]) == {"one", "two"}  # the source not crawled again stays
    assert again["sources"]["two"] == first["sources"]["two"]
    one = again["sources"]["one"]
    assert len(one["tries"]) == 2 and one["tries"][0] == first["sources"]["one"]["tries"][0]
    assert one["fetched"] == sum(t["fetched"] for t in one["tries"])
    assert one["fetched"] == first["sources"]["one"]["fetched"] + one["tries"][1]["fetched"]
    assert again["extraction"]["articles"] == first["extraction"]["articles"] > 0
