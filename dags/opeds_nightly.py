"""
### opeds nightly: crawl, archive, cluster and store one night of op-eds

Each run archives **one night**: the run's logical date (UTC), or the `night` Param. A re-run of a
run archives the same night again without duplicating anything: a source whose crawl already
completed that night is not crawled again (tick `recrawl` to force it).

| step | what it does |
| --- | --- |
| `load_sources` | reads and validates the sources file, records the night |
| `crawl` | one task per source (pool `crawl`): every HTTP exchange into WARC and the catalog |
| `extract_and_cluster` | articles from the night's pages (and those left pending), then works |
| `seal` | metadata records; every WARC file stored, verified, put in the night's manifest |
| `index` | CDXJ indexes and the night's WACZ package |
| `report` | the night report, from the catalog, stored beside the night's files |
| `publish` | updates the `opeds_archive` asset (skipped for dry runs) |
| `check_night` | fails the run, after all is stored, when a source failed or pages are pending |

`extract_and_cluster` fails, after storing the articles it extracted, when article pages are left
pending (its retry or the next night extracts them); `seal` and `report` run whatever it did.

A source that fails (outlet down, crawl crashed) fails only its own `crawl` task, after its
retries; the other sources are archived and the report names the failure. Half-written output of a
failed try is discarded, never sealed.

**Reading the night report.** The `report` task log has one line per source (`ok` or `FAILED:
reason`, crawl tries, pages fetched, failed pages, new articles), the night's article pages
(captured, extracted, unchanged, pending, failed) and the key of the full JSON report:
`reports/YYYY/MM/DD/night-YYYY-MM-DD.json` in the archive (also in the catalog's `nights` table).
In the JSON, `sources.<name>` has the night's totals over every crawl try (`discovered`, `fetched`,
`failed` with `failed_reasons`, a sample of `failures`, `new_articles`, `records`), each try in
`tries`, and `crawl_failed` when no try completed; `failed_sources` lists those; `extraction`
(`pages`, `articles`, `unchanged`, `pending`, `failed`), `works` and `files` follow.
Read it with `opeds` on the same archive, e.g. `opeds works --archive ...`.

**Manual runs** (Trigger with config): `sources` (names, empty = every enabled source), `night`
(date to archive), `dry_run` (crawl into a scratch archive under the temp dir; nothing is stored in
the real archive), `max_pages` (article pages per source; empty: `OPEDS_MAX_PAGES_PER_SOURCE`,
500 unless set, as scheduled runs use; 0: no limit), `recrawl`.

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
            None,
            type=["null", "array"],
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
            minimum=0,
            title="Max pages per source",
            description="At most this many article pages per source; 0: no limit. Empty: the "
            "OPEDS_MAX_PAGES_PER_SOURCE setting (500 unless set), which scheduled runs use too.",
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
    @task(retries=0, execution_timeout=timedelta(minutes=10))
    def load_sources() -> list[dict[str, Any]]:
        """Validate the sources file, pick the run's sources and record the night."""
        import shutil

        from opeds.airflow import tasks as af
        from opeds.night import begin_night

        with af.night_task() as t:
            af.task_log.info(af.describe(t.settings, t.run))
            if t.run.dry_run:
                shutil.rmtree(t.run.scratch, ignore_errors=True)
            sources_file = af.load_sources_file(t.sources_path)
            selected = sources_file.select(t.run.source_names or None)
            begin_night(t.settings, sources_file, t.night)
        af.task_log.info(
            "night %s: %d source(s): %s",
            t.night,
            len(selected),
            ", ".join(s.name for s in selected),
        )
        return [{"source": s.to_dict(), "sources_sha256": sources_file.sha256} for s in selected]

    @task(
        pool=CRAWL_POOL,
        map_index_template="{{ task.op_kwargs['source']['name'] }}",
        execution_timeout=timedelta(hours=6),
    )
    def crawl(source: dict[str, Any], sources_sha256: str) -> dict[str, Any]:
        """Crawl one source; fail (alone) when the outlet gave nothing."""
        from opeds.airflow import tasks as af

        context = get_current_context()
        with af.night_task(context) as t:
            summary = af.crawl_source(t.settings, t.night, source, sources_sha256, t.run.recrawl)
        context["ti"].xcom_push(key="summary", value=summary)
        if summary["error"]:
            raise af.SourceCrawlFailed(f"{source['name']}: {summary['error']}")
        return summary

    @task(trigger_rule=TriggerRule.ALL_DONE, execution_timeout=timedelta(hours=4))
    def extract_and_cluster(sources: list[dict[str, Any]] | None) -> dict[str, Any]:
        """Articles from the night's article pages (and those earlier runs left pending), then
        works; fails, after storing what it extracted, when pages are left pending."""
        from airflow.sdk.exceptions import AirflowFailException

        from opeds.airflow import tasks as af

        if sources is None:  # load_sources failed (this task runs whatever its upstream did)
            raise AirflowFailException("load_sources failed: there is no night to work on")
        from opeds.night import check_extraction, cluster_night, extract_night

        with af.night_task() as t:
            af.recover_unfinished(t.settings, t.night)
            stats = extract_night(t.settings, t.night, progress=af.task_log.info)
            works = cluster_night(t.settings, t.night)
        check_extraction(stats)  # pending pages: fail, so the retry extracts them
        return af.extract_counts(stats, works)

    @task(trigger_rule=TriggerRule.ALL_DONE, execution_timeout=timedelta(hours=2))
    def seal(sources: list[dict[str, Any]] | None) -> dict[str, Any]:
        """Metadata records, then every file stored, verified and put in the night's manifest
        (whatever extraction did: what was captured is stored)."""
        from airflow.sdk.exceptions import AirflowFailException

        from opeds.airflow import tasks as af
        from opeds.night import seal_night, write_metadata

        if sources is None:
            raise AirflowFailException("load_sources failed: there is no night to seal")
        with af.night_task() as t:
            af.recover_unfinished(t.settings, t.night)
            metadata = write_metadata(t.settings, t.night)
            sealed = seal_night(t.settings, t.night, progress=af.task_log.info)
        return {"metadata_records": metadata, "files": af.sealed_files(sealed)}

    @task(execution_timeout=timedelta(hours=2))
    def index(sealed: dict[str, Any]) -> Any:
        """CDXJ indexes and the WACZ package of the night."""
        from opeds.airflow import tasks as af
        from opeds.night import index_night

        with af.night_task() as t:
            return af.keys_only(index_night(t.settings, t.night, progress=af.task_log.info))

    @task(trigger_rule=TriggerRule.ALL_DONE, execution_timeout=timedelta(minutes=30))
    def report(sources: list[dict[str, Any]] | None, extracted: dict[str, Any] | None) -> Any:
        """Write the night report, naming every source that failed and every page left pending
        (whatever the steps before did)."""
        from airflow.sdk.exceptions import AirflowFailException

        from opeds.airflow import tasks as af
        from opeds.night import store_report

        if sources is None:
            raise AirflowFailException("load_sources failed: there is no night to report on")
        names = [s["source"]["name"] for s in sources]
        with af.night_task() as t:
            night_report = af.night_report(
                t.settings, t.night, names, extracted, dry_run=t.run.dry_run
            )
            key = store_report(t.settings, night_report)
            for line in af.report_lines(night_report, key):
                af.task_log.info(line)
        return {
            "night": t.night,
            "report_key": key,
            "failed_sources": night_report["failed_sources"],
            "pending": night_report["extraction"].get("pending", 0),
        }

    @task(outlets=[ARCHIVE], execution_timeout=timedelta(minutes=5))
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

    @task(retries=0, execution_timeout=timedelta(minutes=5))
    def check_night(reported: dict[str, Any]) -> None:
        """Fail the run, after everything is stored, when a source failed or article pages were
        left pending."""
        from opeds.airflow import tasks as af

        message = af.night_failure_message(reported, reported["report_key"])
        if message:
            raise af.NightIncomplete(message)

    loaded: Any = load_sources()
    crawled = crawl.expand_kwargs(loaded)
    extracted: Any = extract_and_cluster(loaded)
    crawled >> extracted
    sealed: Any = seal(loaded)
    extracted >> sealed
    indexed = index(sealed)
    reported: Any = report(loaded, extracted)
    indexed >> reported
    publish(reported)
    check_night(reported)


opeds_nightly()
