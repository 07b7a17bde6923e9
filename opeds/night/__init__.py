"""A night, step by step. The CLI and the Airflow DAGs both call these functions.

1. :func:`begin_night`, :func:`crawl_night` (:mod:`.crawl`) — record the night; crawl its
   sources, every exchange into WARC files and the catalog.
2. :func:`extract_night` (:mod:`.extract`) — articles from the night's article pages.
3. :func:`cluster_night` (:mod:`.cluster`) — syndicated copies into works, originals named.
4. :func:`write_metadata` (:mod:`.metadata`) — one WARC ``metadata`` record per new article.
5. :func:`seal_night` (:mod:`.seal`) — store and verify the night's files, write its manifest.
6. :func:`index_night` (:mod:`.index`) — CDXJ indexes and the WACZ package.
7. :func:`build_report`, :func:`store_report` (:mod:`.report`) — the night report.

:func:`run_night` (:mod:`.run`) runs them all, in order. Each step is idempotent for a night:
re-running it does not duplicate captures, articles, works or stored files.
"""

from __future__ import annotations

from opeds.night.cluster import cluster_night
from opeds.night.common import catalog_for, night_id, store_for, warcinfo_fields, warcio_version
from opeds.night.crawl import (
    FAILURES_IN_SUMMARY,
    Recovery,
    begin_night,
    crawl_night,
    crawl_summary,
    recover_unfinished,
    source_error,
)
from opeds.night.extract import (
    ARTICLE_BATCH,
    EXTRACTION_TRIES,
    FAILURES_KEPT,
    ExtractionIncomplete,
    ExtractStats,
    check_extraction,
    extract_night,
)
from opeds.night.index import index_night
from opeds.night.metadata import METADATA_BATCH, article_metadata, write_metadata
from opeds.night.report import (
    SUMMED,
    archived_counts,
    build_report,
    crawl_runs,
    extraction_summary,
    report_key,
    store_report,
)
from opeds.night.run import NightOutcome, run_night
from opeds.night.seal import SealedFile, seal_night, store_night_files

__all__ = [
    "ARTICLE_BATCH",
    "EXTRACTION_TRIES",
    "FAILURES_IN_SUMMARY",
    "FAILURES_KEPT",
    "METADATA_BATCH",
    "SUMMED",
    "ExtractStats",
    "ExtractionIncomplete",
    "NightOutcome",
    "Recovery",
    "SealedFile",
    "archived_counts",
    "article_metadata",
    "begin_night",
    "build_report",
    "catalog_for",
    "check_extraction",
    "cluster_night",
    "crawl_night",
    "crawl_runs",
    "crawl_summary",
    "extract_night",
    "extraction_summary",
    "index_night",
    "night_id",
    "recover_unfinished",
    "report_key",
    "run_night",
    "seal_night",
    "source_error",
    "store_for",
    "store_night_files",
    "store_report",
    "warcinfo_fields",
    "warcio_version",
    "write_metadata",
]
