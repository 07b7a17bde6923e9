"""The distributed path, as an operator runs it across machines.

CeleryExecutor with a Redis broker, PostgreSQL for Airflow's metadata and the opeds catalog, S3
for the archive, and two Celery workers that share no filesystem (each has its own working,
temporary and state folders). Two nights of four sources; then the same two nights under
LocalExecutor, and the works of both compared. Needs PostgreSQL and Redis on 127.0.0.1 and the
``.venv-celery`` environment (``scripts/test`` makes it): it skips, saying which is missing,
where they are not. Run it alone with ``.venv/bin/pytest tests/test_celery.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.airflow_cluster import (
    PG_ADMIN,
    Deployment,
    create_database,
    drop_database,
    missing_services,
)
from tests.s3server import ACCESS_KEY, REGION, SECRET_KEY, MotoS3, shared_server
from tests.sitekit import bulk_outlet, bulk_outlet_sources

pytestmark = [pytest.mark.airflow, pytest.mark.postgres, pytest.mark.timeout(3000)]

ROOT = Path(__file__).resolve().parent.parent
NIGHTS = ("2026-07-01", "2026-07-02")
BULK_HOST = "http://bulk-a.example"
SOURCES = ["asharq-al-awsat", "syrian-observer", "levant-review", "bulk-a"]


@pytest.fixture(scope="module")
def services() -> None:
    why = missing_services()
    if why:
        pytest.skip(f"the CeleryExecutor check needs {why}")


def catalog_schema() -> Iterator[str]:
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_ADMIN)
    with admin.begin() as c:
        c.execute(text(f"create schema {schema}"))
    try:
        yield f"{PG_ADMIN}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as c:
            c.execute(text(f"drop schema {schema} cascade"))
        admin.dispose()


def opeds_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    opeds = str(Path(sys.executable).with_name("opeds"))
    return subprocess.run([opeds, *args], env=env, capture_output=True, text=True, timeout=600)


def run_deployment(
    work: Path, executor: str, workers: int, s3: MotoS3, proxy: str, sources: Path
) -> dict[str, Any]:
    """Both nights under ``executor``; what an operator would look at afterwards."""
    bucket = s3.bucket()
    archive = f"s3://{bucket}/nightly"
    schema = catalog_schema()
    catalog = next(schema)
    database = create_database("opeds_af")
    connection = {
        "conn_type": "aws",
        "login": ACCESS_KEY,
        "password": SECRET_KEY,
        "extra": {"endpoint_url": s3.endpoint, "region_name": REGION},
    }
    env = {
        "OPEDS_ARCHIVE": archive,
        "OPEDS_CATALOG_URL": catalog,
        "OPEDS_SOURCES": str(sources),
        "OPEDS_CRAWL_DELAY": "0",
        "OPEDS_NIGHTLY_SCHEDULE": "0 2 29 2 *",  # no scheduled run: only the triggered ones
        "AIRFLOW_CONN_OPEDS_S3": json.dumps(connection),
        "http_proxy": proxy,
        "https_proxy": proxy,
    }
    try:
        with Deployment(work, executor, database, env, workers=workers) as d:
            runs = [
                d.run_night(f"night-{n}", {"night": n, "sources": SOURCES, "max_pages": 40})
                for n in NIGHTS
            ]
            logs = {name: d.log_tail(name, 200) for name, _ in d.procs}
    finally:
        drop_database(database)
    cli_env = {
        "PATH": str(Path(sys.executable).parent),
        "HOME": str(work),
        "OPEDS_STATE_DIR": str(work / "cli-state"),
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": s3.endpoint,
        "no_proxy": "127.0.0.1",
    }
    verify = opeds_cli("verify", "--all", "--archive", archive, "--catalog", catalog, env=cli_env)
    works = opeds_cli("works", "--json", "--archive", archive, "--catalog", catalog, env=cli_env)
    keys = [
        o["Key"]
        for page in s3.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
    ]
    manifests = [
        json.loads(s3.client().get_object(Bucket=bucket, Key=k)["Body"].read())
        for k in keys
        if k.endswith(".json") and "/manifests/" in k
    ]
    admin = create_engine(catalog)
    with admin.connect() as c:
        crawls = Counter((r.night, r.source) for r in c.execute(text("select * from crawl_runs")))
        captures = Counter(
            (r.night, r.url) for r in c.execute(text("select night, url from captures"))
        )
        pending = c.execute(
            text(
                "select count(*) from captures c left join articles a on a.capture_id = c.id "
                "left join extraction_state e on e.capture_id = c.id where c.kind = 'article' "
                "and c.status = 200 and a.id is null and e.capture_id is null"
            )
        ).scalar_one()
    admin.dispose()
    next(schema, None)  # drop the catalog's schema
    return {
        "runs": runs,
        "logs": logs,
        "verify": verify,
        "works": works,
        "keys": keys,
        "manifests": manifests,
        "crawls": crawls,
        "captures": captures,
        "pending": pending,
    }


def comparable(works_jsonl: str) -> list[dict[str, Any]]:
    """``opeds works --json`` without capture times (each deployment captured at its own, and
    lists a work's copies in the order it captured them)."""
    out = []
    for line in works_jsonl.splitlines():
        work = json.loads(line)
        for m in work["members"]:
            m.pop("captured")
        work["members"].sort(key=lambda m: (m["role"] != "original", m["url"]))
        out.append(work)
    return out


def test_two_nights_on_two_celery_workers_sharing_no_files_match_a_local_executor_run(
    services: None, tmp_path: Path
) -> None:
    from opeds.demo import build_site
    from opeds.testing.web import LoopbackWeb

    s3 = shared_server()
    pages = build_site(date.fromisoformat(NIGHTS[0]))  # the outlets as on the first night
    pages.update(bulk_outlet(BULK_HOST, 10))
    sources = tmp_path / "sources.toml"
    sources.write_text(
        (ROOT / "opeds" / "demo" / "sources.toml").read_text()
        + "\n"
        + bulk_outlet_sources(BULK_HOST, "bulk-a")
    )
    seen: dict[str, dict[str, Any]] = {}
    with LoopbackWeb(pages) as web:
        for executor, workers in (("CeleryExecutor", 2), ("LocalExecutor", 0)):
            seen[executor] = run_deployment(
                tmp_path / executor, executor, workers, s3, web.proxy_url, sources
            )

    celery = seen["CeleryExecutor"]
    for run in celery["runs"]:
        states = {(t["task_id"], t["map_index"]): t["state"] for t in run["tis"]}
        assert run["state"] == "success", (states, celery["logs"])
        crawls = [t for t in run["tis"] if t["task_id"] == "crawl"]
        assert sorted(t["rendered_map_index"] for t in crawls) == sorted(SOURCES)
        assert all(t["try_number"] == 1 for t in run["tis"]), run["tis"]
    hosts = {t["hostname"] for run in celery["runs"] for t in run["tis"]}
    assert len(hosts) == 2, hosts  # both workers ran tasks of the nights
    # each source crawled once per night; nothing captured twice
    assert celery["crawls"] == Counter({(n, s): 1 for n in NIGHTS for s in SOURCES})
    assert max(celery["captures"].values()) == 1, celery["captures"].most_common(3)
    assert celery["pending"] == 0
    # every WARC stored is in a manifest, once; fixity of everything stored passes
    stored = sorted(k.split("/", 1)[1] for k in celery["keys"] if k.endswith(".warc.gz"))
    listed = sorted(f["key"] for m in celery["manifests"] for f in m["files"])
    assert stored == listed and len(set(listed)) == len(listed)
    assert celery["verify"].returncode == 0, celery["verify"].stdout + celery["verify"].stderr

    local = seen["LocalExecutor"]
    assert [r["state"] for r in local["runs"]] == ["success", "success"], local["runs"]
    assert local["verify"].returncode == 0, local["verify"].stderr
    assert celery["works"].returncode == local["works"].returncode == 0
    works = comparable(celery["works"].stdout)
    assert len(works) >= 20 and any(len(w["members"]) > 1 for w in works)
    other = comparable(local["works"].stdout)
    differ = [(a, b) for a, b in zip(works, other, strict=False) if a != b]
    assert len(works) == len(other) and not differ, json.dumps(differ[:1], indent=1)
