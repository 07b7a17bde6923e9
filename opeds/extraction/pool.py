"""Article extraction in worker processes, results in input order.

:func:`extract_pages` runs :func:`opeds.extraction.article.extract_article` over a stream of pages
in a few worker processes and yields the results in the order the pages came in, so what a night
stores does not depend on the number of workers. lxml and trafilatura keep memory across
documents; each worker is replaced after :data:`TASKS_PER_WORKER` pages, so that growth stays
bounded and out of the parent, which only holds the pages in flight (at most two per worker, read
but not yet extracted).

A worker is a fresh interpreter, ``python -P -m opeds.extraction_pool FD``, talking to the
parent over one socket (``FD``): it imports the extractor and nothing of its host. So it works
the same under any host process (an Airflow task runner, a Celery worker, ``python -c``, an
entry-point script): it never re-imports the host's ``__main__`` (as ``multiprocessing``'s
``spawn`` and ``forkserver`` do), never needs what the host's environment points at (such as
Airflow's database), and does not take the working directory as an import root.

Every page gets at most :data:`ATTEMPTS` tries, whatever fails: the worker cannot be started,
the page cannot be sent, the worker dies (a crash in lxml, the OOM killer) or takes longer than
``page_timeout`` seconds (it is killed). A page that used its tries, or whose loader raised,
comes back as an :class:`ExtractionFailure` saying why; the other pages go on. Warnings the
extractor logs in a worker are handed back and logged by the parent.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import IO, Any, TypeVar

from opeds.extraction.article import ExtractedArticle, extract_article
from opeds.interpreter import child_environment, python_command

logger = logging.getLogger(__name__)

T = TypeVar("T")

TASKS_PER_WORKER = 200
"""Pages a worker extracts before it is replaced by a fresh one."""
INLINE_BELOW = 8
"""With fewer pages than this (and ``workers`` not given) extraction runs in this process."""
ATTEMPTS = 2
"""Tries of a page, whatever failed (start, send, crash, timeout)."""
PAGE_TIMEOUT = 300.0
"""Seconds a worker may spend on one page before it is killed (the page then uses a try)."""
WORKER_MODULE = "opeds.extraction.pool"


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


class ExtractionWorkerDied(RuntimeError):
    """The process extracting a page ended without an answer (a crash, or killed)."""


class ExtractionTimedOut(RuntimeError):
    """The process extracting a page took longer than the page's time limit."""


class ExtractionWorkerUnavailable(RuntimeError):
    """The worker process given the page could not be reached."""


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
    page_timeout: float = PAGE_TIMEOUT,
) -> Iterator[tuple[T, Outcome]]:
    """Extract every page of ``tasks`` (a tag and a loader each), yielding ``(tag, outcome)`` in
    the order of ``tasks``.

    Loaders run here, in order, when their page is about to be handed to a worker; one that raises
    gives an :class:`ExtractionFailure` with its exception. ``workers`` 0 extracts in this
    process (so does a frozen program, which has no interpreter to start). The outcome of a page
    never depends on ``workers`` or ``tasks_per_worker``.
    """
    if workers <= 0 or getattr(sys, "frozen", False):
        yield from _extract_inline(tasks)
        return
    with _Pool(workers, tasks_per_worker, page_timeout) as pool:
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


def serve(conn: Connection, level: int) -> None:
    """A worker's loop: a page in, ``(outcome, log records)`` out, until ``None`` or EOF."""
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


def _worker_main(argv: list[str]) -> int:
    faulthandler.enable()  # a crash leaves its traceback in the worker's error file
    fd, level = int(argv[0]), int(argv[1])
    with Connection(fd) as conn:
        serve(conn, level)
    return 0


# -- parent side --------------------------------------------------------------------------------
def worker_command(fd: int, level: int) -> list[str]:
    """The command line of a worker (:func:`opeds.interpreter.python_command`)."""
    return python_command(WORKER_MODULE, str(fd), str(level))


@dataclass
class _Slot:
    tag: Any
    page: PageInput | None
    outcome: Outcome | None = None
    attempts: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes]
    conn: Connection
    errors: IO[bytes]
    done: int = 0
    slot: _Slot | None = None
    since: float = 0.0

    def error_tail(self, limit: int = 400) -> str:
        """The last line the worker wrote to its error stream (a traceback's last line)."""
        try:
            self.errors.seek(0)
            lines = [
                ln.strip() for ln in self.errors.read().decode("utf-8", "replace").splitlines()
            ]
        except (OSError, ValueError):
            return ""
        lines = [ln for ln in lines if ln]
        return lines[-1][:limit] if lines else ""


class _Pool:
    def __init__(self, size: int, tasks_per_worker: int, page_timeout: float) -> None:
        self.size = size
        self.tasks_per_worker = max(1, tasks_per_worker)
        self.page_timeout = page_timeout
        self.level = logging.getLogger().getEffectiveLevel()
        self.env = child_environment()
        self.workers: list[_Worker] = []
        self.deaths = 0
        self.inline = False
        """Set when no worker could be started: the remaining pages are extracted here."""

    def __enter__(self) -> _Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        for w in self.workers:
            self._stop(w)
        self.workers = []
        if self.deaths:
            logger.warning("%d extraction worker(s) died or were killed", self.deaths)

    def _start(self) -> _Worker:
        parent, child = multiprocessing.Pipe()
        errors = tempfile.TemporaryFile()
        try:
            proc = subprocess.Popen(
                worker_command(child.fileno(), self.level),
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=errors,
                stderr=errors,
                cwd=tempfile.gettempdir(),
                env=self.env,
            )
        except BaseException:
            parent.close()
            errors.close()
            raise
        finally:
            child.close()
        return _Worker(proc, parent, errors)

    def _stop(self, w: _Worker, *, kill: bool = False) -> None:
        if not kill and w.proc.poll() is None:
            with contextlib.suppress(OSError):
                w.conn.send(None)
            with contextlib.suppress(subprocess.TimeoutExpired):
                w.proc.wait(timeout=5)
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()
        w.conn.close()
        w.errors.close()

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
            if any(w.slot is not None for w in self.workers):
                self._collect(queue)

    def _failed_try(self, slot: _Slot, why: str, queue: deque[_Slot], error: type) -> None:
        """A try of ``slot`` failed: queue it again, or fail it once its tries are used."""
        slot.errors.append(why)
        if slot.attempts < ATTEMPTS:
            queue.appendleft(slot)
            return
        said = "; ".join(dict.fromkeys(slot.errors))
        slot.outcome = ExtractionFailure.of(error(f"{said}; {slot.attempts} tries"))
        slot.page = None

    def _dispatch(self, queue: deque[_Slot]) -> None:
        for w in list(self.workers):
            if w.slot is None and w.done >= self.tasks_per_worker:
                self.workers.remove(w)
                self._stop(w)
        idle = [w for w in self.workers if w.slot is None]
        while queue and (idle or len(self.workers) < self.size):
            slot = queue.popleft()
            slot.attempts += 1
            if idle:
                w = idle.pop()
            elif self.inline:
                assert slot.page is not None
                slot.outcome, slot.page = _extract(slot.page), None
                continue
            else:
                try:
                    w = self._start()
                except OSError as e:  # no process can be started here: extract in this one
                    logger.warning(
                        "cannot start extraction workers (%s: %s); extracting in this process",
                        type(e).__name__,
                        e,
                    )
                    self.inline = True
                    queue.appendleft(slot)
                    slot.attempts -= 1
                    continue
                self.workers.append(w)
            try:
                w.conn.send(slot.page)
            except OSError as e:  # the worker is gone already
                self.workers.remove(w)
                why = f"the extraction worker could not be reached ({e}; {self._died(w)})"
                self._failed_try(slot, why, queue, ExtractionWorkerUnavailable)
                continue
            w.slot = slot
            w.since = time.monotonic()

    def _collect(self, queue: deque[_Slot]) -> None:
        """Wait for at least one busy worker to answer, die or run out of time."""
        busy = {w.conn: w for w in self.workers if w.slot is not None}
        now = time.monotonic()
        left = min(w.since + self.page_timeout - now for w in busy.values())
        ready = wait(list(busy), timeout=max(0.0, left))
        for r in ready:
            w = busy[r]  # type: ignore[index]
            slot = w.slot
            assert slot is not None
            try:
                outcome, records = w.conn.recv()
            except (EOFError, OSError):
                self.workers.remove(w)
                why = f"the extraction worker died on this page ({self._died(w)})"
                self._failed_try(slot, why, queue, ExtractionWorkerDied)
                continue
            for record in records:
                logging.getLogger(record.name).handle(record)
            slot.outcome = outcome
            slot.page = None
            w.slot = None
            w.done += 1
        now = time.monotonic()
        for w in [w for w in busy.values() if w.slot is not None]:
            if now - w.since >= self.page_timeout:
                slot = w.slot
                assert slot is not None
                self.workers.remove(w)
                self._died(w, kill=True)
                why = f"extraction took longer than {self.page_timeout:g} s; the worker was killed"
                self._failed_try(slot, why, queue, ExtractionTimedOut)

    def _died(self, w: _Worker, *, kill: bool = False) -> str:
        """Reap a worker that died (or is to be killed): its exit code and the last line of its
        error stream, for the reason."""
        self.deaths += 1
        if not kill:
            with contextlib.suppress(subprocess.TimeoutExpired):
                w.proc.wait(timeout=5)
        code = w.proc.poll()
        tail = w.error_tail()
        self._stop(w, kill=True)
        said = f"exit code {code}" if code is not None else "killed"
        return f"{said}: {tail}" if tail else said


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
