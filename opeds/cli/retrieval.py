"""``opeds search``, ``opeds get`` and ``opeds export``: thin wrappers over
:mod:`opeds.storage.access.retrieval`.

Registered on the main group at the end of :mod:`opeds.cli` (``main.add_command``), which this
module takes its conventions from: import it through :mod:`opeds.cli`, not on its own.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy.engine import make_url

from opeds.cli.common import archive_option, human_size, make_settings, user_errors
from opeds.errors import NotFound
from opeds.settings import Settings
from opeds.storage.catalog.db import Catalog
from opeds.storage.catalog.search import SearchHit

Progress = Callable[[int, int, str], None]


def open_catalog(settings: Settings) -> Catalog:
    """The archive's catalog; a clear error instead of a new empty one when there is none."""
    from opeds.night import catalog_for

    url = make_url(settings.effective_catalog_url)
    local = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if local and not Path(str(url.database)).is_file():
        raise NotFound(
            f"no catalog at {url.database}: is --archive {settings.archive} right? "
            "(`opeds demo` or `opeds crawl` make one)"
        )
    return catalog_for(settings)


def source_label(settings: Settings) -> str:
    return settings.archive if settings.is_remote else str(settings.archive_path.resolve())


@contextmanager
def progress_bar(label: str, enabled: bool) -> Iterator[Progress]:
    """A progress callback drawing a bar on stderr (only on a terminal, and not for --json)."""
    state: dict[str, Any] = {}
    enabled = enabled and sys.stderr.isatty()

    def update(done: int, total: int, what: str) -> None:
        if not enabled:
            return
        bar = state.get("bar")
        if bar is None:
            bar = click.progressbar(length=total, label=label, file=sys.stderr, width=30)
            bar.__enter__()
            state["bar"] = bar
        bar.update(done - state.get("done", 0))
        state["done"] = done

    try:
        yield update
    finally:
        bar = state.get("bar")
        if bar is not None:
            bar.__exit__(None, None, None)


def _output_path(output: str | None, default: str, tmpdir: str) -> tuple[Path, bool]:
    """Where to write: a file, or a temporary file to copy to stdout for ``-o -``."""
    if output == "-":
        return Path(tmpdir) / default, True
    return Path(output or default), False


def _to_stdout(path: Path) -> None:
    with open(path, "rb") as fh:
        shutil.copyfileobj(fh, sys.stdout.buffer)
    sys.stdout.buffer.flush()


# -- search -------------------------------------------------------------------------------------
def _cut(value: str, width: int) -> str:
    return value if len(value) <= width else value[: max(0, width - 1)] + "…"


def format_hits(hits: Sequence[SearchHit], width: int = 120) -> str:
    """Search results as a table: one line per article, its URL and capture time (and, for a
    text search, where the words occur) beneath."""
    if not hits:
        return "no articles found"
    rows = [
        (
            (h.published or "")[:10] or "-",
            h.outlet,
            h.work or "-",
            ", ".join(h.authors) or "-",
            h.title or "(untitled)",
        )
        for h in hits
    ]
    header = ("PUBLISHED", "OUTLET", "WORK", "AUTHORS", "TITLE")
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(4)]
    widths[1] = min(widths[1], 24)
    widths[3] = min(widths[3], 28)
    title_width = max(24, width - sum(widths) - 2 * 4)
    lines = ["  ".join(h.ljust(w) for h, w in zip(header[:4], widths, strict=True)) + "  TITLE"]
    for h, r in zip(hits, rows, strict=True):
        cells = [_cut(v, w).ljust(w) for v, w in zip(r[:4], widths, strict=True)]
        lines.append("  ".join(cells) + "  " + _cut(r[4], title_width))
        lines.append(f"    {h.url}  (captured {h.captured:%Y-%m-%d %H:%M}Z)")
        if h.snippet:
            snippet = " ".join(h.snippet.split())
            lines.append(textwrap.indent(textwrap.fill(snippet, max(40, width - 4)), "    "))
    return "\n".join(lines)


@click.command()
@archive_option
@click.option("--author", help="Any part of an author's name (case does not matter).")
@click.option("--outlet", help="Outlet host or source name, or part of one (e.g. aawsat).")
@click.option(
    "--text",
    "words",
    help='Words in the title or body: all must occur; "a phrase", -excluded, a OR b, prefix*.',
)
@click.option("--since", help="From this date or time on (YYYY-MM-DD, ISO time, or 14 digits).")
@click.option("--until", help="Up to and including this date or time.")
@click.option(
    "--by",
    type=click.Choice(["published", "captured"]),
    default="published",
    show_default=True,
    help="Which date --since/--until look at.",
)
@click.option("--url", help="An article's exact URL (or its canonical form).")
@click.option("--url-prefix", help="URLs starting with this (scheme optional).")
@click.option("--work", help="Articles of this work (an id from `opeds works`).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one article per line.")
@user_errors
def search(
    archive: str,
    catalog_url: str | None,
    author: str | None,
    outlet: str | None,
    words: str | None,
    since: str | None,
    until: str | None,
    by: str,
    url: str | None,
    url_prefix: str | None,
    work: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Find articles by author, outlet, words, dates, URL or work.

    Text results come by relevance, the others newest first. Every criterion given must hold.
    """
    from opeds.storage.access.retrieval import search as run_search

    settings = make_settings(archive, catalog_url)
    with open_catalog(settings) as cat:
        hits = run_search(
            cat,
            author=author,
            outlet=outlet,
            text=words,
            since=since,
            until=until,
            by="captured" if by == "captured" else "published",
            url=url,
            url_prefix=url_prefix,
            work=work,
            limit=limit,
        )
    if as_json:
        for h in hits:
            click.echo(json.dumps(h.to_json(), ensure_ascii=False))
        return
    width = shutil.get_terminal_size((120, 24)).columns
    click.echo(format_hits(hits, width))
    if hits:
        more = f" (the first {limit}; --limit shows more)" if len(hits) == limit else ""
        click.echo(f"\n{len(hits)} article{'s' if len(hits) != 1 else ''}{more}", err=True)


# -- get ----------------------------------------------------------------------------------------
@click.command()
@click.argument("url")
@archive_option
@click.option(
    "--at",
    help="When: YYYY-MM-DD, an ISO time or a WARC timestamp (20261128083857, or a prefix). "
    "The capture in that span closest to its start. Default: the latest capture.",
)
@click.option("--nearest", is_flag=True, help="Take the closest capture even outside --at's span.")
@click.option(
    "-o",
    "--output",
    help="File to write (.warc.gz); '-' for stdout. Default: <host>-<timestamp>-<hash>.warc.gz.",
)
@click.option("--json", "as_json", is_flag=True, help="Describe what was written as JSON.")
@user_errors
def get(
    url: str,
    archive: str,
    catalog_url: str | None,
    at: str | None,
    nearest: bool,
    output: str | None,
    as_json: bool,
) -> None:
    """Write one capture of URL as a .warc.gz: its records exactly as archived.

    The file holds a warcinfo record naming where each record comes from, then the request,
    the response (or the revisit, with the response it refers to) and the article's metadata
    record, each copied byte for byte with one ranged read per record group.
    """
    from opeds.night import store_for
    from opeds.storage.access.retrieval import default_get_name, find_capture, write_capture

    settings = make_settings(archive, catalog_url)
    with open_catalog(settings) as cat, tempfile.TemporaryDirectory(prefix="opeds-get-") as tmp:
        cap = find_capture(cat, url, at, nearest=nearest)
        path, to_stdout = _output_path(output, default_get_name(cap), tmp)
        store = store_for(settings)
        with progress_bar("reading records", enabled=not as_json and not to_stdout) as progress:
            result = write_capture(
                cat,
                store,
                cap,
                out=path,
                source=source_label(settings),
                progress=progress,
            )
        if to_stdout:
            _to_stdout(path)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False), err=to_stdout)
        return
    c = result.plan.capture
    say = (lambda m: click.echo(m, err=True)) if to_stdout else click.echo
    where = "stdout" if to_stdout else str(result.path)
    say(f"Wrote {where} ({human_size(result.size)})")
    say(f"  {c.url}")
    say(
        f"  captured {c.captured_at:%Y-%m-%d %H:%M:%S}Z (night {c.night}): "
        f"{c.status} {c.record_type}"
    )
    if result.plan.original is not None:
        o = result.plan.original
        say(f"  refers to the response of {o.captured_at:%Y-%m-%d %H:%M:%S}Z, included: {o.url}")
    if result.plan.article is not None and result.plan.article.work_id:
        say(f"  article of work {result.plan.article.work_id}")
    kinds = ", ".join(r.warc_type for r in result.records)
    reads = f"{result.reads} ranged read{'s' if result.reads != 1 else ''}"
    say(f"  records: warcinfo, {kinds} ({reads}, one per record group)")


# -- export -------------------------------------------------------------------------------------
@click.command()
@click.argument("work")
@archive_option
@click.option("-o", "--output", help="File to write (.wacz); '-' for stdout. Default: <work>.wacz.")
@click.option("--json", "as_json", is_flag=True, help="Describe what was written as JSON.")
@user_errors
def export(
    work: str, archive: str, catalog_url: str | None, output: str | None, as_json: bool
) -> None:
    """Export every archived copy of one work (all outlets, all nights) as a WACZ package.

    It opens in ReplayWeb.page and pywb (`wb-manager add COLL --unpack-wacz FILE`);
    opeds/work.json inside describes the work, its original and every copy.
    """
    from opeds.night import store_for
    from opeds.storage.access.retrieval import export_work

    settings = make_settings(archive, catalog_url)
    with open_catalog(settings) as cat, tempfile.TemporaryDirectory(prefix="opeds-export-") as tmp:
        path, to_stdout = _output_path(output, f"{work}.wacz", tmp)
        with progress_bar("exporting", enabled=not as_json and not to_stdout) as progress:
            result = export_work(
                cat,
                store_for(settings),
                work,
                out=path,
                source=source_label(settings),
                progress=progress,
            )
        if to_stdout:
            _to_stdout(path)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False), err=to_stdout)
        return
    say = (lambda m: click.echo(m, err=True)) if to_stdout else click.echo
    w = result.work
    outlets = {m["outlet"] for m in w["members"]}
    say(f"Wrote {'stdout' if to_stdout else result.path} ({human_size(result.size)})")
    say(f"  {w['work']}  {w.get('title') or '(untitled)'}")
    say(
        f"  {len(w['members'])} copies on {len(outlets)} outlets, {result.captures} captures, "
        f"{result.records} records, {result.pages} pages"
    )
    for m in w["members"]:
        say(f"    {m['role']:<8}  {m['outlet']:<24}  {m['url']}")
    say("  open it in ReplayWeb.page, or in pywb: wb-manager add <collection> --unpack-wacz FILE")
