"""A night killed with SIGKILL at the worst moments loses nothing and resumes without re-fetching.

Each test kills the crawl (or the whole ``opeds crawl`` command) at one point, then checks the
state the kill left: every file under a final name is complete, every record the crawl finished
writing is readable in the ``.open`` file. Then the night runs again and is checked whole: every
article archived exactly once, every catalog row pointing at a readable record, no leftover
``.open`` or journal files, and no article that was archived before the kill fetched again.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from opeds.crawler.capture.process import CrawlError, run_crawl
from opeds.crawler.sources.config import load_sources
from opeds.night import begin_night, catalog_for, night_id, warcinfo_fields
from opeds.settings import Settings
from opeds.storage.warc.errors import WarcReadError
from opeds.storage.warc.reader import RecordInfo, iter_records, read_record_at
from opeds.storage.warc.writer import JOURNAL_SUFFIX, OPEN_SUFFIX
from opeds.testing.web import LoopbackWeb, Page
from tests.s3server import MotoS3, moto_s3_fixture  # noqa: F401  (fixture)
from tests.sitekit import article_html, proxy_env
from tests.warccheck import check_warc

NIGHT = "2026-11-28"
HOST = "http://wire.example"
ARTICLES = 36
OPEDS = str(Path(sys.executable).with_name("opeds"))
LOOPBACK = "127.0.0.1,localhost"  # the S3 server is reached directly


def outlet(delay: float = 0.0) -> dict[str, Page]:
    urls = [f"{HOST}/opinion/piece-{i}.html" for i in range(ARTICLES)]
    sitemap = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    pages = {
        f"{HOST}/robots.txt": Page(
            b"User-agent: *\nAllow: /\n", headers=[("Content-Type", "text/plain")]
        ),
        f"{HOST}/sitemap.xml": Page(
            f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{sitemap}</urlset>".encode(),
            headers=[("Content-Type", "application/xml")],
        ),
    }
    for i, u in enumerate(urls):
        # chunked in small pieces, so a response arrives in several reads
        pages[u] = Page.html(
            article_html(i, f"Opinion number {i}", paras=6 + i % 4),
            chunked=True,
            chunk_size=700,
            delay=delay,
        )
    return pages


@pytest.fixture
def web() -> Iterator[LoopbackWeb]:
    with LoopbackWeb(outlet()) as w:
        yield w


def sources_file(tmp_path: Path) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(
        f'[[source]]\nname = "wire"\nsitemaps = ["{HOST}/sitemap.xml"]\n'
        'allowed_domains = ["wire.example"]\ncrawl_delay = 0.0\n'
    )
    return path


def small_files(tmp_path: Path) -> Settings:
    """Files of ~20 kB, so a crawl of 36 articles rotates several times."""
    return Settings(archive=str(tmp_path / "archive"), warc_max_bytes=20_000)


def kill_crawl(tmp_path: Path, web: LoopbackWeb, settings: Settings, point: str) -> None:
    """Run the crawl process with a crash point armed; it must die of SIGKILL."""
    sf = load_sources(sources_file(tmp_path))
    begin_night(settings, sf, NIGHT)
    with pytest.raises(CrawlError, match="exited with code -9"):
        run_crawl(
            settings,
            sf.sources,
            night_id(NIGHT),
            warcinfo=warcinfo_fields(settings, NIGHT, sf.sha256),
            env=proxy_env(web.proxy_url, no_proxy=LOOPBACK, OPEDS_CRASH_AT=point),
            log_path=tmp_path / "crawl.log",
        )


def day_folder(settings: Settings) -> Path:
    return settings.spool_path / "warcs" / "2026" / "11" / "28"


def complete_records(path: Path) -> dict[str, RecordInfo]:
    """The complete records at the start of a (possibly cut) WARC file, by record id, each
    checked (digests included); reading stops at the first that is not whole."""
    out: dict[str, RecordInfo] = {}
    try:
        for info in iter_records(path, name=path.name):
            assert info.record_id
            out[info.record_id] = info
    except WarcReadError:
        assert path.name.endswith(OPEN_SUFFIX), f"{path.name} is damaged"
    return out


def state_after_kill(settings: Settings) -> dict[str, RecordInfo]:
    """Checks of what a kill left; returns every complete record."""
    folder = day_folder(settings)
    complete: dict[str, RecordInfo] = {}
    for path in sorted(folder.glob("*.warc.gz")):
        check_warc(path)  # a final name is only ever given to a complete file
        complete.update(complete_records(path))
    for path in sorted(folder.glob(f"*{OPEN_SUFFIX}")):
        complete.update(complete_records(path))
    return complete


def archived_urls(records: dict[str, RecordInfo]) -> set[str]:
    """Article URLs with a complete response record."""
    return {
        r.target_uri
        for r in records.values()
        if r.rec_type == "response" and r.target_uri and "/opinion/" in r.target_uri
    }


def assert_night_whole(settings: Settings, kept: dict[str, RecordInfo]) -> None:
    """The resumed night: every article once, every row readable, nothing left over."""
    folder = day_folder(settings)
    assert not list(folder.glob(f"*{OPEN_SUFFIX}")), "an unfinished file is left"
    assert not list(folder.glob(f"*{JOURNAL_SUFFIX}")), "a journal is left"
    files = sorted(folder.glob("*.warc.gz"))
    for path in files:
        check_warc(path)
    with catalog_for(settings) as cat:
        caps = cat.captures_for_night(NIGHT)
        recorded = {f["key"]: f for f in cat.warc_files_for_night(NIGHT)}
    on_disk = {p.relative_to(settings.spool_path).as_posix() for p in files}
    assert set(recorded) == on_disk
    for key, f in recorded.items():
        assert (settings.spool_path / key).stat().st_size == f["size"], key
    twice = [u for u, n in Counter(c.url for c in caps).items() if n > 1]
    assert not twice, f"captured twice: {twice}"
    articles = Counter(c.url for c in caps if c.kind == "article")
    expected = {f"{HOST}/opinion/piece-{i}.html" for i in range(ARTICLES)}
    assert set(articles) == expected
    assert max(articles.values()) == 1, [u for u, n in articles.items() if n > 1]
    for c in caps:
        data = (settings.spool_path / c.warc_key).read_bytes()[c.offset : c.offset + c.length]
        rec = read_record_at(data, name=c.warc_key, offset=c.offset)
        assert (rec.info.target_uri, rec.info.record_id) == (c.url, c.record_id)
    now: dict[str, RecordInfo] = {}
    for path in files:
        now.update(complete_records(path))
    lost = [r.target_uri for rid, r in kept.items() if rid not in now]
    assert not lost, f"records completed before the kill are gone: {lost}"
    for rid, r in kept.items():  # the same record, same bytes
        assert (now[rid].block_digest, now[rid].rec_type) == (r.block_digest, r.rec_type)
    assert {c.record_id for c in caps} <= set(now)


def opeds_crawl(
    tmp_path: Path, env: dict[str, str], archive: str, *, log: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            OPEDS,
            "crawl",
            "--sources",
            str(sources_file(tmp_path)),
            "--archive",
            archive,
            "--night",
            NIGHT,
            "--log",
            str(tmp_path / log),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the kill takes the crawl child too
    )


def resume(tmp_path: Path, web: LoopbackWeb, settings: Settings) -> None:
    """The night again, through ``opeds crawl``; it must succeed."""
    env = proxy_env(
        web.proxy_url, no_proxy=LOOPBACK, OPEDS_WARC_MAX_BYTES=str(settings.warc_max_bytes)
    )
    proc = opeds_crawl(tmp_path, env, settings.archive, log="resume.log")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]


@pytest.mark.parametrize(
    "point",
    ["http-response:40", "warc-record:12", "warc-rotation:2", "catalog-write:2"],
)
def test_a_crawl_killed_mid_way_keeps_every_complete_record_and_resumes(
    tmp_path: Path, web: LoopbackWeb, point: str
) -> None:
    settings = small_files(tmp_path)
    kill_crawl(tmp_path, web, settings, point)
    kept = state_after_kill(settings)
    before = archived_urls(kept)
    assert 0 < len(before) < ARTICLES, (point, len(before))
    web.clear_log()

    resume(tmp_path, web, settings)
    assert_night_whole(settings, kept)
    refetched = {u for u in before if web.hits(u)}
    assert not refetched, f"{len(refetched)} archived article(s) fetched again"
    # what was not archived before the kill was fetched now, once
    for i in range(ARTICLES):
        url = f"{HOST}/opinion/piece-{i}.html"
        assert web.hits(url) == (0 if url in before else 1), url


def test_a_night_killed_mid_upload_to_s3_resumes_without_fetching_again(
    tmp_path: Path, web: LoopbackWeb, moto_s3: MotoS3
) -> None:
    bucket = moto_s3.bucket()
    archive = f"s3://{bucket}/nightly"
    env = proxy_env(
        web.proxy_url,
        no_proxy=LOOPBACK,
        AWS_ACCESS_KEY_ID="test-key-id",
        AWS_SECRET_ACCESS_KEY="test-secret",
        AWS_ENDPOINT_URL=moto_s3.endpoint,
        AWS_DEFAULT_REGION="us-east-1",
        OPEDS_STATE_DIR=str(tmp_path / "state"),
        OPEDS_WARC_MAX_BYTES="20000",
    )
    proc = opeds_crawl(tmp_path, {**env, "OPEDS_CRASH_AT": "store-upload:3"}, archive, log="1.log")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL, err[-3000:]
    s3 = moto_s3.client()

    def objects() -> dict[str, int]:
        listing = s3.list_objects_v2(Bucket=bucket, Prefix="nightly/warcs/")
        return {o["Key"]: o["Size"] for o in listing.get("Contents", [])}

    stored_before = objects()
    assert len(stored_before) == 2  # the third upload was cut: not visible
    settings = Settings.from_env(archive=archive, state_dir=str(tmp_path / "state"))
    with catalog_for(settings) as cat:
        files = {f["key"]: f for f in cat.warc_files_for_night(NIGHT)}
        assert len(files) >= 3  # the crawl's files, stored as the crawl ends: the third was cut
        assert sum(f["stored"] for f in files.values()) == 2
        for key, size in stored_before.items():
            assert files[key.removeprefix("nightly/")]["size"] == size  # complete objects only
    web.clear_log()

    proc = opeds_crawl(tmp_path, env, archive, log="2.log")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert not any(web.hits(f"{HOST}/opinion/piece-{i}.html") for i in range(ARTICLES))
    with catalog_for(settings) as cat:
        files = {f["key"]: f for f in cat.warc_files_for_night(NIGHT)}
        caps = cat.captures_for_night(NIGHT)
        articles = cat.articles_for_night(NIGHT)
    assert all(f["stored"] for f in files.values())
    assert {k.removeprefix("nightly/"): v for k, v in objects().items()} == {
        k: f["size"] for k, f in files.items()
    }
    twice = [u for u, n in Counter(c.url for c in caps).items() if n > 1]
    assert not twice, f"captured twice: {twice}"  # sealed discovery documents read back from S3
    assert not web.requests, "the resumed night fetched again what it had archived"
    urls = Counter(c.url for c in caps if c.kind == "article")
    assert len(urls) == ARTICLES and max(urls.values()) == 1
    assert Counter(a.url for a in articles) == urls
    verify = subprocess.run(
        [OPEDS, "verify", "--archive", archive, "--night", NIGHT, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0 and '"ok": true' in verify.stdout, verify.stdout + verify.stderr


@pytest.mark.parametrize("seed", [1, 2])
def test_opeds_crawl_killed_at_a_random_moment_resumes_whole(tmp_path: Path, seed: int) -> None:
    with LoopbackWeb(outlet(delay=0.08)) as web:
        settings = small_files(tmp_path)
        env = proxy_env(web.proxy_url, no_proxy=LOOPBACK, OPEDS_WARC_MAX_BYTES="20000")
        proc = opeds_crawl(tmp_path, env, settings.archive, log="1.log")
        # killed once a random number of the articles has been served, whatever the pace
        served = random.Random(seed).randint(3, ARTICLES - 8)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if sum(1 for r in web.requests if "/opinion/" in r.url) >= served:
                break
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        kept = state_after_kill(settings)
        before = archived_urls(kept)
        assert len(before) < ARTICLES, "the kill came after the crawl"
        web.clear_log()

        resume(tmp_path, web, settings)
        assert_night_whole(settings, kept)
        assert not {u for u in before if web.hits(u)}, "archived articles fetched again"


def test_salvage_keeps_whole_groups_only_and_is_idempotent(tmp_path: Path) -> None:
    from datetime import UTC, date, datetime

    from opeds.crawler.capture.archiver import ExchangeArchiver
    from opeds.crawler.capture.exchange import Exchange
    from opeds.crawler.capture.salvage import salvage_file
    from opeds.storage.catalog.db import Catalog
    from opeds.storage.warc.writer import WarcFileWriter

    spool = tmp_path / "spool"
    cat = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    writer = WarcFileWriter(
        spool,
        prefix="opeds-x",
        day=date(2026, 11, 28),
        max_bytes=10**9,
        gzip_level=2,
        warcinfo={},
        journal=True,
    )
    archiver = ExchangeArchiver(writer, cat, night=NIGHT, source="x")
    caps = []
    for i in range(3):
        body = f"<p>page {i} {'words ' * 200}</p>".encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        ex = Exchange(
            url=f"http://x.example/{i}",
            method="GET",
            request_bytes=f"GET /{i} HTTP/1.1\r\nHost: x.example\r\n\r\n".encode(),
            started=datetime(2026, 11, 28, 1, i, tzinfo=UTC),
            status=200,
            response_head=head,
            body=body,
        )
        caps.append(archiver.archive(ex, kind="article"))
    key = writer.current_key
    assert key is not None and not archiver.catalog.capture_record_ids(key)  # rows pending
    unfinished = spool / (key + OPEN_SUFFIX)
    journal = spool / (key + JOURNAL_SUFFIX)
    # the "crash": the last record cut in half, a torn line after the journal's last entry
    unfinished.write_bytes(unfinished.read_bytes()[: caps[2].offset + caps[2].length // 2])
    with open(journal, "ab") as fh:
        fh.write(b'{"url": "http://x.exa')

    outcome = salvage_file(spool, key, cat, NIGHT)
    assert (outcome.kept_groups, outcome.rows_added, outcome.deleted) == (2, 2, False)
    assert not unfinished.exists() and not journal.exists()
    final = spool / key
    check_warc(final)
    assert final.stat().st_size == caps[1].offset + caps[1].length
    assert cat.capture_record_ids(key) == {caps[0].record_id, caps[1].record_id}
    (recorded,) = cat.warc_files_for_night(NIGHT)
    assert (recorded["key"], recorded["size"], recorded["records"]) == (
        key,
        final.stat().st_size,
        5,
    )
    # a second pass finds nothing to do
    again = salvage_file(spool, key, cat, NIGHT)
    assert (again.rows_added, again.rows_removed, again.dropped_bytes) == (0, 0, 0)
    assert cat.capture_record_ids(key) == {caps[0].record_id, caps[1].record_id}


def test_recovery_leaves_the_files_of_a_live_writer_alone(tmp_path: Path) -> None:
    """A try that is still running (an Airflow task that lost its heartbeat, say) holds its files'
    locks: a second try's recovery must not cut or rename what it is writing."""
    from datetime import UTC, date, datetime

    from opeds.crawler.capture.archiver import ArchiverConfig, ExchangeArchiver
    from opeds.crawler.capture.exchange import Exchange
    from opeds.night import recover_unfinished
    from opeds.storage.warc.writer import WarcFileWriter

    settings = Settings(archive=str(tmp_path / "archive"))
    archiver = ExchangeArchiver.from_config(
        ArchiverConfig(
            source="wire",
            night=NIGHT,
            spool=str(settings.spool_path),
            catalog_url=settings.effective_catalog_url,
        )
    )
    body = b"<p>" + b"words " * 500 + b"</p>"
    archiver.archive(
        Exchange(
            url=f"{HOST}/opinion/live.html",
            method="GET",
            request_bytes=b"GET /opinion/live.html HTTP/1.1\r\nHost: wire.example\r\n\r\n",
            started=datetime(2026, 11, 28, 1, 0, tzinfo=UTC),
            status=200,
            response_head=f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode(),
            body=body,
        ),
        kind="article",
    )
    metadata = WarcFileWriter(
        settings.spool_path,
        prefix="opeds-metadata",
        day=date(2026, 11, 28),
        max_bytes=10**9,
        gzip_level=2,
        warcinfo={},
    )
    when = datetime.now(UTC)
    record = metadata.factory.metadata(
        f"{HOST}/opinion/live.html", b"{}", when, concurrent_to=metadata.factory.new_id()
    )
    metadata.write_group([(record, when)])
    folder = day_folder(settings)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert sum(n.endswith(OPEN_SUFFIX) for n in before) == 2 and any(
        n.endswith(JOURNAL_SUFFIX) for n in before
    )

    recovery = recover_unfinished(settings, NIGHT)
    assert len(recovery.in_use) == 2 and not recovery.salvaged and not recovery.discarded
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before, "a live file was touched"

    archiver.close()
    archiver.catalog.close()
    metadata.close()
    after = recover_unfinished(settings, NIGHT)
    assert (after.in_use, after.salvaged, after.discarded) == ([], [], [])
    for path in folder.iterdir():
        assert path.name.endswith(".warc.gz"), path.name
        check_warc(path)
