"""Every step of a night, in order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opeds.crawler.capture.process import CrawlResult
from opeds.crawler.sources.config import SourcesFile
from opeds.night.cluster import cluster_night
from opeds.night.common import Progress, _quiet
from opeds.night.crawl import begin_night, crawl_night
from opeds.night.extract import ExtractStats, extract_night
from opeds.night.index import index_night
from opeds.night.metadata import write_metadata
from opeds.night.report import (
    archived_counts,
    build_report,
    crawl_runs,
    extraction_summary,
    store_report,
)
from opeds.night.seal import SealedFile, seal_night
from opeds.settings import Settings


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
