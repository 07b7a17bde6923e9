"""opeds.storage.access.wacz: a night's package made by py-wacz, validated by py-wacz, checked by
us."""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from opeds.storage.access.wacz import (
    Page,
    WaczError,
    check_wacz,
    create_night_wacz,
    create_wacz,
    iter_wacz_records,
    night_wacz_key,
    validate_wacz,
    verify_wacz,
)
from opeds.storage.stores.local import LocalStore
from opeds.storage.warc.errors import NotAnArchiveError
from opeds.storage.warc.reader import iter_records
from opeds.storage.warc.validator import check_file
from opeds.storage.warc.writer import WarcFileWriter

NIGHT = date(2026, 11, 28)
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"


def write_night(root: Path, count: int = 3) -> list[Page]:
    """A night's WARC written by the project's writer; returns the article pages in it."""
    writer = WarcFileWriter(
        root,
        prefix="opeds",
        day=NIGHT,
        max_bytes=1_000_000,
        gzip_level=6,
        warcinfo={"software": "opeds-test"},
        clock=lambda: datetime(2026, 11, 28, 2, 0, tzinfo=UTC),
    )
    pages = []
    for i in range(count):
        when = datetime(2026, 11, 28, 2, 0, i + 1, tzinfo=UTC)
        url = f"https://news.example/opinion/{i}"
        body = f"<html><head><title>Op-ed {i}</title></head><body>text {i}</body></html>"
        rid = writer.factory.new_id()
        resp = writer.factory.response(url, HEAD, body.encode(), when, record_id=rid)
        req = writer.factory.request(
            url,
            b"GET /opinion/%d HTTP/1.1\r\nHost: news.example\r\n\r\n" % i,
            when,
            concurrent_to=rid,
        )
        meta = writer.factory.metadata(url, b'{"title": "x"}', when, concurrent_to=rid)
        writer.write_group([(req, when), (resp, when), (meta, when)])
        pages.append(Page(url, when, f"Op-ed {i}"))
    writer.close()
    return pages


def test_night_package_is_valid_for_py_wacz(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    pages = write_night(tmp_path)
    warc_key = next(store.list("warcs/"))
    assert len(list(iter_records(tmp_path / warc_key))) == 10  # the writer's output reads strictly
    missing = Page("https://news.example/never-captured", datetime(2026, 11, 28, tzinfo=UTC))
    result = create_night_wacz(store, NIGHT, [*pages, missing])
    assert (
        result.path == Path(night_wacz_key(NIGHT)) == Path("wacz/2026/11/28/night-2026-11-28.wacz")
    )
    assert result.warcs == 1 and result.pages == 3
    assert result.unmatched_pages == ["20261128000000/https://news.example/never-captured"]
    package = tmp_path / night_wacz_key(NIGHT)
    assert not list(tmp_path.rglob("*.part"))

    validate_wacz(package)  # py-wacz's own validate command
    assert check_wacz(package) == []
    # a WARC validator given the package says what it is and where packages are checked
    (problem,) = check_file(package)
    assert problem.code == "format" and "check_wacz" in problem.fix
    verify_wacz(package)

    with zipfile.ZipFile(package) as zf:
        lines = zf.read("pages/pages.jsonl").decode().splitlines()
        names = zf.namelist()
    assert json.loads(lines[0])["format"] == "json-pages-1.0"
    entries = [json.loads(x) for x in lines[1:]]
    assert [(e["url"], e["ts"], e["title"]) for e in entries] == [
        (p.url, p.ts.strftime("%Y-%m-%dT%H:%M:%SZ"), p.title) for p in pages
    ]
    assert f"archive/{Path(warc_key).name}" in names
    records = list(iter_wacz_records(package))
    assert records[0].name == f"night-2026-11-28.wacz#archive/{Path(warc_key).name}"
    assert [r.rec_type for r in records].count("response") == 3

    # the replay index: every response, no metadata record (a replay must serve the page)
    with zipfile.ZipFile(package) as zf:
        index = zf.read("indexes/index.cdx").decode().splitlines()
        assert not [
            n for n in zf.namelist() if n.startswith("indexes/") and n != "indexes/index.cdx"
        ]
    entries = [json.loads(line.split(" ", 2)[2]) for line in index]
    assert sorted(e["url"] for e in entries if "url" in e) == sorted(p.url for p in pages)
    assert all(e["filename"] == Path(warc_key).name for e in entries)


def test_tampered_package_gives_clear_errors(tmp_path: Path) -> None:
    write_night(tmp_path)
    warc = next(tmp_path.rglob("*.warc.gz"))
    pages = [Page("https://news.example/opinion/0", datetime(2026, 11, 28, 2, 0, 1, tzinfo=UTC))]
    package = create_wacz([warc], tmp_path / "night.wacz", pages=pages, title="t").path
    tampered = tmp_path / "tampered.wacz"
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "pages/pages.jsonl":
                data = data.replace(b"opinion/0", b"opinion/X")
            dst.writestr(info, data)
    problems = check_wacz(tampered)
    assert [p.message for p in problems] == [
        "pages/pages.jsonl does not match its hash or size in datapackage.json"
    ]
    with pytest.raises(WaczError, match=r"tampered\.wacz: at byte \d+: pages/pages\.jsonl"):
        verify_wacz(tampered)
    with pytest.raises(WaczError, match="py-wacz validate failed"):
        validate_wacz(tampered)


def test_nothing_to_package(tmp_path: Path) -> None:
    with pytest.raises(WaczError, match="no WARC files"):
        create_wacz([], tmp_path / "x.wacz", pages=[], title="t")
    assert not (tmp_path / "x.wacz").exists()


# file -> (check_wacz finds nothing, py-wacz 0.6 validate passes, why)
CORPUS = {
    "valid_example_1.wacz": (
        True,
        False,
        "WACZ 1.0.0: hashes under 'stats'; py-wacz 0.6 only "
        "validates 1.1.1 (and 0.1.0), so it fails there; every hash, the "
        "index and the WARC check out here",
    ),
    "valid_example_2.wacz": (True, True, "WACZ 1.1.1"),
    "valid_signed_example_1.wacz": (True, True, "signed: signature and certificate chain OK"),
    "invalid_example_1.wacz": (False, False, "no wacz_version, listed files missing, no WARC"),
    "invalid_signed_example_1.wacz": (
        False,
        True,
        "signature by a Let's Encrypt *staging* "
        "certificate: it verifies, but the chain has no trusted "
        "root. py-wacz only checks signatures with --verify-auth",
    ),
}


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_packages(corpus_dir: Path, tmp_path: Path, name: str) -> None:
    valid, py_wacz_valid, _why = CORPUS[name]
    path = tmp_path / name
    shutil.copyfile(corpus_dir / "warc/py-wacz" / name, path)
    problems = check_wacz(path)
    if valid:
        assert problems == []
        verify_wacz(path)
        assert list(iter_wacz_records(path))
    else:
        assert problems and all(p.error is WaczError for p in problems)
        with pytest.raises(WaczError) as info:
            verify_wacz(path)
        assert str(info.value).startswith(f"{name}: at byte ")
    if py_wacz_valid:
        validate_wacz(path)
    else:
        with pytest.raises(WaczError):
            validate_wacz(path)
    with pytest.raises(NotAnArchiveError, match="WACZ"):
        list(iter_records(path))


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "x.wacz"
    path.write_bytes(b"PK\x03\x04 but not really a zip")
    assert [p.message.split(":")[0] for p in check_wacz(path)] == ["not a readable ZIP file"]
