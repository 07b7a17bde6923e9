"""WarcCaptureExtension: every HTTP exchange of a crawl into WARC records and the catalog.

The download handler (:mod:`crawler.http`) leaves the exchange as it went over the wire in
``request.meta["opeds_exchange"]``; on ``response_downloaded`` (before any downloader middleware
decodes or follows anything) this extension writes it:

* ``request`` + ``response`` records linked by ``WARC-Concurrent-To``;
* a ``revisit`` (identical-payload-digest) instead of the response when the payload digest was
  archived before, under any URL, any night (the digest index is the catalog);
* a ``revisit`` (server-not-modified) when a conditional GET is answered 304.

The capture is left in ``request.meta["opeds_capture"]`` and written to the WARC file's journal
before its records (see :mod:`storage.salvage`); the catalog gets captures in batches (every
``FLUSH_EVERY`` captures or ``FLUSH_SECONDS``, and before a file is closed), so the crawl does
not wait for a database transaction per page. Payload digests already written by this process
are looked up in memory before the catalog is asked.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import date

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from crawler.exchange import Exchange
from crawler.http import EXCHANGE_META_KEY
from crawler.urls import canonical_url
from storage.catalog import Capture, Catalog
from storage.warc import (
    PROFILE_IDENTICAL,
    PROFILE_NOT_MODIFIED,
    ClosedFile,
    RecordLocation,
    WarcFileWriter,
    payload_digest,
    rewrite_transfer_encoding,
)

logger = logging.getLogger(__name__)

EXCHANGE_KEY = EXCHANGE_META_KEY
CAPTURE_KEY = "opeds_capture"
KIND_KEY = "opeds_kind"
PRIOR_KEY = "opeds_prior"
FLUSH_EVERY = 200
"""Captures per catalog transaction during a crawl."""
FLUSH_SECONDS = 2.0
"""...or fewer, when this long has passed since the last one."""
RECENT_DIGESTS = 1024
"""Payload digests of the latest captures kept in memory for dedup (more than can be unflushed)."""


def kind_of(request: Request) -> str:
    kind = request.meta.get(KIND_KEY)
    if isinstance(kind, str):
        return kind
    return "robots" if request.url.split("?", 1)[0].endswith("/robots.txt") else "other"


class ExchangeArchiver:
    """Writes exchanges to WARC and the catalog; independent of Scrapy so it can be tested alone.

    :meth:`archive` decides what an exchange becomes (response, revisit) and returns its capture
    at once. With ``background=True`` the records are built, compressed, digested, journalled and
    written by one writer thread, in order, while the crawl goes on (compression and hashing
    release the GIL, so they use another core); the capture's location fields are filled in when
    its records are written. ``writer_catalog`` is the writer thread's own catalog connection.
    An error in the writer thread is raised by the next :meth:`archive` or by :meth:`close`.
    """

    QUEUE_SIZE = 32
    """Exchanges waiting for the writer thread at most (bounds the memory they hold)."""

    def __init__(
        self,
        writer: WarcFileWriter,
        catalog: Catalog,
        *,
        night: str,
        source: str,
        dedup: bool = True,
        background: bool = False,
        writer_catalog: Catalog | None = None,
    ):
        self.writer = writer
        self.catalog = catalog
        self.writer_catalog = writer_catalog or catalog
        self.night = night
        self.source = source
        self.dedup = dedup
        self.counts: dict[str, int] = {}
        self.pending: list[Capture] = []
        self._flushed = time.monotonic()
        self._recent: OrderedDict[str, Capture] = OrderedDict()
        """The latest full captures, by payload digest: those the catalog may not hold yet
        (queued or pending rows, never more than ``QUEUE_SIZE + FLUSH_EVERY``)."""
        self._failure: BaseException | None = None
        self._queue: queue.Queue[tuple[Exchange, Capture, Capture | None] | None] | None = None
        self._thread: threading.Thread | None = None
        if background:
            self._queue = queue.Queue(self.QUEUE_SIZE)
            self._thread = threading.Thread(
                target=self._drain, name=f"warc-writer-{source}", daemon=True
            )
            self._thread.start()

    def flush(self) -> None:
        """Write pending captures to the catalog (one transaction)."""
        if self.pending:
            self.writer_catalog.add_captures(self.pending)
            self.pending = []
        self._flushed = time.monotonic()

    def on_file_closed(self, closed: ClosedFile, night: str) -> None:
        """Before a file counts as closed, the catalog holds every capture in it."""
        self.flush()
        self.writer_catalog.record_closed_file(closed, night)

    def close(self) -> None:
        """Write everything queued, close the current file, write the last catalog rows."""
        if self._thread is not None and self._queue is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._raise_failure()
        self.writer.close()
        self.flush()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise RuntimeError(f"writing WARC records failed: {self._failure}") from self._failure

    def _earlier(self, digest: str) -> Capture | None:
        return self._recent.get(digest) or self.catalog.first_capture_with_digest(digest)

    def _count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def archive(self, ex: Exchange, *, kind: str, prior: Capture | None = None) -> Capture:
        self._raise_failure()
        digest = payload_digest(ex.body)
        record_type, profile, refers = "response", None, None
        if ex.status == 304 and prior is not None:
            record_type, profile, refers = "revisit", PROFILE_NOT_MODIFIED, prior
        elif self.dedup and ex.body and 200 <= ex.status < 300 and not ex.truncated:
            refers = self._earlier(digest)
            if refers is not None:
                record_type, profile = "revisit", PROFILE_IDENTICAL
        revisit = record_type == "revisit"
        cap = Capture(
            night=self.night,
            source=self.source,
            kind=kind,
            url=ex.url,
            canonical_url=canonical_url(ex.url),
            captured_at=ex.started,
            status=ex.status,
            mime=(ex.header("Content-Type") or "").split(";")[0].strip().lower() or None,
            record_type=record_type,
            revisit_profile=profile,
            payload_digest=digest
            if record_type == "response" or profile == PROFILE_IDENTICAL
            else (refers.payload_digest if refers else None),
            refers_to_uri=refers.url if refers and revisit else None,
            refers_to_date=refers.captured_at if refers and revisit else None,
            record_id=self.writer.factory.new_id(),
            warc_key="",  # where the records land: filled in when they are written
            offset=0,
            length=0,
            etag=ex.header("ETag"),
            last_modified=ex.header("Last-Modified"),
            ip=ex.ip,
        )
        if record_type == "response" and digest not in self._recent:
            self._recent[digest] = cap
            if len(self._recent) > RECENT_DIGESTS:
                self._recent.popitem(last=False)  # in the catalog by now
        self._count("records", 2)
        self._count("revisits" if revisit else "responses")
        self._count("bytes_payload", len(ex.body))
        if self._queue is not None:
            self._queue.put((ex, cap, refers))
        else:
            self._write(ex, cap, refers)
        return cap

    def _drain(self) -> None:
        assert self._queue is not None
        while (job := self._queue.get()) is not None:
            if self._failure is None:
                try:
                    self._write(*job)
                except BaseException as e:  # kept for the crawl thread to raise
                    logger.exception("writing the records of %s failed", job[0].url)
                    self._failure = e

    def _write(self, ex: Exchange, cap: Capture, refers: Capture | None) -> None:
        f = self.writer.factory
        when = ex.started
        head = ex.response_head
        if ex.transfer_decoded:
            head = rewrite_transfer_encoding(head)
        if cap.record_type == "revisit":
            assert refers is not None and cap.revisit_profile is not None
            identical = cap.revisit_profile == PROFILE_IDENTICAL
            rec = f.revisit(
                ex.url,
                head,
                when,
                profile=cap.revisit_profile,
                refers_to_uri=refers.url,
                refers_to_date=refers.captured_at,
                refers_to=refers.record_id,
                digest=cap.payload_digest,
                ip=ex.ip,
                record_id=cap.record_id,
                body=b"" if identical else ex.body,
            )
        else:
            rec = f.response(
                ex.url,
                head,
                ex.body,
                when,
                ip=ex.ip,
                truncated=ex.truncated,
                record_id=cap.record_id,
                payload_digest=cap.payload_digest,
            )
        req = f.request(ex.url, ex.request_bytes, when, concurrent_to=cap.record_id, ip=ex.ip)

        def located(locs: list[RecordLocation]) -> dict[str, object]:
            req_loc, resp_loc = locs
            cap.warc_key, cap.offset, cap.length = resp_loc.key, resp_loc.offset, resp_loc.length
            cap.request_offset, cap.request_length = req_loc.offset, req_loc.length
            row = dict(cap.__dict__)
            del row["id"]
            return row

        self.writer.write_group([(req, when), (rec, when)], note=located)
        self.pending.append(cap)
        if len(self.pending) >= FLUSH_EVERY or time.monotonic() - self._flushed >= FLUSH_SECONDS:
            self.flush()


class WarcCaptureExtension:
    """Scrapy side of the capture: one archiver per crawl (one crawl = one source)."""

    def __init__(
        self,
        crawler: Crawler,
        make_archiver: Callable[[Spider], ExchangeArchiver],
    ):
        self.crawler = crawler
        self.make_archiver = make_archiver
        self.archiver: ExchangeArchiver | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureExtension:
        s = crawler.settings
        if not s.getbool("OPEDS_CAPTURE_ENABLED", True):
            raise NotConfigured
        root = s.get("OPEDS_SPOOL_DIR")
        # The catalog URL may hold a password: it comes from the spider (constructor arguments are
        # never logged), not from the settings, which Scrapy logs.
        night = s.get("OPEDS_NIGHT")
        if not (root and night):
            raise NotConfigured("OPEDS_SPOOL_DIR and OPEDS_NIGHT are required")
        warcinfo: dict[str, str] = dict(s.getdict("OPEDS_WARCINFO"))

        def make(spider: Spider) -> ExchangeArchiver:
            from pathlib import Path

            catalog = Catalog(str(getattr(spider, "catalog_url", "")))
            source = str(getattr(spider, "source_name", spider.name))

            def on_close(closed: ClosedFile) -> None:
                archiver.on_file_closed(closed, night)
                if crawler.stats:
                    crawler.stats.inc_value("opeds/warc_files")

            writer = WarcFileWriter(
                Path(root),
                prefix=f"{s.get('OPEDS_WARC_PREFIX', 'opeds')}-{source}",
                day=date.fromisoformat(night),
                max_bytes=s.getint("OPEDS_WARC_MAX_BYTES", 1_000_000_000),
                gzip_level=s.getint("OPEDS_GZIP_LEVEL", 2),
                warcinfo={**warcinfo, "opeds-source": source},
                on_close=on_close,
                journal=True,
            )
            archiver = ExchangeArchiver(
                writer,
                catalog,
                night=night,
                source=source,
                dedup=s.getbool("OPEDS_DEDUP", True),
                background=True,
                writer_catalog=Catalog(catalog.url),
            )
            return archiver

        ext = cls(crawler, make)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(ext.request_left_downloader, signal=signals.request_left_downloader)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        self.archiver = self.make_archiver(spider)

    def spider_closed(self, spider: Spider) -> None:
        if self.archiver is not None:
            try:
                self.archiver.close()
            finally:
                self.archiver.catalog.close()
                self.archiver.writer_catalog.close()

    def request_left_downloader(self, request: Request, spider: Spider) -> None:
        """A download that failed part-way (size cap, timeout, disconnect) still left an exchange:
        archive it, marked with ``WARC-Truncated``, so nothing received is lost."""
        ex = request.meta.pop(EXCHANGE_KEY, None)
        if ex is not None and self.archiver is not None:
            self._archive(ex, request)

    def response_downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        ex = request.meta.pop(EXCHANGE_KEY, None)
        if ex is None or self.archiver is None:
            logger.warning("no exchange recorded for %s; it is not archived", request.url)
            if self.crawler.stats:
                self.crawler.stats.inc_value("opeds/not_archived")
            return
        self._archive(ex, request)

    def _archive(self, ex: Exchange, request: Request) -> None:
        assert self.archiver is not None
        prior = request.meta.get(PRIOR_KEY)
        cap = self.archiver.archive(ex, kind=kind_of(request), prior=prior)
        request.meta[CAPTURE_KEY] = cap
        stats = self.crawler.stats
        if stats:
            if ex.truncated:
                stats.inc_value(f"opeds/truncated/{ex.truncated}")
            stats.inc_value("opeds/records", 2)
            stats.inc_value(f"opeds/{cap.record_type}s")
            stats.inc_value(f"opeds/kind/{cap.kind}")
            stats.inc_value("opeds/bytes_payload", len(ex.body))
