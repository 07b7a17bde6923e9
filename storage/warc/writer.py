"""Writing WARC/1.1 files: records built with warcio, each record its own gzip member.

* :class:`RawHttpHeaders` keeps an HTTP head byte for byte, so the response block is the exchange
  exactly as received (status line, reason phrase, header names, order and spacing).
* :class:`WarcFileWriter` writes record groups (request + response, a revisit, a metadata record)
  to a series of files named IIPC-style, ``<prefix>-<timestamp>-<serial>-<host>.warc.gz``, under
  ``warcs/YYYY/MM/DD/``. A file is written under ``<name>.open`` and renamed when complete, rotation
  happens between groups (a group never spans two files), and each record is compressed as its own
  gzip member with ISA-L (much faster than warcio's zlib level 9, same standard output).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from isal import isal_zlib
from warcio.recordbuilder import RecordBuilder
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import BaseWARCWriter

from opeds.faults import crash_point
from opeds.storage.warc.locks import lock

WARC_VERSION = "WARC/1.1"
PROFILE_IDENTICAL = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
PROFILE_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
ORIG_HEADER_PREFIX = "X-Archive-Orig-"
OPEN_SUFFIX = ".open"
JOURNAL_SUFFIX = ".journal"
_CHUNK = 256 * 1024


def payload_digest(body: bytes) -> str:
    """The WARC payload digest of a body: ``sha1:`` + base32, as warcio and pywb use."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def block_digest(head: bytes, body: bytes) -> str:
    """The WARC block digest of an HTTP record whose block is ``head`` then ``body``."""
    h = hashlib.sha1(head)
    h.update(body)
    return "sha1:" + base64.b32encode(h.digest()).decode("ascii")


def warc_date(dt: datetime) -> str:
    """WARC/1.1 date with microseconds, UTC."""
    return datetime_to_iso_date(dt.astimezone(UTC).replace(tzinfo=None), use_micros=True)


class RawHttpHeaders(StatusAndHeaders):
    """HTTP status line and headers whose serialised form is pinned to the bytes received."""

    def __init__(self, raw: bytes, *, is_request: bool = False):
        text = raw.decode("latin-1")
        lines = text.split("\r\n") if "\r\n" in text else text.split("\n")
        first = lines[0]
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            if not line:
                continue
            if line[0] in " \t" and headers:
                name, value = headers[-1]
                headers[-1] = (name, value + " " + line.strip())
                continue
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
        if is_request:  # "GET /path HTTP/1.1": warcio keeps the version as the protocol
            statusline, _, protocol = first.rpartition(" ")
        else:
            protocol, _, statusline = first.partition(" ")
        super().__init__(statusline, headers, protocol=protocol, is_http_request=is_request)
        self.headers_buff = raw

    def compute_headers_buffer(self, header_filter: Any = None) -> None:
        """Keep the bytes as received (warcio would re-serialise them)."""


def rewrite_transfer_encoding(head: bytes) -> bytes:
    """Rename ``Transfer-Encoding`` to ``X-Archive-Orig-Transfer-Encoding`` in a raw head.

    Used when the body stored is de-chunked: the header stays in place with its value, under a name
    that says it describes the original transfer, so readers do not try to de-chunk again.
    """
    return re.sub(
        rb"(?im)^(transfer-encoding)(\s*:)",
        lambda m: ORIG_HEADER_PREFIX.encode() + m.group(1) + m.group(2),
        head,
    )


@dataclass(frozen=True)
class RecordLocation:
    record_id: str
    key: str
    offset: int
    length: int


@dataclass(frozen=True)
class ClosedFile:
    key: str
    path: Path
    size: int
    sha256: str
    records: int
    first_record: datetime | None
    last_record: datetime | None


class GzipMemberWriter:
    """Compresses everything written between construction and :meth:`close` as one gzip member.

    warcio writes a record in 16 kB pieces; they are gathered and compressed in one call at
    :meth:`close` (a record is in memory anyway), which is cheaper than a call per piece.
    """

    def __init__(self, out: IO[bytes], level: int):
        self.out = out
        self.level = level
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """warcio flushes after each record; the member is finished by :meth:`close`."""

    def close(self) -> None:
        c = isal_zlib.compressobj(self.level, isal_zlib.DEFLATED, 16 + isal_zlib.MAX_WBITS)
        self.out.write(c.compress(b"".join(self._parts)) + c.flush())
        self._parts = []


# A payload digest only where a payload is defined: HTTP messages. Metadata blocks are JSON with no
# payload apart from the block; revisits carry the digest of the payload they refer to.
NO_PAYLOAD_DIGEST = ("warcinfo", "revisit", "metadata", "resource")


def _fields(
    rec_type: str, uri: str, when: datetime, record_id: str | None, **extra: str | None
) -> dict[str, str]:
    """WARC named fields in the customary order: type, id, target, date, then the rest."""
    out = {
        "WARC-Type": rec_type,
        "WARC-Record-ID": record_id or str(RecordBuilder._make_warc_id()),
        "WARC-Target-URI": uri,
        "WARC-Date": warc_date(when),
    }
    for k, v in extra.items():
        if v:
            out[k.replace("_", "-")] = v
    return out


class RecordFactory(RecordBuilder):
    """warcio's record builder, WARC/1.1, with record IDs and dates the caller controls."""

    NO_PAYLOAD_DIGEST_TYPES = NO_PAYLOAD_DIGEST

    def __init__(self) -> None:
        super().__init__(warc_version=WARC_VERSION)

    def warcinfo(self, filename: str, info: Mapping[str, str], when: datetime) -> ArcWarcRecord:
        rec = self.create_warcinfo_record(filename, dict(info))
        rec.rec_headers.replace_header("WARC-Date", warc_date(when))
        return rec

    def request(
        self, uri: str, raw: bytes, when: datetime, *, concurrent_to: str, ip: str | None = None
    ) -> ArcWarcRecord:
        head, _, body = raw.partition(b"\r\n\r\n")
        headers = RawHttpHeaders(head + b"\r\n\r\n", is_request=True)
        warc = _fields(
            "request", uri, when, None, WARC_Concurrent_To=concurrent_to, WARC_IP_Address=ip
        )
        return self.create_warc_record(
            uri,
            "request",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=headers,
            warc_headers_dict=warc,
        )

    def response(
        self,
        uri: str,
        head: bytes,
        body: bytes,
        when: datetime,
        *,
        ip: str | None = None,
        truncated: str | None = None,
        record_id: str | None = None,
        payload_digest: str | None = None,
    ) -> ArcWarcRecord:
        """A response record; ``payload_digest``, when the caller has it, saves hashing twice."""
        warc = _fields(
            "response",
            uri,
            when,
            record_id,
            WARC_IP_Address=ip,
            WARC_Truncated=truncated,
            WARC_Payload_Digest=payload_digest,
            WARC_Block_Digest=block_digest(head, body),  # one pass, not warcio's 16 kB reads
        )
        return self.create_warc_record(
            uri,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=RawHttpHeaders(head),
            warc_headers_dict=warc,
        )

    def revisit(
        self,
        uri: str,
        head: bytes,
        when: datetime,
        *,
        profile: str,
        refers_to_uri: str,
        refers_to_date: datetime,
        digest: str | None,
        refers_to: str | None = None,
        ip: str | None = None,
        record_id: str | None = None,
        body: bytes = b"",
    ) -> ArcWarcRecord:
        """A revisit record: HTTP headers only for identical-payload, the full 304 otherwise."""
        warc = _fields(
            "revisit",
            uri,
            when,
            record_id,
            WARC_IP_Address=ip,
            WARC_Profile=profile,
            WARC_Refers_To=refers_to,
            WARC_Refers_To_Target_URI=refers_to_uri,
            WARC_Refers_To_Date=warc_date(refers_to_date),
            WARC_Payload_Digest=digest,
        )
        # identical-payload revisits carry headers only; warcio writes no payload for revisits
        return self.create_warc_record(
            uri,
            "revisit",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=RawHttpHeaders(head),
            warc_headers_dict=warc,
        )

    def metadata(
        self,
        uri: str,
        content: bytes,
        when: datetime,
        *,
        concurrent_to: str,
        content_type: str = "application/json",
    ) -> ArcWarcRecord:
        warc = _fields("metadata", uri, when, None, WARC_Concurrent_To=concurrent_to)
        return self.create_warc_record(
            uri,
            "metadata",
            payload=io.BytesIO(content),
            length=len(content),
            warc_content_type=content_type,
            warc_headers_dict=warc,
        )

    @staticmethod
    def new_id() -> str:
        return str(RecordBuilder._make_warc_id())


class _Serializer(BaseWARCWriter):
    """warcio's own record serialisation (digests, Content-Length, header order), uncompressed."""

    NO_PAYLOAD_DIGEST_TYPES = NO_PAYLOAD_DIGEST

    def __init__(self) -> None:
        super().__init__(gzip=False, warc_version=WARC_VERSION)


def host_label() -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", socket.gethostname()) or "host"


class WarcFileWriter:
    """Writes groups of records to rotating WARC files under ``root``.

    ``on_close`` is called with each completed file (already renamed to its final name).
    """

    def __init__(
        self,
        root: Path,
        *,
        prefix: str,
        day: date,
        max_bytes: int,
        gzip_level: int,
        warcinfo: Mapping[str, str],
        on_close: Callable[[ClosedFile], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        journal: bool = False,
    ):
        self.root = Path(root)
        self.prefix = prefix
        self.day = day
        self.max_bytes = max_bytes
        self.level = max(0, min(3, gzip_level))
        self.info = dict(warcinfo)
        self.on_close = on_close
        self.clock = clock
        self.factory = RecordFactory()
        self._ser = _Serializer()
        self._serial = 0
        self._fh: IO[bytes] | None = None
        self._key = ""
        self._path = Path()
        self._records = 0
        self._first: datetime | None = None
        self._last: datetime | None = None
        self._sha = hashlib.sha256()
        self._journal: IO[bytes] | None = None
        self.journal = journal
        self.closed_files: list[ClosedFile] = []

    @property
    def current_key(self) -> str | None:
        return self._key if self._fh else None

    def _open(self) -> None:
        now = self.clock()
        stamp = now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}"
        name = f"{self.prefix}-{stamp}-{self._serial:05d}-{host_label()}.warc.gz"
        self._serial += 1
        self._key = f"warcs/{self.day:%Y/%m/%d}/{name}"
        self._path = self.root / self._key
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(str(self._path) + OPEN_SUFFIX, "wb")
        if self.journal:
            self._journal = open(str(self._path) + JOURNAL_SUFFIX, "wb")
        # held until the file is complete and renamed: recovery leaves a live writer's file alone
        lock(self._journal or self._fh)
        self._records = 0
        self._first = self._last = None
        self._sha = hashlib.sha256()
        info = {
            "software": self.info.get("software", "opeds"),
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        }
        info.update(self.info)
        self._write_one(self.factory.warcinfo(name, info, now), now)

    def _serialise(self, record: ArcWarcRecord) -> bytes:
        buf = io.BytesIO()
        member = GzipMemberWriter(buf, self.level)
        self._ser._write_warc_record(member, record)
        member.close()
        return buf.getvalue()

    def _write_one(self, record: ArcWarcRecord, when: datetime) -> RecordLocation:
        return self._write_serialised([(record, when, self._serialise(record))], None)[0]

    def _write_serialised(
        self,
        group: list[tuple[ArcWarcRecord, datetime, bytes]],
        note: Callable[[list[RecordLocation]], Mapping[str, Any]] | None,
    ) -> list[RecordLocation]:
        assert self._fh is not None
        offset = self._fh.tell()
        locs = []
        for record, _, data in group:
            rid = str(record.rec_headers.get_header("WARC-Record-ID"))
            locs.append(RecordLocation(rid, self._key, offset, len(data)))
            offset += len(data)
        if self._journal is not None and note is not None:
            line = json.dumps(note(locs), default=_json_default, ensure_ascii=False)
            self._journal.write(line.encode("utf-8") + b"\n")
            self._journal.flush()
        for i, (_, when, data) in enumerate(group):
            if i == len(group) - 1 and len(data) > 1:
                half = memoryview(data)
                self._fh.write(half[: len(data) // 2])
                crash_point("warc-record")  # half a record on disk
                self._fh.write(half[len(data) // 2 :])
            else:
                self._fh.write(data)
            self._sha.update(data)
            self._records += 1
            self._first = self._first or when
            self._last = when
        return locs

    def write_group(
        self,
        records: Iterable[tuple[ArcWarcRecord, datetime]],
        *,
        note: Callable[[list[RecordLocation]], Mapping[str, Any]] | None = None,
    ) -> list[RecordLocation]:
        """Write records together in one file; rotate first if the file is full.

        With ``journal=True``, ``note(locations)`` describes the group (a catalog row); it is
        appended to the file's journal, ``<name>.journal``, *before* the records are written, so
        after a crash every complete group is described, and a described group that did not
        reach the disk whole is found by reading it (:mod:`opeds.crawler.capture.salvage`).
        """
        if self._fh is not None and self._fh.tell() >= self.max_bytes:
            self.close()
        if self._fh is None:
            self._open()
        group = [(rec, when, self._serialise(rec)) for rec, when in records]
        locs = self._write_serialised(group, note)
        assert self._fh is not None
        self._fh.flush()
        return locs

    def close(self) -> ClosedFile | None:
        """Finish the current file: flush, fsync, rename to its final name."""
        if self._fh is None:
            return None
        fh, self._fh = self._fh, None
        fh.flush()
        os.fsync(fh.fileno())
        size = fh.tell()
        crash_point("warc-rotation")  # complete, not yet under its final name
        os.replace(str(self._path) + OPEN_SUFFIX, self._path)
        fh.close()  # after the rename: its lock covers the file until it has its final name
        closed = ClosedFile(
            self._key,
            self._path,
            size,
            self._sha.hexdigest(),
            self._records,
            self._first,
            self._last,
        )
        self.closed_files.append(closed)
        if self.on_close:
            self.on_close(closed)
        if self._journal is not None:
            # the catalog holds every row of the file now: its journal has served
            self._journal.close()
            self._journal = None
            os.unlink(str(self._path) + JOURNAL_SUFFIX)
        return closed


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
