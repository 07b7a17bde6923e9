"""
### opeds fixity: re-read the stored archive against the nights' manifests

Weekly (and whenever triggered), every object that a night's manifest lists is read back from the
archive and its size and SHA-256 compared with the manifest; each manifest is checked against its
BagIt listing. The run **fails** when anything is missing, truncated, altered or unreadable, and
the error names each bad object, one per line:

    ALTERED warcs/2026/07/01/opeds-....warc.gz (night 2026-07-01): sha256 ... read, ... recorded

A successful run logs how many nights, objects and bytes were checked.

**Params**: `nights` (dates to check; empty = every night with a manifest), `last_days` (only the
nights of the last N days, counted back from the run's logical date; 0 = all).

**Settings**: the same as `opeds_nightly`: `OPEDS_ARCHIVE` (or the Variable `opeds_archive`) and
the connection `opeds_s3` for an S3 archive. Schedule: `OPEDS_FIXITY_SCHEDULE` (cron, UTC, default
`0 4 * * 0`, Sundays 04:00). See docs/airflow.md.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

SCHEDULE = (
    os.environ.get("OPEDS_FIXITY_SCHEDULE")
    or os.environ.get("AIRFLOW_VAR_OPEDS_FIXITY_SCHEDULE")
    or "0 4 * * 0"
)


@dag(
    dag_id="opeds_fixity",
    schedule=SCHEDULE,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "opeds",
        "retries": 1,
        "retry_delay": timedelta(minutes=10),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(hours=2),
    },
    tags=["opeds", "archive", "fixity"],
    doc_md=__doc__,
    params={
        "nights": Param(
            [],
            type="array",
            items={"type": "string", "format": "date"},
            title="Nights",
            description="Nights to check (YYYY-MM-DD), one per line. Empty: every night.",
        ),
        "last_days": Param(
            0,
            type="integer",
            minimum=0,
            title="Last days",
            description="Only nights of the last N days before the run's date. 0: all.",
        ),
    },
)
def opeds_fixity() -> None:
    @task(execution_timeout=timedelta(hours=12))
    def verify() -> dict[str, Any]:
        """Read every stored object back; fail naming each one that does not match."""
        from opeds.airflow import tasks as af
        from opeds.night import store_for
        from opeds.storage.stores.fixity import verify_archive

        context = get_current_context()
        params = context["params"]
        with af.archive_task() as settings:
            print(af.describe(settings))
            store = store_for(settings)
            nights = af.fixity_nights(
                store, params.get("nights") or [], int(params.get("last_days") or 0), context
            )
            report = verify_archive(store, nights)
        for line in report.lines():
            print(line)
        message = af.fixity_message(report)
        if message:
            raise af.FixityFailed(message)
        return {
            "nights": len(report.nights),
            "objects": report.objects_checked,
            "bytes": report.bytes_read,
        }

    verify()


opeds_fixity()
