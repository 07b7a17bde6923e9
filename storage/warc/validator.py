"""Checking a whole WARC or ARC file: every problem in it, as
:class:`~opeds.storage.warc.errors.Problem` values, where reading stops at the first. (A WACZ
package is checked with :func:`opeds.storage.access.wacz.check_wacz`, member by member.)"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from opeds.storage.warc.errors import Problem, WarcReadError
from opeds.storage.warc.reader import scan_source


def check_file(path: str | Path, *, check_digests: bool = True) -> list[Problem]:
    """Every problem found in a WARC or ARC file; an empty list means it is valid.

    Problems after a fatal one (one that makes the rest of the file unreadable) cannot be seen.
    Warnings (what :func:`~opeds.storage.warc.reader.iter_records` refuses only when ``strict``)
    are included.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        return check_stream(fh, name=path.name, check_digests=check_digests)


def check_stream(stream: BinaryIO, *, name: str, check_digests: bool = True) -> list[Problem]:
    """Like :func:`check_file` for an open WARC or ARC stream."""
    problems: list[Problem] = []
    try:
        for scanned in scan_source(stream, name, check_digests=check_digests, keep_payload=False):
            problems.extend(scanned.problems)
    except WarcReadError as err:
        problems.append(Problem.from_error(err))
    return problems
