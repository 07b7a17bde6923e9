"""CDXJ indexes: one per WARC file, and one merged, sorted index per night.

Per-file indexes are made by cdxj-indexer (``CDXJIndexer``, as its ``write_cdx_index`` does:
sorted lines, request method and body folded into POST responses) with the ``filename`` field
set to the WARC's archive key, so a replay tool whose archive path is the archive root finds the
file. They live next to the WARC key::

    warcs/2026/11/28/opeds-...-00000-host.warc.gz
    indexes/2026/11/28/opeds-...-00000-host.warc.gz.cdxj
    indexes/2026/11/28/night-2026-11-28.cdxj      (k-way merge of the night's per-file indexes)

Every function takes paths, streams or a :class:`~opeds.storage.stores.local.Store` and returns a
count of lines; files appear under their final name only when complete.
"""

from __future__ import annotations

import heapq
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO, TextIO

from opeds.errors import OpedsError
from opeds.storage.stores.base import Store
from opeds.storage.warc.reader import iter_records

INDEX_SUFFIX = ".cdxj"
WARC_SUFFIXES = (".warc.gz", ".warc", ".arc.gz", ".arc")


class CdxjError(OpedsError):
    """A WARC could not be indexed, or an index is not a sorted CDXJ file."""


def index_key(warc_key: str) -> str:
    """``warcs/YYYY/MM/DD/<name>`` -> ``indexes/YYYY/MM/DD/<name>.cdxj``."""
    parts = PurePosixPath(warc_key).parts
    if len(parts) < 2 or parts[0] != "warcs" or not parts[-1].endswith(WARC_SUFFIXES):
        raise CdxjError(f"{warc_key!r} is not a WARC key like warcs/YYYY/MM/DD/<name>.warc.gz")
    return str(PurePosixPath("indexes", *parts[1:-1], parts[-1] + INDEX_SUFFIX))


def night_index_key(night: date) -> str:
    return f"indexes/{night:%Y/%m/%d}/night-{night:%Y-%m-%d}{INDEX_SUFFIX}"


class _CountingWriter:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.lines = 0

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        return self.out.write(text)

    def flush(self) -> None:
        self.out.flush()


def is_not_modified_revisit(record: object) -> bool:
    """A ``server-not-modified`` revisit: the server answered 304 to a conditional GET.

    Such records stay in the WARC (and the catalog) but are left out of replay indexes: pywb
    replays a revisit with its own status line, i.e. as an empty 304, whereas the page at that
    time is the earlier capture the 304 confirmed, which the index already holds.
    """
    headers = getattr(record, "rec_headers", None)
    if getattr(record, "rec_type", None) != "revisit" or headers is None:
        return False
    return str(headers.get_header("WARC-Profile") or "").endswith("/server-not-modified")


def write_cdxj(
    warc: Path | str | BinaryIO, out: TextIO, *, filename: str, verify: bool = True
) -> int:
    """Write the sorted CDXJ lines of one WARC to ``out``; ``filename`` goes in every line.

    cdxj-indexer reads leniently (any line of five words passes for an ARC header), so a WARC
    given by path is first read through with :func:`opeds.storage.warc.reader.iter_records`
    (``verify``): a broken file raises its :class:`~opeds.storage.warc.reader.WarcReadError`
    instead of giving a wrong index. Returns the number of lines written.
    """
    from cdxj_indexer.main import CDXJIndexer  # imported here: it pulls in surt and tldextract

    if verify and isinstance(warc, Path | str):
        for _ in iter_records(warc, strict=False, check_digests=False):
            pass

    class _Indexer(CDXJIndexer):
        def filter_record(self, record: object) -> bool:
            if getattr(record, "rec_type", None) == "metadata":
                return False  # extracted fields: found through the catalog, never replayed
            return bool(super().filter_record(record)) and not is_not_modified_revisit(record)

    counter = _CountingWriter(out)
    source = str(warc) if isinstance(warc, Path | str) else warc
    label = str(warc) if isinstance(warc, Path | str) else filename
    indexer = _Indexer(counter, [source], sort=True, post_append=True, filename=filename)
    try:
        indexer.process_all()
    except Exception as e:  # warcio and cdxj-indexer raise plain exceptions
        raise CdxjError(f"cannot index {label}: {e}".strip()) from e
    return counter.lines


def index_warc_file(warc: Path, out_path: Path, *, filename: str, verify: bool = True) -> int:
    """Index a local WARC into ``out_path`` (written under a temporary name, then renamed)."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".part")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as out:
            lines = write_cdxj(warc, out, filename=filename, verify=verify)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return lines


def index_warc(store: Store, warc_key: str) -> int:
    """Index the WARC stored under ``warc_key`` into :func:`index_key` of the same store."""
    key = index_key(warc_key)
    with tempfile.TemporaryDirectory(prefix="opeds-cdxj-") as tmpdir:
        out = Path(tmpdir) / "index.cdxj"
        local = store.local_path(warc_key)
        if local is not None and local.is_file():
            lines = index_warc_file(local, out, filename=warc_key)
        else:
            with store.open(warc_key) as fh:
                lines = index_warc_file_stream(fh, out, filename=warc_key)
        store.put_file(out, key)
    return lines


def index_warc_file_stream(fh: BinaryIO, out_path: Path, *, filename: str) -> int:
    """Like :func:`index_warc_file` for a stream (a remote object), spooled to a local file."""
    with tempfile.NamedTemporaryFile(prefix="opeds-warc-", suffix=".warc.gz") as spool:
        while chunk := fh.read(1024 * 1024):
            spool.write(chunk)
        spool.flush()
        return index_warc_file(Path(spool.name), out_path, filename=filename)


def _lines(stream: IO[str], label: str) -> Iterator[str]:
    previous = ""
    for number, line in enumerate(stream, 1):
        if not line.strip() or line.startswith("!"):
            continue  # blank lines and "!meta" headers are not index entries
        if not line.endswith("\n"):
            line += "\n"
        if line < previous:
            raise CdxjError(f"{label} line {number} is out of order: the index is not sorted")
        previous = line
        yield line


def merge_indexes(inputs: Iterable[Path | str | IO[str]], out: TextIO) -> int:
    """Stream a k-way merge of sorted CDXJ inputs into ``out``; identical lines are kept once.

    Only one line per input is held in memory. Returns the number of lines written.
    """
    count = 0
    with ExitStack() as stack:
        iters = []
        for i, item in enumerate(inputs):
            if isinstance(item, Path | str):
                fh: IO[str] = stack.enter_context(open(item, encoding="utf-8"))
                label = str(item)
            else:
                fh, label = item, f"input {i}"
            iters.append(_lines(fh, label))
        last = None
        for line in heapq.merge(*iters):
            if line != last:
                out.write(line)
                count += 1
            last = line
    return count


def per_file_index_keys(store: Store, night: date) -> list[str]:
    """The night's per-file index keys (not the merged one), sorted."""
    prefix = f"indexes/{night:%Y/%m/%d}/"
    merged = night_index_key(night)
    return [
        k
        for k in store.list(prefix)
        if k.endswith(INDEX_SUFFIX) and k != merged and "/" not in k[len(prefix) :]
    ]


def build_night_index(store: Store, night: date) -> int:
    """Merge the night's per-file indexes into :func:`night_index_key`; returns its lines."""
    keys = per_file_index_keys(store, night)
    with tempfile.TemporaryDirectory(prefix="opeds-cdxj-") as tmpdir, ExitStack() as stack:
        streams: list[IO[str]] = []
        for key in keys:
            local = store.local_path(key)
            raw: BinaryIO = open(local, "rb") if local is not None else store.open(key)
            stack.enter_context(raw)
            streams.append(io.TextIOWrapper(raw, encoding="utf-8"))
        out_path = Path(tmpdir) / "night.cdxj"
        with open(out_path, "w", encoding="utf-8", newline="\n") as out:
            lines = merge_indexes(streams, out)
        store.put_file(out_path, night_index_key(night))
    return lines


def index_night(store: Store, night: date, *, reindex: bool = False) -> tuple[int, int]:
    """Index every WARC of the night that has no index yet (all of them with ``reindex``), then
    rebuild the merged night index. Returns (WARC files indexed, lines in the night index)."""
    indexed = 0
    existing = set(per_file_index_keys(store, night))
    for warc_key in store.list(f"warcs/{night:%Y/%m/%d}/"):
        if not warc_key.endswith(WARC_SUFFIXES):
            continue
        if reindex or index_key(warc_key) not in existing:
            index_warc(store, warc_key)
            indexed += 1
    return indexed, build_night_index(store, night)
