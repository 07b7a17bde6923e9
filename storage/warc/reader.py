"""Reading WARC and ARC files written by any tool, faithfully or not at all.

Reads WARC/0.17 to WARC/1.1 and ARC/1.0, uncompressed, gzipped one member per record, or gzipped
as one stream for the whole file, with warcio's record loader. Every record is read to its end,
its length checked against the bytes that follow and its digests verified, so a file either
reads completely or raises exactly one :class:`WarcReadError` naming the file, the byte offset,
what is wrong and, where there is one, the fix. Nothing is printed, nothing is skipped silently.

* :func:`iter_records` — one :class:`RecordInfo` per record.
* :func:`read_record_at` — one record from the bytes at an (offset, length) of an index.
* :mod:`opeds.storage.warc.validator` — every problem in a file, as
  :class:`~opeds.storage.warc.errors.Problem` values.

``strict`` (the default) also refuses what the WARC standard only recommends (a ``Content-Type``
on every record with a block, ``application/warc-fields`` warcinfo blocks, known record types);
``strict=False`` accepts those and still refuses everything that makes a record unreliable."""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

from warcio.bufferedreaders import BufferedReader, ChunkedDataReader, DecompressingBufferedReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord, ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParserException

from opeds.errors import NotFound
from opeds.storage.warc.errors import (
    NotAnArchiveError,
    Problem,
    Severity,
    WarcDigestError,
    WarcGzipError,
    WarcHeaderError,
    WarcHttpError,
    WarcReadError,
    WarcStructureError,
    WarcTruncatedError,
)
from opeds.storage.warc.rules import (
    RE_ARC_DATE,
    Issue,
    check_arc_headers,
    check_http_status,
    check_warc_fields,
    check_warc_headers,
    digest_algorithm,
    parse_warc_date,
)

BUFF_SIZE = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
RECOMPRESS_FIX = (
    "rewrite it with one gzip member per record: warcio recompress <file> <new file> "
    "(the records themselves may be intact)"
)

WHOLE_FILE_PROBLEM = (
    "the file is one gzip stream, not one gzip member per record: its records cannot be "
    "fetched by offset, so it cannot be indexed or replayed"
)

Compression = Literal["none", "record", "file"]
Source = str | Path | BinaryIO


# ---------------------------------------------------------------------------------------------
# What a record is


@dataclass(frozen=True)
class RecordInfo:
    """One record as found in a file: where it is and what its headers say.

    ``offset``/``length`` locate the record for a ranged read: for ``compression="record"`` the
    gzip member, for ``"none"`` the header and block (without the blank lines after it), for
    ``"file"`` (a whole-file gzip stream) positions in the decompressed data, which cannot be
    read by range.
    """

    name: str
    offset: int
    length: int
    compression: Compression
    format: Literal["warc", "arc"]
    version: str
    rec_type: str
    """Lower case: ``warcinfo``, ``response``, ``request``, ``revisit``... (ARC: ``warcinfo`` for
    the ``filedesc://`` header record, ``response`` for the others)."""
    target_uri: str | None
    date: datetime | None
    record_id: str | None
    content_type: str | None
    content_length: int
    block_digest: str | None
    payload_digest: str | None
    http_status: int | None
    http_mime: str | None
    """The HTTP ``Content-Type`` of a response or request, without parameters."""
    payload_length: int | None
    """Bytes after the HTTP headers for HTTP records, else the block length."""
    refers_to: str | None = None
    refers_to_target_uri: str | None = None
    refers_to_date: datetime | None = None
    profile: str | None = None
    concurrent_to: tuple[str, ...] = ()
    warcinfo_id: str | None = None
    ip_address: str | None = None
    truncated: str | None = None
    warc_headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def header(self, name: str) -> str | None:
        """The first value of a WARC (or ARC) header field, case-insensitively."""
        lname = name.lower()
        for k, v in self.warc_headers:
            if k.lower() == lname:
                return v
        return None


@dataclass(frozen=True)
class ParsedRecord:
    """One record read in full: its :class:`RecordInfo`, HTTP headers and payload bytes."""

    info: RecordInfo
    http_status_line: str | None
    http_headers: tuple[tuple[str, str], ...] | None
    payload: bytes
    """The HTTP entity body exactly as stored (any transfer or content coding kept) for HTTP
    records; the whole block for the others."""

    def http_header(self, name: str) -> str | None:
        lname = name.lower()
        for k, v in self.http_headers or ():
            if k.lower() == lname:
                return v
        return None

    @property
    def body(self) -> bytes:
        """The payload with chunked transfer coding and gzip/deflate/br content coding undone."""
        return decode_body(self.payload, self.http_headers or ())


def decode_body(payload: bytes, http_headers: tuple[tuple[str, str], ...] | list[Any]) -> bytes:
    """Undo ``Transfer-Encoding: chunked`` and a supported ``Content-Encoding``."""
    headers = StatusAndHeaders("", list(http_headers))
    encoding = (headers.get_header("content-encoding") or "").lower() or None
    if encoding not in BufferedReader.get_supported_decompressors():
        encoding = None
    stream: Any
    if (headers.get_header("transfer-encoding") or "").lower() == "chunked":
        stream = ChunkedDataReader(io.BytesIO(payload), decomp_type=encoding)
    elif encoding:
        stream = BufferedReader(io.BytesIO(payload), decomp_type=encoding)
    else:
        return payload
    return bytes(stream.read())


# ---------------------------------------------------------------------------------------------
# Public API


def iter_records(
    source: Source,
    *,
    name: str | None = None,
    strict: bool = True,
    check_digests: bool = True,
) -> Iterator[RecordInfo]:
    """Each record of a WARC or ARC file, in order; raise :class:`WarcReadError` on the first
    problem (after yielding the records before it)."""
    for scanned in scan_source(source, name, check_digests=check_digests, keep_payload=False):
        _raise_first(scanned.problems, strict)
        yield scanned.info


def read_record_at(
    data: bytes | BinaryIO,
    *,
    name: str,
    offset: int = 0,
    strict: bool = True,
    check_digests: bool = True,
) -> ParsedRecord:
    """Parse exactly one record from the bytes of an index entry's (offset, length) range.

    ``offset`` is where ``data`` starts in the file named ``name``; it only serves messages.
    Raises :class:`WarcReadError` if the bytes hold no complete record or more than one.
    """
    stream: BinaryIO = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    scans = _scan_stream(
        stream, name, check_digests=check_digests, keep_payload=True, base=offset, single=True
    )
    first: _Scanned | None = None
    for scanned in scans:
        if first is not None:
            raise WarcStructureError(
                name,
                scanned.info.offset,
                "the range holds more than one record",
                "check the index entry's length",
            )
        _raise_first(scanned.problems, strict)
        first = scanned
    if first is None:
        raise WarcTruncatedError(name, offset, "the range holds no record", "check the index entry")
    assert first.parsed is not None
    return first.parsed


def _raise_first(problems: list[Problem], strict: bool) -> None:
    for problem in problems:
        if problem.severity == "error" or strict:
            raise problem.exception()


# ---------------------------------------------------------------------------------------------
# The loader and buffered reader, made strict


class _Fatal(Exception):
    def __init__(self, error: WarcReadError) -> None:
        super().__init__(str(error))
        self.error = error


class _StrictReader(DecompressingBufferedReader):
    """warcio's reader, except that corrupt gzip data raises instead of being dropped."""

    def _decompress(self, data: bytes) -> bytes:
        if not self.decompressor or not data:
            return data
        try:
            return bytes(self.decompressor.decompress(data))
        except zlib.error as e:
            raise _GzipCorrupt(str(e)) from None


class _GzipCorrupt(Exception):
    pass


class _Loader(ArcWarcRecordLoader):
    """warcio's record loader with header normalisation and the checks above."""

    def __init__(self, name: str) -> None:
        super().__init__(verify_http=False, arc2warc=False)
        self.name = name
        self.offset = 0
        self.issues: list[Issue] = []
        self.original_headers: list[tuple[str, str]] = []

    def _fatal(self, issue: Issue) -> _Fatal:
        return _Fatal(issue.error(self.name, self.offset, issue.message, issue.fix))

    def _detect_type_load_headers(
        self, stream: Any, statusline: Any = None, known_format: Any = None
    ) -> tuple[str, StatusAndHeaders]:
        fmt, headers = super()._detect_type_load_headers(stream, statusline, known_format)
        # folded values arrive with their leading whitespace: unfold them
        headers.headers = [(k, v.strip()) for k, v in headers.headers]
        self.original_headers = list(headers.headers)
        if fmt == "warc":
            uri = headers.get_header("WARC-Target-URI")
            if uri:
                # known writer bugs that readers repair: wget's <uri>, spaces in file: URIs
                if uri.startswith("<") and uri.endswith(">"):
                    uri = uri[1:-1]
                headers.replace_header("WARC-Target-URI", uri.replace(" ", "%20"))
            self.issues = check_warc_headers(headers.protocol.upper(), headers.headers)
            for fname in ("WARC-Block-Digest", "WARC-Payload-Digest"):
                value = headers.get_header(fname)
                if value is not None:
                    algo = digest_algorithm(value)
                    if algo is None:  # reported above; do not let warcio report it again
                        headers.remove_header(fname)
                    else:
                        headers.replace_header(fname, algo + ":" + value.split(":", 1)[1])
        else:
            self.issues = check_arc_headers(headers.headers)
        for issue in self.issues:
            if issue.fatal:
                raise self._fatal(issue)
        return fmt, headers

    def load_http_headers(self, rec_type: Any, uri: Any, stream: Any, length: Any) -> Any:
        try:
            return super().load_http_headers(rec_type, uri, stream, length)
        except EOFError:
            raise _Fatal(
                WarcTruncatedError(self.name, self.offset, "the file ends inside the record")
            ) from None


@dataclass
class _Scanned:
    info: RecordInfo
    problems: list[Problem]
    parsed: ParsedRecord | None = None


class _WholeFileGzip(Exception):
    pass


class _GzipStream(io.RawIOBase):
    """A whole-file gzip stream, decompressed; errors carry the file name and position."""

    def __init__(self, raw: BinaryIO, name: str) -> None:
        self._gz = gzip.GzipFile(fileobj=raw, mode="rb")
        self._name = name
        self._pos = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._gz.read(size)
        except EOFError:
            raise _Fatal(
                WarcTruncatedError(
                    self._name,
                    self._pos,
                    "the gzip stream ends before its end marker (decompressed offset)",
                    "the file was cut short: copy it again from its source",
                )
            ) from None
        except (OSError, zlib.error) as e:
            raise _Fatal(
                WarcGzipError(
                    self._name, self._pos, f"corrupt gzip data (decompressed offset): {e}"
                )
            ) from None
        self._pos += len(data)
        return data


def scan_source(
    source: Source, name: str | None, *, check_digests: bool, keep_payload: bool
) -> Iterator[_Scanned]:
    if isinstance(source, str | Path):
        path = Path(source)
        label = name or path.name
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            raise NotFound(f"no file {path}") from None
        with fh:
            yield from _scan_with_fallback(fh, label, check_digests, keep_payload)
    else:
        label = name or str(getattr(source, "name", "<stream>"))
        yield from _scan_with_fallback(source, label, check_digests, keep_payload)


def _scan_with_fallback(
    fh: BinaryIO, name: str, check_digests: bool, keep_payload: bool
) -> Iterator[_Scanned]:
    start = fh.tell() if fh.seekable() else 0
    try:
        yield from _scan_stream(fh, name, check_digests=check_digests, keep_payload=keep_payload)
        return
    except _WholeFileGzip:
        if not fh.seekable():
            raise WarcGzipError(name, start, WHOLE_FILE_PROBLEM, RECOMPRESS_FIX) from None
    # Readable in order, but no record can be fetched by offset: a warning, refused when strict.
    whole = Problem(name, start, WarcGzipError, WHOLE_FILE_PROBLEM, RECOMPRESS_FIX, "warning")
    fh.seek(start)
    scans = _scan_stream(
        _GzipStream(fh, name),  # type: ignore[arg-type]
        name,
        check_digests=check_digests,
        keep_payload=keep_payload,
        whole_file=True,
    )
    for i, scanned in enumerate(scans):
        if i == 0:
            scanned.problems.insert(0, whole)
        yield scanned


def _scan_stream(
    fh: BinaryIO,
    name: str,
    *,
    check_digests: bool,
    keep_payload: bool,
    base: int = 0,
    single: bool = False,
    whole_file: bool = False,
) -> Iterator[_Scanned]:
    try:
        yield from _Scanner(fh, name, check_digests, keep_payload, base, single, whole_file).run()
    except _Fatal as f:
        raise f.error from None


class _Tell:
    """Give ``tell()`` to a stream that cannot seek."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.pos = 0

    def tell(self) -> int:
        return self.pos

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.pos += len(data)
        return data


class _Scanner:
    def __init__(
        self,
        fh: BinaryIO,
        name: str,
        check_digests: bool,
        keep_payload: bool,
        base: int,
        single: bool,
        whole_file: bool,
    ) -> None:
        self.name = name
        self.check_digests = check_digests
        self.keep_payload = keep_payload
        self.single = single
        self.whole_file = whole_file
        self.compression: Compression = "file" if whole_file else "none"
        try:
            self.start = fh.tell()
            self.fh: Any = fh
        except (OSError, AttributeError):
            self.fh = _Tell(fh)
            self.start = 0
        self.base = base - self.start
        self.peek = b""
        self.seen_ids: dict[str, int] = {}

    def at(self, pos: int) -> int:
        return pos + self.base

    def note(self, problem: str) -> str:
        if self.whole_file:
            return f"(whole-file gzip: offset in the decompressed data) {problem}"
        return problem

    def err(self, cls: type[WarcReadError], pos: int, problem: str, fix: str = "") -> _Fatal:
        return _Fatal(cls(self.name, self.at(pos), self.note(problem), fix))

    def _open_reader(self) -> _StrictReader:
        head = self.fh.read(4)
        if not head:
            raise self.err(NotAnArchiveError, self.start, "the file is empty")
        if head == ZIP_MAGIC:
            raise self.err(
                NotAnArchiveError,
                self.start,
                "this is a ZIP file (a WACZ package?), not a WARC or ARC file",
                "open WACZ packages with opeds.storage.access.wacz (check_wacz / "
                "iter_wacz_records)",
            )
        gz = head[:2] == GZIP_MAGIC
        if gz:
            self.compression = "record"
        return _StrictReader(
            self.fh, block_size=BUFF_SIZE, decomp_type="gzip" if gz else None, starting_data=head
        )

    def pos(self, reader: _StrictReader) -> int:
        return int(self.fh.tell()) - int(reader.rem_length())

    def run(self) -> Iterator[_Scanned]:
        reader = self._open_reader()
        gz = self.compression == "record"
        loader = _Loader(self.name)
        known_format: str | None = None
        next_line: bytes | None = None
        offset = self.start
        index = 0
        while True:
            loader.offset = self.at(offset)
            try:
                record = loader.parse_record_stream(
                    reader, next_line, known_format, False, False, self.check_digests
                )
            except EOFError:
                if gz and reader.read_next_member():  # an empty gzip member: skip it
                    offset = self.pos(reader)
                    next_line = None
                    continue
                if gz and reader.decompressor is not None and not reader.decompressor.eof:
                    raise self.err(
                        WarcTruncatedError,
                        offset,
                        "the file ends inside a gzip member",
                        "the file was cut short: copy it again from its source",
                    ) from None
                if index == 0:
                    raise self.err(NotAnArchiveError, offset, "the file holds no record") from None
                return
            except _GzipCorrupt as e:
                raise self.err(WarcGzipError, offset, f"corrupt gzip data: {e}") from None
            except (ArchiveLoadFailed, StatusAndHeadersParserException) as e:
                first = str(getattr(e, "msg", e)).split("first line: ", 1)[-1].strip()[:60]
                if index == 0:
                    raise self.err(
                        NotAnArchiveError,
                        offset,
                        f"not a WARC or ARC record header: {first!r}",
                    ) from None
                raise self.err(
                    WarcStructureError,
                    offset,
                    f"expected the next record header, found {first!r}",
                    "the bytes after the previous record are not a record: "
                    "cut the file before them or recover the records with a WARC repair tool",
                ) from None
            known_format = record.format
            issues = list(loader.issues)
            original_headers = loader.original_headers
            try:
                block, payload = self._read_block(record)
            except _GzipCorrupt as e:
                raise self.err(WarcGzipError, offset, f"corrupt gzip data: {e}") from None
            stream = record.raw_stream
            missing = int(getattr(stream, "limit", 0))
            if missing > 0:
                dec = reader.decompressor
                if gz and dec is not None and dec.eof and dec.unused_data:
                    raise self.err(
                        WarcGzipError,
                        offset,
                        f"the gzip member ends {missing} bytes before the record does: "
                        "members are not aligned with records",
                        RECOMPRESS_FIX,
                    )
                raise self.err(
                    WarcTruncatedError,
                    offset,
                    f"the record's block is {record.length} bytes long by its header "
                    f"but the file ends {missing} bytes short of it",
                    "the file was cut short: copy it again from its source",
                )
            try:
                next_line, blank_size, bad_line = self._consume_blank_lines(reader)
            except _GzipCorrupt as e:
                raise self.err(WarcGzipError, offset, f"corrupt gzip data: {e}") from None
            end = self.pos(reader)
            if next_line:
                end -= len(next_line)
            looks_like_record = bad_line is not None and bad_line.upper().startswith(b"WARC/")
            if bad_line is not None and not (gz and looks_like_record):
                raise self.err(
                    WarcStructureError,
                    offset,
                    f"Content-Length {record.length} does not end the record: the block is "
                    f"followed by {bad_line[:40]!r}, not by the blank lines that end a record",
                    "the Content-Length is wrong (or the file was edited); rewrite the "
                    "record with its true length",
                )
            if gz and next_line:
                if index == 0 and not self.single:
                    raise _WholeFileGzip()
                raise self.err(
                    WarcGzipError,
                    offset,
                    "this gzip member holds more than one record",
                    RECOMPRESS_FIX,
                )
            length = end - offset
            if not gz:
                length -= blank_size
            info = self._info(record, original_headers, offset, length, len(block), payload)
            problems = [
                Problem(
                    self.name, self.at(offset), i.error, self.note(i.message), i.fix, i.severity
                )
                for i in issues
            ]
            problems.extend(self._check_record(record, info, block))
            parsed = None
            if self.keep_payload:
                http = record.http_headers
                parsed = ParsedRecord(
                    info=info,
                    http_status_line=(
                        f"{http.protocol} {http.statusline}".strip() if http else None
                    ),
                    http_headers=tuple(http.headers) if http else None,
                    payload=payload,
                )
            yield _Scanned(info, problems, parsed)
            index += 1
            offset = end
            if gz and not next_line and not reader.read_next_member():
                dec = reader.decompressor
                if dec is not None and not dec.eof:
                    raise self.err(
                        WarcTruncatedError,
                        offset,
                        "the file ends inside a gzip member",
                        "the file was cut short: copy it again from its source",
                    )
                return

    def _read_block(self, record: ArcWarcRecord) -> tuple[bytes, bytes]:
        """Read the rest of the block; return (bytes kept for checks, payload if kept)."""
        keep = self.keep_payload or record.rec_type == "warcinfo"
        chunks: list[bytes] = []
        stream = record.raw_stream
        while True:
            b = stream.read(BUFF_SIZE)
            if not b:
                break
            if keep:
                chunks.append(b)
        data = b"".join(chunks)
        return data, data if self.keep_payload else b""

    def _consume_blank_lines(self, reader: _StrictReader) -> tuple[bytes | None, int, bytes | None]:
        """Skip the blank lines after a block: (next non-blank line, blank bytes, bad line).

        ``bad line`` is the first line when it is not blank: the block did not end there.
        """
        size = 0
        first = True
        while True:
            line = reader.readline()
            if not line:
                return None, size, None
            if line.strip():
                return line, size, line if first else None
            size += len(line)
            first = False

    def _info(
        self,
        record: ArcWarcRecord,
        original: list[tuple[str, str]],
        offset: int,
        length: int,
        block_len: int,
        payload: bytes,
    ) -> RecordInfo:
        h = record.rec_headers
        http = record.http_headers
        status: int | None = None
        mime: str | None = None
        if http is not None and record.rec_type in ("response", "revisit"):
            code = http.get_statuscode()
            status = int(code) if code and str(code).isdigit() else None
        if http is not None:
            ctype = http.get_header("content-type")
            mime = ctype.split(";")[0].strip().lower() if ctype else None
        payload_length = record.payload_length if record.payload_length >= 0 else record.length
        if record.format == "arc":
            arc_date = h.get_header("archive-date") or ""
            date = None
            if RE_ARC_DATE.match(arc_date):
                date = datetime.strptime(arc_date, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
            return RecordInfo(
                name=self.name,
                offset=self.at(offset),
                length=length,
                compression=self.compression,
                format="arc",
                version="ARC/1.0",
                rec_type="warcinfo" if record.rec_type == "arc_header" else "response",
                target_uri=h.get_header("uri"),
                date=date,
                record_id=None,
                content_type=h.get_header("content-type"),
                content_length=int(h.get_header("length") or 0),
                block_digest=None,
                payload_digest=None,
                http_status=status,
                http_mime=mime,
                payload_length=payload_length,
                ip_address=h.get_header("ip-address"),
                warc_headers=tuple(original),
            )
        refers_date = h.get_header("WARC-Refers-To-Date")
        return RecordInfo(
            name=self.name,
            offset=self.at(offset),
            length=length,
            compression=self.compression,
            format="warc",
            version=h.protocol.upper(),
            rec_type=(record.rec_type or "").lower(),
            target_uri=h.get_header("WARC-Target-URI"),
            date=parse_warc_date(h.get_header("WARC-Date") or ""),
            record_id=h.get_header("WARC-Record-ID"),
            content_type=h.get_header("Content-Type"),
            content_length=int(h.get_header("Content-Length") or 0),
            block_digest=h.get_header("WARC-Block-Digest"),
            payload_digest=h.get_header("WARC-Payload-Digest"),
            http_status=status,
            http_mime=mime,
            payload_length=payload_length,
            refers_to=h.get_header("WARC-Refers-To"),
            refers_to_target_uri=h.get_header("WARC-Refers-To-Target-URI"),
            refers_to_date=parse_warc_date(refers_date) if refers_date else None,
            profile=h.get_header("WARC-Profile"),
            concurrent_to=tuple(v for k, v in h.headers if k.lower() == "warc-concurrent-to"),
            warcinfo_id=h.get_header("WARC-Warcinfo-ID"),
            ip_address=h.get_header("WARC-IP-Address"),
            truncated=h.get_header("WARC-Truncated"),
            warc_headers=tuple(original),
        )

    def _check_record(self, record: ArcWarcRecord, info: RecordInfo, block: bytes) -> list[Problem]:
        out: list[Problem] = []

        def add(cls: type[WarcReadError], message: str, severity: Severity = "error") -> None:
            out.append(Problem(self.name, info.offset, cls, self.note(message), "", severity))

        http = record.http_headers
        if (
            http is not None
            and info.rec_type in ("response", "revisit")
            and (info.target_uri or "").lower().startswith(("http:", "https:"))
        ):
            message = check_http_status(http)
            if message:
                add(WarcHttpError, message)
        if (
            info.rec_type == "warcinfo"
            and info.format == "warc"
            and (info.content_type or "").split(";")[0].strip() == "application/warc-fields"
        ):
            line = check_warc_fields(block)
            if line is not None:
                add(
                    WarcHeaderError,
                    f"warcinfo block is not application/warc-fields: line {line[:60]!r} is not "
                    "'Name: value'",
                    "warning",
                )
        checker = record.digest_checker
        if self.check_digests and checker is not None and checker.passed is False:
            for message in checker.problems:
                add(
                    WarcDigestError,
                    f"{message.replace('failed', 'does not match')} (the bytes "
                    "differ from what the writer hashed: damaged or edited record)",
                )
        if info.record_id:
            earlier = self.seen_ids.get(info.record_id)
            if earlier is not None:
                add(
                    WarcHeaderError,
                    f"WARC-Record-ID {info.record_id} was already used by the record at byte "
                    f"{earlier}",
                    "warning",
                )
            else:
                self.seen_ids[info.record_id] = info.offset
        return out
