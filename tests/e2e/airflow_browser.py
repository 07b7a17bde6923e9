"""The nightly DAG as an operator sees it: Airflow standalone, a run, its grid in Chromium.

1. Serves the demo outlets and two larger ones (33 article pages, some over 300 KB) on
   127.0.0.1 (:class:`opeds.testing.web.LoopbackWeb`, used as a proxy).
2. Starts ``airflow standalone`` bound to 127.0.0.1 on a free port, with a temporary
   ``AIRFLOW_HOME`` (SQLite, LocalExecutor) and the project's ``dags/`` folder, and waits until
   ``/api/v2/monitor/health`` reports every component healthy.
3. Logs in through the simple auth manager's token endpoint (``POST /auth/token``) with the
   ``admin`` password that standalone generates into
   ``$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated``, creates the ``crawl`` pool,
   unpauses ``opeds_nightly`` and triggers it with Params through ``/api/v2``.
4. Waits for the run to succeed, then logs in through the login form in headless Chromium
   (Selenium + chromedriver), opens the run in the DAG's grid view, saves a screenshot to
   ``tests/e2e/artifacts/`` and checks the page shows the run as successful.
5. Checks what an operator relies on: every article page captured gave its article (extraction
   ran in worker processes under the task runner), the mapped crawls are named by source, the
   crawl's INFO lines are INFO in the task log, and the report's lines come before the task's
   "Post Execute" group.

Run it directly (``.venv/bin/python -m tests.e2e.airflow_browser``, ``--keep`` leaves the temporary
folders for inspection) or through pytest: ``pytest -m browser tests/test_dags.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DAG_ID = "opeds_nightly"
NIGHT = "2026-07-01"
BULK = {"bulk-a": ("http://bulk-a.example", 17), "bulk-b": ("http://bulk-b.example", 16)}
"""Two more outlets, 33 article pages between them, every fourth one over 300 KB: a night
large enough that extraction runs in worker processes of the task."""
PARAMS: dict[str, Any] = {
    "night": NIGHT,
    "sources": ["levant-review", "asharq-al-awsat", *BULK],
    "max_pages": 40,
}
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1000",
)


class BrowserCheckFailed(Exception):
    """The check did not see what it expected; the message says what and where to look."""


def missing_browser() -> str | None:
    """Why the browser check cannot run here, or None."""
    for p in (CHROMIUM, CHROMEDRIVER):
        if not p.exists():
            return f"{p} is missing (apt-get install -y chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the REST API -------------------------------------------------------------------------------
@dataclass
class Api:
    base: str
    token: str = ""

    def call(self, method: str, path: str, body: Any = None, *, ok: tuple[int, ...] = ()) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=30) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            if e.code in ok:
                return None
            detail = e.read().decode("utf-8", "replace")[:500]
            raise BrowserCheckFailed(f"{method} {path}: HTTP {e.code}: {detail}") from None
        return json.loads(raw) if raw else None

    def login(self, username: str, password: str) -> None:
        """A JWT from the simple auth manager's token endpoint."""
        answer = self.call("POST", "/auth/token", {"username": username, "password": password})
        self.token = answer["access_token"]


def admin_password(home: Path, timeout: float = 120) -> str:
    """The password standalone generated for ``admin`` (simple auth manager)."""
    path = home / "simple_auth_manager_passwords.json.generated"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return str(json.loads(path.read_text())["admin"])
        except (FileNotFoundError, ValueError, KeyError):
            time.sleep(0.5)
    raise BrowserCheckFailed(f"standalone did not write the admin password to {path}")


def wait_healthy(api: Api, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BrowserCheckFailed(f"airflow standalone exited ({proc.returncode}); see {log}")
        try:
            last = api.call("GET", "/api/v2/monitor/health")
            parts = ("metadatabase", "scheduler", "dag_processor", "triggerer")
            if all((last.get(p) or {}).get("status") == "healthy" for p in parts):
                return
        except (OSError, BrowserCheckFailed):
            pass
        time.sleep(1)
    raise BrowserCheckFailed(f"Airflow not healthy after {timeout:.0f} s: {last}; see {log}")


def wait_for(what: str, probe: Any, timeout: float, every: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise BrowserCheckFailed(f"timed out after {timeout:.0f} s waiting for {what}")


def trigger_night(api: Api) -> str:
    """Create the pool, unpause the DAG, trigger it with Params; the run id."""
    pool = {"name": "crawl", "slots": 2, "description": "opeds crawls", "include_deferred": False}
    if api.call("POST", "/api/v2/pools", pool, ok=(409,)) is None:
        api.call("PATCH", "/api/v2/pools/crawl", pool)
    wait_for(
        f"the DAG processor to register {DAG_ID}",
        lambda: api.call("GET", f"/api/v2/dags/{DAG_ID}", ok=(404,)),
        timeout=180,
    )
    api.call("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})
    run = api.call("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": PARAMS})
    return str(run["dag_run_id"])


def wait_for_run(api: Api, run_id: str, timeout: float) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        run: dict[str, Any] = api.call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")
        return run if run["state"] in ("success", "failed") else None

    run = wait_for(f"run {run_id} to finish", finished, timeout, every=3)
    if run["state"] != "success":
        tis = api.call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")
        states = {f"{t['task_id']}[{t['map_index']}]": t["state"] for t in tis["task_instances"]}
        raise BrowserCheckFailed(f"run {run_id} ended {run['state']}: {states}")
    return dict(run)


# -- the browser --------------------------------------------------------------------------------
def screenshot_of_run(base: str, password: str, run_id: str, profile: Path) -> tuple[Path, str]:
    """Log in through the form, open the run in the grid, screenshot it; (file, page text)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        wait = WebDriverWait(driver, 60)
        driver.get(f"{base}/auth/login")
        wait.until(ec.presence_of_element_located((By.NAME, "username"))).send_keys("admin")
        driver.find_element(By.NAME, "password").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(lambda d: "/auth/login" not in d.current_url)
        driver.get(f"{base}/dags/{DAG_ID}/runs/{run_id}")
        wait.until(ec.presence_of_element_located((By.XPATH, f"//*[contains(., '{run_id}')]")))
        wait.until(lambda d: "success" in d.find_element(By.TAG_NAME, "body").text.lower())
        time.sleep(2)  # let the grid finish drawing before the picture
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / f"{DAG_ID}-grid.png"
        driver.save_screenshot(str(shot))
        text = driver.find_element(By.TAG_NAME, "body").text
    finally:
        driver.quit()
    return shot, text


# -- the whole check ----------------------------------------------------------------------------
@contextmanager
def standalone(home: Path, env: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    airflow = str(Path(sys.executable).with_name("airflow"))
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [airflow, "standalone"],
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped as a whole below
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def airflow_env(home: Path, port: int, archive: Path, proxy: str, sources: Path) -> dict[str, str]:
    """What ``opeds demo --airflow`` gives standalone, with this check's outlets."""
    from opeds.airflow.demo import airflow_demo_env

    env = airflow_demo_env(home=home, port=port, archive=archive, proxy_url=proxy, sources=sources)
    env.update(
        {
            # a schedule whose last firing (2024-02-29) is before the DAG's start date: unpausing
            # the DAG then creates no scheduled run, so only the triggered run runs
            "OPEDS_NIGHTLY_SCHEDULE": "0 2 29 2 *",
            "OPEDS_CRAWL_DELAY": "0",
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
        }
    )
    return env


def task_log(api: Api, run_id: str, task_id: str, map_index: int = -1) -> list[dict[str, Any]]:
    """The structured log events of a task's first try."""
    path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/logs/1"
    answer = api.call("GET", f"{path}?map_index={map_index}&full_content=true")
    content = answer.get("content") if isinstance(answer, dict) else None
    return [e for e in content or [] if isinstance(e, dict)]


def check_operator_view(api: Api, run_id: str) -> dict[str, Any]:
    """Mapped crawls named by source; crawl INFO as INFO; report lines before Post Execute."""
    tis = api.call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")
    crawls = [t for t in tis["task_instances"] if t["task_id"] == "crawl"]
    names = sorted(t.get("rendered_map_index") or str(t["map_index"]) for t in crawls)
    if names != sorted(PARAMS["sources"]):
        raise BrowserCheckFailed(f"mapped crawls are shown as {names}, not by source")
    events = task_log(api, run_id, "crawl", crawls[0]["map_index"])
    scrapy_lines = [e for e in events if "[scrapy" in str(e.get("event", ""))]
    wrong = [e for e in scrapy_lines if "INFO" in str(e["event"]) and e.get("level") != "info"]
    if not scrapy_lines or wrong:
        raise BrowserCheckFailed(f"crawl log lines at the wrong level: {wrong[:3] or events[:5]}")
    report = [str(e.get("event", "")) for e in task_log(api, run_id, "report")]
    post = next((i for i, e in enumerate(report) if "Post Execute" in e), len(report))
    sources = [i for i, e in enumerate(report) if e.strip().startswith(tuple(PARAMS["sources"]))]
    if len(sources) != len(PARAMS["sources"]) or max(sources) > post:
        raise BrowserCheckFailed(f"the report's source lines are not before Post Execute: {report}")
    return {"crawls": names, "report_lines": [report[i] for i in sources]}


def write_sources(work: Path) -> Path:
    from tests.sitekit import bulk_outlet_sources

    demo = (ROOT / "opeds" / "demo" / "sources.toml").read_text()
    bulk = "".join(bulk_outlet_sources(host, name) for name, (host, _) in BULK.items())
    path = work / "sources.toml"
    path.write_text(demo + "\n" + bulk)
    return path


def run_check(work: Path, *, timeout: float = 900, with_browser: bool = True) -> dict[str, Any]:
    """The whole check in ``work``; what it saw (run, screenshot path, counts). Without
    ``with_browser`` everything but the look at the grid in Chromium."""
    from opeds.demo import build_site
    from opeds.night import report_key
    from opeds.testing.web import LoopbackWeb
    from tests.sitekit import bulk_outlet

    home = work / "airflow-home"
    home.mkdir(parents=True, exist_ok=True)
    archive = work / "archive"
    log = work / "standalone.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    pages = build_site(date.fromisoformat(NIGHT))
    for host, n in BULK.values():
        pages.update(bulk_outlet(host, n))
    sources = write_sources(work)
    with LoopbackWeb(pages) as web:
        env = airflow_env(home, port, archive, web.proxy_url, sources)
        with standalone(home, env, log) as proc:
            api = Api(base)
            wait_healthy(api, proc, log, timeout=300)
            password = admin_password(home)
            api.login("admin", password)
            run_id = trigger_night(api)
            run = wait_for_run(api, run_id, timeout=timeout)
            seen = check_operator_view(api, run_id)
            shot: Path | None = None
            text = ""
            if with_browser:
                shot, text = screenshot_of_run(base, password, run_id, work / "chromium-profile")
    key = report_key(NIGHT)
    report = json.loads((archive / key).read_text())
    ex = report["extraction"]
    bulk_pages = sum(n for _, n in BULK.values())
    if (
        report["failed_sources"]
        or set(report["sources"]) != set(PARAMS["sources"])
        or ex["pages"] < bulk_pages
        or ex["articles"] + ex["unchanged"] != ex["pages"]
        or ex["pending"] != 0
        or ex["failed"] != 0
    ):
        raise BrowserCheckFailed(f"unexpected night report {key}: {report}")
    if shot is not None and ("success" not in text.lower() or run_id not in text):
        raise BrowserCheckFailed(f"the run page does not show {run_id} as a success; see {shot}")
    return {
        "run_id": run_id,
        "state": run["state"],
        "screenshot": str(shot) if shot else None,
        "report": key,
        "pages": ex["pages"],
        "articles": ex["articles"],
        "unchanged": ex["unchanged"],
        **seen,
        "seconds": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folders.")
    parser.add_argument("--timeout", type=float, default=900, help="Seconds to wait for the run.")
    args = parser.parse_args(argv)
    why = missing_browser()
    if why:
        print(f"cannot run the browser check: {why}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="opeds-airflow-browser-"))
    try:
        seen = run_check(work, timeout=args.timeout)
    except BrowserCheckFailed as e:
        print(f"FAILED: {e}\n(work folder kept: {work})", file=sys.stderr)
        return 1
    print(json.dumps(seen, indent=2))
    if args.keep:
        print(f"work folder: {work}", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
