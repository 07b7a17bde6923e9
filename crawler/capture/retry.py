"""RetryAfterMiddleware: Scrapy's retries, plus back-off when a server asks for it.

A ``429 Too Many Requests`` or ``503 Service Unavailable`` with ``Retry-After`` (seconds or an
HTTP date) slows the whole host down: its download slot's delay becomes the wait asked for
(capped by ``OPEDS_RETRY_AFTER_MAX``), so the retry and every other request to that host wait
that long, until the host answers normally again and its own delay comes back. Without the
header, retries work as in Scrapy.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

BACKOFF_STATUSES = (429, 503)


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """The wait a ``Retry-After`` header asks for, in seconds, or None if absent or invalid."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RetryAfterMiddleware(RetryMiddleware):
    def __init__(self, settings: BaseSettings):
        super().__init__(settings)
        self.max_wait = settings.getfloat("OPEDS_RETRY_AFTER_MAX", 300.0)
        self._normal_delay: dict[str, tuple[float, float]] = {}
        """slot key -> (its own delay, monotonic time until which the host asked us to wait)"""

    def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Request | Response:
        if response.status in BACKOFF_STATUSES and not request.meta.get("dont_retry", False):
            wait = retry_after_seconds(response.headers.get(b"Retry-After"))
            if wait:
                self._slow_down(request, min(wait, self.max_wait))
        else:
            self._resume(request)
        return super().process_response(request, response)

    def _slot(self, request: Request) -> tuple[str, Any] | None:
        engine = getattr(self.crawler, "engine", None)
        downloader = getattr(engine, "downloader", None)
        if downloader is None:
            return None
        key = downloader.get_slot_key(request)
        slot = downloader.slots.get(key)
        return (key, slot) if slot is not None else None

    def _slow_down(self, request: Request, wait: float) -> None:
        found = self._slot(request)
        if found is None:
            return
        key, slot = found
        if slot.delay < wait:
            logger.info("%s asks to retry after %.0f s: slowing the host down", request.url, wait)
            normal = self._normal_delay.get(key, (slot.delay, 0.0))[0]
            self._normal_delay[key] = (normal, time.monotonic() + wait)
            slot.delay = wait
            if self.crawler.stats:
                self.crawler.stats.inc_value("opeds/backoff")

    def _resume(self, request: Request) -> None:
        """Back to the host's own pace once it answers normally after the wait it asked for
        (an answer to a request sent before the wait says nothing)."""
        found = self._slot(request)
        if found is None or found[0] not in self._normal_delay:
            return
        normal, until = self._normal_delay[found[0]]
        if time.monotonic() >= until:
            found[1].delay = normal
            del self._normal_delay[found[0]]
