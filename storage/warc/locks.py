"""Advisory locks on files being written, so that recovery never touches a live writer's file.

A WARC writer holds an exclusive ``flock`` on its file's journal (or, for a file without one, on
the file itself) from the moment it opens the file until it is closed and renamed. Recovery
(:func:`opeds.night.recover_unfinished`) claims the same lock first and leaves the file alone if
it cannot: another process (a try that is still running, say an Airflow task that lost its
heartbeat) is writing it. The kernel drops a killed process's locks, so a crashed writer's files
are free at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locks, nothing to go by
    fcntl = None  # type: ignore[assignment]


def lock(fh: IO[bytes]) -> bool:
    """Take an exclusive lock on an open file, without waiting: False if another holds it.

    On a filesystem without locks there is nothing to go by, and the lock counts as taken.
    """
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # pragma: no cover - e.g. ENOLCK on some network filesystems
        return True
    return True


@contextmanager
def claimed(path: Path) -> Iterator[bool]:
    """Whether ``path`` is free of writers, holding it for the ``with`` block if so.

    A file that does not exist is free.
    """
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        yield True
        return
    with fh:
        yield lock(fh)
