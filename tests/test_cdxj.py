"""opeds.storage.access.cdxj: per-file indexes by cdxj-indexer, merged night index, through a
Store."""

from __future__ import annotations

import io
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from cdxj_indexer.main import write_cdx_index
from warcio.archiveiterator import ArchiveIterator

from opeds.storage.access.cdxj import (
    CdxjError,
    build_night_index,
    index_key,
    index_night,
    index_warc_file,
    merge_indexes,
    night_index_key,
    write_cdxj,
)
from opeds.storage.stores.local import LocalStore
from opeds.storage.warc.errors import NotAnArchiveError
from opeds.storage.warc.reader import read_record_at

NIGHT = date(2026, 11, 28)
WARCS = [
    "pywb/iana.warc.gz",
    "pywb/example-url-agnostic-orig.warc.gz",
    "pywb/example-url-agnostic-revisit.warc.gz",
    "pywb/post-test.warc.gz",
]


@pytest.fixture()
def archive(corpus_dir: Path, tmp_path: Path) -> LocalStore:
    for rel in WARCS:
        dst = tmp_path / "warcs/2026/11/28" / Path(rel).name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(corpus_dir / "warc" / rel, dst)
    return LocalStore(tmp_path)


def test_keys() -> None:
    assert index_key("warcs/2026/11/28/opeds-1-00000-h.warc.gz") == (
        "indexes/2026/11/28/opeds-1-00000-h.warc.gz.cdxj"
    )
    assert night_index_key(NIGHT) == "indexes/2026/11/28/night-2026-11-28.cdxj"
    with pytest.raises(CdxjError):
        index_key("indexes/2026/11/28/x.cdxj")


@pytest.mark.corpus
def test_per_file_index_is_cdxj_indexers_output(corpus_dir: Path) -> None:
    warc = corpus_dir / "warc/pywb/iana.warc.gz"
    ours = io.StringIO()
    lines = write_cdxj(warc, ours, filename="warcs/2026/11/28/iana.warc.gz")
    theirs = io.StringIO()
    write_cdx_index(
        theirs,
        [str(warc)],
        {"sort": True, "post_append": True, "filename": "warcs/2026/11/28/iana.warc.gz"},
    )
    # the same lines but metadata records (never replayed; the catalog finds them)
    with open(warc, "rb") as fh:
        it = ArchiveIterator(fh)
        meta = {str(it.get_record_offset()) for r in it if r.rec_type == "metadata"}
    expected = [
        line
        for line in theirs.getvalue().splitlines()
        if json.loads(line.split(" ", 2)[2])["offset"] not in meta
    ]
    assert ours.getvalue().splitlines() == expected
    assert lines == len(expected) == 171 - len(meta)  # responses + revisits + warcinfo
    assert ours.getvalue().splitlines() == sorted(ours.getvalue().splitlines())


@pytest.mark.corpus
def test_index_entries_point_at_their_records(corpus_dir: Path, tmp_path: Path) -> None:
    warc = corpus_dir / "warc/pywb/iana.warc.gz"
    out = tmp_path / "indexes/iana.cdxj"
    index_warc_file(warc, out, filename="iana.warc.gz")
    assert not list(tmp_path.rglob("*.part"))
    data = warc.read_bytes()
    for line in out.read_text().splitlines():
        _key, _ts, blob = line.split(" ", 2)
        entry = json.loads(blob)
        offset, length = int(entry["offset"]), int(entry["length"])
        parsed = read_record_at(data[offset : offset + length], name="iana.warc.gz")
        assert parsed.info.target_uri == entry["url"]


@pytest.mark.corpus
def test_index_night_through_a_store(archive: LocalStore) -> None:
    indexed, lines = index_night(archive, NIGHT)
    assert indexed == 4
    keys = list(archive.list("indexes/"))
    assert keys == sorted(
        [index_key(f"warcs/2026/11/28/{Path(rel).name}") for rel in WARCS]
        + [night_index_key(NIGHT)]
    )
    night = (archive.root / night_index_key(NIGHT)).read_text().splitlines()
    assert len(night) == lines and night == sorted(night)
    per_file = sum(
        len((archive.root / k).read_text().splitlines()) for k in keys if "night-" not in k
    )
    assert lines == per_file  # different files never give identical lines
    assert {json.loads(x.split(" ", 2)[2])["filename"] for x in night} == {
        f"warcs/2026/11/28/{Path(rel).name}" for rel in WARCS
    }
    # idempotent: nothing new to index, same night index
    assert index_night(archive, NIGHT) == (0, lines)


def test_merge_is_a_streaming_sorted_union(tmp_path: Path) -> None:
    a = ["a 1 {}\n", "c 1 {}\n", "e 1 {}\n"]
    b = ["!meta 0 {}\n", "b 1 {}\n", "c 1 {}\n", "\n", "f 1 {}\n"]
    c: list[str] = []
    paths = []
    for name, lines in (("a", a), ("b", b), ("c", c)):
        p = tmp_path / f"{name}.cdxj"
        p.write_text("".join(lines))
        paths.append(p)
    out = io.StringIO()
    assert merge_indexes(paths, out) == 5
    assert out.getvalue() == "a 1 {}\nb 1 {}\nc 1 {}\ne 1 {}\nf 1 {}\n"


def test_merge_refuses_unsorted_input() -> None:
    with pytest.raises(CdxjError, match="not sorted"):
        merge_indexes([io.StringIO("b 1 {}\na 1 {}\n")], io.StringIO())


def test_unindexable_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "warcs/2026/11/28/broken.warc.gz"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"<html><body>not a WARC file</body></html>\n")
    with pytest.raises(NotAnArchiveError, match=r"broken\.warc\.gz: at byte 0"):
        index_night(LocalStore(tmp_path), NIGHT)
    assert not list(tmp_path.rglob("*.cdxj*"))
    assert build_night_index(LocalStore(tmp_path), NIGHT) == 0
