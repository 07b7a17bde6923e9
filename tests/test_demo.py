"""The demo night end to end (``opeds demo``), twice in a row, then replayed in pywb."""

from __future__ import annotations

import gzip
import json
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from opeds.cli import main
from opeds.demo import build
from opeds.storage.access.replay import start_replay
from opeds.storage.catalog.db import Catalog
from opeds.storage.warc.writer import PROFILE_IDENTICAL, PROFILE_NOT_MODIFIED
from tests.warccheck import check_warc

NIGHT1, NIGHT2 = "2026-11-28", "2026-11-29"


def run(*args: str) -> str:
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("demo") / "archive"
    out1 = run("demo", "--archive", str(root), "--night", NIGHT1)
    (root.parent / "night1.txt").write_text(out1)
    out2 = run("demo", "--archive", str(root), "--night", NIGHT2)
    (root.parent / "night2.txt").write_text(out2)
    yield root


def night_files(root: Path, night: str) -> list[Path]:
    return sorted((root / "warcs" / night.replace("-", "/")).glob("*.warc.gz"))


def stored_blocks(root: Path, night: str) -> dict[str, list[tuple[str, bytes, object]]]:
    out: dict[str, list[tuple[str, bytes, object]]] = {}
    for p in night_files(root, night):
        with open(p, "rb") as fh:
            for r in ArchiveIterator(fh, no_record_parse=True):
                uri = r.rec_headers.get_header("WARC-Target-URI") or ""
                out.setdefault(uri, []).append((r.rec_type, r.raw_stream.read(), r.rec_headers))
    return out


def test_summary_says_what_was_done(archive: Path) -> None:
    out = (archive.parent / "night1.txt").read_text()
    for needle in (
        "pages fetched:",
        "records written:",
        "works:",
        "sha256",
        "Look further",
        "opeds works",
        "opeds replay",
    ):
        assert needle in out, needle
    assert (archive / "catalog.sqlite").is_file()
    (report_path,) = list((archive / "reports").rglob("night-2026-11-28.json"))
    report = json.loads(report_path.read_text())
    sources = report["sources"]
    assert set(sources) == {"asharq-al-awsat", "syrian-observer", "levant-review"}
    for name, counts in sources.items():
        assert counts["fetched"] > 3 and counts["new_articles"] > 2, name
    assert sources["levant-review"]["failed_reasons"] == {"http_404": 1}  # the dead link
    assert sum(s["robots_disallowed"] for s in sources.values()) >= 1  # the private preview
    assert list((archive / "manifests").rglob("*.json"))
    assert list((archive / "wacz").rglob("night-2026-11-28.wacz"))
    assert list((archive / "indexes").rglob("*.cdxj"))


def test_every_file_passes_warcio_and_fastwarc(archive: Path) -> None:
    files = night_files(archive, NIGHT1) + night_files(archive, NIGHT2)
    assert len(files) >= 4
    assert not list(archive.rglob("*.open"))
    for f in files:
        check_warc(f)  # warcio check, and FastWARC verifying every digest


def test_article_responses_round_trip_to_the_bytes_served(archive: Path) -> None:
    site = build(date.fromisoformat(NIGHT1))
    blocks = stored_blocks(archive, NIGHT1)
    checked = 0
    for art in site.articles:
        if not art.discoverable:
            continue
        recs = [b for t, b, _ in blocks.get(art.url, []) if t == "response"]
        assert recs, f"{art.url} not archived"
        head, _, body = recs[0].partition(b"\r\n\r\n")
        page = site.pages[art.url]
        assert body == page.encoded_body(), art.url  # still content-encoded, byte for byte
        assert head.startswith(b"HTTP/1.1 200 ")
        text = head.decode("latin-1")
        positions = [text.index(f"\r\n{k}: {v}") for k, v in page.headers]
        assert positions == sorted(positions), art.url  # header names, values and order
        checked += 1
    assert checked >= 15


def test_works_match_the_sample_sites_ground_truth(archive: Path) -> None:
    site = build(date.fromisoformat(NIGHT1))
    works = [
        json.loads(line) for line in run("works", "--archive", str(archive), "--json").splitlines()
    ]
    member_of = {m["url"]: w for w in works for m in w["members"]}
    for wid, pages in site.works().items():
        found = {member_of[p.url]["work"] for p in pages if p.discoverable}
        assert len(found) == 1, (wid, found)
        work = member_of[pages[0].url]
        assert work["original"] == pages[0].url, (wid, work["original_reason"])
        assert {m["url"] for m in work["members"]} == {p.url for p in pages if p.discoverable}
    singles = [a for a in site.articles if a.work is None and a.discoverable]
    for a in singles:
        assert len(member_of[a.url]["members"]) == 1, a.url


def test_seed_case(archive: Path) -> None:
    works = [
        json.loads(line) for line in run("works", "--archive", str(archive), "--json").splitlines()
    ]
    seed = [w for w in works if "Normalization" in (w["title"] or "")]
    assert len(seed) == 1
    w = seed[0]
    assert "english.aawsat.com" in w["original"]
    assert any("syrianobserver.com" in m["url"] and m["role"] == "copy" for m in w["members"])
    assert w["authors"] == ["Jonathan Hargreaves"]
    shown = run("show", w["work"], "--archive", str(archive))
    assert "Jonathan Hargreaves" in shown and "syrianobserver.com" in shown
    with Catalog(f"sqlite:///{archive / 'catalog.sqlite'}") as cat:
        copy = next(
            a for a in cat.iter_articles() if a.work_id == w["work"] and "syrianobserver" in a.url
        )
    body = copy.body or ""
    for added in (
        "Read Also",
        "has not verified the content",
        "Helpful keywords",
        "in an op-ed to",
    ):
        assert added not in body, added
    assert copy.authors == ["Jonathan Hargreaves"]


def test_metadata_records_carry_the_work(archive: Path) -> None:
    blocks = stored_blocks(archive, NIGHT1)
    metas = [
        (uri, json.loads(b), h)
        for uri, recs in blocks.items()
        for t, b, h in recs
        if t == "metadata"
    ]
    assert len(metas) >= 15
    for uri, data, headers in metas:
        assert data["url"] == uri and data["work"]
        assert headers.get_header("WARC-Concurrent-To")  # type: ignore[attr-defined]


def test_second_night_writes_both_revisit_profiles_and_shrinks(archive: Path) -> None:
    profiles = set()
    for recs in stored_blocks(archive, NIGHT2).values():
        for t, _b, h in recs:
            if t == "revisit":
                profiles.add(h.get_header("WARC-Profile"))  # type: ignore[attr-defined]
    assert {PROFILE_IDENTICAL, PROFILE_NOT_MODIFIED} <= profiles
    size1 = sum(p.stat().st_size for p in night_files(archive, NIGHT1))
    size2 = sum(p.stat().st_size for p in night_files(archive, NIGHT2))
    assert size2 < size1 / 2, (size1, size2)


def test_no_url_is_fetched_twice_in_a_night(archive: Path) -> None:
    """Night 2 re-checks a page that a moved URL of the outlet also redirects to: once only."""
    with Catalog(f"sqlite:///{archive / 'catalog.sqlite'}") as cat:
        for night in (NIGHT1, NIGHT2):
            urls = [c.url for c in cat.captures_for_night(night)]
            assert len(urls) == len(set(urls)), night
        redirected = [c for c in cat.captures_for_night(NIGHT2) if c.status == 301]
    assert redirected  # the moved URL was asked again, and its target not fetched a second time


def test_pywb_replays_every_article_of_both_nights(archive: Path) -> None:
    site = build(date.fromisoformat(NIGHT1))
    arts = [a for a in site.articles if a.discoverable]
    with start_replay(archive) as server:
        for night in (NIGHT1, NIGHT2):
            stamp = night.replace("-", "") + "235959"
            for a in arts:
                url = server.url + server.config.path(a.url, stamp, raw=True)
                with urllib.request.urlopen(url, timeout=30) as resp:
                    assert resp.status == 200, url
                    body = resp.read()
                page = site.pages[a.url]
                expected = page.body
                got = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
                assert got == expected, (night, a.url)
