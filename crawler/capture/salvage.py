"""Recovering the WARC files of a crawl that died: keep every complete record, lose nothing else.

The crawl writes ``<name>.open`` and, beside it, ``<name>.journal``: one JSON line per record
group (request + response, or request + revisit) holding the group's catalog row, appended
*before* the group's bytes (:meth:`opeds.storage.warc.writer.WarcFileWriter.write_group`). The
catalog gets its rows in batches. So after a ``kill -9`` the journal describes every group that
reached the file, and maybe one that reached it only in part.

:func:`salvage_file` reads the groups the journal describes, in order, each record parsed and its
digests checked, and stops at the first that is not whole. The file is cut after the last whole
group, synced and renamed to its final name; the catalog gets the rows it lacks (and loses rows
that point past the cut); the file is recorded like any closed file, and the journal goes. A file
with no whole group is deleted. Running it twice is harmless: a journal left beside a final file
(the crash came after the rename) is replayed the same way.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from opeds.storage.catalog.db import Capture, Catalog
from opeds.storage.stores.base import sha256_file
from opeds.storage.warc.errors import WarcReadError
from opeds.storage.warc.reader import read_record_at
from opeds.storage.warc.writer import JOURNAL_SUFFIX, OPEN_SUFFIX

logger = logging.getLogger(__name__)

_CAPTURE_FIELDS = {f.name for f in fields(Capture)} - {"id"}
_DATES = ("captured_at", "refers_to_date")


@dataclass(frozen=True)
class Salvage:
    """What became of one unfinished file."""

    key: str
    kept_groups: int
    dropped_bytes: int
    rows_added: int
    rows_removed: int
    deleted: bool


def read_journal(path: Path) -> Iterator[Capture]:
    """The captures a journal describes, in write order; a torn last line ends it."""
    with open(path, "rb") as fh:
        for line in fh:
            if not line.endswith(b"\n"):
                return  # the crash came while this line was being written
            try:
                entry: dict[str, Any] = json.loads(line)
            except ValueError:
                return
            row = {k: v for k, v in entry.items() if k in _CAPTURE_FIELDS}
            for k in _DATES:
                if row.get(k):
                    row[k] = datetime.fromisoformat(row[k])
            yield Capture(**row)


def _whole(fh: BinaryIO, size: int, key: str, offset: int, length: int | None) -> bool:
    """Whether ``length`` bytes at ``offset`` are one complete record with correct digests."""
    if length is None or offset + length > size:
        return False
    fh.seek(offset)
    try:
        read_record_at(fh.read(length), name=key, offset=offset)
    except (WarcReadError, ValueError, OSError):
        return False
    return True


def salvage_file(spool: Path, key: str, catalog: Catalog, night: str) -> Salvage:
    """Recover ``key``, a WARC of ``spool`` left with its journal (as ``.open`` or renamed).

    Without a journal there is nothing to go by, and nothing is touched.
    """
    final = spool / key
    unfinished = Path(str(final) + OPEN_SUFFIX)
    journal = Path(str(final) + JOURNAL_SUFFIX)
    if not journal.exists():
        return Salvage(key, 0, 0, 0, 0, deleted=False)  # nothing to recover by: left as it is
    entries = list(read_journal(journal))
    source = unfinished if unfinished.exists() else final
    size = source.stat().st_size if source.exists() else 0
    kept: list[Capture] = []
    end = 0
    if size:
        with open(source, "rb") as fh:
            for cap in entries:
                if cap.warc_key != key or cap.request_offset is None:
                    break
                if not (
                    _whole(fh, size, key, cap.request_offset, cap.request_length)
                    and _whole(fh, size, key, cap.offset, cap.length)
                ):
                    break
                kept.append(cap)
                end = max(
                    end, cap.offset + cap.length, cap.request_offset + (cap.request_length or 0)
                )
    dropped = size - end if kept else size
    removed = catalog.forget_records(key, from_offset=end if kept else 0)
    if not kept:
        unfinished.unlink(missing_ok=True)
        if source == final:
            final.unlink(missing_ok=True)
        journal.unlink(missing_ok=True)
        return Salvage(key, 0, dropped, 0, removed, deleted=True)
    if source == unfinished:
        with open(unfinished, "r+b") as fh:
            fh.truncate(end)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(unfinished, final)
    have = catalog.capture_record_ids(key)
    missing = [cap for cap in kept if cap.record_id not in have]
    catalog.add_captures(missing)
    size, sha256 = sha256_file(final)
    recorded = catalog.warc_file(key)
    if recorded is None or (recorded["size"], recorded["sha256"]) != (size, sha256):
        catalog.record_warc_file(
            key,
            night,
            size=size,
            sha256=sha256,
            records=1 + 2 * len(kept),
            first_record=min(c.captured_at for c in kept),
            last_record=max(c.captured_at for c in kept),
            stored=False,
        )
    journal.unlink(missing_ok=True)
    logger.warning(
        "recovered %s: %d complete capture(s) kept, %d byte(s) of an unfinished record dropped",
        key,
        len(kept),
        dropped,
    )
    return Salvage(key, len(kept), dropped, len(missing), removed, deleted=False)
