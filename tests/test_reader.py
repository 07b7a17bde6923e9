"""opeds.storage.warc.reader: every corpus file reads completely or fails with one clear error."""

from __future__ import annotations

import gzip
import io
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from opeds.errors import NotFound, OpedsError
from opeds.storage.warc.errors import (
    NotAnArchiveError,
    WarcDigestError,
    WarcGzipError,
    WarcHeaderError,
    WarcHttpError,
    WarcReadError,
    WarcStructureError,
    WarcTruncatedError,
)
from opeds.storage.warc.reader import iter_records, read_record_at
from opeds.storage.warc.rules import parse_warc_date
from opeds.storage.warc.validator import check_file

OK = None
H, D, G, T, S, X, F = (
    WarcHeaderError,
    WarcDigestError,
    WarcGzipError,
    WarcTruncatedError,
    WarcStructureError,
    WarcHttpError,
    NotAnArchiveError,
)

# file -> (records, outcome with strict=True, outcome with strict=False, why)
# "records" is how many records a lenient read yields before its outcome.
EXPECTED: dict[str, tuple[int, type[WarcReadError] | None, type[WarcReadError] | None, str]] = {
    # --- iipc: reference files, all valid
    "iipc/hello-world.warc": (6, OK, OK, "all six record types"),
    "iipc/hello-world.warc.gz": (6, OK, OK, "same, per-record gzip"),
    "iipc/dedup/20130729-heritrix-original.warc.gz": (1, OK, OK, ""),
    "iipc/dedup/20130729-heritrix-revisit-with-http-headers.warc.gz": (1, OK, OK, ""),
    "iipc/dedup/20141124-heritrix-server-not-modified.warc.gz": (1, OK, OK, ""),
    "iipc/dedup/20141129-heritrix-original.warc.gz": (1, OK, OK, ""),
    "iipc/dedup/20141129-heritrix-revisit-with-http-headers-and-new-warc-headers.warc.gz": (
        1,
        OK,
        OK,
        "",
    ),
    # --- jwat valid-*: folded header values, lower-case names and version, UTF-8, repeated
    #     WARC-Concurrent-To, extension headers, continuation records without Content-Type
    "jwat/valid-warcfile-contenttype-continuation.warc": (1, OK, OK, ""),
    "jwat/valid-warcfile-duplicate-concurrentto.warc": (1, OK, OK, ""),
    "jwat/valid-warcfile-fields-continuation.warc": (1, OK, OK, "digest checked after unfolding"),
    "jwat/valid-warcfile-fields-metainfo.warc": (1, OK, OK, ""),
    "jwat/valid-warcfile-fields-warcinfo.warc": (1, OK, OK, ""),
    "jwat/valid-warcfile-non-warc-headers.warc": (1, OK, OK, ""),
    "jwat/valid-warcfile-upper-lower-case.warc": (5, OK, OK, "dates like 2008-04-30t20:48:25z"),
    "jwat/valid-warcfile-utf8.warc": (1, OK, OK, ""),
    # --- jwat invalid-*: each gives one error (strict); lenient accepts only "recommended"
    "jwat/invalid-warcfile-contenttype-recommended.warc": (
        4,
        H,
        D,
        "no Content-Type (recommended); lenient: resource payload digest is wrong",
    ),
    "jwat/invalid-warcfile-contenttype-warcinfo-recommended.warc": (
        1,
        H,
        OK,
        "warcinfo Content-Type application/octet, recommended only",
    ),
    "jwat/invalid-warcfile-digest-fields.warc": (0, D, D, "digests that do not match"),
    "jwat/invalid-warcfile-duplicate-fields.warc": (0, H, H, "every field twice"),
    "jwat/invalid-warcfile-encoding-headers.warc.gz": (
        4,
        H,
        OK,
        "warcinfo block not application/warc-fields (a '#added by ...' line); the "
        "rest of the file is sound, so only strict refuses it",
    ),
    "jwat/invalid-warcfile-fields-empty.warc": (0, H, H, "empty Content-Length"),
    "jwat/invalid-warcfile-fields-invalidformat.warc": (0, H, H, "Content-Length 'very lengthy'"),
    "jwat/invalid-warcfile-fields-missing.warc": (0, H, H, "no values at all"),
    "jwat/invalid-warcfile-lonely-continuation.warc": (0, H, H, "no Content-Length"),
    "jwat/invalid-warcfile-lonely-monkeys.warc": (0, H, H, "no Content-Length"),
    "jwat/invalid-warcfile-lonely-request-response-resource-conversion.warc": (
        0,
        H,
        H,
        "no Content-Length",
    ),
    "jwat/invalid-warcfile-lonely-revisit.warc": (0, H, H, "no Content-Length"),
    "jwat/invalid-warcfile-lonely-warcinfo-metadata.warc": (0, H, H, "no Content-Length"),
    "jwat/invalid-warcfile-record-then-garbage.warc": (1, S, S, "text after the last record"),
    "jwat/invalid-warcfile-segment-number-continuation.warc": (0, H, H, "continuation number 1"),
    "jwat/invalid-warcfile-segment-number-response.warc": (1, H, H, "response segment 2"),
    # --- py-wacz: WARC/1.1 from browser capture, most gzipped despite a .warc name
    "py-wacz/example-collection.warc": (4, OK, OK, ""),
    "py-wacz/example-collection-with-lists.warc": (38, OK, OK, ""),
    "py-wacz/example-resource.warc.gz": (3, OK, OK, ""),
    "py-wacz/example-warcinfo-metadata.warc": (
        4,
        OK,
        OK,
        "a request record whose request line is 'HTTP/1.1 200 OK': request lines are "
        "not checked (browser capture writes HTTP/2 requests without a version)",
    ),
    "py-wacz/example-iana.warc": (
        118,
        H,
        OK,
        "the warcinfo record is repeated at the end with the same WARC-Record-ID: "
        "record IDs must be unique, but the records are intact",
    ),
    "py-wacz/valid_example_1.wacz": (0, F, F, "a WACZ: read with opeds.storage.access.wacz"),
    "py-wacz/valid_example_2.wacz": (0, F, F, "a WACZ: read with opeds.storage.access.wacz"),
    "py-wacz/valid_signed_example_1.wacz": (0, F, F, "a WACZ: read with opeds.storage.access.wacz"),
    "py-wacz/invalid_example_1.wacz": (0, F, F, "a WACZ: read with opeds.storage.access.wacz"),
    "py-wacz/invalid_signed_example_1.wacz": (
        0,
        F,
        F,
        "a WACZ: read with opeds.storage.access.wacz",
    ),  # --- pywb
    "pywb/example.arc": (2, OK, OK, ""),
    "pywb/example.arc.gz": (2, OK, OK, ""),
    "pywb/example.warc.gz": (6, OK, OK, ""),
    "pywb/example2.warc.gz": (3, OK, OK, ""),
    "pywb/iana.warc.gz": (343, OK, OK, "123 revisits"),
    "pywb/dupes.warc.gz": (25, OK, OK, ""),
    "pywb/example-url-agnostic-orig.warc.gz": (2, OK, OK, ""),
    "pywb/example-url-agnostic-revisit.warc.gz": (2, OK, OK, ""),
    "pywb/example-wpull.warc.gz": (4, OK, OK, ""),
    "pywb/httpbin-resource.warc.gz": (1, OK, OK, ""),
    "pywb/post-test.warc.gz": (6, OK, OK, ""),
    "pywb/missing-status-text.warc": (
        1,
        OK,
        OK,
        "lines end CR CR LF (a newline conversion) and Content-Length counts CR LF: "
        "only CR/LF bytes are left over, the status line '302' has no reason phrase, the "
        "payload digest (empty payload) verifies: accepted",
    ),
    "pywb/example-wget-1-14.warc.gz": (
        6,
        H,
        OK,
        "wget 1.14 gave two resource records the same WARC-Record-ID",
    ),
    "pywb/example.warc": (
        4,
        S,
        S,
        "the last request's Content-Length is 5 bytes short ('m\\r\\n' follows the "
        "block): pywb and warcio read on with a warning; the record's bytes are wrong",
    ),
    "pywb/example-extra.warc": (
        3,
        X,
        X,
        "a response with status line 'HTTPX/1.1 200 OK' (its payload digest fails too)",
    ),
    "pywb/bad.arc": (0, H, H, "ARC lengths -1 and 'abc'"),
    "pywb/example-bad.warc.gz.bad": (
        6,
        G,
        OK,
        "one gzip stream for the whole file: records cannot be fetched by offset. "
        "Strict refuses it with the recompress fix; lenient reads it in order",
    ),
    # --- warcio
    "warcio/example.warc": (6, OK, OK, ""),
    "warcio/example.warc.gz": (6, OK, OK, ""),
    "warcio/example.arc": (2, OK, OK, ""),
    "warcio/example.arc.gz": (2, OK, OK, ""),
    "warcio/example-resource.warc.gz": (3, OK, OK, ""),
    "warcio/example-iana.org-chunked.warc": (3, OK, OK, "chunked payload"),
    "warcio/post-test.warc.gz": (6, OK, OK, ""),
    "warcio/example-space-in-target-uri.warc.gz": (2, OK, OK, "spaces repaired to %20"),
    "warcio/example-wget-bad-target-uri.warc.gz": (6, OK, OK, "wget's <uri> repaired"),
    "warcio/example-bad-non-chunked.warc.gz": (
        6,
        G,
        OK,
        "whole-file gzip, like *.bad (warcio's own test expects this error)",
    ),
    "warcio/example-bad.warc.gz.bad": (6, G, OK, "whole-file gzip"),
    "warcio/bad.arc": (0, H, H, "ARC lengths -1 and 'abc'"),
    "warcio/example-digest.warc": (0, D, D, "a payload digest that does not match"),
    "warcio/example-trunc.warc": (2, S, S, "Content-Length 2 bytes short of the block"),
    "warcio/example-wrong-chunks.warc.gz": (
        0,
        G,
        G,
        "gzip members split inside records: not seekable per record",
    ),
    "warcio/example-space-in-url.arc": (
        1,
        T,
        T,
        "the record declares 1591 bytes and the file ends after 1579: a silent partial "
        "read in warcio; refused here",
    ),
}


def test_expected_table_covers_the_corpus(corpus_dir: Path) -> None:
    files = {
        p.relative_to(corpus_dir / "warc").as_posix()
        for p in (corpus_dir / "warc").rglob("*")
        if p.is_file() and p.name not in ("SOURCE", "LICENSE.upstream")
    }
    assert files == set(EXPECTED)


def _read(path: Path, strict: bool) -> tuple[int, WarcReadError | None]:
    n = 0
    try:
        for _ in iter_records(path, strict=strict):
            n += 1
    except WarcReadError as err:
        return n, err
    return n, None


@pytest.mark.corpus
@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_corpus_file(corpus_dir: Path, rel: str, capsys: pytest.CaptureFixture[str]) -> None:
    count, strict_outcome, lenient_outcome, _why = EXPECTED[rel]
    path = corpus_dir / "warc" / rel
    for strict, expected in ((True, strict_outcome), (False, lenient_outcome)):
        n, err = _read(path, strict)
        if expected is None:
            assert err is None, f"{rel} (strict={strict}) should read: {err}"
        else:
            assert type(err) is expected, f"{rel} (strict={strict}): got {err!r}"
            assert isinstance(err, OpedsError)
            message = str(err)
            assert message.startswith(f"{path.name}: at byte {err.offset}: ")
            assert err.problem and "\n" not in message
        if not strict:
            assert n == count
    # nothing is printed: warcio's warnings to stderr are not how problems are reported
    assert capsys.readouterr() == ("", "")


@pytest.mark.corpus
def test_check_file_agrees_with_iter_records(corpus_dir: Path) -> None:
    for rel, (_n, strict_outcome, _lenient, _why) in EXPECTED.items():
        if rel.endswith(".wacz"):
            continue  # opeds.storage.access.wacz checks packages (tests/test_wacz.py)
        problems = check_file(corpus_dir / "warc" / rel)
        if strict_outcome is None:
            assert problems == [], rel
        else:
            assert problems[0].error is strict_outcome, (rel, problems)


@pytest.mark.corpus
def test_jwat_recommended_fields_are_warnings(corpus_dir: Path) -> None:
    problems = check_file(corpus_dir / "warc/jwat/invalid-warcfile-contenttype-recommended.warc")
    missing = [p for p in problems if "no Content-Type" in p.message]
    assert len(missing) == 7  # JWAT reports 7 RECOMMENDED_MISSING for this file
    assert {p.severity for p in missing} == {"warning"}
    assert [p.offset for p in problems if p.error is WarcDigestError] == [1838, 2823]


@pytest.mark.corpus
def test_record_fields_and_offsets(corpus_dir: Path) -> None:
    path = corpus_dir / "warc/pywb/iana.warc.gz"
    records = list(iter_records(path))
    types = [r.rec_type for r in records]
    assert types.count("revisit") == 123 and types.count("response") == 48
    data = path.read_bytes()
    for r in records:
        parsed = read_record_at(data[r.offset : r.offset + r.length], name=r.name, offset=r.offset)
        assert parsed.info == r
    first_response = next(r for r in records if r.rec_type == "response")
    assert first_response.compression == "record"
    assert first_response.http_status == 200
    assert first_response.target_uri and first_response.target_uri.startswith("http")
    assert first_response.payload_digest and first_response.payload_digest.startswith("sha1:")
    assert first_response.date is not None and first_response.date.tzinfo is UTC


@pytest.mark.corpus
def test_arc_and_chunked_payload(corpus_dir: Path) -> None:
    arc = list(iter_records(corpus_dir / "warc/warcio/example.arc.gz"))
    assert [(r.format, r.rec_type) for r in arc] == [("arc", "warcinfo"), ("arc", "response")]
    assert arc[1].date == datetime(2014, 2, 16, 5, 2, 21, tzinfo=UTC)
    path = corpus_dir / "warc/warcio/example-iana.org-chunked.warc"
    data = path.read_bytes()
    response = next(r for r in iter_records(path) if r.rec_type == "response")
    parsed = read_record_at(data[response.offset : response.offset + response.length], name="x")
    assert parsed.http_header("Transfer-Encoding") == "chunked"
    assert parsed.body.startswith(b"<!doctype html>") and parsed.body.endswith(b"</html>\n")
    assert len(parsed.body) < len(parsed.payload)


@pytest.mark.corpus
def test_whole_file_gzip_is_read_in_order_when_not_strict(corpus_dir: Path) -> None:
    records = list(
        iter_records(corpus_dir / "warc/warcio/example-bad-non-chunked.warc.gz", strict=False)
    )
    assert {r.compression for r in records} == {"file"}
    with pytest.raises(WarcGzipError, match="warcio recompress"):
        list(iter_records(corpus_dir / "warc/warcio/example-bad-non-chunked.warc.gz"))


# --- files made here ----------------------------------------------------------------------------

WHEN = datetime(2026, 11, 28, 2, 0, 0, tzinfo=UTC)


def _write_warc(gz: bool = True, n: int = 3) -> bytes:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=gz, warc_version="1.1")
    for i in range(n):
        body = (f"<html><body>op-ed {i} " + "x" * 500 + "</body></html>").encode()
        http = StatusAndHeaders(
            "200 OK",
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
            protocol="HTTP/1.1",
        )
        rec = writer.create_warc_record(
            f"https://news.example/oped/{i}",
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=http,
            warc_headers_dict={
                "WARC-Date": f"2026-11-28T02:00:0{i}Z",
                "WARC-Record-ID": f"<urn:uuid:00000000-0000-0000-0000-00000000000{i}>",
            },
        )
        writer.write_record(rec)
    return out.getvalue()


def test_own_file_round_trip_and_ranged_reads() -> None:
    data = _write_warc()
    records = list(iter_records(io.BytesIO(data), name="night.warc.gz"))
    assert [r.target_uri for r in records] == [f"https://news.example/oped/{i}" for i in range(3)]
    assert [r.version for r in records] == ["WARC/1.1"] * 3
    assert records[0].offset == 0 and records[-1].offset + records[-1].length == len(data)
    for r in records:
        parsed = read_record_at(data[r.offset : r.offset + r.length], name=r.name)
        assert parsed.http_status_line == "HTTP/1.1 200 OK"
        assert parsed.body.startswith(b"<html><body>op-ed") and parsed.payload == parsed.body


def _pipe(data: bytes) -> io.BufferedReader:
    """A stream that can be read but neither told nor seeked, like a pipe."""

    class Raw(io.RawIOBase):
        def __init__(self) -> None:
            self.inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            chunk = self.inner.read(len(b))
            b[: len(chunk)] = chunk
            return len(chunk)

    return io.BufferedReader(Raw())


def test_unseekable_stream() -> None:
    records = list(iter_records(_pipe(_write_warc()), name="pipe"))
    assert [r.offset for r in records] == [
        r.offset for r in iter_records(io.BytesIO(_write_warc()))
    ]
    whole = gzip.compress(_write_warc(gz=False))
    with pytest.raises(WarcGzipError, match="one gzip stream"):
        list(iter_records(_pipe(whole), name="pipe", strict=False))
    assert len(list(iter_records(io.BytesIO(whole), name="seekable", strict=False))) == 3


@pytest.mark.parametrize("gz", [True, False])
def test_truncated_file(gz: bool, tmp_path: Path) -> None:
    data = _write_warc(gz=gz)
    cut = tmp_path / "cut.warc"
    cut.write_bytes(data[: len(data) - 300])
    with pytest.raises(WarcTruncatedError) as info:
        list(iter_records(cut))
    assert "cut.warc: at byte " in str(info.value) and "copy it again" in str(info.value)
    assert len(check_file(cut)) == 1


def test_corrupt_gzip_member(tmp_path: Path) -> None:
    data = bytearray(_write_warc())
    second = next(r for i, r in enumerate(iter_records(io.BytesIO(bytes(data)))) if i == 1)
    data[second.offset + 40] ^= 0xFF
    bad = tmp_path / "bad.warc.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(WarcGzipError) as info:
        list(iter_records(bad))
    assert info.value.offset == second.offset


def test_edited_payload_fails_its_digest(tmp_path: Path) -> None:
    data = _write_warc(gz=False).replace(b"op-ed 1 ", b"op-ed 9 ")
    path = tmp_path / "edited.warc"
    path.write_bytes(data)
    with pytest.raises(WarcDigestError, match="digest does not match"):
        list(iter_records(path))
    assert len(list(iter_records(path, check_digests=False))) == 3


def test_garbage_and_empty_and_zip(tmp_path: Path) -> None:
    path = tmp_path / "x.warc"
    path.write_bytes(_write_warc(gz=False) + b"trailing junk\r\n")
    with pytest.raises(WarcStructureError, match="trailing junk"):
        list(iter_records(path))
    path.write_bytes(b"")
    with pytest.raises(NotAnArchiveError, match="empty"):
        list(iter_records(path))
    path.write_bytes(b"<!doctype html><html></html>")
    with pytest.raises(NotAnArchiveError, match="not a WARC or ARC record header"):
        list(iter_records(path))


def test_read_record_at_refuses_two_records() -> None:
    data = _write_warc(gz=False, n=2)
    with pytest.raises(WarcStructureError, match="more than one record"):
        read_record_at(data, name="x.warc", offset=100)
    first = next(iter_records(io.BytesIO(data)))
    with pytest.raises(WarcTruncatedError):
        read_record_at(data[: first.length - 50], name="x.warc", offset=100)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no file"):
        list(iter_records(tmp_path / "nope.warc.gz"))


def test_parse_warc_date() -> None:
    assert parse_warc_date("2026-11-28T02:00:00Z") == WHEN
    assert parse_warc_date("2026-11-28T02:00:00.123456789Z") == WHEN.replace(microsecond=123456)
    assert parse_warc_date("2026-11") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_warc_date("blue monday") is None
    assert parse_warc_date("2026-13-01T00:00:00Z") is None


def test_copied_corpus_file_keeps_its_name_in_errors(corpus_dir: Path, tmp_path: Path) -> None:
    src = corpus_dir / "warc/warcio/example-trunc.warc"
    dst = tmp_path / "renamed.warc"
    shutil.copyfile(src, dst)
    with pytest.raises(WarcStructureError) as info:
        list(iter_records(dst))
    assert str(info.value).startswith("renamed.warc: at byte 1197: Content-Length 973")
