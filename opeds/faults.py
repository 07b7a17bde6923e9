"""Named crash points, for proving that a killed night loses nothing.

``OPEDS_CRASH_AT=NAME[:N]`` in a process's environment makes the ``N``-th (default first) call of
``crash_point(NAME)`` kill the process with ``SIGKILL`` on the spot: no ``finally`` blocks, no
buffered writes flushed, exactly like ``kill -9`` or the OOM killer at that line. The points:

``http-response``
    the download handler has received part of a response body;
``warc-record``
    the first half of a record group's last gzip member is written;
``warc-rotation``
    a WARC file is complete and synced, not yet renamed to its final name;
``catalog-write``
    inside the transaction that writes a batch of captures, before it commits;
``store-upload``
    a WARC file is partly uploaded (after the first part of a multipart upload, or before a
    single-request upload completes).

Unset (the normal case), a crash point is one dictionary lookup. A helper process of the crawl
(its WARC writer) calls :func:`die_with` so that a crash point hit there kills the crawl too.
"""

from __future__ import annotations

import contextlib
import os
import signal

ENV = "OPEDS_CRASH_AT"
POINTS = ("http-response", "warc-record", "warc-rotation", "catalog-write", "store-upload")


def _parse(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    name, _, count = value.partition(":")
    if name not in POINTS:
        raise ValueError(f"{ENV}={value!r}: unknown crash point; known: {', '.join(POINTS)}")
    return name, int(count or 1)


_armed = _parse(os.environ.get(ENV))
_hits: dict[str, int] = {}
_companions: list[int] = []


def die_with(pid: int) -> None:
    """A crash point hit in this process kills process ``pid`` first (the one this one serves)."""
    _companions.append(pid)


def crash_point(name: str) -> None:
    """Die here, as ``kill -9`` would, if ``OPEDS_CRASH_AT`` names this point and hit count."""
    if _armed is None or _armed[0] != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= _armed[1]:
        for pid in _companions:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
