"""What the Airflow DAGs need besides one library call per task.

The DAG files (``dags/``) stay thin: each task imports this module lazily and calls
:mod:`opeds.night`. Here is the glue that only Airflow needs:

* the run's inputs (:class:`NightRun`): the night's date from the run (never the clock), Params;
* settings (:func:`resolve_settings`): Airflow Variables, then ``OPEDS_*`` environment variables,
  then defaults; S3 credentials from the Airflow connection ``opeds_s3`` (:class:`S3Access`)
  handed to boto3 through the task's environment, never logged, never in XCom;
* what travels through XCom: keys and counts (:func:`crawl_summary`, :func:`extract_counts`,
  :func:`sealed_files`), and the night report rebuilt from them (:func:`night_report`);
* keeping re-runs idempotent: a completed crawl of a source is remembered for the night
  (:func:`save_completed_crawl`), and the unfinished output of a failed try is recovered before
  anything is sealed: complete records kept, the rest dropped (:func:`recover_unfinished`).

Airflow itself is imported inside the few functions that talk to it, so everything else here is
plain Python that tests call directly.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from opeds.errors import ConfigError, OpedsError
from opeds.settings import Settings

if TYPE_CHECKING:
    from opeds.crawler.capture.process import CrawlResult
    from opeds.crawler.sources.config import SourcesFile
    from opeds.night import ExtractStats, SealedFile

logger = logging.getLogger(__name__)
task_log = logging.getLogger("opeds.task")
"""What a task says to its operator: INFO lines of the task's own log (not stdout, which the
task runner may show only after the task)."""

ARCHIVE_ENV = "OPEDS_ARCHIVE"
CATALOG_ENV = "OPEDS_CATALOG_URL"
SOURCES_ENV = "OPEDS_SOURCES"
S3_CONN_ID = "opeds_s3"
CRAWL_POOL = "crawl"
"""The Airflow pool of the crawl tasks: its slots are how many sources are crawled at once."""
VARIABLES = {
    "archive": "opeds_archive",
    "catalog_url": "opeds_catalog_url",
    "sources": "opeds_sources",
}
"""Airflow Variables that override the environment, by setting."""
DEFAULT_SOURCES = Path(__file__).resolve().parents[2] / "sources.toml"
"""The production sources file shipped at the root of the project."""
DRY_RUN_ROOT = "opeds-dry-runs"
"""Folder under the system temp dir that holds the scratch archives of dry runs."""

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class SourceCrawlFailed(OpedsError):
    """One source's crawl produced nothing usable; the other sources are not affected."""


class NightIncomplete(OpedsError):
    """The night was archived, but a source failed or article pages are pending (the report
    names them)."""


class FixityFailed(OpedsError):
    """Stored objects no longer match the nights' manifests."""


# -- the run's inputs ---------------------------------------------------------------------------
def night_of(
    override: str | None,
    logical_date: datetime | None,
    data_interval_start: datetime | None = None,
    run_after: datetime | None = None,
) -> str:
    """The night a run archives: the ``night`` Param, else the run's logical date.

    Manual runs without a logical date fall back to the data interval start, then to the time the
    run was due (``run_after``): the answer depends on the run only, so a re-run of the same run
    archives the same night. Dates are taken in UTC.
    """
    if override:
        try:
            return date.fromisoformat(str(override)).isoformat()
        except ValueError:
            raise ConfigError(f"night {override!r} is not a date (YYYY-MM-DD)") from None
    for when in (logical_date, data_interval_start, run_after):
        if when is not None:
            return _utc_date(when).isoformat()
    raise ConfigError("the run has no logical date: give the night as the 'night' Param")


def _utc_date(when: datetime) -> date:
    from datetime import UTC

    return (when.astimezone(UTC) if when.tzinfo else when).date()


@dataclass(frozen=True)
class NightRun:
    """A DAG run of ``opeds_nightly``, as the tasks need it."""

    night: str
    run_key: str
    """``<dag_id>/<run_id>`` made safe for a path: names the scratch archive of a dry run."""
    source_names: tuple[str, ...] = ()
    dry_run: bool = False
    max_pages: int | None = None
    recrawl: bool = False

    @classmethod
    def from_params(
        cls,
        params: Mapping[str, Any],
        *,
        dag_id: str,
        run_id: str,
        logical_date: datetime | None,
        data_interval_start: datetime | None = None,
        run_after: datetime | None = None,
    ) -> NightRun:
        names = params.get("sources") or ()
        if isinstance(names, str):
            names = [n for n in re.split(r"[\s,]+", names) if n]
        max_pages = params.get("max_pages")
        if max_pages is not None:
            max_pages = int(max_pages)
            if max_pages < 0:
                raise ConfigError(f"max_pages must be 0 (no limit) or more, got {max_pages}")
        return cls(
            night=night_of(params.get("night"), logical_date, data_interval_start, run_after),
            run_key=f"{_SAFE.sub('_', dag_id)}/{_SAFE.sub('_', run_id)}",
            source_names=tuple(str(n) for n in names),
            dry_run=bool(params.get("dry_run", False)),
            max_pages=max_pages,
            recrawl=bool(params.get("recrawl", False)),
        )

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> NightRun:
        """From an Airflow task context (``get_current_context()``)."""
        dag_run = context["dag_run"]
        return cls.from_params(
            context.get("params") or {},
            dag_id=str(dag_run.dag_id),
            run_id=str(dag_run.run_id),
            logical_date=context.get("logical_date") or getattr(dag_run, "logical_date", None),
            data_interval_start=context.get("data_interval_start"),
            run_after=getattr(dag_run, "run_after", None),
        )

    @property
    def scratch(self) -> Path:
        """The scratch folder of a dry run (archive, catalog and state inside)."""
        return Path(tempfile.gettempdir()) / DRY_RUN_ROOT / self.run_key


# -- settings -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class S3Access:
    """S3 credentials and endpoint from the Airflow connection ``opeds_s3``.

    Amazon provider conventions: login is the access key id, password the secret access key,
    extras ``endpoint_url`` and ``region_name``. The secret never appears in ``repr``.
    """

    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    endpoint_url: str | None = None
    region: str | None = None

    @classmethod
    def from_connection(
        cls, login: str | None, password: str | None, extra: Mapping[str, Any]
    ) -> S3Access:
        endpoint = extra.get("endpoint_url") or extra.get("host")
        return cls(
            access_key_id=login or extra.get("aws_access_key_id") or None,
            secret_access_key=password or extra.get("aws_secret_access_key") or None,
            session_token=extra.get("aws_session_token") or None,
            endpoint_url=str(endpoint) if endpoint else None,
            region=str(extra["region_name"]) if extra.get("region_name") else None,
        )

    def environment(self) -> dict[str, str]:
        """The standard AWS variables boto3 reads (only those the connection sets)."""
        env = {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }
        return {k: v for k, v in env.items() if v}


def sources_path(variables: Mapping[str, str | None], env: Mapping[str, str]) -> Path:
    """The sources file: Variable ``opeds_sources``, ``OPEDS_SOURCES``, then the packaged one."""
    raw = variables.get("sources") or env.get(SOURCES_ENV)
    return Path(raw).expanduser() if raw else DEFAULT_SOURCES


def resolve_settings(
    *,
    env: Mapping[str, str],
    variables: Mapping[str, str | None],
    s3: S3Access | None = None,
    dry_run_root: Path | None = None,
    max_pages: int | None = None,
) -> Settings:
    """Settings for a task: Variables over ``OPEDS_*`` variables over defaults.

    With ``dry_run_root`` the archive, its catalog and the state folder all live there, whatever
    the configuration says, so a dry run stores nothing where real nights go.
    """
    s = Settings.from_env(
        env,
        archive=variables.get("archive") or None,
        catalog_url=variables.get("catalog_url") or None,
        max_pages_per_source=max_pages,
    )
    if s3 is not None:
        s = s.replace(
            s3_endpoint_url=s.s3_endpoint_url or s3.endpoint_url,
            s3_region=s.s3_region or s3.region,
        )
    if dry_run_root is not None:
        s = replace(
            s,
            archive=str(dry_run_root / "archive"),
            catalog_url=None,
            state_dir=str(dry_run_root / "state"),
            object_lock_mode=None,
            object_lock_days=0,
        )
    return s


def redacted_url(url: str) -> str:
    """A database URL with its password hidden, for logs."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def airflow_variables() -> dict[str, str | None]:
    """The ``opeds_*`` Airflow Variables that are set (only callable inside a task)."""
    from airflow.sdk import Variable

    return {name: Variable.get(key, default=None) for name, key in VARIABLES.items()}


def airflow_s3_access(conn_id: str = S3_CONN_ID) -> S3Access | None:
    """Credentials from the Airflow connection, or None when it is not defined."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException
    from airflow.sdk.log import mask_secret

    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException:
        return None
    access = S3Access.from_connection(conn.login, conn.password, conn.extra_dejson or {})
    for secret in (access.secret_access_key, access.session_token):
        if secret:
            mask_secret(secret)
    return access


@contextmanager
def aws_environment(access: S3Access | None) -> Iterator[None]:
    """Put the connection's credentials where boto3 finds them, for the ``with`` block only."""
    values = access.environment() if access else {}
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, old in saved.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old


@dataclass(frozen=True)
class TaskSetup:
    """What a task of a night works with."""

    run: NightRun
    settings: Settings
    sources_path: Path

    @property
    def night(self) -> str:
        return self.run.night


@contextmanager
def night_task(context: Mapping[str, Any] | None = None) -> Iterator[TaskSetup]:
    """Inside an Airflow task: the run, its settings, and S3 credentials in the environment."""
    if context is None:
        from airflow.sdk import get_current_context

        context = get_current_context()
    run = NightRun.from_context(context)
    variables = airflow_variables()
    access = airflow_s3_access()
    settings = resolve_settings(
        env=os.environ,
        variables=variables,
        s3=access,
        dry_run_root=run.scratch if run.dry_run else None,
        max_pages=run.max_pages,
    )
    path = sources_path(variables, os.environ)
    with aws_environment(access):
        yield TaskSetup(run, settings, path)


@contextmanager
def archive_task() -> Iterator[Settings]:
    """Inside an Airflow task that works on the whole archive (no night): its settings."""
    access = airflow_s3_access()
    settings = resolve_settings(env=os.environ, variables=airflow_variables(), s3=access)
    with aws_environment(access):
        yield settings


def describe(settings: Settings, run: NightRun | None = None) -> str:
    """One log line about where a task works (no credentials)."""
    where = f"archive {settings.archive}, catalog {redacted_url(settings.effective_catalog_url)}"
    if run is None:
        return where
    mode = "DRY RUN (scratch archive, nothing stored in the real one)" if run.dry_run else "night"
    return f"{mode} {run.night}: {where}"


# -- sources ------------------------------------------------------------------------------------
def load_sources_file(path: Path) -> SourcesFile:
    """The sources file, with an error that says how to point the DAG at it."""
    from opeds.crawler.sources.config import load_sources

    if not path.is_file():
        raise ConfigError(
            f"{path}: sources file not found; set {SOURCES_ENV} (or the Airflow Variable "
            f"{VARIABLES['sources']}) to the sources TOML the DAG should crawl"
        )
    return load_sources(path)


# -- crawl results ----------------------------------------------------------------------------
def crawl_source(
    settings: Settings,
    night: str,
    source: Mapping[str, Any],
    sources_sha256: str,
    recrawl: bool = False,
) -> dict[str, Any]:
    """Crawl one source for the night and return its summary (``error`` set when it failed).

    A source whose crawl of this night already completed (the catalog says so, whichever
    machine ran it) is not crawled again unless ``recrawl``: its summary is returned. Before
    crawling, what a failed earlier try left half-written for the source is recovered.
    """
    from opeds.crawler.capture.process import CrawlError
    from opeds.crawler.sources.config import Source
    from opeds.night import catalog_for, crawl_night, crawl_summary, source_error

    name = str(source["name"])
    if not recrawl:
        with catalog_for(settings) as cat:
            done = cat.completed_crawl(night, name)
        if done is not None:
            task_log.info("%s: already crawled for night %s; not crawling again", name, night)
            return {k: v for k, v in done.items() if k not in ("started", "finished", "completed")}
    result: CrawlResult | None
    try:
        result = crawl_night(
            settings, [Source.from_dict(dict(source))], night, sources_sha256=sources_sha256
        )
        error = source_error(result, name)
    except CrawlError as e:
        result, error = None, str(e)
    return crawl_summary(name, result, error)


def archived_counts(settings: Settings, night: str) -> dict[str, dict[str, int]]:
    """:func:`opeds.night.archived_counts`, imported when a task runs (not at DAG parse)."""
    from opeds.night import archived_counts as counts

    return counts(settings, night)


def extraction_summary(settings: Settings, night: str) -> dict[str, Any]:
    """:func:`opeds.night.extraction_summary`, imported when a task runs (not at DAG parse)."""
    from opeds.night import extraction_summary as summary

    return summary(settings, night)


def recover_unfinished(settings: Settings, night: str, source: str | None = None) -> Any:
    """:func:`opeds.night.recover_unfinished`, imported when a task runs (not at DAG parse)."""
    from opeds.night import recover_unfinished as recover

    return recover(settings, night, source)


# -- later steps --------------------------------------------------------------------------------
def cluster_counts(result: Any) -> dict[str, int]:
    return {
        k: int(getattr(result, k, 0) or 0) for k in ("new_works", "joined_existing", "singletons")
    }


def extract_counts(stats: ExtractStats, cluster: Any) -> dict[str, Any]:
    """What XCom carries from extraction and clustering: this run's counts (the night's own
    come from the catalog when the report is written)."""
    return {
        "new_articles": stats.new_articles,
        "caught_up": stats.caught_up,
        "unchanged": stats.unchanged,
        "failed": list(stats.failed[:20]),
        "failed_total": stats.failed_total,
        "given_up": stats.given_up,
        "pending": stats.pending,
        "works": cluster_counts(cluster),
    }


def stored_files(settings: Settings, night: str) -> list[dict[str, Any]]:
    """The night's stored files, as the catalog lists them (whichever try stored them)."""
    from opeds.night import catalog_for

    with catalog_for(settings) as cat:
        return [
            {"key": f["key"], "size": f["size"], "sha256": f["sha256"], "records": f["records"]}
            for f in cat.warc_files_for_night(night)
            if f["stored"]
        ]


def sealed_files(sealed: Sequence[SealedFile]) -> list[dict[str, Any]]:
    return [
        {"key": f.key, "size": f.size, "sha256": f.sha256, "records": f.records} for f in sealed
    ]


def keys_only(value: Any) -> Any:
    """A step's result reduced to JSON with keys, counts and names (for XCom)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): keys_only(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [keys_only(v) for v in value]
    key = getattr(value, "key", None)
    if isinstance(key, str):
        return key
    return str(value)


def night_report(
    settings: Settings,
    night: str,
    selected: Sequence[str],
    extract: Mapping[str, Any] | None,
    *,
    dry_run: bool = False,
) -> dict[str, Any]:
    """The night report (:func:`opeds.night.build_report`) from the catalog: every crawl try of
    the night (whichever run, task or worker made it), what is archived and stored, what became
    of the article pages; ``extract`` is the extraction task's XCom (None when it failed).

    A source of ``selected`` with no crawl recorded failed before reporting (its task was
    killed, or never ran).
    """
    from opeds.night import (
        SealedFile,
        archived_counts,
        build_report,
        crawl_runs,
        extraction_summary,
    )

    cluster = SimpleNamespace(**(extract.get("works") or {})) if extract is not None else None
    files = [
        SealedFile(str(f["key"]), int(f["size"]), str(f["sha256"]), int(f["records"]))
        for f in stored_files(settings, night)
    ]
    summary = extraction_summary(settings, night)
    if extract is not None:
        summary["run"] = {k: v for k, v in extract.items() if k != "works"}
    report = build_report(
        night,
        crawl_runs(settings, night),
        cluster,
        files,
        archived_counts(settings, night),
        summary,
        expected=selected,
    )
    if dry_run:
        report["dry_run"] = True
    return report


def report_lines(report: Mapping[str, Any], key: str) -> list[str]:
    """The night report in a few log lines (the full JSON is stored at ``key``)."""
    lines = [f"night {report['night']}: report stored at {key}"]
    for name, s in sorted(report.get("sources", {}).items()):
        state = f"FAILED: {s['crawl_failed']}" if s.get("crawl_failed") else "ok"
        tries = len(s.get("tries", []))
        lines.append(
            f"  {name}: {state}; {tries} crawl tr{'y' if tries == 1 else 'ies'}, "
            f"fetched {s.get('fetched', 0)}, failed pages {s.get('failed', 0)}, "
            f"new articles {s.get('new_articles', 0)}, records {s.get('records', 0)}"
        )
    ex = report.get("extraction", {})
    lines.append(
        f"  article pages: {ex.get('pages', 0)} captured, {ex.get('articles', 0)} extracted, "
        f"{ex.get('unchanged', 0)} unchanged, {ex.get('pending', 0)} pending, "
        f"{ex.get('failed', 0)} failed"
    )
    for f in ex.get("failures", [])[:5]:
        lines.append(f"    {f.get('state')}: {f.get('url')}: {f.get('reason')}")
    works = report.get("works", {})
    if works:
        lines.append(
            f"  works: {works.get('new_works', 0)} new, "
            f"{works.get('joined_existing', 0)} joined existing"
        )
    lines.append(f"  files: {len(report.get('files', []))}, {report.get('bytes_written', 0)} bytes")
    return lines


def night_failure_message(report: Mapping[str, Any], key: str) -> str | None:
    """The failure to raise after the report is stored, or None when every source worked and
    every article page captured gave its article."""
    problems = []
    failed: Mapping[str, str] = report.get("failed_sources") or {}
    if failed:
        names = "; ".join(f"{n}: {why}" for n, why in sorted(failed.items()))
        problems.append(
            f"{len(failed)} source(s) failed ({names}); the other sources were archived"
        )
    pending = int(report.get("pending") or 0)
    if pending:
        problems.append(
            f"{pending} article page(s) captured but not extracted; they stay pending and the "
            "next run of extract_and_cluster (a clear, or the next night) extracts them"
        )
    if not problems:
        return None
    return f"night {report['night']}: {'. '.join(problems)}. The night report is at {key}."


def fixity_nights(
    store: Any, nights: Sequence[str], last_days: int, context: Mapping[str, Any]
) -> list[str] | None:
    """The nights a fixity run checks: those named, the last ``last_days``, or None for all.

    ``last_days`` counts back from the run's date (logical date, else when it was due), so a
    re-run checks the same nights.
    """
    if nights:
        return [night_of(n, None) for n in nights]
    if last_days <= 0:
        return None
    from datetime import timedelta

    from opeds.storage.stores.manifest import list_manifests

    dag_run = context.get("dag_run")
    until = date.fromisoformat(
        night_of(
            None,
            context.get("logical_date"),
            context.get("data_interval_start"),
            getattr(dag_run, "run_after", None),
        )
    )
    since = until - timedelta(days=last_days)
    return [n for n in list_manifests(store) if since <= date.fromisoformat(n) <= until]


def fixity_message(report: Any) -> str | None:
    """The failure naming each bad object, or None when the archive checked out."""
    if report.ok:
        return None
    return "\n".join(report.lines())
