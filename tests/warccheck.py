"""Independent checks of written WARC files: warcio's own and FastWARC's digest verification."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fastwarc.stream_io import GzipReader
from fastwarc.warc import ArchiveIterator, WarcRecordType


def warcio_check(path: Path) -> None:
    exe = Path(sys.executable).with_name("warcio")
    res = subprocess.run([str(exe), "check", str(path)], capture_output=True, text=True)
    assert res.returncode == 0, f"warcio check {path}: {res.stdout}{res.stderr}"


def fastwarc_check(path: Path) -> int:
    """Every block digest, and the payload digest of every HTTP response, verified by FastWARC.

    (A revisit's payload digest names the payload it refers to, which it does not hold, so it
    cannot be verified from the record alone.) Returns the number of records read.
    """
    n = 0
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
        fh.seek(0)
        for rec in ArchiveIterator(GzipReader(fh) if gz else fh, parse_http=False):
            n += 1
            rid = rec.record_id
            is_response = rec.record_type == WarcRecordType.response
            if "WARC-Block-Digest" in rec.headers:
                # keep a response's stream for the payload check that follows
                ok = rec.verify_block_digest(not is_response)
                assert ok, f"{path}: block digest of {rid}"
            if is_response:
                rec.parse_http()
                assert rec.verify_payload_digest(True), f"{path}: payload digest of {rid}"
    return n


def check_warc(path: Path) -> None:
    warcio_check(path)
    assert fastwarc_check(path) > 0
