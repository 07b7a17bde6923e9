"""Step 5: one WARC ``metadata`` record per new article."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from opeds import __version__
from opeds.night.common import catalog_for, warcinfo_fields
from opeds.settings import Settings
from opeds.storage.catalog.db import Article
from opeds.storage.warc.writer import WarcFileWriter


# -- 5. metadata records ------------------------------------------------------------------------
def article_metadata(art: Article) -> dict[str, Any]:
    return {
        "url": art.url,
        "canonical": art.page_canonical,
        "title": art.title,
        "authors": art.authors,
        "published": art.published,
        "updated": art.updated,
        "language": art.language,
        "section": art.section,
        "outlet": art.outlet,
        "original": art.original_hint,
        "work": art.work_id,
        "role": art.role,
        "body_sha1": art.body_sha1,
        "body_chars": len(art.body or ""),
        "software": f"opeds/{__version__}",
    }


METADATA_BATCH = 200
"""Articles read, and their record locations written back, per catalog round trip."""


def write_metadata(settings: Settings, night: str) -> int:
    """One ``metadata`` record per article of the night, concurrent to its response record.

    Articles are read :data:`METADATA_BATCH` at a time (never the whole night's bodies at once)
    and their records' locations written back a batch per transaction."""
    with catalog_for(settings) as cat:
        page = cat.articles_without_metadata(after=0, limit=METADATA_BATCH)
        if not page:
            return 0
        written = 0
        with catalog_for(settings) as files_cat:
            writer = WarcFileWriter(
                settings.spool_path,
                prefix=f"{settings.warc_prefix}-metadata",
                day=date.fromisoformat(night),
                max_bytes=settings.warc_max_bytes,
                gzip_level=settings.gzip_level,
                warcinfo=warcinfo_fields(settings, night, cat.night_sources_digest(night)),
                on_close=lambda closed: files_cat.record_closed_file(closed, night),
            )
            located: list[tuple[int, str, int, int]] = []
            try:
                while page:
                    caps = cat.capture_times(a.capture_id for a in page)
                    for art in page:
                        assert art.id is not None
                        captured_at, record_id = caps[art.capture_id]
                        content = json.dumps(article_metadata(art), ensure_ascii=False, indent=1)
                        rec = writer.factory.metadata(
                            art.url,
                            content.encode("utf-8"),
                            captured_at,
                            concurrent_to=record_id,
                        )
                        (loc,) = writer.write_group([(rec, captured_at)])
                        located.append((art.id, loc.key, loc.offset, loc.length))
                        written += 1
                    cat.set_metadata_locations(located)
                    located = []
                    last = page[-1].id
                    assert last is not None
                    page = cat.articles_without_metadata(after=last, limit=METADATA_BATCH)
            finally:
                cat.set_metadata_locations(located)
                writer.close()
    return written
