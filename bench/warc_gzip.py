"""WARC gzip speed: warcio's writer (zlib level 9) against the project's writer (ISA-L).

Builds HTTP response records from the real article pages in ``../shared/corpus/extraction``
(a few MB of HTML, repeated to about 50 MB of records) and writes the same records with:

a. warcio ``WARCWriter(gzip=True)`` — each record a gzip member at zlib level 9;
b. raw per-record compression of the serialised records, no WARC work: zlib at level 6 (the
   usual default, for its ratio) and ISA-L at ``Settings.gzip_level``, the level
   ``storage/warc/writer.py`` writes with;
c. the project's writer, ``opeds.storage.warc.writer.WarcFileWriter`` (ISA-L, one member per
record).

Throughput is uncompressed record bytes per second of wall time (best of ``--repeat`` rounds,
each round running every writer once, so that load from other processes falls on all alike);
ratio is uncompressed / compressed. Every output is read back with warcio, checked with
``warcio check`` and with ``opeds.storage.warc.reader`` (strict). Writes
``bench/results/warc_gzip.md``.

    .venv/bin/python bench/warc_gzip.py [--mb 50] [--repeat 5]
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import platform
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from datetime import UTC, date, datetime
from importlib.metadata import version
from pathlib import Path

from isal import isal_zlib
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opeds.settings import Settings  # noqa: E402
from opeds.storage.warc.reader import iter_records  # noqa: E402
from opeds.storage.warc.writer import WarcFileWriter  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "extraction"
WHEN = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
PAYLOAD_BYTES = 4_000_000
ZLIB_REFERENCE_LEVEL = 6

Page = tuple[str, bytes, bytes]  # url, HTTP head, body


def load_pages(limit: int = PAYLOAD_BYTES) -> list[Page]:
    """Real article pages as HTTP responses, until ``limit`` bytes of HTML."""
    pages: list[Page] = []
    total = 0
    files = sorted((CORPUS / "aeb" / "html").glob("*.html.gz"))
    files += sorted((CORPUS / "readability").glob("*/source.html"))
    for i, f in enumerate(files):
        body = gzip.decompress(f.read_bytes()) if f.suffix == ".gz" else f.read_bytes()
        head = (
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Cache-Control: max-age=300\r\n"
            "Date: Sat, 28 Nov 2026 02:00:00 GMT\r\n\r\n"
        ).encode()
        pages.append((f"https://news{i % 17}.example/opinion/{f.parent.name}/{i}", head, body))
        total += len(body)
        if total >= limit:
            break
    if not pages:
        raise SystemExit(f"no pages under {CORPUS}: the corpus is needed for this benchmark")
    return pages


def workload(pages: list[Page], target: int) -> list[Page]:
    out: list[Page] = []
    size = 0
    rnd = 0
    while size < target:
        for url, head, body in pages:
            out.append((f"{url}?r={rnd}", head, body))
            size += len(head) + len(body)
            if size >= target:
                break
        rnd += 1
    return out


def _http_headers(head: bytes) -> StatusAndHeaders:
    lines = head.decode("latin-1").split("\r\n")
    protocol, status = lines[0].split(" ", 1)
    headers = [tuple(x.split(": ", 1)) for x in lines[1:] if x]
    return StatusAndHeaders(status, headers, protocol=protocol)


def write_warcio(records: list[Page], path: Path) -> None:
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True, warc_version="1.1")
        for url, head, body in records:
            rec = writer.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(body),
                length=len(body),
                http_headers=_http_headers(head),
                warc_headers_dict={"WARC-Date": "2026-11-28T02:00:00Z"},
            )
            writer.write_record(rec)


def serialise(records: list[Page]) -> list[bytes]:
    """Each record as uncompressed WARC bytes, as warcio writes them."""
    out: list[bytes] = []
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=False, warc_version="1.1")
    for url, head, body in records:
        start = buf.tell()
        rec = writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=_http_headers(head),
            warc_headers_dict={"WARC-Date": "2026-11-28T02:00:00Z"},
        )
        writer.write_record(rec)
        out.append(buf.getvalue()[start:])
    return out


def write_raw(serialised: list[bytes], path: Path, compressobj: Callable[[], object]) -> None:
    with open(path, "wb") as fh:
        for data in serialised:
            c = compressobj()
            fh.write(c.compress(data))  # type: ignore[attr-defined]
            fh.write(c.flush())  # type: ignore[attr-defined]


def write_project(records: list[Page], root: Path, level: int) -> Path:
    writer = WarcFileWriter(
        root,
        prefix="bench",
        day=date(2026, 11, 28),
        max_bytes=1 << 40,
        gzip_level=level,
        warcinfo={"software": "opeds-bench"},
        clock=lambda: WHEN,
    )
    factory = writer.factory
    for url, head, body in records:
        writer.write_group([(factory.response(url, head, body, WHEN), WHEN)])
    closed = writer.close()
    assert closed is not None
    return closed.path


def verify(path: Path, expected: int) -> str:
    with open(path, "rb") as fh:
        n = sum(1 for r in ArchiveIterator(fh) if r.rec_type == "response")
    if n != expected:
        raise SystemExit(f"{path}: {n} response records read back, expected {expected}")
    exe = Path(sys.executable).with_name("warcio")
    check = subprocess.run([str(exe), "check", str(path)], capture_output=True, text=True)
    if check.returncode != 0:
        raise SystemExit(f"warcio check failed on {path}: {check.stdout}{check.stderr}")
    strict = sum(1 for r in iter_records(path) if r.rec_type == "response")
    if strict != expected:
        raise SystemExit(
            f"{path}: opeds.storage.warc.reader read {strict} responses, expected {expected}"
        )
    return "yes"


def timed(fn: Callable[[], Path]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=50.0, help="MB of records (default 50)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; best run kept")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "warc_gzip.md"))
    args = parser.parse_args(argv)

    pages = load_pages()
    payload = sum(len(b) for _, _, b in pages)
    records = workload(pages, int(args.mb * 1_000_000))
    serialised = serialise(records)
    raw_size = sum(len(x) for x in serialised)
    level = Settings().gzip_level  # an ISA-L level (0-3), as storage/warc/writer.py uses it

    rows: list[tuple[str, float, int, str]] = []
    with tempfile.TemporaryDirectory(prefix="opeds-bench-") as tmp:
        tmpdir = Path(tmp)
        cases: list[tuple[str, Callable[[], Path]]] = []

        def case_warcio() -> Path:
            p = tmpdir / "warcio.warc.gz"
            write_warcio(records, p)
            return p

        def case_zlib() -> Path:
            p = tmpdir / "zlib.warc.gz"
            write_raw(
                serialised, p, lambda: zlib.compressobj(ZLIB_REFERENCE_LEVEL, zlib.DEFLATED, 31)
            )
            return p

        def case_isal(isal_level: int) -> Callable[[], Path]:
            def run() -> Path:
                p = tmpdir / f"isal{isal_level}.warc.gz"
                write_raw(
                    serialised,
                    p,
                    lambda: isal_zlib.compressobj(isal_level, isal_zlib.DEFLATED, 31),
                )
                return p

            return run

        def case_project() -> Path:
            sub = tmpdir / "project"
            if sub.exists():
                for f in sub.rglob("*.warc.gz"):
                    f.unlink()
            return write_project(records, sub, level)

        cases = [
            ("a. warcio WARCWriter(gzip=True), zlib level 9", case_warcio),
            (f"b. raw zlib level {ZLIB_REFERENCE_LEVEL} per record (no WARC work)", case_zlib),
            (f"b. raw ISA-L level {level} per record (no WARC work)", case_isal(level)),
            *(
                [("b. raw ISA-L level 3 per record (no WARC work)", case_isal(3))]
                if level != 3
                else []
            ),
            (
                f"c. opeds.storage.warc.writer.WarcFileWriter, Settings.gzip_level={level} (ISA-L)",
                case_project,
            ),
        ]
        # rounds interleave the writers, so that load from other processes hits all alike
        best = [float("inf")] * len(cases)
        for _ in range(args.repeat):
            for i, (_label, fn) in enumerate(cases):
                best[i] = min(best[i], timed(fn))
        for (label, fn), seconds in zip(cases, best, strict=True):
            path = fn()
            rows.append((label, seconds, path.stat().st_size, verify(path, len(records))))
            print(f"{label}: {raw_size / seconds / 1e6:.1f} MB/s", flush=True)

    base = rows[0][1]
    lines = [
        "# WARC gzip: warcio default writer vs the project's writer",
        "",
        f"Command: `.venv/bin/python bench/warc_gzip.py --mb {args.mb:g} --repeat {args.repeat}`",
        "",
        f"- Machine: {cpu_model()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}",
        f"- Python {platform.python_version()}; warcio {version('warcio')}, isal "
        f"{version('isal')}, zlib {zlib.ZLIB_RUNTIME_VERSION}",
        f"- Records: {len(records)} HTTP responses built from {len(pages)} real article pages "
        f"({payload / 1e6:.1f} MB of HTML, repeated), {raw_size / 1e6:.1f} MB of uncompressed "
        "WARC records; each writer writes the same records, one gzip member per record",
        "- MB/s: uncompressed record bytes per second of wall time, best of "
        f"{args.repeat} interleaved rounds; ratio: uncompressed / compressed",
        "- Every output read back with warcio (all records), passed `warcio check` (digests) "
        "and `opeds.storage.warc.reader.iter_records` (strict)",
        f"- Load average while running: {os.getloadavg()[0]:.1f} (a shared 2-core machine: "
        "absolute MB/s vary from run to run, the ratios between writers much less)",
        "",
        "| writer | MB/s | ratio | output MB | speedup vs a | verified |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for label, seconds, size, ok in rows:
        lines.append(
            f"| {label} | {raw_size / seconds / 1e6:.1f} | {raw_size / size:.2f} | "
            f"{size / 1e6:.1f} | {base / seconds:.2f}x | {ok} |"
        )
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
