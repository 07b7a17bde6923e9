from __future__ import annotations

from datetime import UTC, datetime

from opeds.crawler.capture.retry import retry_after_seconds

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def test_seconds_and_dates() -> None:
    assert retry_after_seconds(b"120", NOW) == 120.0
    assert retry_after_seconds("Sat, 28 Nov 2026 12:00:30 GMT", NOW) == 30.0
    assert retry_after_seconds("Fri, 31 Dec 1999 23:59:59 GMT", NOW) == 0.0  # in the past


def test_absent_or_garbage() -> None:
    assert retry_after_seconds(None, NOW) is None
    assert retry_after_seconds(b"", NOW) is None
    assert retry_after_seconds(b"soon", NOW) is None
    assert retry_after_seconds(b"-5", NOW) is None
