"""WarcCaptureExtension: every HTTP exchange of a crawl into WARC records and the catalog.

The download handler (:mod:`opeds.crawler.capture.handler`) leaves the exchange as it went over the
wire in ``request.meta["opeds_exchange"]``; on ``response_downloaded`` (before any downloader
middleware decodes or follows anything) this extension hands it to the crawl's writer process
(:mod:`opeds.crawler.capture.writer_process`), where
:class:`opeds.crawler.capture.archiver.ExchangeArchiver` writes it: ``request`` + ``response``
records, or a ``revisit`` for a payload archived before or a 304. A download that failed part-way
is archived too, marked ``WARC-Truncated``.

When a spider closes, the extension waits until every exchange of its source is written, its file
closed and its catalog rows committed. If archiving fails (a full disk, a dead writer), the
spider is closed with reason ``archive_failed``: a crawl that cannot archive stops fetching.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import deferred_from_coro

from opeds.crawler.capture.archiver import ArchiverConfig
from opeds.crawler.capture.exchange import Exchange
from opeds.crawler.capture.handler import EXCHANGE_META_KEY
from opeds.crawler.capture.writer_process import (
    ARCHIVE_FAILED,
    ARCHIVE_FAILED_STAT,
    ArchiveError,
    ArchiveProcess,
)

logger = logging.getLogger(__name__)

EXCHANGE_KEY = EXCHANGE_META_KEY
KIND_KEY = "opeds_kind"
PRIOR_KEY = "opeds_prior"


def kind_of(request: Request) -> str:
    kind = request.meta.get(KIND_KEY)
    if isinstance(kind, str):
        return kind
    return "robots" if request.url.split("?", 1)[0].endswith("/robots.txt") else "other"


class WarcCaptureExtension:
    """Scrapy side of the capture: one source per crawler, archived by the writer process."""

    def __init__(self, crawler: Crawler, config: ArchiverConfig):
        self.crawler = crawler
        self.config = config
        """Everything but the source and the catalog, which come from the spider."""
        # the crawl process's writer (opeds.crawler.capture.process starts it before Scrapy;
        # else started now)
        self.writer: ArchiveProcess | None = ArchiveProcess.attach()
        self.source: str | None = None
        self.failed = False
        self.closing = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureExtension:
        s = crawler.settings
        if not s.getbool("OPEDS_CAPTURE_ENABLED", True):
            raise NotConfigured
        root = s.get("OPEDS_SPOOL_DIR")
        night = s.get("OPEDS_NIGHT")
        if not (root and night):
            raise NotConfigured("OPEDS_SPOOL_DIR and OPEDS_NIGHT are required")
        config = ArchiverConfig(
            source="",
            catalog_url="",
            night=night,
            spool=root,
            prefix=s.get("OPEDS_WARC_PREFIX", "opeds"),
            max_bytes=s.getint("OPEDS_WARC_MAX_BYTES", 1_000_000_000),
            gzip_level=s.getint("OPEDS_GZIP_LEVEL", 2),
            dedup=s.getbool("OPEDS_DEDUP", True),
            warcinfo=dict(s.getdict("OPEDS_WARCINFO")),
        )
        ext = cls(crawler, config)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(ext.request_left_downloader, signal=signals.request_left_downloader)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        assert self.writer is not None
        self.source = str(getattr(spider, "source_name", spider.name))
        # The catalog URL may hold a password: it comes from the spider (constructor arguments
        # are never logged), not from the settings, which Scrapy logs.
        config = replace(
            self.config,
            source=self.source,
            catalog_url=str(getattr(spider, "catalog_url", "")),
        )
        try:
            self.writer.open(config, on_counts=self._on_counts, on_failure=self._on_failure)
        except ArchiveError as e:
            self._on_failure(str(e))

    def spider_closed(self, spider: Spider) -> None:
        self.closing = True
        writer, self.writer = self.writer, None
        if writer is None:
            return
        try:
            if self.source is not None:
                writer.close(self.source)
        except ArchiveError as e:
            self._on_failure(str(e))  # logged once, and counted: the night fails
        finally:
            writer.detach()

    def _on_counts(self, counts: dict[str, int]) -> None:
        stats = self.crawler.stats
        if stats:
            for key, n in counts.items():
                stats.inc_value(f"opeds/{key}", n)

    def _on_failure(self, reason: str) -> None:
        if self.failed:
            return
        self.failed = True
        logger.error("%s: archiving failed, its crawl stops: %s", self.source, reason)
        if self.crawler.stats:
            self.crawler.stats.set_value(ARCHIVE_FAILED_STAT, 1)
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None and not self.closing:
            deferred_from_coro(engine.close_spider_async(reason=ARCHIVE_FAILED))

    def request_left_downloader(self, request: Request, spider: Spider) -> None:
        """A download that failed part-way (size cap, timeout, disconnect) still left an exchange:
        archive it, marked with ``WARC-Truncated``, so nothing received is lost."""
        ex = request.meta.pop(EXCHANGE_KEY, None)
        if ex is not None:
            self._archive(ex, request)

    def response_downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        ex = request.meta.pop(EXCHANGE_KEY, None)
        if ex is None:
            logger.warning("no exchange recorded for %s; it is not archived", request.url)
            if self.crawler.stats:
                self.crawler.stats.inc_value("opeds/not_archived")
            return
        self._archive(ex, request)

    def _archive(self, ex: Exchange, request: Request) -> None:
        stats = self.crawler.stats
        if self.writer is None or self.source is None or self.failed:
            logger.warning("archiving has stopped; %s is not archived", ex.url)
            if stats:
                stats.inc_value("opeds/not_archived")
            return
        try:
            self.writer.submit(
                self.source, ex, kind=kind_of(request), prior=request.meta.get(PRIOR_KEY)
            )
        except ArchiveError as e:
            self._on_failure(str(e))
            if stats:
                stats.inc_value("opeds/not_archived")
