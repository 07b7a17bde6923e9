"""ExchangeArchiver: what an HTTP exchange becomes in the WARC files and the catalog.

* ``request`` + ``response`` records linked by ``WARC-Concurrent-To``;
* a ``revisit`` (identical-payload-digest) instead of the response when the payload digest was
  archived before, under any URL, any night (the digest index is the catalog);
* a ``revisit`` (server-not-modified) when a conditional GET is answered 304.

Each capture is written to the WARC file's journal before its records (see
:mod:`opeds.crawler.capture.salvage`); the catalog gets captures in batches (every ``FLUSH_EVERY``
captures or ``FLUSH_SECONDS``, and before a file is closed). Payload digests written but possibly
not yet in the catalog are looked up in memory first.

Nothing here imports Scrapy: the archiver runs in the crawl's writer process
(:mod:`opeds.crawler.capture.writer_process`) as well as in tests and tools.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from opeds.crawler.capture.exchange import Exchange
from opeds.crawler.sources.urls import canonical_url
from opeds.storage.catalog.db import Capture, Catalog
from opeds.storage.warc.writer import (
    PROFILE_IDENTICAL,
    PROFILE_NOT_MODIFIED,
    ClosedFile,
    RecordLocation,
    WarcFileWriter,
    payload_digest,
    rewrite_transfer_encoding,
)

FLUSH_EVERY = 200
"""Captures per catalog transaction during a crawl."""
FLUSH_SECONDS = 2.0
"""...or fewer, when this long has passed since the last one."""
RECENT_DIGESTS = 1024
"""Payload digests of the latest captures kept in memory for dedup (more than can be unflushed)."""


@dataclass(frozen=True)
class ArchiverConfig:
    """Where and how one source's exchanges are archived (picklable: sent to the writer).

    ``catalog_url`` may hold a password: this object is never logged.
    """

    source: str
    night: str
    spool: str
    catalog_url: str
    prefix: str = "opeds"
    max_bytes: int = 1_000_000_000
    gzip_level: int = 2
    dedup: bool = True
    warcinfo: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # no catalog URL, even in a traceback
        return f"ArchiverConfig(source={self.source!r}, night={self.night!r})"


class ExchangeArchiver:
    """Writes exchanges of one source to WARC files and the catalog, in the order given.

    :meth:`archive` decides what an exchange becomes (response, revisit), writes its records and
    returns its capture (location fields filled in). :attr:`counts` says what was archived:
    ``records``, ``responses``, ``revisits``, ``kind/<kind>`` (exchanges per kind of document),
    ``unchanged/<kind>`` (identical-payload revisits), ``bytes_payload``, ``truncated/<reason>``
    and ``warc_files``.
    """

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
        self._recent: OrderedDict[str, Capture] = OrderedDict()
        """The latest full captures, by payload digest: those the catalog may not hold yet
        (pending rows, never more than ``FLUSH_EVERY``)."""

    @classmethod
    def from_config(cls, config: ArchiverConfig) -> ExchangeArchiver:
        """An archiver writing journalled WARC files under ``config.spool``.

        Fails at once (``OSError``, or the catalog's error) when the spool cannot be written or
        the catalog cannot be opened, rather than at the first page.
        """
        spool = Path(config.spool)
        spool.mkdir(parents=True, exist_ok=True)
        if not os.access(spool, os.W_OK | os.X_OK):
            raise PermissionError(f"the spool {spool} is not writable")
        catalog = Catalog(config.catalog_url)
        archiver: ExchangeArchiver

        def on_close(closed: ClosedFile) -> None:
            archiver.on_file_closed(closed)

        writer = WarcFileWriter(
            spool,
            prefix=f"{config.prefix}-{config.source}",
            day=date.fromisoformat(config.night),
            max_bytes=config.max_bytes,
            gzip_level=config.gzip_level,
            warcinfo={**config.warcinfo, "opeds-source": config.source},
            on_close=on_close,
            journal=True,
        )
        archiver = cls(
            writer, catalog, night=config.night, source=config.source, dedup=config.dedup
        )
        return archiver

    def flush(self) -> None:
        """Write pending captures to the catalog (one transaction)."""
        if self.pending:
            self.catalog.add_captures(self.pending)
            self.pending = []
        self._flushed = time.monotonic()

    def flush_due(self) -> bool:
        return bool(self.pending) and (
            len(self.pending) >= FLUSH_EVERY or time.monotonic() - self._flushed >= FLUSH_SECONDS
        )

    def on_file_closed(self, closed: ClosedFile) -> None:
        """Before a file counts as closed, the catalog holds every capture in it."""
        self.flush()
        self.catalog.record_closed_file(closed, self.night)
        self._count("warc_files")

    def close(self) -> None:
        """Close the current file and write the last catalog rows."""
        self.writer.close()
        self.flush()

    def _earlier(self, digest: str) -> Capture | None:
        return self._recent.get(digest) or self.catalog.first_capture_with_digest(digest)

    def _count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def archive(self, ex: Exchange, *, kind: str, prior: Capture | None = None) -> Capture:
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
        self._write(ex, cap, refers)
        self._count("records", 2)
        self._count("revisits" if revisit else "responses")
        self._count(f"kind/{kind}")
        self._count("bytes_payload", len(ex.body))
        if profile == PROFILE_IDENTICAL:
            self._count(f"unchanged/{kind}")
        if ex.truncated:
            self._count(f"truncated/{ex.truncated}")
        return cap

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
        if self.flush_due():
            self.flush()
