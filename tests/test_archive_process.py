"""The crawl's WARC writer process: order, dedup, counts, and failures that stop a crawl.

The writer is a real ``spawn``ed process fed through a real pipe; the WARC files and catalog it
writes are read back as a user would.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from opeds.crawler.capture.archiver import ArchiverConfig
from opeds.crawler.capture.exchange import Exchange
from opeds.crawler.capture.writer_process import ArchiveError, ArchiveProcess
from opeds.crawler.sources.config import load_sources
from opeds.night import begin_night, catalog_for, crawl_night
from opeds.settings import Settings
from opeds.storage.catalog.db import Catalog
from opeds.storage.warc.reader import iter_records
from opeds.storage.warc.writer import PROFILE_IDENTICAL, payload_digest
from opeds.testing.web import LoopbackWeb, Page
from tests.sitekit import article_html, proxy_env
from tests.warccheck import check_warc

NIGHT = "2026-11-28"


def exchange(i: int, body: bytes) -> Exchange:
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return Exchange(
        url=f"http://x.example/p/{i}.html",
        method="GET",
        request_bytes=f"GET /p/{i}.html HTTP/1.1\r\nHost: x.example\r\n\r\n".encode(),
        started=datetime(2026, 11, 28, 1, 0, i, tzinfo=UTC),
        status=200,
        response_head=head,
        headers=[("Content-Type", "text/html"), ("Content-Length", str(len(body)))],
        body=body,
    )


class Reports:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.failures: list[str] = []

    def on_counts(self, delta: dict[str, int]) -> None:
        for k, v in delta.items():
            self.counts[k] = self.counts.get(k, 0) + v

    def on_failure(self, reason: str) -> None:
        self.failures.append(reason)


def config(tmp_path: Path, **kw: Any) -> ArchiverConfig:
    return ArchiverConfig(
        source="x",
        night=NIGHT,
        spool=str(kw.pop("spool", tmp_path / "spool")),
        catalog_url=f"sqlite:///{tmp_path / 'catalog.sqlite'}",
        **kw,
    )


@pytest.fixture
def writer() -> Any:
    proc = ArchiveProcess()
    yield proc
    proc.stop()


def test_the_writer_archives_in_order_dedups_and_reports(writer: ArchiveProcess, tmp_path: Path):
    reports = Reports()
    writer.open(config(tmp_path), on_counts=reports.on_counts, on_failure=reports.on_failure)
    bodies = [f"<p>page {i} {'text ' * 3000}</p>".encode() for i in range(6)]
    bodies.append(bodies[2])  # the same payload under another URL
    for i, body in enumerate(bodies):
        writer.submit("x", exchange(i, body), kind="article", prior=None)
    writer.close("x")

    assert reports.failures == []
    assert reports.counts == {
        "records": 14,
        "responses": 6,
        "revisits": 1,
        "kind/article": 7,
        "unchanged/article": 1,
        "bytes_payload": sum(len(b) for b in bodies),
        "warc_files": 1,
    }
    (path,) = (tmp_path / "spool").rglob("*.warc.gz")
    assert not list((tmp_path / "spool").rglob("*.open")), "the file was not closed"
    check_warc(path)
    records = list(iter_records(path, name=path.name))
    assert [r.rec_type for r in records] == ["warcinfo"] + ["request", "response"] * 6 + [
        "request",
        "revisit",
    ]
    uris = [r.target_uri for r in records if r.rec_type in ("response", "revisit")]
    assert uris == [f"http://x.example/p/{i}.html" for i in range(7)]
    cat = Catalog(config(tmp_path).catalog_url)
    try:
        caps = cat.captures_for_night(NIGHT)
        assert len(caps) == 7, "every capture is in the catalog once close() returns"
        revisit = next(c for c in caps if c.record_type == "revisit")
        assert revisit.revisit_profile == PROFILE_IDENTICAL
        assert revisit.refers_to_uri == "http://x.example/p/2.html"
        assert revisit.payload_digest == payload_digest(bodies[2])
        (f,) = cat.warc_files_for_night(NIGHT)
        assert f["size"] == path.stat().st_size
    finally:
        cat.close()


def test_a_spool_that_cannot_be_written_fails_the_open(writer: ArchiveProcess, tmp_path: Path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the spool should be")
    reports = Reports()
    with pytest.raises(ArchiveError, match="archiving x failed: FileExistsError"):
        writer.open(
            config(tmp_path, spool=blocked),
            on_counts=reports.on_counts,
            on_failure=reports.on_failure,
        )
    assert len(reports.failures) == 1 and "not-a-folder" in reports.failures[0]


def test_a_dead_writer_fails_its_sources_instead_of_hanging(tmp_path: Path) -> None:
    writer = ArchiveProcess()
    try:
        reports = Reports()
        writer.open(config(tmp_path), on_counts=reports.on_counts, on_failure=reports.on_failure)
        writer.submit("x", exchange(0, b"<p>one</p>"), kind="article", prior=None)
        writer._process.kill()  # the writer dies (OOM killer, a bug)
        deadline = time.monotonic() + 30
        with pytest.raises(ArchiveError, match=r"exited with code -9|is gone"):
            while time.monotonic() < deadline:
                writer.submit("x", exchange(1, b"<p>two</p>"), kind="article", prior=None)
                time.sleep(0.05)
        assert len(reports.failures) == 1, reports.failures
        assert "-9" in reports.failures[0] or "gone" in reports.failures[0]
        with pytest.raises(ArchiveError):
            writer.close("x")
    finally:
        writer.stop()


ARTICLES = 60
HOST = "http://wire.example"


def test_a_crawl_that_cannot_archive_stops_and_fails_the_night(tmp_path: Path) -> None:
    urls = [f"{HOST}/opinion/piece-{i}.html" for i in range(ARTICLES)]
    locs = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    pages = {
        f"{HOST}/robots.txt": Page(b"User-agent: *\nAllow: /\n"),
        f"{HOST}/sitemap.xml": Page(
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'.encode(),
            headers=[("Content-Type", "application/xml")],
        ),
    }
    for i, u in enumerate(urls):
        pages[u] = Page.html(article_html(i, f"Opinion {i}"), delay=0.02)
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "wire"\nsitemaps = ["{HOST}/sitemap.xml"]\n'
        'allowed_domains = ["wire.example"]\ncrawl_delay = 0.0\n'
    )
    settings = Settings(archive=str(tmp_path / "archive"))
    sf = load_sources(sources)
    begin_night(settings, sf, NIGHT)
    # where the WARC files go is taken: the first record cannot be written
    (settings.spool_path / "warcs").write_text("not a folder")
    log = tmp_path / "crawl.log"
    with LoopbackWeb(pages) as web:
        with pytest.raises(Exception, match="archiving failed for wire"):
            crawl_night(
                settings,
                sf.sources,
                NIGHT,
                sources_sha256=sf.sha256,
                env=proxy_env(web.proxy_url),
                log_path=log,
            )
        fetched = [u for u in urls if web.hits(u)]
    # the failure is known when the writer says so: the requests on their way by then (at most
    # CONCURRENT_REQUESTS) are fetched, and logged as not archived; nothing more is
    assert len(fetched) <= settings.concurrent_requests, f"the crawl went on: {len(fetched)}"
    text = log.read_text()
    assert "NotADirectoryError" in text and "Closing spider (archive_failed)" in text
    for u in fetched:
        assert f"{u} is not archived" in text
    assert "'opeds/responses'" not in text  # the stats say what was archived: nothing
    with catalog_for(settings) as cat:
        assert cat.captures_for_night(NIGHT) == []


def test_the_writer_never_outlives_its_crawl(tmp_path: Path) -> None:
    """A crawl killed with SIGKILL takes its writer with it: no orphan goes on writing files
    while the next run recovers them."""
    import os
    import signal
    import subprocess
    import sys

    script = (
        "import sys, time\n"
        "from opeds.crawler.capture.writer_process import ArchiveProcess\n"
        "w = ArchiveProcess()\n"
        "print(w._process.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    crawl = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert crawl.stdout is not None
    writer_pid = int(crawl.stdout.readline())
    os.kill(writer_pid, 0)  # it runs
    crawl.send_signal(signal.SIGKILL)
    crawl.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(writer_pid, 0)
        except ProcessLookupError:
            return
        with open(f"/proc/{writer_pid}/stat") as fh:  # a zombie is gone too
            if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                return
        time.sleep(0.05)
    pytest.fail("the writer outlived its crawl")
