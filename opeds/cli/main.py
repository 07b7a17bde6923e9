"""The ``opeds`` command line: thin wrappers over the library (:mod:`opeds.night` and friends).

User errors (bad config, unknown work, unreachable store) exit non-zero with one clear line.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from opeds import __version__
from opeds.cli.common import (
    archive_option,
    echo_progress,
    human_size,
    make_settings,
    parse_night,
    program_name,
    user_errors,
)
from opeds.cli.retrieval import export, get, search
from opeds.errors import OpedsError
from opeds.settings import DEFAULT_ARCHIVE, Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="opeds")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details to stderr.")
def main(verbose: bool) -> None:
    """opeds: archive syndicated op-eds every night, faithfully, and find every copy of a work."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


# -- nights -------------------------------------------------------------------------------------
def print_summary(outcome: Any, settings: Settings, as_json: bool) -> None:
    from opeds.night import catalog_for

    report = outcome.report
    with catalog_for(settings) as cat:
        from opeds.works.listing import list_works

        works = list(list_works(cat))
    if as_json:
        click.echo(
            json.dumps(
                {**report, "report_key": outcome.report_key, "works_total": len(works)}, default=str
            )
        )
        return
    fetched = sum(s["fetched"] for s in report["sources"].values())
    records = sum(s["records"] for s in report["sources"].values())
    failed = sum(s["failed"] for s in report["sources"].values())
    multi = [w for w in works if len(w["members"]) > 1]
    ex = report["extraction"]
    click.echo(f"\nNight {report['night']} archived to {settings.archive}")
    click.echo(f"  pages fetched:   {fetched} ({failed} failed)")
    click.echo(f"  records written: {records} request/response/revisit + {ex['articles']} metadata")
    click.echo(
        f"  articles:        {ex['articles']} from {ex['pages']} article page(s) captured"
        f" ({ex['unchanged']} unchanged, {ex['pending']} pending, {ex['failed']} failed)"
    )
    click.echo(
        f"  works:           {len(works)} in the catalog, {len(multi)} with copies "
        "on several outlets"
    )
    for w in multi[:10]:
        title = str(w["title"] or "(untitled)")
        title = title if len(title) <= 60 else title[:59] + "…"
        click.echo(
            f"    {w['work']}  {title}  ({len(w['members'])} copies, original {w['original']})"
        )
    click.echo("  files:")
    for f in report["files"]:
        click.echo(f"    {f['key']}  {human_size(f['size'])}  sha256 {f['sha256']}")
    click.echo(f"  report: {outcome.report_key}")
    arch = "" if settings.archive == DEFAULT_ARCHIVE else f" --archive {settings.archive}"
    prog = program_name()
    click.echo("\nLook further:")
    click.echo(f"  {prog} works{arch}              # every work, original and copies")
    if multi:
        click.echo(f"  {prog} show {multi[0]['work']}{arch}")
    click.echo(f"  {prog} replay{arch}             # browse the archive in pywb")
    click.echo(f"  {prog} verify --all{arch}       # re-check every stored file")


@main.command()
@click.option(
    "--sources",
    "sources_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Sources file (TOML, [[source]] tables).",
)
@archive_option
@click.option("--night", help="The night's date, YYYY-MM-DD (default: today, UTC).")
@click.option(
    "--source",
    "source_names",
    multiple=True,
    help="Crawl only this source (repeatable). Default: all enabled sources.",
)
@click.option(
    "--max-pages",
    type=click.IntRange(min=0),
    help="At most this many article pages per source (0: no limit; default "
    "OPEDS_MAX_PAGES_PER_SOURCE, else 500).",
)
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False),
    help="Write the crawl log here instead of stderr.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the night report as JSON.")
@user_errors
def crawl(
    sources_path: str,
    archive: str,
    catalog_url: str | None,
    night: str | None,
    source_names: tuple[str, ...],
    max_pages: int | None,
    log_path: str | None,
    as_json: bool,
) -> None:
    """Run one night: crawl the sources, archive every exchange, extract, cluster, store."""
    from opeds.crawler.sources.config import load_sources
    from opeds.night import check_extraction, run_night

    settings = make_settings(archive, catalog_url, max_pages_per_source=max_pages)
    sources_file = load_sources(sources_path)
    night_s = parse_night(night)
    outcome = run_night(
        settings,
        sources_file,
        night_s,
        source_names=source_names or None,
        log_path=Path(log_path) if log_path else None,
        progress=(lambda _m: None) if as_json else echo_progress,
    )
    print_summary(outcome, settings, as_json)
    check_extraction(outcome.extract)  # pages left pending: exit 1, saying how many and why


@main.command()
@archive_option
@click.option("--night", help="The night's date, YYYY-MM-DD (default: today, UTC).")
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False),
    help="Write the crawl log here (default: <archive>/logs/).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the night report as JSON.")
@click.option(
    "--airflow",
    "with_airflow",
    is_flag=True,
    help="Instead of one night here: serve the sample outlets and run `airflow standalone` with "
    "the project's DAGs against them (until Ctrl-C).",
)
@click.option(
    "--airflow-home",
    default="./airflow-home",
    show_default=True,
    type=click.Path(file_okay=False),
    help="With --airflow: Airflow's folder (metadata database, logs, password).",
)
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="With --airflow."
)
@user_errors
def demo(
    archive: str,
    catalog_url: str | None,
    night: str | None,
    log_path: str | None,
    as_json: bool,
    with_airflow: bool,
    airflow_home: str,
    port: int,
) -> None:
    """Run a demo night against built-in sample outlets served on 127.0.0.1 (or, with
    --airflow, Airflow standalone against them)."""
    if with_airflow:
        from opeds.airflow.demo import run_airflow_demo

        code = run_airflow_demo(
            home=Path(airflow_home).resolve(),
            archive=Path(archive).expanduser().resolve(),
            port=port,
            night=date.fromisoformat(parse_night(night)),
            say=lambda m: click.echo(m, err=True),
        )
        sys.exit(code)
    from opeds.crawler.sources.config import load_sources
    from opeds.demo import SOURCES_PATH, build_site
    from opeds.night import check_extraction, run_night
    from opeds.testing.web import LoopbackWeb

    settings = make_settings(archive, catalog_url, crawl_delay=0.05)
    night_s = parse_night(night)
    if settings.is_remote:
        logs = settings.state_path / "logs"
    else:
        logs = settings.archive_path / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_file = Path(log_path) if log_path else logs / f"demo-{night_s}.log"
    # The sample site stays as it was on the archive's first demo night, so later demo nights
    # see unchanged pages (revisits, conditional GETs) as a real outlet's archive would.
    from opeds.night import catalog_for

    with catalog_for(settings) as cat:
        earlier = [n for n in cat.list_nights() if n <= night_s]
    site = build_site(date.fromisoformat(earlier[0] if earlier else night_s))
    with LoopbackWeb(site) as web:
        env = {
            k: v
            for k, v in os.environ.items()
            if k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")
        }
        env["http_proxy"] = env["https_proxy"] = web.proxy_url
        if not as_json:
            click.echo(
                f"Sample outlets served on {web.proxy_url} (as an HTTP proxy); "
                f"crawl log: {log_file}",
                err=True,
            )
        outcome = run_night(
            settings,
            load_sources(SOURCES_PATH),
            night_s,
            env=env,
            log_path=log_file,
            progress=(lambda _m: None) if as_json else echo_progress,
        )
    print_summary(outcome, settings, as_json)
    check_extraction(outcome.extract)  # pages left pending: exit 1, saying how many and why


# -- works --------------------------------------------------------------------------------------
@main.command()
@archive_option
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one work per line.")
@user_errors
def works(archive: str, catalog_url: str | None, as_json: bool) -> None:
    """List works: each op-ed with its original and every archived copy."""
    from opeds.night import catalog_for
    from opeds.works.listing import list_works

    settings = make_settings(archive, catalog_url)
    with catalog_for(settings) as cat:
        for w in list_works(cat):
            if as_json:
                click.echo(json.dumps(w, ensure_ascii=False, default=str))
            else:
                n = len(w["members"])
                click.echo(
                    f"{w['work']}  {n} cop{'y' if n == 1 else 'ies'}  "
                    f"{(w['title'] or '(untitled)')[:70]}"
                )


@main.command()
@click.argument("work")
@archive_option
@click.option("--json", "as_json", is_flag=True, help="Print the work as JSON.")
@user_errors
def show(work: str, archive: str, catalog_url: str | None, as_json: bool) -> None:
    """Show one work: its original, why, and every copy."""
    from opeds.night import catalog_for
    from opeds.works.listing import format_work_text, get_work

    settings = make_settings(archive, catalog_url)
    with catalog_for(settings) as cat:
        w = get_work(cat, work)
    if as_json:
        click.echo(json.dumps(w, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(format_work_text(w))


# -- extraction ---------------------------------------------------------------------------------
@main.command()
@click.argument("file_or_url")
@click.option("--url", help="The page's URL, when FILE_OR_URL is a saved file.")
@click.option("--json", "as_json", is_flag=True, help="Print the fields as JSON.")
@user_errors
def extract(file_or_url: str, url: str | None, as_json: bool) -> None:
    """Extract an article's fields from a saved page or a URL."""
    from opeds.extraction.article import extract_article

    content_type = None
    if file_or_url.startswith(("http://", "https://")):
        import urllib.request

        req = urllib.request.Request(file_or_url, headers={"User-Agent": f"opeds/{__version__}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                data = resp.read()
                content_type = resp.headers.get("Content-Type")
        except OSError as e:
            raise OpedsError(f"{file_or_url}: cannot fetch: {e}") from None
        page_url = url or file_or_url
    else:
        p = Path(file_or_url)
        data = p.read_bytes()
        if p.suffix == ".gz":
            import gzip

            data = gzip.decompress(data)
        page_url = url or p.resolve().as_uri()
    art = extract_article(data, page_url, content_type=content_type)
    fields = art.to_json()
    if as_json:
        click.echo(json.dumps(fields, ensure_ascii=False, indent=2))
        return
    for k, v in fields.items():
        if k != "body":
            click.echo(f"{k}: {v}")
    click.echo("")
    click.echo(fields.get("body") or "")


# -- preservation -------------------------------------------------------------------------------
@main.command()
@archive_option
@click.option("--night", help="Verify one night (YYYY-MM-DD).")
@click.option("--all", "all_nights", is_flag=True, help="Verify every night with a manifest.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@user_errors
def verify(
    archive: str, catalog_url: str | None, night: str | None, all_nights: bool, as_json: bool
) -> None:
    """Re-read stored files and check them against the night manifests (size and SHA-256).

    Exits 1 and names each missing, truncated or altered object.
    """
    from opeds.night import store_for
    from opeds.storage.stores.fixity import verify_archive

    if not night and not all_nights:
        raise click.UsageError("say which: --night YYYY-MM-DD or --all")
    settings = make_settings(archive, catalog_url)
    store = store_for(settings)

    def progress(done: int, total: int, key: str) -> None:
        if not as_json:
            click.echo(f"  [{done}/{total}] {key}", err=True)

    report = verify_archive(store, [parse_night(night)] if night else None, progress=progress)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "nights": list(report.nights),
                    "objects_checked": report.objects_checked,
                    "bytes_read": report.bytes_read,
                    "problems": [str(p) for p in report.problems],
                }
            )
        )
    else:
        for line in report.lines():
            click.echo(line)
    if not report.ok:
        sys.exit(1)


@main.group()
def bucket() -> None:
    """Object storage set-up."""


@bucket.command("create")
@click.argument("uri")
@click.option("--no-object-lock", is_flag=True, help="Create the bucket without Object Lock.")
@user_errors
def bucket_create(uri: str, no_object_lock: bool) -> None:
    """Create the bucket of an s3://bucket/prefix URI, with Object Lock enabled."""
    from opeds.night import store_for
    from opeds.storage.stores.buckets import create_store_bucket
    from opeds.storage.stores.s3 import S3Store

    if not uri.startswith("s3://"):
        raise click.BadParameter("expected s3://bucket[/prefix]")
    store = store_for(make_settings(uri, None))
    assert isinstance(store, S3Store)
    created = create_store_bucket(store, object_lock=not no_object_lock)
    lock = "without" if no_object_lock else "with"
    click.echo(f"{'created' if created else 'exists:'} {uri.split('/')[2]} ({lock} Object Lock)")


# -- replay -------------------------------------------------------------------------------------
@main.command()
@click.option(
    "--archive",
    envvar="OPEDS_ARCHIVE",
    default=DEFAULT_ARCHIVE,
    show_default=True,
    help="A local archive folder.",
)
@click.option("--port", type=int, default=8080, show_default=True, help="Port on 127.0.0.1.")
@user_errors
def replay(archive: str, port: int) -> None:
    """Serve the archive through pywb on 127.0.0.1 (Ctrl-C stops it)."""
    from opeds.storage.access.replay import serve_replay

    if archive.startswith("s3://"):
        raise OpedsError("replay serves a local archive folder; download the night's WACZ for S3")
    path = Path(archive)
    if not (path / "warcs").is_dir():
        raise OpedsError(f"{archive}: no archive here (no warcs/ folder); run 'opeds demo' first")
    click.echo(f"Replaying {path.resolve()} at http://127.0.0.1:{port}/ (collection 'opeds')")
    sys.exit(serve_replay(path, port))


for _command in (search, get, export):
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
