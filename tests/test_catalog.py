"""The catalog on SQLite and, when a server is reachable, PostgreSQL: same code, same answers."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opeds.storage.catalog.db import Article, Capture, Catalog, captures

T0 = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def capture(
    url: str,
    when: datetime,
    digest: str,
    *,
    kind: str = "article",
    record_type: str = "response",
    status: int = 200,
) -> Capture:
    return Capture(
        night=when.date().isoformat(),
        source="s",
        kind=kind,
        url=url,
        canonical_url=url,
        captured_at=when,
        status=status,
        record_type=record_type,
        record_id=f"<urn:uuid:{url}>",
        warc_key="warcs/2026/11/28/x.warc.gz",
        offset=100,
        length=50,
        payload_digest=digest,
        etag='"v1"',
    )


def test_captures_digest_index_and_history(catalog_url: str) -> None:
    with Catalog(catalog_url) as cat:
        first = capture("https://o.example/a", T0, "sha1:AAA")
        cat.add_capture(first)
        cat.add_capture(
            capture(
                "https://o.example/b", T0 + timedelta(days=1), "sha1:AAA", record_type="revisit"
            )
        )
        cat.add_capture(capture("https://o.example/a", T0 + timedelta(days=2), "sha1:BBB"))
        # the payload digest index: earliest full capture, any URL, any night
        found = cat.first_capture_with_digest("sha1:AAA")
        assert found is not None and found.url == "https://o.example/a"
        assert found.captured_at == T0 and found.etag == '"v1"'
        assert cat.first_capture_with_digest("sha1:ZZZ") is None
        latest = cat.latest_payload_capture("https://o.example/a")
        assert latest is not None and latest.payload_digest == "sha1:BBB"
        # what a night knew of: captures of nights up to it
        before = cat.latest_payload_capture("https://o.example/a", through_night="2026-11-28")
        assert before is not None and before.payload_digest == "sha1:AAA"
        assert [c.payload_digest for c in cat.capture_history("https://o.example/a")] == [
            "sha1:AAA",
            "sha1:BBB",
        ]
        assert cat.count(captures, captures.c.record_type == "revisit") == 1
        assert len(cat.captures_for_night("2026-11-29")) == 1


def test_articles_nights_and_files(catalog_url: str) -> None:
    with Catalog(catalog_url) as cat:
        cat.start_night("2026-11-28", "abc")
        cap = capture("https://o.example/a", T0, "sha1:AAA")
        cap_id = cat.add_capture(cap)
        art = Article(
            capture_id=cap_id,
            night="2026-11-28",
            source="s",
            url=cap.url,
            canonical_url=cap.url,
            outlet="o.example",
            captured_at=T0,
            title="Über alles",
            authors=["Jonathan Hargreaves"],
            original_hint={"evidence": "standfirst"},
            body="Text",
            site_name="Outlet",
        )
        cat.add_article(art)
        again = cat.article_for_capture(cap_id)
        assert again is not None
        assert (again.title, again.authors, again.site_name) == (
            "Über alles",
            ["Jonathan Hargreaves"],
            "Outlet",
        )
        assert again.original_hint == {"evidence": "standfirst"}
        assert cat.night_sources_digest("2026-11-28") == "abc"
        # the night's articles without their bodies: ids, counts, pages for the WACZ
        assert again.id is not None
        assert cat.article_ids_for_night("2026-11-28") == [again.id]
        assert cat.article_ids_for_night("2026-11-29") == []
        assert cat.article_counts_by_source("2026-11-28") == {"s": 1}
        assert cat.night_pages("2026-11-28") == [(cap.url, T0, "Über alles")]
        assert cat.capture_counts("2026-11-28") == {cap.source: {"response": 1}}
        assert cat.capture_times([cap_id]) == {cap_id: (T0, cap.record_id)}
        with pytest.raises(KeyError):
            cat.capture_times([cap_id, cap_id + 99])
        # metadata record locations, a batch at a time
        assert cat.articles_without_metadata(after=0, limit=10) == [again]
        cat.set_metadata_locations([(again.id, "warcs/m", 10, 20)])
        assert cat.articles_without_metadata(after=0, limit=10) == []
        located = cat.article_for_capture(cap_id)
        assert located is not None
        assert (located.metadata_warc_key, located.metadata_offset) == ("warcs/m", 10)
        for stored in (False, True):  # written, then recorded again once stored
            cat.record_warc_file(
                "warcs/x",
                "2026-11-28",
                size=10,
                sha256="0" * 64,
                records=3,
                first_record=T0,
                last_record=T0,
                stored=stored,
            )
        (f,) = cat.warc_files_for_night("2026-11-28")
        assert f["stored"] is True and f["records"] == 3
        cat.finish_night("2026-11-28", {"night": "2026-11-28"})
        assert cat.list_nights() == ["2026-11-28"]


def test_a_catalog_from_an_earlier_version_gains_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    Catalog(f"sqlite:///{path}").close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE articles DROP COLUMN site_name")  # as an earlier version made it
    db.commit()
    db.close()
    with Catalog(f"sqlite:///{path}") as cat:
        assert list(cat.iter_articles()) == []
    db = sqlite3.connect(path)
    assert "site_name" in [r[1] for r in db.execute("pragma table_info(articles)")]
    db.close()
