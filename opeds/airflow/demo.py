"""``opeds demo --airflow``: ``airflow standalone`` with the project's DAGs, against the demo
outlets served on 127.0.0.1.

The demo outlets are served as an HTTP proxy (:class:`opeds.testing.web.LoopbackWeb`); Airflow's
components get the proxy for the crawl and ``no_proxy`` for their own calls to 127.0.0.1, the
DAGs folder of this checkout, a metadata database (SQLite) and an archive of their own, and the
``crawl`` pool. Airflow runs until it is interrupted (Ctrl-C, SIGTERM), then the outlets stop.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path

from opeds.errors import ConfigError

PROJECT = Path(__file__).resolve().parents[2]
DAGS = PROJECT / "dags"
DEMO_SOURCES = PROJECT / "opeds" / "demo" / "sources.toml"


def airflow_command() -> str:
    """The ``airflow`` of this environment (the [airflow] extra installs it)."""
    beside = Path(sys.executable).with_name("airflow")
    found = str(beside) if beside.exists() else shutil.which("airflow")
    if not found:
        raise ConfigError(
            "airflow is not installed here: pip install -c constraints.txt -e '.[airflow]'"
        )
    return found


def airflow_demo_env(
    *,
    home: Path,
    port: int,
    archive: Path,
    proxy_url: str,
    sources: Path = DEMO_SOURCES,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of ``airflow standalone`` for the demo: ``base`` (default: this
    process's) without other Airflow, opeds and proxy settings, and the demo's."""
    url = f"http://127.0.0.1:{port}"
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if not k.startswith(("AIRFLOW", "OPEDS_")) and "proxy" not in k.lower()
    }
    path = os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__BASE_URL": url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "600",
            "OPEDS_ARCHIVE": str(archive),
            "OPEDS_SOURCES": str(sources),
            "OPEDS_STATE_DIR": str(home / "opeds-state"),
            "OPEDS_CRAWL_DELAY": "0.05",
            # the crawl reaches the demo outlets through the loopback proxy; Airflow's own calls
            # to its API on 127.0.0.1 must not go through it
            "http_proxy": proxy_url,
            "https_proxy": proxy_url,
            "no_proxy": "127.0.0.1,localhost",
            "NO_PROXY": "127.0.0.1,localhost",
            # standalone starts its components as `airflow ...` from PATH
            "PATH": path,
        }
    )
    return env


def prepare(airflow: str, env: Mapping[str, str]) -> None:
    """The metadata database and the ``crawl`` pool, before the components start."""
    for args in (("db", "migrate"), ("pools", "set", "crawl", "2", "opeds crawls")):
        done = subprocess.run(
            [airflow, *args], env=dict(env), capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            tail = " | ".join(done.stderr.strip().splitlines()[-3:])
            raise ConfigError(f"airflow {' '.join(args)} failed: {tail}")


def run_airflow_demo(
    *, home: Path, archive: Path, port: int, night: date, say: Callable[[str], None] = print
) -> int:
    """Serve the demo outlets and run ``airflow standalone`` until interrupted; its exit code."""
    from opeds.demo import build_site
    from opeds.testing.web import LoopbackWeb

    if not DAGS.is_dir():
        raise ConfigError(
            f"{DAGS} not found: `opeds demo --airflow` runs from a clone of the repository "
            "(pip install -e .), whose dags/ folder Airflow reads"
        )
    airflow = airflow_command()
    home.mkdir(parents=True, exist_ok=True)
    log = home / "standalone.log"
    with LoopbackWeb(build_site(night)) as web:
        env = airflow_demo_env(home=home, port=port, archive=archive, proxy_url=web.proxy_url)
        say(f"Demo outlets served on {web.proxy_url}; preparing Airflow in {home} ...")
        prepare(airflow, env)
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [airflow, "standalone"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        say(
            f"Airflow: http://127.0.0.1:{port}/  (user admin; password in "
            f"{home / 'simple_auth_manager_passwords.json.generated'} once it has started)\n"
            f"Unpause and trigger opeds_nightly there; the archive is {archive}. "
            f"Airflow's log: {log}. Ctrl-C stops everything."
        )
        previous = signal.signal(signal.SIGTERM, lambda *_: _raise_interrupt())
        try:
            return proc.wait()
        except KeyboardInterrupt:
            return _stop(proc)
        finally:
            signal.signal(signal.SIGTERM, previous)
            if proc.poll() is None:
                _stop(proc)


def _raise_interrupt() -> None:
    raise KeyboardInterrupt


def _stop(proc: subprocess.Popen[bytes]) -> int:
    """Stop standalone and every component it started (its process group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait()
