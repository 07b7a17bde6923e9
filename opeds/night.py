"""A night, step by step. The CLI and the Airflow DAG both call these functions.

1. :func:`begin_night` — record the night and the sources file's digest.
2. :func:`crawl_night` — crawl sources; every exchange goes to WARC and the catalog.
3. :func:`extract_night` — articles from the night's captures.
4. :func:`cluster_night` — syndicated copies into works, originals named.
5. :func:`write_metadata` — one WARC ``metadata`` record per new article.
6. :func:`seal_night` — store and verify the night's files, write its manifest.
7. :func:`index_night` — CDXJ indexes and the WACZ package.
8. :func:`report_night` — the night report, stored with the night.

Each step is idempotent for a night: re-running it does not duplicate captures, articles,
works or stored files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import scrapy
import warcio

from crawler.archive_process import ARCHIVE_FAILED
from crawler.process import CrawlError, CrawlResult, run_crawl
from crawler.sources import Source, SourcesFile
from crawler.urls import outlet_of
from opeds import __version__
from opeds.errors import OpedsError
from opeds.settings import Settings
from storage.catalog import Article, Catalog
from storage.reader import read_record_at
from storage.salvage import Salvage
from storage.stores import LocalStore, SpoolFirst, Store, open_store
from storage.warc import WarcFileWriter

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def night_id(night: str) -> str:
    date.fromisoformat(night)  # validates
    return night


def catalog_for(settings: Settings) -> Catalog:
    return Catalog(settings.effective_catalog_url)


def store_for(settings: Settings) -> Store:
    if settings.is_remote:
        return open_store(
            settings.archive,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            object_lock_mode=settings.object_lock_mode,
            object_lock_days=settings.object_lock_days,
        )
    return LocalStore(settings.archive_path)


def warcinfo_fields(settings: Settings, night: str, sources_sha256: str) -> dict[str, str]:
    """What every WARC file of the night says about how it was made (no credentials, ever)."""
    return {
        "software": f"opeds/{__version__} (Scrapy/{scrapy.__version__}; warcio/{warcio_version()})",
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "robots": "obey" if settings.obey_robots else "ignore",
        "operator": settings.operator or "unspecified",
        "hostname": socket.gethostname(),
        "http-header-user-agent": settings.user_agent.format(version=__version__),
        "isPartOf": f"opeds-night-{night}",
        "opeds-night": night,
        "opeds-sources-sha256": sources_sha256,
        "description": "Nightly capture of op-ed pages, feeds, sitemaps and robots.txt. "
        "Response bodies are stored as received; when the transfer was chunked the body is "
        "stored de-chunked and the header is kept as X-Archive-Orig-Transfer-Encoding.",
    }


def warcio_version() -> str:
    try:
        from importlib.metadata import version

        return version("warcio")
    except Exception:  # pragma: no cover
        return str(getattr(warcio, "__version__", "?"))


# -- 1. begin -----------------------------------------------------------------------------------
def begin_night(settings: Settings, sources_file: SourcesFile, night: str) -> None:
    with catalog_for(settings) as cat:
        cat.start_night(night_id(night), sources_file.sha256)


# -- 2. crawl -----------------------------------------------------------------------------------
@dataclass
class Recovery:
    """What :func:`recover_unfinished` did: files salvaged (kept, complete records only) and
    files discarded (nothing whole in them, or not salvageable)."""

    salvaged: list[Salvage] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)
    in_use: list[str] = field(default_factory=list)
    """Files another process (a try still running) is writing: left alone."""

    @property
    def keys(self) -> list[str]:
        return sorted([s.key for s in self.salvaged] + self.discarded)


def recover_unfinished(settings: Settings, night: str, source: str | None = None) -> Recovery:
    """Make good what a killed try left half-written for ``night`` (only ``source``'s, if given).

    WARC files are written as ``<name>.open`` and renamed when complete. A crawl that died leaves
    its ``.open`` file and the file's journal: the complete record groups are kept, the file is
    cut after the last of them and renamed, and the catalog gets their rows, so the next try
    neither loses nor re-fetches them (:mod:`storage.salvage`). A file without a journal (a
    metadata writer's) is discarded with its catalog locations, so its records are written again.
    Nothing of a failed try is ever sealed or indexed half-written. A file that a live process
    is still writing (it holds the file's lock, :mod:`storage.locks`) is left alone.
    """
    from storage.locks import claimed
    from storage.salvage import salvage_file
    from storage.warc import JOURNAL_SUFFIX, OPEN_SUFFIX

    recovery = Recovery()
    day = date.fromisoformat(night)
    folder = settings.spool_path / "warcs" / f"{day:%Y/%m/%d}"
    if not folder.is_dir():
        return recovery
    name_re = re.compile(
        re.escape(f"{settings.warc_prefix}-{source}-") + r"\d{17}-\d{5}-"
        if source
        else re.escape(f"{settings.warc_prefix}-")
    )
    keys: dict[str, bool] = {}  # key -> has a journal
    for p in folder.iterdir():
        for suffix in (OPEN_SUFFIX, JOURNAL_SUFFIX):
            if p.name.endswith(suffix) and name_re.match(p.name) and p.is_file():
                key = p.relative_to(settings.spool_path).as_posix()[: -len(suffix)]
                keys[key] = keys.get(key, False) or suffix == JOURNAL_SUFFIX
    spool = settings.spool_path
    with catalog_for(settings) as cat:
        for key, journal in sorted(keys.items()):
            # the lock a live writer holds on the file (journal, else the file itself)
            with claimed(spool / (key + (JOURNAL_SUFFIX if journal else OPEN_SUFFIX))) as free:
                if not free:
                    recovery.in_use.append(key)
                elif journal:
                    outcome = salvage_file(spool, key, cat, night)
                    if outcome.deleted:
                        recovery.discarded.append(key)
                    else:
                        recovery.salvaged.append(outcome)
                else:
                    cat.forget_records(key)
                    (spool / (key + OPEN_SUFFIX)).unlink(missing_ok=True)
                    recovery.discarded.append(key)
    if recovery.in_use:
        logger.warning(
            "left %d WARC file(s) of night %s alone: another process is writing them (%s)",
            len(recovery.in_use),
            night,
            ", ".join(recovery.in_use),
        )
    if recovery.discarded:
        logger.warning(
            "discarded %d unfinished WARC file(s) of night %s", len(recovery.discarded), night
        )
    return recovery


FAILURES_IN_SUMMARY = 20
"""Failed URLs a crawl run's summary keeps (all are counted)."""


def source_error(result: CrawlResult | None, name: str) -> str | None:
    """Why a source's crawl counts as failed, or None when it archived something.

    A source fails as a whole when its crawl gave no result, or not one HTTP response (the
    outlet is down or unreachable). Single pages that fail are counted in the report instead.
    """
    if result is None or name not in result.sources:
        return "the crawl ended without a result for this source"
    r = result.sources[name]
    if r.finish_reason == ARCHIVE_FAILED or r.counts.get(ARCHIVE_FAILED):
        return "archiving failed: the crawl stopped (see the crawl log)"
    if r.counts.get("response_count", 0) == 0:
        requests = r.counts.get("request_count", 0)
        reasons = sorted(
            {f.get("reason", "") for f in r.failures if f.get("reason")}
            | {k.split("/", 1)[1] for k in r.counts if k.startswith(("failed/", "exception/"))}
        )
        why = f" ({', '.join(reasons)})" if reasons else ""
        return f"no HTTP response from the outlet: {requests} request(s) failed{why}"
    return None


def crawl_summary(name: str, result: CrawlResult | None, error: str | None) -> dict[str, Any]:
    """One source's crawl in a few keys: counts, the first failed URLs, why it ended, the
    error (None when it archived something). No page data."""
    r = result.sources.get(name) if result is not None else None
    return {
        "source": name,
        "counts": dict(r.counts) if r else {},
        "failures": list(r.failures[:FAILURES_IN_SUMMARY]) if r else [],
        "finish_reason": r.finish_reason if r else "",
        "error": error,
    }


def crawl_night(
    settings: Settings,
    sources: Sequence[Source],
    night: str,
    *,
    sources_sha256: str,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
) -> CrawlResult:
    """Crawl ``sources`` for ``night``: every exchange into WARC files and the catalog.

    Each source's crawl is recorded in the catalog (:meth:`~storage.catalog.Catalog.
    add_crawl_run`), completed or not, so a re-run knows what earlier tries did. With a remote
    archive the files written are stored at once, so the next step may run on another machine.
    Raises :class:`CrawlError` when the crawl process failed or a source could not archive.
    """
    from datetime import UTC, datetime

    settings.spool_path.mkdir(parents=True, exist_ok=True)
    with catalog_for(settings) as cat:
        cat.reopen_extraction(night)
    for src in sources:
        recover_unfinished(settings, night, src.name)
    started = datetime.now(UTC)
    result: CrawlResult | None = None
    failure: CrawlError | None = None
    try:
        result = run_crawl(
            settings,
            sources,
            night_id(night),
            warcinfo=warcinfo_fields(settings, night, sources_sha256),
            env=env,
            log_path=log_path,
        )
    except CrawlError as e:
        failure = e
    finally:
        # the crawl process is gone: whatever it left open, it left for good (killed, crashed)
        for src in sources:
            recover_unfinished(settings, night, src.name)
        finished = datetime.now(UTC)
        with catalog_for(settings) as cat:
            for src in sources:
                error = str(failure) if failure else source_error(result, src.name)
                cat.add_crawl_run(
                    night,
                    src.name,
                    crawl_summary(src.name, result, error),
                    started=started,
                    finished=finished,
                    completed=error is None,
                )
    if settings.is_remote:
        store_night_files(settings, night, sources=[s.name for s in sources])
    if failure is not None:
        raise failure
    assert result is not None
    failed = sorted(
        n
        for n, r in result.sources.items()
        if r.finish_reason == ARCHIVE_FAILED or r.counts.get(ARCHIVE_FAILED)
    )
    if failed:
        where = f" (log: {log_path})" if log_path else ""
        raise CrawlError(
            f"archiving failed for {', '.join(failed)}: their crawl stopped{where}; "
            "what was archived is kept, run the night again once the cause is fixed"
        )
    return result


# -- 3. extract ---------------------------------------------------------------------------------
@dataclass
class ExtractStats:
    """What one extraction run did. Pages that gave no article stay *pending* in the catalog
    (:meth:`storage.catalog.Catalog.pages_to_extract`) until a later run extracts them or they
    have used :data:`EXTRACTION_TRIES` runs."""

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

    Pages are extracted in worker processes (:mod:`opeds.extraction_pool`; ``workers`` sets how
    many, 0 for none; by default one per CPU) and their articles added in capture order, a batch
    per transaction, so the articles and their ids do not depend on the number of workers. A page
    that gives no article (its record cannot be read, its worker died or timed out) counts a try
    in the catalog and stays pending; nothing captured is ever silently dropped. Whatever
    happened, the catalog says which pages are still pending (:func:`check_extraction`).
    """
    from opeds.extraction_pool import (
        ExtractionFailure,
        PageInput,
        default_workers,
        extract_pages,
    )
    from storage.catalog import PENDING, UNCHANGED, Capture
    from storage.search import ensure_search_index

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

    from storage.catalog import articles

    if not batch:
        return
    with cat.engine.begin() as c:
        for art in batch:
            res = c.execute(insert(articles).values(**art.to_row()))
            pk = res.inserted_primary_key
            assert pk is not None
            art.id = int(pk[0])


# -- 4. cluster ---------------------------------------------------------------------------------
def cluster_night(settings: Settings, night: str) -> Any:
    from opeds.clustering import cluster_articles

    with catalog_for(settings) as cat:
        ids = sorted(set(cat.article_ids_for_night(night)) | set(cat.unclustered_article_ids()))
        return cluster_articles(cat, ids, night=night)


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


# -- 6. seal ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SealedFile:
    key: str
    size: int
    sha256: str
    records: int


def store_night_files(
    settings: Settings,
    night: str,
    *,
    sources: Sequence[str] | None = None,
    progress: Progress = _quiet,
) -> list[SealedFile]:
    """Store the night's complete WARC files (of ``sources`` only, when given), each verified
    against what was written; with a remote archive the local copy then goes."""
    store = store_for(settings)
    spool = LocalStore(settings.spool_path)
    names = re.compile(
        "|".join(re.escape(f"{settings.warc_prefix}-{n}-") + r"\d{17}-\d{5}-" for n in sources)
        if sources
        else ""
    )
    sealed: list[SealedFile] = []
    with catalog_for(settings) as cat:
        for f in cat.warc_files_for_night(night):
            key = f["key"]
            if not names.match(key.rsplit("/", 1)[-1]):
                continue
            local = spool.local_path(key)
            if local is not None and local.is_file() and not (f["stored"] and settings.is_remote):
                progress(f"storing {key}")
                obj = store.put_file(local, key)
                if obj.sha256 != f["sha256"] or obj.size != f["size"]:
                    raise OSError(
                        f"{key}: stored copy ({obj.size} bytes, sha256 {obj.sha256}) differs "
                        f"from the file written ({f['size']} bytes, sha256 {f['sha256']})"
                    )
                cat.record_warc_file(
                    key,
                    night,
                    size=f["size"],
                    sha256=f["sha256"],
                    records=f["records"],
                    first_record=f["first_record"],
                    last_record=f["last_record"],
                    stored=True,
                )
                if settings.is_remote:
                    local.unlink()
            elif not f["stored"]:
                raise FileNotFoundError(f"{key}: neither in the spool nor stored")
            sealed.append(SealedFile(key, f["size"], f["sha256"], f["records"]))
    return sealed


def seal_night(settings: Settings, night: str, *, progress: Progress = _quiet) -> list[SealedFile]:
    """Store every complete file of the night, verified, and write the night's manifest."""
    from storage.manifest import FileEntry, build_manifest, write_manifest

    sealed = store_night_files(settings, night, progress=progress)
    with catalog_for(settings) as cat:
        entries = [
            FileEntry(
                key=f["key"],
                size=f["size"],
                sha256=f["sha256"],
                records=f["records"],
                first_record=f["first_record"],
                last_record=f["last_record"],
            )
            for f in cat.warc_files_for_night(night)
        ]
    write_manifest(store_for(settings), build_manifest(night, entries))
    return sealed


# -- 7. index -----------------------------------------------------------------------------------
def index_night(settings: Settings, night: str, *, progress: Progress = _quiet) -> dict[str, Any]:
    """Per-file CDXJ indexes, the night's merged index and its WACZ package."""
    from storage.cdxj import index_night as index_files
    from storage.cdxj import night_index_key
    from storage.wacz import Page, create_night_wacz

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


# -- 8. report ----------------------------------------------------------------------------------
def report_key(night: str) -> str:
    d = date.fromisoformat(night)
    return f"reports/{d:%Y/%m/%d}/night-{night}.json"


def archived_counts(settings: Settings, night: str) -> dict[str, dict[str, int]]:
    """Per source, what the catalog holds of ``night``: records, responses and revisits (the
    whole night, however many tries its crawl took)."""
    out: dict[str, dict[str, int]] = {}
    with catalog_for(settings) as cat:
        for source, by_type in cat.capture_counts(night).items():
            responses = by_type.get("response", 0)
            revisits = sum(by_type.values()) - responses
            # request + response (or revisit)
            out[source] = {
                "records": 2 * (responses + revisits),
                "responses": responses,
                "revisits": revisits,
            }
    return out


def extraction_summary(
    settings: Settings, night: str, stats: ExtractStats | None = None
) -> dict[str, Any]:
    """What became of the night's article pages, from the catalog (whichever runs extracted
    them): ``pages`` captured, ``articles`` extracted, ``unchanged`` (same bytes as an article
    of the same URL), ``pending`` (not extracted yet: the next run extracts them), ``failed``
    (given up after :data:`EXTRACTION_TRIES` runs) with the first ``failures``; and with
    ``stats``, what this run did (``run``)."""
    with catalog_for(settings) as cat:
        counts = cat.extraction_counts(night)
        by_source = cat.article_counts_by_source(night)
    out: dict[str, Any] = {
        "pages": counts.pages,
        "articles": counts.articles,
        "unchanged": counts.unchanged,
        "pending": counts.pending,
        "failed": counts.given_up,
        "failures": counts.failures,
        "by_source": by_source,
    }
    if stats is not None:
        out["run"] = {
            "new_articles": stats.new_articles,
            "caught_up": stats.caught_up,
            "unchanged": stats.unchanged,
            "failed": stats.failed_total,
            "given_up": stats.given_up,
            "pending_after": stats.pending,
            "failures": stats.failed[:20],
        }
    return out


def _try_counts(run: Mapping[str, Any]) -> dict[str, Any]:
    """One crawl try of a source, as the report shows it."""
    c = run.get("counts") or {}
    resumed = c.get("resumed_from_archive", 0)
    reasons = {k.split("/", 1)[1]: v for k, v in c.items() if k.startswith("failed/")}
    return {
        "started": _iso(run.get("started")),
        "finished": _iso(run.get("finished")),
        "completed": bool(run.get("completed", run.get("error") is None)),
        "error": run.get("error"),
        "finish_reason": run.get("finish_reason", ""),
        "discovered": c.get("discovered_feed", 0)
        + c.get("discovered_sitemap", 0)
        + c.get("discovered_listing", 0),
        "articles_requested": c.get("articles_requested", 0),
        "already_archived": c.get("already_archived", 0),
        "robots_disallowed": c.get("robots_disallowed", 0),
        "rechecked": c.get("rechecks", 0),
        "fetched": max(c.get("response_count", 0) - resumed, 0),
        "requests": max(c.get("request_count", 0) - resumed, 0),
        "read_from_archive": resumed,
        "failed": sum(reasons.values()),
        "failed_reasons": reasons,
        "bytes_payload": c.get("bytes_payload", 0),
    }


def _iso(when: Any) -> str | None:
    return when.isoformat() if hasattr(when, "isoformat") else when


SUMMED = ("articles_requested", "rechecked", "fetched", "requests", "failed", "bytes_payload")
"""Per-source counts whose night total is the sum over the night's crawl tries."""


def build_report(
    night: str,
    runs: Mapping[str, Sequence[Mapping[str, Any]]],
    cluster: Any,
    sealed: Sequence[SealedFile],
    archived: Mapping[str, Mapping[str, int]] | None = None,
    extraction: Mapping[str, Any] | None = None,
    *,
    expected: Sequence[str] = (),
) -> dict[str, Any]:
    """The night report: per source what was found, fetched, failed and archived.

    ``runs`` are the night's crawl tries per source (:meth:`storage.catalog.Catalog.crawl_runs`,
    every try the night had, whichever run or machine made it): each source lists its
    ``tries`` and the night's totals (traffic summed over the tries, ``discovered`` the most any
    try found, failures of every try). ``archived`` (:func:`archived_counts`) gives what the
    archive holds of the night; ``extraction`` (:func:`extraction_summary`) what became of its
    article pages. A source of ``expected`` that has no try recorded failed before reporting.
    A source none of whose tries completed is in ``failed_sources`` with the last try's error.
    """
    per_source: dict[str, Any] = {}
    failed_sources: dict[str, str] = {}
    by_source = (extraction or {}).get("by_source", {})
    for name in sorted(set(runs) | set(expected)):
        tries = [_try_counts(r) for r in runs.get(name, [])]
        held = (archived or {}).get(name) or {}
        entry: dict[str, Any] = {k: sum(t[k] for t in tries) for k in SUMMED}
        reasons: dict[str, int] = {}
        for t in tries:
            for k, v in t["failed_reasons"].items():
                reasons[k] = reasons.get(k, 0) + v
        failures = [
            {**f, "try": i}
            for i, r in enumerate(runs.get(name, []), 1)
            for f in r.get("failures") or []
        ]
        entry.update(
            discovered=max((t["discovered"] for t in tries), default=0),
            already_archived=tries[-1]["already_archived"] if tries else 0,
            robots_disallowed=tries[-1]["robots_disallowed"] if tries else 0,
            read_from_archive=sum(t["read_from_archive"] for t in tries),
            failed_reasons=reasons,
            failures=failures[:50],
            records=held.get("records", 0),
            responses=held.get("responses", 0),
            revisits=held.get("revisits", 0),
            new_articles=int(by_source.get(name, 0)),
            finish_reason=tries[-1]["finish_reason"] if tries else "",
            tries=tries,
        )
        if not tries:
            failed_sources[name] = "the crawl task failed before reporting (see its log)"
        elif not any(t["completed"] for t in tries):
            failed_sources[name] = str(tries[-1]["error"] or "the crawl did not complete")
        if name in failed_sources:
            entry["crawl_failed"] = failed_sources[name]
        per_source[name] = entry
    works: dict[str, Any] = {}
    if cluster is not None:
        works = {
            "new_works": getattr(cluster, "new_works", 0),
            "joined_existing": getattr(cluster, "joined_existing", 0),
            "singletons": getattr(cluster, "singletons", 0),
        }
    return {
        "night": night,
        "software": f"opeds/{__version__}",
        "sources": per_source,
        "failed_sources": failed_sources,
        "extraction": dict(extraction or {}),
        "works": works,
        "files": [
            {"key": f.key, "size": f.size, "sha256": f.sha256, "records": f.records} for f in sealed
        ],
        "bytes_written": sum(f.size for f in sealed),
    }


def crawl_runs(settings: Settings, night: str) -> dict[str, list[dict[str, Any]]]:
    """The night's crawl tries per source, from the catalog."""
    with catalog_for(settings) as cat:
        return cat.crawl_runs(night)


def store_report(settings: Settings, report: dict[str, Any]) -> str:
    """Write the report next to the night's files (``reports/YYYY/MM/DD/night-D.json``)."""
    import tempfile

    key = report_key(report["night"])
    store = store_for(settings)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as tmp:
        json.dump(report, tmp, indent=2, sort_keys=True, default=str)
        tmp_path = Path(tmp.name)
    try:
        store.put_file(tmp_path, key)
    finally:
        tmp_path.unlink(missing_ok=True)
    with catalog_for(settings) as cat:
        cat.finish_night(report["night"], report)
    return key


# -- the whole night ----------------------------------------------------------------------------
@dataclass
class NightOutcome:
    night: str
    report: dict[str, Any]
    report_key: str
    crawl: CrawlResult
    sealed: list[SealedFile]
    index: dict[str, Any]
    extract: ExtractStats


def run_night(
    settings: Settings,
    sources_file: SourcesFile,
    night: str,
    *,
    source_names: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    progress: Progress = _quiet,
) -> NightOutcome:
    """Every step of a night, in order. Pages left pending by extraction do not stop the
    night's files from being stored; call :func:`check_extraction` on ``outcome.extract``
    to fail after them."""
    sources = sources_file.select(source_names)
    begin_night(settings, sources_file, night)
    progress(f"crawling {len(sources)} source(s): {', '.join(s.name for s in sources)}")
    crawl = crawl_night(
        settings, sources, night, sources_sha256=sources_file.sha256, env=env, log_path=log_path
    )
    progress(f"crawl done: {crawl.total('response_count')} responses")
    extract = extract_night(settings, night, progress=progress)
    progress(f"extracted {extract.new_articles} new article(s)")
    cluster = cluster_night(settings, night)
    progress("clustered articles into works")
    write_metadata(settings, night)
    sealed = seal_night(settings, night, progress=progress)
    index = index_night(settings, night, progress=progress)
    report = build_report(
        night,
        crawl_runs(settings, night),
        cluster,
        sealed,
        archived_counts(settings, night),
        extraction_summary(settings, night, extract),
        expected=[s.name for s in sources],
    )
    key = store_report(settings, report)
    return NightOutcome(night, report, key, crawl, sealed, index, extract)
