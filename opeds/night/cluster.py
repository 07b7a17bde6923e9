"""Step 4: syndicated copies into works, originals named."""

from __future__ import annotations

from typing import Any

from opeds.night.common import catalog_for
from opeds.settings import Settings


# -- 4. cluster ---------------------------------------------------------------------------------
def cluster_night(settings: Settings, night: str) -> Any:
    from opeds.works.clustering import cluster_articles

    with catalog_for(settings) as cat:
        ids = sorted(set(cat.article_ids_for_night(night)) | set(cat.unclustered_article_ids()))
        return cluster_articles(cat, ids, night=night)
