"""Pieces every ``opeds`` command shares: archive options, settings, error handling."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import wraps
from typing import Any, TypeVar

import click

from opeds.errors import OpedsError
from opeds.settings import DEFAULT_ARCHIVE, Settings

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(fn: F) -> F:
    """Turn library errors into one line on stderr and exit code 1 (no traceback)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except OpedsError as e:
            raise click.ClickException(str(e)) from None
        except (FileNotFoundError, PermissionError, IsADirectoryError) as e:
            raise click.ClickException(f"{e.filename or ''}: {e.strerror}") from None

    return wrapper  # type: ignore[return-value]


def archive_option(fn: F) -> F:
    fn = click.option(
        "--catalog",
        "catalog_url",
        envvar="OPEDS_CATALOG_URL",
        help="Catalog database URL (SQLAlchemy), e.g. postgresql+psycopg://host/db. "
        "Default: catalog.sqlite inside a local archive, or under OPEDS_STATE_DIR for S3.",
    )(fn)
    return click.option(
        "--archive",
        envvar="OPEDS_ARCHIVE",
        default=DEFAULT_ARCHIVE,
        show_default=True,
        help="Archive: a local folder or s3://bucket/prefix.",
    )(fn)


def make_settings(archive: str, catalog_url: str | None, **overrides: Any) -> Settings:
    return Settings.from_env(archive=archive, catalog_url=catalog_url, **overrides)


def parse_night(value: str | None) -> str:
    if not value:
        return datetime.now(UTC).date().isoformat()
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def echo_progress(msg: str) -> None:
    click.echo(f"  {msg}", err=True)


def program_name() -> str:
    """How the user ran us: ``opeds`` when that is on PATH, else the path they typed."""
    import shutil

    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "opeds"
    found = shutil.which("opeds")
    if found and os.path.realpath(found) == os.path.realpath(argv0):
        return "opeds"
    return argv0 if os.path.basename(argv0) == "opeds" else "opeds"


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
