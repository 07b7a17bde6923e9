"""Step 7: CDXJ indexes and the WACZ package of the night."""

from __future__ import annotations

from datetime import date
from typing import Any

from opeds.night.common import Progress, _quiet, catalog_for, store_for
from opeds.settings import Settings


# -- 7. index -----------------------------------------------------------------------------------
def index_night(settings: Settings, night: str, *, progress: Progress = _quiet) -> dict[str, Any]:
    """Per-file CDXJ indexes, the night's merged index and its WACZ package."""
    from opeds.storage.access.cdxj import index_night as index_files
    from opeds.storage.access.cdxj import night_index_key
    from opeds.storage.access.wacz import Page, create_night_wacz

    store = store_for(settings)
    day = date.fromisoformat(night)
    progress("indexing the night's WARC files (CDXJ)")
    indexed, lines = index_files(store, day)
    with catalog_for(settings) as cat:
        pages = [Page(url, at, title) for url, at, title in cat.night_pages(night)]
    progress(f"packaging the night as WACZ ({len(pages)} pages)")
    wacz = create_night_wacz(store, day, pages)
    return {
        "indexed_files": indexed,
        "index_lines": lines,
        "index_key": night_index_key(day),
        "wacz_key": str(wacz.path),
        "wacz_pages": wacz.pages,
        "wacz_unmatched_pages": wacz.unmatched_pages,
    }
