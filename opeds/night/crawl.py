"""Steps 1 and 2 of a night: begin it, and crawl its sources (recovering what a killed try left)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from opeds.crawler.capture.process import CrawlError, CrawlResult, run_crawl
from opeds.crawler.capture.salvage import Salvage
from opeds.crawler.capture.writer_process import ARCHIVE_FAILED
from opeds.crawler.sources.config import Source, SourcesFile
from opeds.night.common import catalog_for, night_id, warcinfo_fields
from opeds.night.seal import store_night_files
from opeds.settings import Settings

logger = logging.getLogger(__name__)


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
    neither loses nor re-fetches them (:mod:`opeds.crawler.capture.salvage`). A file without a
    journal (a metadata writer's) is discarded with its catalog locations, so its records are
    written again. Nothing of a failed try is ever sealed or indexed half-written. A file that a
    live process is still writing (it holds the file's lock, :mod:`opeds.storage.warc.locks`) is
    left alone.
    """
    from opeds.crawler.capture.salvage import salvage_file
    from opeds.storage.warc.locks import claimed
    from opeds.storage.warc.writer import JOURNAL_SUFFIX, OPEN_SUFFIX

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
