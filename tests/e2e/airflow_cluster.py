"""An Airflow deployment as an operator runs one across machines, on this machine.

:class:`Deployment` starts Airflow's components from an environment of their own (by default
``.venv-celery``, what ``pip install -c constraints.txt -e '.[celery,postgres]'`` makes): the API
server, the scheduler and the DAG processor, with PostgreSQL as the metadata database, and for
``CeleryExecutor`` any number of Celery workers with a Redis broker. Each worker gets working
folders of its own (``AIRFLOW_HOME``, ``TMPDIR``, ``OPEDS_STATE_DIR``, its working directory), so
the workers share no filesystem, as on separate machines: the archive is in S3, the catalog in
PostgreSQL.

Runs are triggered and watched through the ``airflow`` command and the metadata database.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
CELERY_VENV = ROOT / ".venv-celery"
DAG_ID = "opeds_nightly"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS = ("127.0.0.1", 6379)


class ClusterFailed(Exception):
    """The deployment did not do what was expected; the message says where to look."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_command(db: int, *words: str, timeout: float = 5) -> bytes:
    """One Redis command (RESP) on database ``db``; its one-line answer."""
    with socket.create_connection(REDIS, timeout=timeout) as s, s.makefile("rb") as answers:
        answer = b""
        for cmd in (("SELECT", str(db)), words):
            s.sendall(
                f"*{len(cmd)}\r\n".encode()
                + b"".join(f"${len(w.encode())}\r\n{w}\r\n".encode() for w in cmd)
            )
            answer = answers.readline()
        return answer


def missing_services() -> str | None:
    """Why a Celery deployment cannot run here, or None: PostgreSQL, Redis, the environment."""
    try:
        engine = create_engine(PG_ADMIN)
        with engine.connect() as c:
            c.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL not reachable at 127.0.0.1:5432 ({type(exc).__name__})"
    try:
        if not redis_command(0, "PING").startswith(b"+PONG"):
            return "Redis at 127.0.0.1:6379 did not answer PING"
    except OSError as exc:
        return f"Redis not reachable at 127.0.0.1:6379 ({exc})"
    if not (CELERY_VENV / "bin" / "airflow").exists():
        return (
            f"{CELERY_VENV} has no airflow: python3 -m venv .venv-celery && .venv-celery/bin/pip "
            "install -c constraints.txt -e '.[celery,postgres]' (scripts/test does this)"
        )
    return None


def create_database(prefix: str) -> str:
    """A new, empty PostgreSQL database; its name."""
    name = f"{prefix}_{secrets.token_hex(5)}"
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f"create database {name}"))
    engine.dispose()
    return name


def drop_database(name: str) -> None:
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f"drop database if exists {name} with (force)"))
    engine.dispose()


@dataclass
class Deployment:
    """Airflow with ``executor`` over the metadata database ``database`` (created by the caller),
    the project's DAGs, and ``env`` (the ``OPEDS_*`` settings, proxies, credentials)."""

    work: Path
    executor: str
    database: str
    env: Mapping[str, str]
    workers: int = 0
    broker_db: int = 7
    venv: Path = CELERY_VENV
    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.db_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.database}"
        self.secret = secrets.token_hex(16)

    # -- environments ---------------------------------------------------------------------------
    def common_env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW", "OPEDS_", "VIRTUAL_ENV", "PYTHON"))
            and "proxy" not in k.lower()
        }
        env.update(self.env)
        env.update(
            {
                "PATH": os.pathsep.join((str(self.venv / "bin"), env.get("PATH", ""))),
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__PARALLELISM": "8",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db_url,
                # Airflow derives an asyncpg URL otherwise; psycopg 3 does both
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": self.db_url,
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__BASE_URL": self.base,
                "AIRFLOW__API__SECRET_KEY": self.secret,
                "AIRFLOW__API_AUTH__JWT_SECRET": self.secret,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base}/execution/",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "600",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{self.broker_db}",
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{self.db_url}",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
                "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
                # Airflow's own calls (API, S3 on 127.0.0.1) never go through the outlets' proxy
                "no_proxy": "127.0.0.1,localhost",
                "NO_PROXY": "127.0.0.1,localhost",
            }
        )
        return env

    def home(self, name: str) -> dict[str, str]:
        """The folders of one component or worker: nothing is shared with the others."""
        root = self.work / name
        for sub in ("airflow-home", "tmp", "state", "cwd"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        return {
            "AIRFLOW_HOME": str(root / "airflow-home"),
            "TMPDIR": str(root / "tmp"),
            "OPEDS_STATE_DIR": str(root / "state"),
        }

    # -- processes ------------------------------------------------------------------------------
    def airflow(self, *args: str, name: str = "cli", timeout: float = 300) -> str:
        """Run ``airflow ARGS`` to completion; its output (raises on failure)."""
        env = {**self.common_env(), **self.home(name)}
        done = subprocess.run(
            [str(self.venv / "bin" / "airflow"), *args],
            env=env,
            cwd=self.work / name / "cwd",
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise ClusterFailed(f"airflow {' '.join(args)}: {done.stderr[-3000:]}")
        return done.stdout

    def spawn(self, name: str, *args: str, extra: Mapping[str, str] | None = None) -> None:
        env = {**self.common_env(), **self.home(name), **(extra or {})}
        log = self.work / f"{name}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [str(self.venv / "bin" / "airflow"), *args],
                env=env,
                cwd=self.work / name / "cwd",
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.procs.append((name, proc))

    def start(self, timeout: float = 300) -> None:
        if self.executor == "CeleryExecutor":
            redis_command(self.broker_db, "FLUSHDB")
        self.airflow("db", "migrate", timeout=600)
        self.airflow("pools", "set", "crawl", "4", "opeds crawls")
        self.spawn("api-server", "api-server")
        self.spawn("scheduler", "scheduler")
        self.spawn("dag-processor", "dag-processor")
        for i in range(1, self.workers + 1):
            self.spawn(
                f"worker{i}",
                "celery",
                "worker",
                "--celery-hostname",
                f"worker{i}@opeds-test",
                "--concurrency",
                "1",
                extra={
                    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                    # the machine each worker stands for, as its task instances record it
                    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.e2e.worker_hostname.hostname",
                    "OPEDS_TEST_HOSTNAME": f"worker{i}.opeds-test",
                    "PYTHONPATH": str(ROOT),
                },
            )
        self.wait_for("the API server and scheduler", self._healthy, timeout)
        self.wait_for(f"{DAG_ID} to be parsed", self._dag_known, timeout)
        self.airflow("dags", "unpause", DAG_ID)

    def stop(self) -> None:
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for _name, proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.procs = []

    def __enter__(self) -> Deployment:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- watching -------------------------------------------------------------------------------
    def _check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise ClusterFailed(f"{name} exited with {proc.returncode}: {self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.work / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def wait_for(self, what: str, probe: Any, timeout: float, every: float = 2.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            value = probe()
            if value:
                return value
            time.sleep(every)
        tails = "\n".join(f"--- {n}\n{self.log_tail(n, 10)}" for n, _ in self.procs)
        raise ClusterFailed(f"timed out after {timeout:.0f} s waiting for {what}\n{tails}")

    def _healthy(self) -> bool:
        import urllib.request

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(f"{self.base}/api/v2/monitor/health", timeout=5) as r:
                health = json.loads(r.read())
        except OSError:
            return False
        parts = ("metadatabase", "scheduler", "dag_processor")
        return all((health.get(p) or {}).get("status") == "healthy" for p in parts)

    def query(self, sql: str, **params: Any) -> list[Any]:
        engine = create_engine(self.db_url)
        try:
            with engine.connect() as c:
                return list(c.execute(text(sql), params))
        finally:
            engine.dispose()

    def _dag_known(self) -> bool:
        return bool(self.query("select 1 from dag where dag_id = :d", d=DAG_ID))

    # -- runs -----------------------------------------------------------------------------------
    def run_night(
        self, run_id: str, conf: Mapping[str, Any], timeout: float = 900
    ) -> dict[str, Any]:
        """Trigger a run with ``conf`` and wait for it to end; its state and task instances."""
        self.airflow("dags", "trigger", DAG_ID, "--run-id", run_id, "--conf", json.dumps(conf))

        def ended() -> str | None:
            rows = self.query(
                "select state from dag_run where dag_id = :d and run_id = :r", d=DAG_ID, r=run_id
            )
            state = rows[0][0] if rows else None
            return state if state in ("success", "failed") else None

        state = self.wait_for(f"run {run_id}", ended, timeout, every=3)
        tis = [
            {
                "task_id": r.task_id,
                "map_index": r.map_index,
                "state": r.state,
                "hostname": r.hostname,
                "try_number": r.try_number,
                "rendered_map_index": r.rendered_map_index,
            }
            for r in self.query(
                "select task_id, map_index, state, hostname, try_number, rendered_map_index "
                "from task_instance where dag_id = :d and run_id = :r order by task_id, map_index",
                d=DAG_ID,
                r=run_id,
            )
        ]
        return {"state": state, "tis": tis}
