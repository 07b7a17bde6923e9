"""Resuming a night: what was archived tonight is read back from the archive, not fetched again.

A night that is run again (after a crash, a kill, a failed Airflow try) already has some of its
exchanges in the spool and the catalog. Articles are never requested twice a night (the spider
checks the catalog), but discovery documents — robots.txt, feeds, sitemaps, listing pages — are
how the spider finds the articles, so it needs them again. :class:`ArchivedTonightMiddleware`
answers a request for a URL captured earlier the same night from that capture's WARC record
(status, headers and payload as archived), so the resumed crawl sees what the first try saw,
sends no request for it, and writes no second capture of it.

Records are read from the local spool, or, for files already sealed to S3, from the bucket;
a record that cannot be read is fetched as usual.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes

from opeds.crawler.capture.extension import KIND_KEY
from opeds.errors import OpedsError
from opeds.storage.catalog.db import Capture, Catalog
from opeds.storage.stores.base import Store
from opeds.storage.stores.local import LocalStore, SpoolFirst
from opeds.storage.stores.uri import open_store
from opeds.storage.warc.errors import WarcReadError
from opeds.storage.warc.reader import read_record_at
from opeds.storage.warc.writer import PROFILE_IDENTICAL

logger = logging.getLogger(__name__)

FROM_ARCHIVE_KEY = "opeds_from_archive"
RESUMABLE_KINDS = ("robots", "feed", "sitemap", "listing")


class ArchivedTonightMiddleware:
    """Downloader middleware: serve tonight's archived discovery documents from the spool."""

    def __init__(
        self, crawler: Crawler, spool: Path, night: str, remote: Callable[[], Store] | None = None
    ):
        self.crawler = crawler
        self.night = night
        self.warcs = SpoolFirst(LocalStore(spool), remote)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivedTonightMiddleware:
        s = crawler.settings
        spool, night = s.get("OPEDS_SPOOL_DIR"), s.get("OPEDS_NIGHT")
        if not (spool and night):
            raise NotConfigured("OPEDS_SPOOL_DIR and OPEDS_NIGHT are required")
        archive = s.get("OPEDS_ARCHIVE") or ""
        remote: Callable[[], Store] | None = None
        if archive:

            def remote() -> Store:
                return open_store(
                    archive,
                    endpoint_url=s.get("OPEDS_S3_ENDPOINT_URL") or None,
                    region=s.get("OPEDS_S3_REGION") or None,
                )

        return cls(crawler, Path(spool), night, remote)

    def process_request(self, request: Request) -> Response | None:
        spider = self.crawler.spider
        kind = request.meta.get(KIND_KEY)
        if kind is None and request.url.split("?", 1)[0].endswith("/robots.txt"):
            kind = "robots"
        if request.method != "GET" or kind not in RESUMABLE_KINDS:
            return None
        catalog: Catalog | None = getattr(spider, "catalog", None)
        if catalog is None:
            return None
        cap = catalog.latest_definite_capture(self.night, request.url)
        if cap is None:
            return None
        response = self._response(catalog, cap, request)
        if response is not None and self.crawler.stats:
            self.crawler.stats.inc_value("opeds/resumed_from_archive")
        return response

    def _read(self, cap: Capture) -> Any:
        try:
            data = self.warcs.read_range(cap.warc_key, cap.offset, cap.length)
        except (OSError, OpedsError) as e:
            logger.warning("cannot read the archived %s back: %s", cap.url, e)
            return None
        try:
            return read_record_at(data, name=cap.warc_key, offset=cap.offset)
        except WarcReadError as e:
            logger.warning("cannot reuse the archived %s: %s", cap.url, e)
            return None

    def _response(self, catalog: Catalog, cap: Capture, request: Request) -> Response | None:
        record = self._read(cap)
        if record is None or record.info.http_status is None:
            return None
        payload = record.payload
        if cap.record_type == "revisit":
            if cap.revisit_profile != PROFILE_IDENTICAL or not cap.payload_digest:
                return None
            first = catalog.first_capture_with_digest(cap.payload_digest)
            original = self._read(first) if first is not None else None
            if original is None:
                return None
            payload = original.payload
        headers = Headers()
        for name, value in record.http_headers or ():
            headers.appendlist(name, value)
        cls = responsetypes.from_args(headers=headers, url=cap.url, body=payload)
        request.meta[FROM_ARCHIVE_KEY] = cap
        logger.debug("reusing %s archived tonight at %s", cap.url, cap.captured_at)
        return cls(
            url=cap.url,
            status=record.info.http_status,
            headers=headers,
            body=payload,
            request=request,
            flags=["archived"],
        )
