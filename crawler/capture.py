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
import time
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


def kind_of(request: Request) -> str:
    kind = request.meta.get(KIND_KEY)
    if isinstance(kind, str):
        return kind
    return "robots" if request.url.split("?", 1)[0].endswith("/robots.txt") else "other"


class ExchangeArchiver:
    """Writes exchanges to WARC and the catalog; independent of Scrapy so it can be tested alone."""

    def __init__(
        self,
        writer: WarcFileWriter,
        catalog: Catalog,
        *,
        night: str,
        source: str,
        dedup: bool = True,
    ):
        self.writer = writer
        self.catalog = catalog
        self.night = night
        self.source = source
        self.dedup = dedup
        self.counts: dict[str, int] = {}
        self.pending: list[Capture] = []
        self._flushed = time.monotonic()
        self._written: dict[str, Capture] = {}
        """Full captures this archiver wrote, by payload digest (the first of each)."""

    def flush(self) -> None:
        """Write pending captures to the catalog (one transaction)."""
        if self.pending:
            self.catalog.add_captures(self.pending)
            self.pending = []
        self._flushed = time.monotonic()

    def on_file_closed(self, closed: ClosedFile, night: str) -> None:
        """Before a file counts as closed, the catalog holds every capture in it."""
        self.flush()
        self.catalog.record_closed_file(closed, night)

    def _earlier(self, digest: str) -> Capture | None:
        return self._written.get(digest) or self.catalog.first_capture_with_digest(digest)

    def _count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def archive(self, ex: Exchange, *, kind: str, prior: Capture | None = None) -> Capture:
        f = self.writer.factory
        when = ex.started
        head = ex.response_head
        if ex.transfer_decoded:
            head = rewrite_transfer_encoding(head)
        digest = payload_digest(ex.body)
        response_id = f.new_id()
        record_type, profile, refers = "response", None, None
        if ex.status == 304 and prior is not None:
            record_type, profile, refers = "revisit", PROFILE_NOT_MODIFIED, prior
        elif self.dedup and ex.body and 200 <= ex.status < 300 and not ex.truncated:
            refers = self._earlier(digest)
            if refers is not None:
                record_type, profile = "revisit", PROFILE_IDENTICAL
        if record_type == "revisit":
            assert refers is not None and profile is not None
            rec = f.revisit(
                ex.url,
                head,
                when,
                profile=profile,
                refers_to_uri=refers.url,
                refers_to_date=refers.captured_at,
                refers_to=refers.record_id,
                digest=digest if profile == PROFILE_IDENTICAL else refers.payload_digest,
                ip=ex.ip,
                record_id=response_id,
                body=ex.body if profile == PROFILE_NOT_MODIFIED else b"",
            )
        else:
            rec = f.response(
                ex.url,
                head,
                ex.body,
                when,
                ip=ex.ip,
                truncated=ex.truncated,
                record_id=response_id,
                payload_digest=digest,
            )
        req = f.request(ex.url, ex.request_bytes, when, concurrent_to=response_id, ip=ex.ip)
        mime = (ex.header("Content-Type") or "").split(";")[0].strip().lower() or None
        revisit = record_type == "revisit"

        def capture(locs: list[RecordLocation]) -> dict[str, object]:
            req_loc, resp_loc = locs
            cap = Capture(
                night=self.night,
                source=self.source,
                kind=kind,
                url=ex.url,
                canonical_url=canonical_url(ex.url),
                captured_at=when,
                status=ex.status,
                mime=mime,
                record_type=record_type,
                revisit_profile=profile,
                payload_digest=digest
                if record_type == "response" or profile == PROFILE_IDENTICAL
                else (refers.payload_digest if refers else None),
                refers_to_uri=refers.url if refers and revisit else None,
                refers_to_date=refers.captured_at if refers and revisit else None,
                record_id=response_id,
                warc_key=resp_loc.key,
                offset=resp_loc.offset,
                length=resp_loc.length,
                request_offset=req_loc.offset,
                request_length=req_loc.length,
                etag=ex.header("ETag"),
                last_modified=ex.header("Last-Modified"),
                ip=ex.ip,
            )
            made.append(cap)
            row = dict(cap.__dict__)
            del row["id"]
            return row

        made: list[Capture] = []
        self.writer.write_group([(req, when), (rec, when)], note=capture)
        cap = made[0]
        self.pending.append(cap)
        if record_type == "response" and digest not in self._written:
            self._written[digest] = cap
        if len(self.pending) >= FLUSH_EVERY or time.monotonic() - self._flushed >= FLUSH_SECONDS:
            self.flush()
        self._count("records", 2)
        self._count("revisits" if record_type == "revisit" else "responses")
        self._count("bytes_payload", len(ex.body))
        return cap


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
            self.archiver.writer.close()
            self.archiver.flush()
            self.archiver.catalog.close()

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
