"""OpedSpider: one generic spider, driven by a :class:`~opeds.crawler.sources.config.Source`.

It discovers article URLs from the source's feeds, sitemaps (following indexes within the
``lastmod`` window) and listing pages, and requests each article once per night, keyed by its
canonical URL. Articles already archived are only re-checked, with a conditional GET, on the
schedule of :func:`opeds.crawler.capture.rechecks.recheck_due`. Capture to WARC happens in the
download layer (:mod:`opeds.crawler.capture.extension`), so the spider only decides what to fetch.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from twisted.python.failure import Failure
from w3lib.url import safe_url_string

from opeds.crawler.capture.extension import KIND_KEY, PRIOR_KEY
from opeds.crawler.capture.rechecks import recheck_due
from opeds.crawler.sources.config import Source
from opeds.crawler.sources.discovery import (
    DiscoveryError,
    Link,
    allowed,
    in_window,
    listing_links,
    parse_feed,
    parse_sitemap,
)
from opeds.crawler.sources.urls import canonical_url
from opeds.storage.catalog.db import Catalog

logger = logging.getLogger(__name__)

MAX_FAILURES_KEPT = 500


_EXCEPTION_REASONS = {
    "TimeoutError": "timeout",
    "TCPTimedOutError": "timeout",
    "DownloadTimeoutError": "timeout",
    "ConnectionRefusedError": "connection_refused",
    "DownloadConnectionRefusedError": "connection_refused",
    "ProxyTunnelError": "connection_refused",
    "DNSLookupError": "dns",
    "CannotResolveHostError": "dns",
    "ConnectionLost": "connection_lost",
    "ConnectionClosedError": "connection_closed",
    "ResponseNeverReceived": "no_response",
    "ResponseDataLossError": "data_loss",
    "MalformedResponseError": "malformed_response",
    "BlockedAddressError": "blocked_address",
    "DownloadCancelledError": "too_large",
    "BadGzipFile": "bad_encoding",
    "error": "bad_encoding",  # zlib.error: a deflate body that does not inflate
    "ValueError": "bad_url",  # e.g. a redirect to "javascript:..."
}


def failure_reason(failure: Failure) -> str:
    """A short, stable reason for a failed request, for counting and reports."""
    exc = failure.value
    response = getattr(exc, "response", None)
    status = getattr(response, "status", None)
    if status is not None:
        if 300 <= status < 400 and response is not None:
            # the redirect middleware hands back a redirect it will not follow: no Location,
            # or one to a scheme other than http(s) (file:, ftp:, javascript:, data:)
            return "bad_redirect"
        return f"http_{status}"
    name = type(exc).__name__
    if isinstance(exc, IgnoreRequest):
        message = str(exc).lower()
        if "robots" in message:
            return "robots_disallowed"
        if "max redirections" in message:
            return "redirect_loop"
        if "during decompression" in message:
            return "decompressed_too_large"
        if "archiving has stopped" in message:
            return "archive_failed"
    if isinstance(exc, OSError) and name not in _EXCEPTION_REASONS:
        module = type(exc).__module__
        if module in ("gzip", "zlib") or "gzip" in str(exc).lower():
            return "bad_encoding"
    return _EXCEPTION_REASONS.get(name, name)


class OpedSpider(Spider):
    name = "opeds"

    def __init__(
        self,
        source: dict[str, Any],
        night: str,
        catalog_url: str,
        sitemap_window_days: int = 30,
        revisit_days: tuple[int, ...] = (1, 7, 30),
        max_pages: int = 0,
        **kwargs: Any,
    ):
        self.source = Source.from_dict(source)
        super().__init__(name=f"opeds-{self.source.name}", **kwargs)
        self.source_name = self.source.name
        self.night = date.fromisoformat(night)
        self.catalog_url = catalog_url
        self.catalog = Catalog(catalog_url)
        self.window_start = datetime.combine(
            self.night - timedelta(days=sitemap_window_days), datetime.min.time(), UTC
        )
        self.revisit_days = tuple(revisit_days)
        self.max_pages = max_pages
        self.allowed_domains = list(self.source.allowed_domains)
        self.article_re = self.source.article_re
        self._scheduled: set[str] = set()
        self._documents: set[str] = set()
        """Canonical URLs of the feeds, sitemaps and listings requested: each is read once."""
        self.failures: list[dict[str, str]] = []
        self.counts: dict[str, int] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> OpedSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider.request_scheduled, signal=signals.request_scheduled)
        return spider

    # -- bookkeeping ----------------------------------------------------------------------------
    def _count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n
        if self.crawler.stats:
            self.crawler.stats.inc_value(f"opeds/{key}", n)

    def closed(self, reason: str) -> None:
        self.catalog.close()

    # -- start ----------------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        for url in self.source.feeds:
            yield self._doc_request(url, "feed", self.parse_feed)
        for url in self.source.sitemaps:
            yield self._doc_request(url, "sitemap", self.parse_sitemap)
        for url in self.source.start_urls:
            yield self._doc_request(url, "listing", self.parse_listing)

    def _doc_request(self, url: str, kind: str, callback: Any) -> Request:
        self._documents.add(canonical_url(url))
        return Request(
            url,
            callback=callback,
            errback=self.on_error,
            dont_filter=True,
            meta={KIND_KEY: kind},
        )

    # -- discovery ------------------------------------------------------------------------------
    def parse_feed(self, response: Response) -> Iterator[Request]:
        try:
            links = parse_feed(response.body, response.url)
        except DiscoveryError as e:
            self._fail(response.url, f"bad_feed: {e}")
            return
        self._count("discovered_feed", len(links))
        yield from self._articles(links, via="feed")

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        try:
            doc = parse_sitemap(response.body, response.url)
        except DiscoveryError as e:
            self._fail(response.url, f"bad_sitemap: {e}")
            return
        recent = [link for link in doc.links if in_window(link, self.window_start)]
        self._count("sitemap_entries_old", len(doc.links) - len(recent))
        if doc.kind == "index":
            for link in recent:
                if not allowed(link.url, self.allowed_domains):
                    self._count("offsite")
                elif canonical_url(link.url) in self._documents:
                    self._count("sitemap_repeated")  # an index listing itself, or a cycle
                else:
                    yield self._doc_request(link.url, "sitemap", self.parse_sitemap)
            return
        if self.article_re is not None:
            recent = [link for link in recent if self.article_re.search(link.url)]
        self._count("discovered_sitemap", len(recent))
        yield from self._articles(recent, via="sitemap")

    def parse_listing(self, response: Response) -> Iterator[Request]:
        assert self.article_re is not None
        links = listing_links(response.body, response.url, self.article_re)
        self._count("discovered_listing", len(links))
        yield from self._articles(links, via="listing")

    def _articles(self, links: list[Link], *, via: str) -> Iterator[Request]:
        max_length = self.crawler.settings.getint("URLLENGTH_LIMIT") if self.crawler else 0
        for link in links:
            if not allowed(link.url, self.allowed_domains):
                self._count("offsite")
                continue
            if max_length and len(safe_url_string(link.url)) > max_length:
                # Scrapy's UrlLengthMiddleware would drop it without a word
                self._fail(link.url, "url_too_long", detail=f"longer than {max_length} characters")
                continue
            canon = canonical_url(link.url)
            if canon in self._scheduled:
                continue
            self._scheduled.add(canon)
            req = self._article_request(link.url, canon)
            if req is None:
                continue
            if self.max_pages and self.counts.get("articles_requested", 0) >= self.max_pages:
                self._count("skipped_max_pages")
                continue
            self._count("articles_requested")
            yield req

    def _article_request(self, url: str, canon: str) -> Request | None:
        # a definite answer (a page, a redirect, a 404) counts; 5xx and 429 are tried again
        tonight = self.night.isoformat()
        history = [
            c
            for c in self.catalog.capture_history(canon, through_night=tonight)
            if c.kind == "article" and c.status < 500 and c.status != 429
        ]
        meta: dict[str, Any] = {KIND_KEY: "article"}
        if not history:
            return Request(url, callback=self.parse_article, errback=self.on_error, meta=meta)
        first, last = (date.fromisoformat(c.night) for c in (history[0], history[-1]))
        if not recheck_due(first, last, self.night, self.revisit_days):
            self._count("already_archived")
            return None
        latest = self.catalog.latest_payload_capture(canon, kind="article", through_night=tonight)
        headers: dict[str, str] = {}
        if latest is not None and latest.etag:
            headers["If-None-Match"] = latest.etag
        if latest is not None and latest.last_modified:
            headers["If-Modified-Since"] = latest.last_modified
        prior = latest
        if latest is not None and latest.record_type == "revisit" and latest.payload_digest:
            # a 304 refers to the record that holds the payload
            prior = self.catalog.first_capture_with_digest(latest.payload_digest) or latest
        meta[PRIOR_KEY] = prior
        meta["handle_httpstatus_list"] = [304]
        self._count("rechecks")
        # filtered like any request: a redirect to it from another URL is then not fetched twice
        return Request(
            url, callback=self.parse_article, errback=self.on_error, meta=meta, headers=headers
        )

    def parse_article(self, response: Response) -> None:
        """Articles are extracted after the crawl, from the archive; here they are counted
        (those whose payload was archived before are counted by the capture, as
        ``unchanged/article``)."""
        if response.status == 304:
            self._count("not_modified")
        else:
            self._count("articles_fetched")

    # -- errors ---------------------------------------------------------------------------------
    def request_scheduled(self, request: Request, spider: Spider) -> None:
        """A redirect off the source's domains, which Scrapy's offsite filter drops silently."""
        redirects = request.meta.get("redirect_urls")
        if spider is self and redirects and not allowed(request.url, self.allowed_domains):
            self._fail(redirects[0], "offsite_redirect", detail=f"redirected to {request.url}")

    def request_dropped(self, request: Request, spider: Spider) -> None:
        """A request the scheduler refused as a duplicate: after a redirect, that is a loop."""
        redirects = request.meta.get("redirect_urls")
        if spider is not self or not redirects:
            return
        if canonical_url(request.url) in {canonical_url(u) for u in redirects}:
            self._fail(redirects[0], "redirect_loop", detail=f"redirected back to {request.url}")
        else:
            self._count("redirected_to_known")  # a page also fetched under its own URL

    def on_error(self, failure: Failure) -> None:
        request = getattr(failure, "request", None)
        url = "?"
        if request is not None:
            # the URL that was discovered, not the last hop of its redirects
            url = (request.meta.get("redirect_urls") or [request.url])[0]
        reason = failure_reason(failure)
        if reason == "robots_disallowed":  # obeying robots.txt is not a failure
            self._count("robots_disallowed")
            logger.info("%s: %s disallowed by robots.txt, not fetched", self.source_name, url)
            return
        detail = f"{type(failure.value).__name__}: {failure.value}"
        if request is not None and request.url != url:
            detail += f" (at {request.url})"
        self._fail(url, reason, detail=detail)

    def _fail(self, url: str, reason: str, *, detail: str = "") -> None:
        """Count a failure under ``reason`` (its part before any ``:``) and keep it for the
        report, with ``detail`` saying what exactly went wrong."""
        key = reason.split(":", 1)[0]
        self._count(f"failed/{key}")
        if len(self.failures) < MAX_FAILURES_KEPT:
            entry = {"url": url, "reason": key}
            if detail or key != reason:
                entry["detail"] = (detail or reason.split(":", 1)[1].strip())[:300]
            self.failures.append(entry)
        logger.warning("%s: %s (%s)", self.source_name, url, detail or reason)
