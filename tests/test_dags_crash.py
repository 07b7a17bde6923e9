"""Nights of the ``opeds_nightly`` DAG killed with SIGKILL, then retried or run again.

Each night runs ``dag.test()`` in a child Python process (its own ``AIRFLOW_HOME``, a SQLite
metadata database, the demo outlets of :mod:`opeds.demo` on 127.0.0.1 through ``http_proxy``), so
a test can kill the process that runs the tasks, and Airflow's settings never leak into the test
process. A crash comes from a named crash point (:mod:`opeds.faults`, ``OPEDS_CRASH_AT``) or from
``kill -9`` of the whole process group.

After the night is finished (by Airflow's retry, or by running the DAG again for the same logical
date, as an operator's "clear" does) it must be whole: every URL the outlets were asked for by any
try captured exactly once, every article of the sample outlets archived once with its metadata
record, no record that was complete at the kill lost or fetched again, no ``.open`` or journal file
left, every WARC file valid, the catalog's files equal to the files on disk, all stored, and a
night report that agrees with the catalog.

(The module has its own ``AIRFLOW_HOME`` rather than the fixtures of ``tests/test_dags.py``:
Airflow reads its home once per process, and these tests never import Airflow themselves.)
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from opeds.settings import Settings
from opeds.storage.catalog.db import Capture
from opeds.storage.stores.base import sha256_file
from opeds.storage.warc.reader import RecordInfo, read_record_at
from opeds.storage.warc.writer import JOURNAL_SUFFIX, OPEN_SUFFIX
from opeds.testing.web import LoopbackWeb, normalize_url
from tests.airflowkit import airflow_env
from tests.test_crash import complete_records
from tests.warccheck import fastwarc_check

pytestmark = pytest.mark.airflow

if importlib.util.find_spec("airflow") is None:  # pragma: no cover
    pytest.skip(
        "Apache Airflow is not installed (pip install -e '.[airflow]')", allow_module_level=True
    )

ROOT = Path(__file__).resolve().parent.parent
DAGS = ROOT / "dags"
NIGHT = "2026-07-01"
SOURCES = {"asharq-al-awsat", "syrian-observer", "levant-review"}
WARC_MAX_BYTES = 8_000
"""Small WARC files, so crawls and the metadata writer rotate files several times."""

# -- a night in a child process -----------------------------------------------------------------
_NIGHT_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from datetime import UTC, datetime, timedelta

    spec = json.loads(sys.argv[1])
    if spec["arm_self"]:
        # a crash point armed in this process only (the task process), not in the crawls
        os.environ["OPEDS_CRASH_AT"] = spec["arm_self"]
        import opeds.faults
        del os.environ["OPEDS_CRASH_AT"]

    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.pool import Pool

    from opeds.airflow import tasks as af

    Pool.create_or_update_pool("crawl", slots=2, description="opeds", include_deferred=False)
    tries = []
    if spec["crash_first_try"]:
        # the first try of a source's crawl task: its crawl process (which inherits the task's
        # environment) dies at the source's crash point; the retry runs unarmed, as after an
        # OOM kill that does not come back
        crawl_source = af.crawl_source

        def first_try_crashes(settings, night, source, sources_sha256, recrawl=False):
            from airflow.sdk import get_current_context

            from opeds.night import catalog_for

            try_number = get_current_context()["ti"].try_number
            if try_number == 1 and source["name"] in spec["crash_first_try"]:
                os.environ["OPEDS_CRASH_AT"] = spec["crash_first_try"][source["name"]]
            try:
                summary = crawl_source(settings, night, source, sources_sha256, recrawl)
            finally:
                os.environ.pop("OPEDS_CRASH_AT", None)
            with catalog_for(settings) as cat:
                kept = [
                    [c.url, c.record_id]
                    for c in cat.captures_for_night(night, source=source["name"])
                ]
            tries.append(
                {
                    "source": source["name"],
                    "try": try_number,
                    "error": summary["error"],
                    "ended": datetime.now(UTC).isoformat(),
                    "captures": kept,
                }
            )
            return summary

        af.crawl_source = first_try_crashes

    dag = DagBag(dag_folder=spec["dags"]).dags["opeds_nightly"]
    for t in dag.tasks:
        t.retries = 0
    crawl = dag.get_task("crawl")
    crawl.retries = spec["crawl_retries"]
    crawl.retry_delay = timedelta(0)  # exponential backoff: the retry comes 1 to 2 s later
    dr = dag.test(
        logical_date=datetime.fromisoformat(spec["logical_date"]), run_conf=spec["conf"]
    )
    tis = [
        {"task": ti.task_id, "map": ti.map_index, "state": str(ti.state), "try": ti.try_number}
        for ti in dr.get_task_instances()
    ]
    with open(spec["out"], "w") as f:
        json.dump({"state": str(dr.state), "tis": tis, "tries": tries}, f)
    """
)


@dataclass
class Env:
    """Where a test's night lives: its archive, the outlets, the child processes' environment."""

    tmp: Path
    web: LoopbackWeb
    env: dict[str, str]
    started: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def archive(self) -> Path:
        return self.tmp / "archive"

    @property
    def settings(self) -> Settings:
        return Settings(archive=str(self.archive), warc_max_bytes=WARC_MAX_BYTES)

    def start(
        self,
        *,
        crash_first_try: dict[str, str] | None = None,
        arm_self: str | None = None,
        retries: int = 0,
    ) -> tuple[subprocess.Popen[str], Path]:
        out = self.tmp / f"run-{time.monotonic_ns()}.json"
        spec = {
            "dags": str(DAGS),
            "logical_date": datetime(2026, 7, 1, 2, 0, tzinfo=UTC).isoformat(),
            "conf": {},
            "crash_first_try": crash_first_try,
            "arm_self": arm_self,
            "crawl_retries": retries,
            "out": str(out),
        }
        with open(self.tmp / "dag-test.log", "a") as log:
            proc = subprocess.Popen(
                [sys.executable, "-c", _NIGHT_SCRIPT, json.dumps(spec)],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # its own process group: a kill takes the crawl too
            )
        self.started.append(proc)
        return proc, out

    def run(self, **kwargs: Any) -> dict[str, Any]:
        """A whole night, to its end; the DAG run's state and task instances."""
        proc, out = self.start(**kwargs)
        assert proc.wait(timeout=240) == 0, self.log_tail()
        result: dict[str, Any] = json.loads(out.read_text())
        return result

    def log_tail(self) -> str:
        return (self.tmp / "dag-test.log").read_text()[-4000:]


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A migrated SQLite metadata database of the module's own (the tests' variables for it)."""
    home = tmp_path_factory.mktemp("airflow-home-crash")
    env = airflow_env(home, DAGS)
    subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        check=True,
        capture_output=True,
        env={**_base_env(), **env},
        timeout=300,
    )
    return env


def _base_env() -> dict[str, str]:
    """The test process's environment without proxies, Airflow or opeds settings."""
    drop = ("AIRFLOW", "OPEDS_", "AWS_")
    return {
        k: v
        for k, v in os.environ.items()
        if "proxy" not in k.lower() and not k.upper().startswith(drop)
    }


@contextmanager
def _night_env(airflow_env: dict[str, str], tmp: Path) -> Iterator[Env]:
    from opeds.demo import SOURCES_PATH, build_site

    with LoopbackWeb(build_site(date.fromisoformat(NIGHT))) as web:
        env = {
            **_base_env(),
            **airflow_env,
            "http_proxy": web.proxy_url,
            "https_proxy": web.proxy_url,
            "no_proxy": "127.0.0.1,localhost",
            "OPEDS_ARCHIVE": str(tmp / "archive"),
            "OPEDS_SOURCES": str(SOURCES_PATH),
            "OPEDS_STATE_DIR": str(tmp / "state"),
            "OPEDS_CRAWL_DELAY": "0",
            "OPEDS_WARC_MAX_BYTES": str(WARC_MAX_BYTES),
            "PYTHONPATH": str(ROOT),
        }
        e = Env(tmp, web, env)
        try:
            yield e
        finally:  # a test that failed half-way leaves no night running
            for proc in e.started:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=60)


@pytest.fixture
def night(airflow_home: dict[str, str], tmp_path: Path) -> Iterator[Env]:
    with _night_env(airflow_home, tmp_path) as e:
        yield e


def check_warcs(paths: list[Path]) -> None:
    """:func:`tests.warccheck.check_warc` of every file, with one ``warcio check`` for all."""
    assert paths
    exe = Path(sys.executable).with_name("warcio")
    res = subprocess.run([str(exe), "check", *map(str, paths)], capture_output=True, text=True)
    assert res.returncode == 0, f"warcio check: {res.stdout}{res.stderr}"
    for path in paths:
        assert fastwarc_check(path) > 0, path


# -- what a finished night must be --------------------------------------------------------------
def _leftovers(archive: Path) -> list[str]:
    return sorted(
        p.relative_to(archive).as_posix()
        for p in archive.rglob("*")
        if p.name.endswith((OPEN_SUFFIX, JOURNAL_SUFFIX))
    )


def _requested(web: LoopbackWeb, since: datetime | None = None) -> list[str]:
    """URLs the outlets were asked for (after ``since``), in order."""
    return [
        r.url
        for r in list(web.requests)
        if r.method != "CONNECT" and (since is None or r.time > since)
    ]


def assert_night_whole(e: Env) -> list[Capture]:
    """The finished night: every check of the module docstring. Returns the night's captures."""
    from opeds.demo import build
    from opeds.night import catalog_for, report_key

    archive = e.archive
    assert not _leftovers(archive), "unfinished files are left"
    files = sorted((archive / "warcs").rglob("*.warc.gz"))
    check_warcs(files)
    with catalog_for(e.settings) as cat:
        caps = cat.captures_for_night(NIGHT)
        arts = cat.articles_for_night(NIGHT)
        recorded = {f["key"]: f for f in cat.warc_files_for_night(NIGHT)}
    # the catalog's files are the files on disk, whole and stored
    assert set(recorded) == {p.relative_to(archive).as_posix() for p in files}
    for key, f in recorded.items():
        assert f["stored"], key
        size, digest = sha256_file(archive / key)
        assert (size, digest) == (f["size"], f["sha256"]), key

    # every URL the outlets were asked for tonight (by every try) is captured, exactly once
    urls = Counter(normalize_url(c.url) for c in caps)
    assert not [u for u, n in urls.items() if n > 1], "captured twice"
    assert set(urls) == set(_requested(e.web))
    for c in caps:  # and each catalog row points at its record
        data = (archive / c.warc_key).read_bytes()[c.offset : c.offset + c.length]
        rec = read_record_at(data, name=c.warc_key, offset=c.offset)
        assert (rec.info.target_uri, rec.info.record_id) == (c.url, c.record_id)

    # every article of the sample outlets, once, with its metadata record
    site = build(date.fromisoformat(NIGHT))
    expected = {normalize_url(a.url) for a in site.articles if a.discoverable}
    articles = Counter(normalize_url(a.url) for a in arts)
    assert set(articles) == expected and max(articles.values()) == 1
    for a in arts:
        key, offset, length = a.metadata_warc_key, a.metadata_offset, a.metadata_length
        assert key is not None and offset is not None and length is not None, a.url
        assert key in recorded, a.url
        data = (archive / key).read_bytes()[offset : offset + length]
        meta = read_record_at(data, name=key, offset=offset)
        assert (meta.info.rec_type, meta.info.target_uri) == ("metadata", a.url)

    # the night report says what the night holds
    report = json.loads((archive / report_key(NIGHT)).read_text())
    assert report["failed_sources"] == {}
    assert {f["key"]: (f["size"], f["sha256"], f["records"]) for f in report["files"]} == {
        k: (f["size"], f["sha256"], f["records"]) for k, f in recorded.items()
    }
    assert report["extraction"]["articles"] == len(arts) and report["extraction"]["pending"] == 0
    by_source = Counter(a.source for a in arts)
    assert {n: s["new_articles"] for n, s in report["sources"].items()} == {
        n: by_source[n] for n in SOURCES
    }
    return caps


def _tis(result: dict[str, Any], task: str) -> list[dict[str, Any]]:
    return [ti for ti in result["tis"] if ti["task"] == task]


def _complete_records(archive: Path) -> dict[str, RecordInfo]:
    """Every complete response (or revisit) record in the night's files, ``.open`` ones too."""
    found: dict[str, RecordInfo] = {}
    for path in sorted((archive / "warcs").rglob("*.warc.gz*")):
        if path.name.endswith(JOURNAL_SUFFIX):
            continue
        found.update(complete_records(path))
    return {rid: r for rid, r in found.items() if r.rec_type in ("response", "revisit")}


def _assert_kept(
    e: Env, kept: dict[str, RecordInfo], killed_at: datetime, caps: list[Capture]
) -> None:
    """Records complete at the kill are in the night, unchanged, and were not fetched again."""
    now = _complete_records(e.archive)
    lost = sorted(str(r.target_uri) for rid, r in kept.items() if rid not in now)
    assert not lost, f"complete before the kill, gone after: {lost}"
    for rid, r in kept.items():
        assert (now[rid].target_uri, now[rid].block_digest) == (r.target_uri, r.block_digest)
    assert set(kept) <= {c.record_id for c in caps}
    again = {normalize_url(str(r.target_uri)) for r in kept.values()}
    again &= set(_requested(e.web, killed_at))
    assert not again, f"archived before the kill, fetched again: {sorted(again)}"


# -- 1. the crawl process dies, Airflow retries the task ----------------------------------------
CRASHES = {
    "asharq-al-awsat": "http-response:5",  # part of a response body received
    "syrian-observer": "warc-record:5",  # half a record on disk
    "levant-review": "warc-rotation:1",  # a full file, not yet under its final name
}


@pytest.fixture(scope="module")
def retried(
    airflow_home: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Env, dict[str, Any]]]:
    """A night whose every ``crawl`` task dies on its first try and is retried by Airflow."""
    with _night_env(airflow_home, tmp_path_factory.mktemp("retried")) as e:
        yield e, e.run(crash_first_try=CRASHES, retries=1)


def test_a_crawl_killed_mid_way_is_retried_by_airflow_and_the_night_is_whole(
    retried: tuple[Env, dict[str, Any]],
) -> None:
    e, result = retried
    assert result["state"] == "success", e.log_tail()
    assert {ti["state"] for ti in result["tis"]} == {"success"}, result["tis"]
    crawls = _tis(result, "crawl")
    assert len(crawls) == len(SOURCES) and {ti["try"] for ti in crawls} == {2}, crawls
    tries = {(t["source"], t["try"]): t for t in result["tries"]}
    assert set(tries) == {(s, n) for s in SOURCES for n in (1, 2)}
    caps = assert_night_whole(e)

    by_id = {c.record_id: c for c in caps}
    for source in SOURCES:
        first, retry = tries[(source, 1)], tries[(source, 2)]
        assert "exited with code -9" in (first["error"] or ""), first  # SIGKILL
        assert retry["error"] is None, retry
        # what the killed try archived is kept as it was ...
        kept = {rid: url for url, rid in first["captures"]}
        now = [c for c in caps if c.source == source]
        assert 0 < len(kept) < len(now), (source, len(kept), len(now))  # killed mid-crawl
        assert all(by_id[rid].url == url for rid, url in kept.items()), f"{source}: lost"
        # ... and none of it was fetched again, discovery documents included
        again = set(_requested(e.web, datetime.fromisoformat(first["ended"])))
        again &= {normalize_url(u) for u in kept.values()}
        assert not again, f"{source}: archived before the kill, fetched again: {again}"


def test_the_report_of_a_retried_crawl_counts_the_whole_night(
    retried: tuple[Env, dict[str, Any]],
) -> None:
    """``records``/``responses`` of a source in the night report are what the night holds of
    it, as they are for a night that was never killed (and as ``new_articles`` already is)."""
    from opeds.night import catalog_for, report_key

    e, result = retried
    assert result["state"] == "success", e.log_tail()
    report = json.loads((e.archive / report_key(NIGHT)).read_text())
    with catalog_for(e.settings) as cat:
        caps = cat.captures_for_night(NIGHT)
    for source in SOURCES:
        mine = [c for c in caps if c.source == source]
        counts = report["sources"][source]
        assert counts["responses"] + counts["revisits"] == len(mine), (source, counts)
        assert counts["records"] == 2 * len(mine), (source, counts)  # request and response


# -- 2. the process that runs the tasks dies; the night is run again ----------------------------
def test_the_worker_killed_while_sealing_and_the_night_run_again(night: Env) -> None:
    """The seal task's own process dies while it writes metadata records (``kill -9`` of the
    worker); the operator runs the night again: no crawl is repeated, nothing is fetched."""
    from opeds.night import catalog_for

    proc, _ = night.start(arm_self="warc-record:17")
    assert proc.wait(timeout=240) == -signal.SIGKILL, night.log_tail()
    left = _leftovers(night.archive)
    assert left and all("-metadata-" in k for k in left), left  # killed in the metadata writer
    folder = night.archive / "warcs" / "2026" / "07" / "01"
    assert list(folder.glob("*-metadata-*.warc.gz")), "no metadata file completed before"
    with catalog_for(night.settings) as cat:  # every crawl is known to have completed
        assert all(cat.completed_crawl(NIGHT, s) for s in SOURCES)
    asked = len(night.web.requests)

    result = night.run()
    assert result["state"] == "success", night.log_tail()
    assert {ti["state"] for ti in result["tis"]} == {"success"}, result["tis"]
    assert night.web.requests[asked:] == []  # every crawl had completed: none is repeated
    assert_night_whole(night)


def test_the_worker_killed_mid_crawl_and_the_night_run_again(night: Env) -> None:
    """``kill -9`` of the whole process group (the DAG's process and its crawl) in the middle of
    the second source's crawl; the operator runs the night again."""
    proc, _ = night.start()
    deadline = time.monotonic() + 180
    while len(_requested(night.web)) < 14:  # the first source has 9 or 12 pages
        assert proc.poll() is None and time.monotonic() < deadline, night.log_tail()
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    killed_at = datetime.now(UTC)
    kept = _complete_records(night.archive)
    assert 0 < len(kept) < 30, len(kept)  # killed mid-night (the demo night has 30 captures)

    result = night.run()
    assert result["state"] == "success", night.log_tail()
    assert {ti["state"] for ti in result["tis"]} == {"success"}, result["tis"]
    caps = assert_night_whole(night)
    _assert_kept(night, kept, killed_at, caps)
