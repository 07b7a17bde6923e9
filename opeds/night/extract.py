"""Step 3: articles from the night's article pages, and from those earlier runs left pending."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from opeds.crawler.sources.urls import outlet_of
from opeds.errors import OpedsError
from opeds.night.common import Progress, _quiet, catalog_for, store_for
from opeds.settings import Settings
from opeds.storage.catalog.db import Article, Catalog
from opeds.storage.stores.local import LocalStore, SpoolFirst
from opeds.storage.warc.reader import read_record_at

logger = logging.getLogger(__name__)


# -- 3. extract ---------------------------------------------------------------------------------
@dataclass
class ExtractStats:
    """What one extraction run did. Pages that gave no article stay *pending* in the catalog
    (:meth:`opeds.storage.catalog.db.Catalog.pages_to_extract`) until a later run extracts them or
    they have used :data:`EXTRACTION_TRIES` runs."""

    new_articles: int = 0
    unchanged: int = 0
    caught_up: int = 0
    """New articles from pages of earlier nights that earlier runs left pending."""
    failed: list[dict[str, str]] = field(default_factory=list)
    """This run's failures (url, reason), the first :data:`FAILURES_KEPT`."""
    failed_total: int = 0
    pending: int = 0
    """Pages still without an article after this run, tonight's and earlier nights'."""
    given_up: int = 0
    """Pages that used their last try in this run."""
    by_source: dict[str, int] = field(default_factory=dict)


class ExtractionIncomplete(OpedsError):
    """Article pages were captured but not extracted; they stay pending for the next run."""


ARTICLE_BATCH = 100
"""Articles added to the catalog per transaction while extracting."""
EXTRACTION_TRIES = 3
"""Extraction runs a page may fail in before it is given up (and reported as failed)."""
FAILURES_KEPT = 50
"""Failed pages a run keeps with their reasons (all are counted)."""


def extract_night(
    settings: Settings,
    night: str,
    *,
    progress: Progress = _quiet,
    workers: int | None = None,
) -> ExtractStats:
    """Extract an article from every article page of ``night`` that has none yet, and from the
    pages earlier runs left pending (of any night).

    Pages are extracted in worker processes (:mod:`opeds.extraction.pool`; ``workers`` sets how
    many, 0 for none; by default one per CPU) and their articles added in capture order, a batch
    per transaction, so the articles and their ids do not depend on the number of workers. A page
    that gives no article (its record cannot be read, its worker died or timed out) counts a try
    in the catalog and stays pending; nothing captured is ever silently dropped. Whatever
    happened, the catalog says which pages are still pending (:func:`check_extraction`).
    """
    from opeds.extraction.pool import (
        ExtractionFailure,
        PageInput,
        default_workers,
        extract_pages,
    )
    from opeds.storage.catalog.db import PENDING, UNCHANGED, Capture
    from opeds.storage.catalog.search import ensure_search_index

    stats = ExtractStats()
    warcs = SpoolFirst(
        LocalStore(settings.spool_path),
        (lambda: store_for(settings)) if settings.is_remote else None,
    )

    def loader(src: Capture, url: str) -> Callable[[], PageInput]:
        def load() -> PageInput:
            record = read_record_at(
                warcs.read_range(src.warc_key, src.offset, src.length),
                name=src.warc_key,
                offset=src.offset,
            )
            return PageInput(record.body, url, record.http_header("Content-Type"))

        return load

    def unknown_payload() -> PageInput:
        raise LookupError("revisit of a payload the catalog does not hold")

    with catalog_for(settings) as cat:
        ensure_search_index(cat)  # its triggers index each article as it is added
        caps = cat.pages_to_extract(night)
        states: list[tuple[int, str, str | None]] = []
        # the same bytes of one URL give one article: the first such page is extracted, the
        # others are unchanged once it has given its article
        followers: dict[int, list[Capture]] = {}
        leader: dict[tuple[str, str], int] = {}
        todo: list[tuple[tuple[int, Capture], Callable[[], PageInput]]] = []
        for i, cap in enumerate(caps, 1):
            assert cap.id is not None
            if cap.payload_digest:
                same = (cap.canonical_url, cap.payload_digest)
                if same in leader:
                    followers[leader[same]].append(cap)
                    continue
                if cap.record_type == "revisit" and cat.has_article_for_payload(*same):
                    states.append((cap.id, UNCHANGED, None))
                    stats.unchanged += 1
                    continue
                leader[same] = cap.id
                followers[cap.id] = []
            src = cap
            if cap.record_type == "revisit" and cap.payload_digest:
                first = cat.first_capture_with_digest(cap.payload_digest)
                if first is None:
                    todo.append(((i, cap), unknown_payload))
                    continue
                src = first
            todo.append(((i, cap), loader(src, cap.url)))

        batch: list[Article] = []

        def failed(cap: Capture, reason: str) -> None:
            assert cap.id is not None
            states.append((cap.id, PENDING, reason))
            stats.failed_total += 1
            if len(stats.failed) < FAILURES_KEPT:
                stats.failed.append({"url": cap.url, "reason": reason})

        try:
            n_workers = default_workers(len(todo)) if workers is None else workers
            for (i, cap), art in extract_pages(todo, workers=n_workers):
                assert cap.id is not None
                if isinstance(art, ExtractionFailure):  # a broken page never kills a night
                    logger.warning("extraction failed for %s: %s", cap.url, art.message)
                    failed(cap, art.reason)
                    continue
                body = art.body or ""
                batch.append(
                    Article(
                        capture_id=cap.id,
                        night=cap.night,
                        source=cap.source,
                        url=cap.url,
                        canonical_url=cap.canonical_url,
                        outlet=outlet_of(cap.url),
                        captured_at=cap.captured_at,
                        title=art.title,
                        authors=list(art.authors),
                        published=art.published,
                        updated=art.updated,
                        language=art.language,
                        section=art.section,
                        site_name=art.site_name,
                        page_canonical=art.canonical,
                        original_hint=art.to_json().get("original"),
                        body=body,
                        body_sha1=hashlib.sha1(body.encode()).hexdigest(),
                    )
                )
                for f in followers.get(cap.id, []):
                    assert f.id is not None
                    states.append((f.id, UNCHANGED, None))
                    stats.unchanged += 1
                if len(batch) >= ARTICLE_BATCH:
                    _add_articles(cat, batch)
                    batch = []
                stats.new_articles += 1
                if cap.night != night:
                    stats.caught_up += 1
                stats.by_source[cap.source] = stats.by_source.get(cap.source, 0) + 1
                progress(f"extracted {i}/{len(caps)}: {cap.url}")
        finally:
            _add_articles(cat, batch)
            stats.given_up = cat.set_extraction_state(states, night, max_tries=EXTRACTION_TRIES)
            cat.close_extraction()
        stats.pending = len(cat.pages_to_extract(night))
    return stats


def check_extraction(stats: ExtractStats) -> None:
    """Raise :class:`ExtractionIncomplete` when the run left pages pending (after their
    articles were stored: the next run, or the next night, extracts them)."""
    if not stats.pending:
        return
    reasons = (
        "; ".join(f"{f['url']}: {f['reason']}" for f in stats.failed[:3])
        or "the run was interrupted"
    )
    raise ExtractionIncomplete(
        f"{stats.pending} article page(s) captured but not extracted yet ({reasons}); they are "
        "kept pending: run the night again (or wait for the next night) to extract them"
    )


def _add_articles(cat: Catalog, batch: Sequence[Article]) -> None:
    """Add articles in one transaction, in order (their ids follow it)."""
    from sqlalchemy import insert

    from opeds.storage.catalog.db import articles

    if not batch:
        return
    with cat.engine.begin() as c:
        for art in batch:
            res = c.execute(insert(articles).values(**art.to_row()))
            pk = res.inserted_primary_key
            assert pk is not None
            art.id = int(pk[0])
