"""
### opeds nightly: crawl, archive, cluster and store one night of op-eds

Each run archives **one night**: the run's logical date (UTC), or the `night` Param. A re-run of a
run archives the same night again without duplicating anything: a source whose crawl already
completed that night is not crawled again (tick `recrawl` to force it).

| step | what it does |
| --- | --- |
| `load_sources` | reads and validates the sources file, records the night |
| `crawl` | one task per source (pool `crawl`): every HTTP exchange into WARC and the catalog |
| `extract_and_cluster` | articles from tonight's captures, copies grouped into works |
| `seal` | metadata records; every WARC file stored, verified, listed in the night's manifest |
| `index` | CDXJ indexes and the night's WACZ package |
| `report` | the night report, stored beside the night's files |
| `publish` | updates the `opeds_archive` asset (skipped for dry runs) |
| `check_sources` | fails the run when a source failed, after everything else is stored |

A source that fails (outlet down, crawl crashed) fails only its own `crawl` task, after its
retries; the other sources are archived and the report names the failure. Half-written output of a
failed try is discarded, never sealed.

**Reading the night report.** The `report` task log has one line per source (`ok` or `FAILED:
reason`, pages fetched, failed pages, new articles) and the key of the full JSON report:
`reports/YYYY/MM/DD/night-YYYY-MM-DD.json` in the archive (also in the catalog's `nights` table).
In the JSON, `sources.<name>` has `discovered`, `fetched`, `failed` with `failed_reasons`, a sample
of `failures` (URL and reason), `new_articles`, `records` and `crawl_failed` when the whole source
failed; `failed_sources` lists those; `extraction`, `works` and `files` (key, size, sha256) follow.
Read it with `opeds` on the same archive, e.g. `opeds works --archive ...`.

**Manual runs** (Trigger with config): `sources` (names, empty = every enabled source), `night`
(date to archive), `dry_run` (crawl into a scratch archive under the temp dir; nothing is stored in
the real archive), `max_pages` (article pages per source), `recrawl`.

**Settings**: `OPEDS_ARCHIVE`, `OPEDS_CATALOG_URL`, `OPEDS_SOURCES` (or the Variables
`opeds_archive`, `opeds_catalog_url`, `opeds_sources`), other `OPEDS_*` variables, and S3
credentials from the connection `opeds_s3`. Schedule: `OPEDS_NIGHTLY_SCHEDULE` (cron, UTC, default
`0 2 * * *`). See docs/airflow.md.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Asset, Param, TriggerRule, dag, get_current_context, task

SCHEDULE = (
    os.environ.get("OPEDS_NIGHTLY_SCHEDULE")
    or os.environ.get("AIRFLOW_VAR_OPEDS_NIGHTLY_SCHEDULE")
    or "0 2 * * *"
)
CRAWL_POOL = "crawl"
ARCHIVE = Asset(name="opeds_archive", uri="opeds://archive")

default_args: dict[str, Any] = {
    "owner": "opeds",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(hours=1),
}


@dag(
    dag_id="opeds_nightly",
    schedule=SCHEDULE,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    dagrun_timeout=timedelta(hours=20),
    tags=["opeds", "archive", "nightly"],
    doc_md=__doc__,
    params={
        "sources": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Sources",
            description="Source names to crawl, one per line. Empty: every enabled source.",
        ),
        "night": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Night",
            description="The night to archive (YYYY-MM-DD). Empty: the run's logical date.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Crawl into a scratch archive under the temp dir; store nothing.",
        ),
        "max_pages": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            title="Max pages per source",
            description="At most this many article pages per source. Empty: no limit.",
        ),
        "recrawl": Param(
            False,
            type="boolean",
            title="Crawl again",
            description="Crawl sources again even if their crawl of this night completed.",
        ),
    },
)
def opeds_nightly() -> None:
    @task(retries=0)
    def load_sources() -> list[dict[str, Any]]:
        """Validate the sources file, pick the run's sources and record the night."""
        import shutil

        from opeds import airflow_support as af
        from opeds.night import begin_night

        with af.night_task() as t:
            print(af.describe(t.settings, t.run))
            if t.run.dry_run:
                shutil.rmtree(t.run.scratch, ignore_errors=True)
            sources_file = af.load_sources_file(t.sources_path)
            selected = sources_file.select(t.run.source_names or None)
            begin_night(t.settings, sources_file, t.night)
        print(f"night {t.night}: {len(selected)} source(s): {', '.join(s.name for s in selected)}")
        return [{"source": s.to_dict(), "sources_sha256": sources_file.sha256} for s in selected]

    @task(
        pool=CRAWL_POOL,
        map_index_template="{{ source_name }}",
        execution_timeout=timedelta(hours=6),
    )
    def crawl(source: dict[str, Any], sources_sha256: str) -> dict[str, Any]:
        """Crawl one source; fail (alone) when the outlet gave nothing."""
        from opeds import airflow_support as af

        context = get_current_context()
        context["source_name"] = source["name"]  # type: ignore[typeddict-unknown-key]
        with af.night_task(context) as t:
            summary = af.crawl_source(t.settings, t.night, source, sources_sha256, t.run.recrawl)
        context["ti"].xcom_push(key="summary", value=summary)
        if summary["error"]:
            raise af.SourceCrawlFailed(f"{source['name']}: {summary['error']}")
        return summary

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def extract_and_cluster(sources: list[dict[str, Any]] | None) -> dict[str, Any]:
        """Articles from tonight's captures of every source that was crawled, then works."""
        from airflow.sdk.exceptions import AirflowFailException

        from opeds import airflow_support as af

        if sources is None:  # load_sources failed (this task runs whatever its upstream did)
            raise AirflowFailException("load_sources failed: there is no night to work on")
        from opeds.night import cluster_night, extract_night

        with af.night_task() as t:
            af.recover_unfinished(t.settings, t.night)
            stats = extract_night(t.settings, t.night, progress=print)
            works = cluster_night(t.settings, t.night)
            night_articles = af.night_articles_by_source(t.settings, t.night)
        return af.extract_counts(stats, works, night_articles)

    @task
    def seal(extracted: dict[str, Any]) -> dict[str, Any]:
        """Metadata records, then every file stored, verified and put in the night's manifest."""
        from opeds import airflow_support as af
        from opeds.night import seal_night, write_metadata

        with af.night_task() as t:
            af.recover_unfinished(t.settings, t.night)
            metadata = write_metadata(t.settings, t.night)
            sealed = seal_night(t.settings, t.night, progress=print)
        return {"metadata_records": metadata, "files": af.sealed_files(sealed)}

    @task
    def index(sealed: dict[str, Any]) -> Any:
        """CDXJ indexes and the WACZ package of the night."""
        from opeds import airflow_support as af
        from opeds.night import index_night

        with af.night_task() as t:
            return af.keys_only(index_night(t.settings, t.night, progress=print))

    @task
    def report(
        sources: list[dict[str, Any]], extracted: dict[str, Any], sealed: dict[str, Any]
    ) -> dict[str, Any]:
        """Write the night report, naming every source that failed."""
        from opeds import airflow_support as af
        from opeds.night import store_report

        context = get_current_context()
        names = [s["source"]["name"] for s in sources]
        pulled = context["ti"].xcom_pull(
            task_ids="crawl", key="summary", map_indexes=range(len(names))
        )
        summaries = dict(zip(names, pulled or [None] * len(names), strict=True))
        with af.night_task(context) as t:
            night_report = af.night_report(
                t.night,
                summaries,
                extracted,
                sealed["files"],
                dry_run=t.run.dry_run,
                archived=af.archived_counts(t.settings, t.night),
            )
            key = store_report(t.settings, night_report)
            for line in af.report_lines(night_report, key):
                print(line)
        return {
            "night": t.night,
            "report_key": key,
            "failed_sources": night_report["failed_sources"],
        }

    @task(outlets=[ARCHIVE])
    def publish(reported: dict[str, Any]) -> None:
        """Announce the night on the ``opeds_archive`` asset (not for dry runs)."""
        from airflow.sdk.exceptions import AirflowSkipException

        context = get_current_context()
        if context["params"].get("dry_run"):
            raise AirflowSkipException("dry run: the archive was not changed")
        context["outlet_events"][ARCHIVE].extra = {
            "night": reported["night"],
            "report": reported["report_key"],
        }

    @task(retries=0)
    def check_sources(reported: dict[str, Any]) -> None:
        """Fail the run, after everything is stored, when a source failed."""
        from opeds import airflow_support as af

        message = af.failed_sources_message(reported, reported["report_key"])
        if message:
            raise af.SourcesFailed(message)

    loaded: Any = load_sources()
    crawled = crawl.expand_kwargs(loaded)
    extracted: Any = extract_and_cluster(loaded)
    crawled >> extracted
    sealed: Any = seal(extracted)
    indexed = index(sealed)
    reported: Any = report(loaded, extracted, sealed)
    indexed >> reported
    publish(reported)
    check_sources(reported)


opeds_nightly()
