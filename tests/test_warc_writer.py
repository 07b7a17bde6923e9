from __future__ import annotations

import gzip
import io
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from opeds.storage.warc.writer import (
    OPEN_SUFFIX,
    PROFILE_IDENTICAL,
    WarcFileWriter,
    payload_digest,
    rewrite_transfer_encoding,
)

WHEN = datetime(2026, 11, 28, 2, 0, 0, 123456, tzinfo=UTC)
HEAD = (
    b"HTTP/1.1 200 Everything Fine Here\r\n"
    b"content-TYPE:text/html; charset=utf-8\r\n"
    b"X-Dup: 1\r\nx-dup: 2\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)
BODY = b"<html><body><p>Hello archive</p></body></html>"


def warcio_check(path: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("warcio")
    return subprocess.run([str(exe), "check", "-v", str(path)], capture_output=True, text=True)


def make_writer(root: Path, max_bytes: int = 1_000_000) -> WarcFileWriter:
    return WarcFileWriter(
        root,
        prefix="test",
        day=date(2026, 11, 28),
        max_bytes=max_bytes,
        gzip_level=2,
        warcinfo={"software": "opeds-test", "opeds-night": "2026-11-28"},
        clock=lambda: WHEN,
    )


def write_pair(w: WarcFileWriter, url: str, body: bytes = BODY) -> str:
    f = w.factory
    rid = f.new_id()
    head = rewrite_transfer_encoding(HEAD)
    resp = f.response(url, head, body, WHEN, ip="127.0.0.1", record_id=rid)
    req = f.request(url, b"GET /a?q=1 HTTP/1.1\r\nHost: o.example\r\n\r\n", WHEN, concurrent_to=rid)
    w.write_group([(req, WHEN), (resp, WHEN)])
    return rid


def test_records_keep_exact_head_and_body(tmp_path: Path) -> None:
    w = make_writer(tmp_path)
    rid = write_pair(w, "http://o.example/a?q=1")
    assert w.current_key is not None
    open_path = tmp_path / (w.current_key + OPEN_SUFFIX)
    assert open_path.exists() and not (tmp_path / w.current_key).exists()
    closed = w.close()
    assert closed is not None and closed.records == 3
    assert not open_path.exists() and closed.path.exists()

    with open(closed.path, "rb") as fh:
        recs = list(ArchiveIterator(fh))
    kinds = [r.rec_type for r in recs]
    assert kinds == ["warcinfo", "request", "response"]
    req, resp = recs[1], recs[2]
    assert req.rec_headers.get_header("WARC-Concurrent-To") == rid
    assert resp.rec_headers.get_header("WARC-Target-URI") == "http://o.example/a?q=1"
    assert resp.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"
    assert resp.rec_headers.protocol == "WARC/1.1"
    assert resp.rec_headers.get_header("WARC-Payload-Digest") == payload_digest(BODY)
    assert warcio_check(closed.path).returncode == 0


def test_block_bytes_are_as_received(tmp_path: Path) -> None:
    w = make_writer(tmp_path)
    write_pair(w, "http://o.example/a?q=1")
    closed = w.close()
    assert closed is not None
    raw = gzip.decompress(closed.path.read_bytes())
    expected_head = HEAD.replace(b"Transfer-Encoding", b"X-Archive-Orig-Transfer-Encoding")
    assert expected_head + BODY in raw
    assert b"GET /a?q=1 HTTP/1.1\r\nHost: o.example\r\n\r\n" in raw


def test_each_record_is_its_own_gzip_member(tmp_path: Path) -> None:
    w = make_writer(tmp_path)
    write_pair(w, "http://o.example/a")
    closed = w.close()
    assert closed is not None
    data = closed.path.read_bytes()
    with open(closed.path, "rb") as fh:
        it = ArchiveIterator(fh)
        offsets = [(it.get_record_offset(), r.rec_type) for r in it]
    for off, _kind in offsets:
        assert data[off : off + 2] == b"\x1f\x8b"
        one = gzip.GzipFile(fileobj=io.BytesIO(data[off:])).read(8)
        assert one == b"WARC/1.1"


def test_rotation_keeps_groups_whole_and_loses_nothing(tmp_path: Path) -> None:
    w = make_writer(tmp_path, max_bytes=1500)
    urls = [f"http://o.example/{i}" for i in range(12)]
    for u in urls:
        write_pair(w, u, body=BODY + u.encode() * 20)
    w.close()
    files = sorted(tmp_path.rglob("*.warc.gz"))
    assert len(files) > 2
    assert not list(tmp_path.rglob("*" + OPEN_SUFFIX))
    seen: list[str] = []
    for p in files:
        with open(p, "rb") as fh:
            recs = [
                (r.rec_type, r.rec_headers.get_header("WARC-Target-URI"))
                for r in ArchiveIterator(fh)
            ]
        assert recs[0][0] == "warcinfo"
        # a request and its response always sit in the same file
        pairs = recs[1:]
        assert len(pairs) % 2 == 0
        seen += [u for t, u in pairs if t == "response"]
        assert warcio_check(p).returncode == 0
    assert seen == urls
    names = [p.name for p in files]
    assert all(n.startswith("test-20261128020000123-") for n in names)
    assert [n.split("-")[2] for n in names] == [f"{i:05d}" for i in range(len(files))]


def test_revisit_record(tmp_path: Path) -> None:
    w = make_writer(tmp_path)
    f = w.factory
    rec = f.revisit(
        "http://o.example/copy",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n",
        WHEN,
        profile=PROFILE_IDENTICAL,
        refers_to_uri="http://o.example/orig",
        refers_to_date=datetime(2026, 11, 1, tzinfo=UTC),
        digest=payload_digest(BODY),
    )
    w.write_group([(rec, WHEN)])
    closed = w.close()
    assert closed is not None
    with open(closed.path, "rb") as fh:
        r = next(x for x in ArchiveIterator(fh) if x.rec_type == "revisit")
    h = r.rec_headers
    assert h.get_header("WARC-Profile") == PROFILE_IDENTICAL
    assert h.get_header("WARC-Refers-To-Target-URI") == "http://o.example/orig"
    assert h.get_header("WARC-Refers-To-Date") == "2026-11-01T00:00:00Z"
    assert h.get_header("WARC-Payload-Digest") == payload_digest(BODY)
    assert warcio_check(closed.path).returncode == 0
