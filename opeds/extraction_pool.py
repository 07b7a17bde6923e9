"""Article extraction in worker processes, results in input order.

:func:`extract_pages` runs :func:`crawler.extract.extract_article` over a stream of pages in a
few worker processes (``forkserver``, else ``spawn``: nothing of the parent's state is shared)
and yields the results in the order the pages came in, so what a night stores does not depend on
the number of workers. lxml and trafilatura keep memory across documents; each worker is replaced
after :data:`TASKS_PER_WORKER` pages, so that growth stays bounded and out of the parent, which
only holds the pages in flight (at most two per worker, read but not yet extracted).

A page that cannot be loaded, or whose extraction kills its worker (twice: the page is tried once
more in a fresh worker), comes back as an :class:`ExtractionFailure`; the other pages go on.
Warnings the extractor logs in a worker are handed back and logged by the parent.

Workers are plain :mod:`multiprocessing` processes with a pipe each, managed here rather than by
``ProcessPoolExecutor`` (whose ``max_tasks_per_child`` can deadlock on Python 3.11-3.13) or
``multiprocessing.Pool`` (which waits forever for a task whose worker died).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from crawler.extract import ExtractedArticle, extract_article

logger = logging.getLogger(__name__)

T = TypeVar("T")

TASKS_PER_WORKER = 200
"""Pages a worker extracts before it is replaced by a fresh one."""
INLINE_BELOW = 8
"""With fewer pages than this (and ``workers`` not given) extraction runs in this process."""
ATTEMPTS = 2
"""Tries of a page whose worker died while extracting it."""


@dataclass(frozen=True)
class PageInput:
    """What extraction needs of one page: the response body as stored, its URL and type."""

    html: bytes
    url: str
    content_type: str | None = None


@dataclass(frozen=True)
class ExtractionFailure:
    """Why a page gave no article."""

    reason: str
    """``ExceptionType: message``, as the night report lists it."""
    message: str
    """The message alone, for the log."""

    @classmethod
    def of(cls, error: BaseException) -> ExtractionFailure:
        return cls(f"{type(error).__name__}: {error}", str(error))


Outcome = ExtractedArticle | ExtractionFailure


def cpu_count() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def default_workers(pages: int) -> int:
    """Worker processes for ``pages`` pages: none (in this process) for a handful, else one per
    CPU, never more than there are pages to share."""
    if pages < INLINE_BELOW:
        return 0
    return max(1, min(cpu_count(), pages // INLINE_BELOW))


def extract_pages(
    tasks: Iterable[tuple[T, Callable[[], PageInput]]],
    *,
    workers: int,
    tasks_per_worker: int = TASKS_PER_WORKER,
) -> Iterator[tuple[T, Outcome]]:
    """Extract every page of ``tasks`` (a tag and a loader each), yielding ``(tag, outcome)`` in
    the order of ``tasks``.

    Loaders run here, in order, when their page is about to be handed to a worker; one that raises
    gives an :class:`ExtractionFailure` with its exception. ``workers`` 0 extracts in this
    process. The outcome of a page never depends on ``workers`` or ``tasks_per_worker``.
    """
    if workers <= 0 or multiprocessing.current_process().daemon:
        # daemonic processes (some task runners) may not start processes of their own
        yield from _extract_inline(tasks)
        return
    with _Pool(workers, tasks_per_worker) as pool:
        yield from pool.run(tasks)


def _extract_inline(
    tasks: Iterable[tuple[T, Callable[[], PageInput]]],
) -> Iterator[tuple[T, Outcome]]:
    for tag, load in tasks:
        try:
            page = load()
        except Exception as e:
            yield tag, ExtractionFailure.of(e)
            continue
        yield tag, _extract(page)


def _extract(page: PageInput) -> Outcome:
    try:
        return extract_article(page.html, page.url, content_type=page.content_type)
    except Exception as e:  # extract_article does not raise; this is a last resort
        return ExtractionFailure.of(e)


# -- worker side --------------------------------------------------------------------------------
class _Collect(logging.Handler):
    """Keeps a worker's log records for the parent (messages formatted, tracebacks as text)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = record.getMessage()
        record.args = None
        record.exc_info = None
        self.records.append(record)


def _worker_main(conn: Connection, level: int) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    collect = _Collect()
    root.addHandler(collect)
    root.setLevel(level)
    while True:
        try:
            page = conn.recv()
        except EOFError:
            return
        if page is None:
            return
        outcome = _extract(page)
        conn.send((outcome, collect.records))
        collect.records = []


# -- parent side --------------------------------------------------------------------------------
def _context() -> ForkServerContext | SpawnContext:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["crawler.extract"])
        return ctx
    return multiprocessing.get_context("spawn")


@dataclass
class _Slot:
    tag: Any
    page: PageInput | None
    outcome: Outcome | None = None
    attempts: int = 0


@dataclass
class _Worker:
    proc: BaseProcess
    conn: Connection
    done: int = 0
    slot: _Slot | None = field(default=None)


class _Pool:
    def __init__(self, size: int, tasks_per_worker: int) -> None:
        self.size = size
        self.tasks_per_worker = max(1, tasks_per_worker)
        self.ctx = _context()
        self.level = logging.getLogger().getEffectiveLevel()
        self.workers: list[_Worker] = []

    def __enter__(self) -> _Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        for w in self.workers:
            self._stop(w)
        self.workers = []

    def _start(self) -> _Worker:
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(
            target=_worker_main, args=(child, self.level), name="opeds-extract", daemon=True
        )
        proc.start()
        child.close()
        return _Worker(proc, parent)

    def _stop(self, w: _Worker) -> None:
        try:
            if w.proc.is_alive():
                w.conn.send(None)
        except OSError:
            pass
        w.proc.join(timeout=5)
        if w.proc.is_alive():
            w.proc.kill()
            w.proc.join()
        w.conn.close()

    def run(
        self, tasks: Iterable[tuple[Any, Callable[[], PageInput]]]
    ) -> Iterator[tuple[Any, Outcome]]:
        source = iter(tasks)
        window: deque[_Slot] = deque()
        queue: deque[_Slot] = deque()  # loaded, waiting for a worker
        limit = 2 * self.size
        exhausted = False
        while True:
            while not exhausted and len(window) < limit:
                try:
                    tag, load = next(source)
                except StopIteration:
                    exhausted = True
                    break
                try:
                    slot: _Slot = _Slot(tag, load())
                except Exception as e:
                    slot = _Slot(tag, None, ExtractionFailure.of(e))
                window.append(slot)
                if slot.outcome is None:
                    queue.append(slot)
            self._dispatch(queue)
            while window and window[0].outcome is not None:
                done = window.popleft()
                assert done.outcome is not None
                yield done.tag, done.outcome
            if not window:
                if exhausted:
                    return
                continue
            self._collect(queue)

    def _dispatch(self, queue: deque[_Slot]) -> None:
        for w in list(self.workers):
            if w.slot is None and w.done >= self.tasks_per_worker:
                self.workers.remove(w)
                self._stop(w)
        idle = [w for w in self.workers if w.slot is None]
        while queue and (idle or len(self.workers) < self.size):
            if idle:
                w = idle.pop()
            else:
                w = self._start()
                self.workers.append(w)
            slot = queue.popleft()
            slot.attempts += 1
            try:
                w.conn.send(slot.page)
            except OSError:  # the worker is gone already: try the page on another one
                slot.attempts -= 1
                queue.appendleft(slot)
                self.workers.remove(w)
                self._stop(w)
                continue
            w.slot = slot

    def _collect(self, queue: deque[_Slot]) -> None:
        """Wait for at least one busy worker to answer (or die)."""
        busy = {w.conn: w for w in self.workers if w.slot is not None}
        by_sentinel = {w.proc.sentinel: w for w in busy.values()}
        ready = wait([*busy, *by_sentinel])
        seen: set[int] = set()
        for r in ready:
            w = busy[r] if isinstance(r, Connection) else by_sentinel[r]  # type: ignore[index]
            if id(w) in seen:
                continue
            seen.add(id(w))
            slot = w.slot
            assert slot is not None
            try:
                outcome, records = w.conn.recv()
            except (EOFError, OSError):
                self._died(w, slot, queue)
                continue
            for record in records:
                logging.getLogger(record.name).handle(record)
            slot.outcome = outcome
            slot.page = None
            w.slot = None
            w.done += 1

    def _died(self, w: _Worker, slot: _Slot, queue: deque[_Slot]) -> None:
        w.proc.join(timeout=5)
        code = w.proc.exitcode
        self.workers.remove(w)
        self._stop(w)
        assert slot.page is not None
        if slot.attempts < ATTEMPTS:
            queue.appendleft(slot)
            return
        err = ExtractionWorkerDied(
            f"the extraction worker died on this page (exit code {code}, {slot.attempts} tries)"
        )
        slot.outcome = ExtractionFailure.of(err)
        slot.page = None


class ExtractionWorkerDied(RuntimeError):
    """The process extracting a page ended without an answer (a crash, or killed)."""
