"""Step 8: the night report, from the catalog, stored with the night."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from opeds import __version__
from opeds.night.common import catalog_for, store_for
from opeds.night.extract import ExtractStats
from opeds.night.seal import SealedFile
from opeds.settings import Settings


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

    ``runs`` are the night's crawl tries per source
    (:meth:`opeds.storage.catalog.db.Catalog.crawl_runs`, every try the night had, whichever run or
    machine made it): each source lists its ``tries`` and the night's totals (traffic summed over
    the tries, ``discovered`` the most any try found, failures of every try). ``archived``
    (:func:`archived_counts`) gives what the archive holds of the night; ``extraction``
    (:func:`extraction_summary`) what became of its article pages. A source of ``expected`` that
    has no try recorded failed before reporting. A source none of whose tries completed is in
    ``failed_sources`` with the last try's error.
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
