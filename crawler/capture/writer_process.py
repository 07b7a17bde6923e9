"""The crawl's writer process: every source's exchanges become WARC records there.

Building, digesting, compressing, journalling and writing records, the payload-digest dedup and
the catalog rows of a crawl take about as much CPU as the crawl itself. In the crawl's own
process that work holds the interpreter lock for its Python parts and slows the download loop;
here it runs in one helper process (``spawn``: nothing of the crawl's state is shared) with its
own interpreter, fed through a pipe by a feeder thread, so handing an exchange over costs the
crawl little more than a copy.

* :class:`ArchiveProcess` is the crawl's side: :meth:`~ArchiveProcess.open` a source,
  :meth:`~ArchiveProcess.submit` its exchanges, :meth:`~ArchiveProcess.close` it (returns once
  every record of the source is written, its file closed and its catalog rows committed).
  What was archived comes back as count increments (``responses``, ``revisits``,
  ``unchanged/<kind>``, ``warc_files``), a failure as a message naming the source.
* :func:`serve` is the writer's loop: one :class:`~opeds.crawler.capture.archiver.ExchangeArchiver`
per source,
  exchanges written in the order they were submitted.

A crash of either side takes the other with it, as ``kill -9`` of the crawl would: the writer
dies with the crawl (``PR_SET_PDEATHSIG`` on Linux; else on the closed pipe), and a crash point
(:mod:`opeds.faults`) hit in the writer kills the crawl too. What was written survives as the
unfinished file and its journal (:mod:`opeds.crawler.capture.salvage`).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

from opeds import faults
from opeds.crawler.capture.archiver import FLUSH_SECONDS, ArchiverConfig, ExchangeArchiver
from opeds.crawler.capture.exchange import Exchange
from opeds.storage.catalog.db import Capture

logger = logging.getLogger(__name__)

ARCHIVE_FAILED = "archive_failed"
"""The reason a spider is closed with when its exchanges cannot be archived."""
ARCHIVE_FAILED_STAT = f"opeds/{ARCHIVE_FAILED}"
"""Set (to 1) in the crawler's stats once archiving has failed: nothing more is fetched."""
QUEUE_SIZE = 32
"""Exchanges waiting to be sent to the writer at most (bounds the memory they hold)."""
REPORT_SECONDS = 1.0
"""How often the writer sends count increments."""
PIPE_BYTES = 1 << 20
"""Capacity asked for the pipe to the writer (Linux's default limit for unprivileged users)."""
PR_SET_PDEATHSIG = 1


class ArchiveError(RuntimeError):
    """Writing a source's records failed, or the writer process is gone."""


@dataclass
class _SourceState:
    on_counts: Callable[[dict[str, int]], None]
    on_failure: Callable[[str], None]
    opened: bool = False
    closed: bool = False
    failure: str | None = None


@dataclass
class _Shared:
    process: ArchiveProcess | None = None
    users: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


_shared = _Shared()


class ArchiveProcess:
    """The crawl's handle on its writer process (one per crawl process, shared by its sources)."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        req_r, req_w = ctx.Pipe(duplex=False)
        res_r, res_w = ctx.Pipe(duplex=False)
        _widen(req_w)
        self._process = ctx.Process(
            target=serve, args=(req_r, res_w), name="opeds-warc-writer", daemon=True
        )
        self._process.start()
        req_r.close()
        res_w.close()
        self._requests = req_w
        self._results = res_r
        self._sources: dict[str, _SourceState] = {}
        self._broken: str | None = None
        self._send_error: str | None = None
        self._queue: queue.Queue[tuple[Any, ...] | None] = queue.Queue(QUEUE_SIZE)
        self._feeder = threading.Thread(target=self._feed, name="warc-writer-feed", daemon=True)
        self._feeder.start()

    # -- shared use -----------------------------------------------------------------------------
    @classmethod
    def attach(cls) -> ArchiveProcess:
        """The process's writer (started on first use); :meth:`detach` when done with it."""
        with _shared.lock:
            if _shared.process is None or not _shared.process.alive:
                _shared.process = cls()
            _shared.users += 1
            return _shared.process

    def detach(self) -> None:
        """The last user gone, the writer is stopped."""
        with _shared.lock:
            if _shared.process is not self:
                return
            _shared.users -= 1
            if _shared.users > 0:
                return
            _shared.process = None
        self.stop()

    @property
    def alive(self) -> bool:
        return self._broken is None and self._process.is_alive()

    # -- per source -----------------------------------------------------------------------------
    def open(
        self,
        config: ArchiverConfig,
        *,
        on_counts: Callable[[dict[str, int]], None],
        on_failure: Callable[[str], None],
    ) -> None:
        """Start archiving ``config.source``: returns once the writer is ready for it (nothing
        should be fetched that cannot be archived). ``on_counts`` and ``on_failure`` are called
        in the crawl's thread, from :meth:`open`, :meth:`submit` and :meth:`close`.

        Raises :class:`ArchiveError` if the writer cannot archive the source (its spool or
        catalog cannot be opened) or is gone.
        """
        state = _SourceState(on_counts, on_failure)
        self._sources[config.source] = state
        self._put(("open", config.source, config))
        self._wait(state, lambda: state.opened or state.failure is not None)
        if state.failure is not None:
            raise ArchiveError(f"archiving {config.source} failed: {state.failure}")

    def submit(self, source: str, ex: Exchange, *, kind: str, prior: Capture | None) -> None:
        """Queue an exchange of ``source`` (blocks only while ``QUEUE_SIZE`` are waiting).

        Raises :class:`ArchiveError` once archiving ``source`` has failed.
        """
        state = self._sources[source]
        if state.failure is not None:
            raise ArchiveError(f"archiving {source} failed: {state.failure}")
        self._put(("exchange", source, ex, kind, prior))
        self.poll()

    def close(self, source: str) -> None:
        """Wait until every exchange of ``source`` is archived and its file closed.

        Raises :class:`ArchiveError` if that failed or the writer died.
        """
        state = self._sources[source]
        if self._broken is None:
            self._put(("close", source))
            self._wait(state, lambda: state.closed)
        del self._sources[source]
        if state.failure is not None:
            raise ArchiveError(f"archiving {source} failed: {state.failure}")

    def _wait(self, state: _SourceState, done: Callable[[], bool]) -> None:
        while not done():
            if self._broken is not None:
                state.failure = state.failure or self._broken
                return
            if self._results.poll(0.2):
                self.poll()
            elif not self._process.is_alive():
                self.poll()  # whatever it said before it went
                if not done():
                    self._set_broken(self._gone())

    def poll(self) -> None:
        """Handle what the writer reported so far (counts, failures, closed sources)."""
        while self._broken is None:
            try:
                if not self._results.poll():
                    if self._send_error is not None:
                        self._set_broken(self._send_error)
                    return
                msg = self._results.recv()
            except (EOFError, OSError):
                self._set_broken(self._gone())
                return
            op, source = msg[0], msg[1]
            state = self._sources.get(source)
            if state is None:
                continue
            if op == "counts":
                state.on_counts(msg[2])
            elif op == "failed":
                state.failure = msg[2]
                state.on_failure(msg[2])
            elif op == "opened":
                state.opened = True
            elif op == "closed":
                state.closed = True

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the writer (after what was queued) and wait for it."""
        self._queue.put(None)
        self._feeder.join(timeout)
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._requests.close()
        self._results.close()

    # -- internals ------------------------------------------------------------------------------
    def _gone(self) -> str:
        self._process.join(5)  # its pipe closes a moment before it can be reaped
        return f"the WARC writer exited with code {self._process.exitcode}"

    def _put(self, msg: tuple[Any, ...]) -> None:
        if self._broken is not None:
            raise ArchiveError(self._broken)
        self._queue.put(msg)

    def _set_broken(self, reason: str) -> None:
        if self._broken is not None:
            return
        self._broken = reason
        logger.error("%s", reason)
        for state in self._sources.values():
            if state.failure is None and not state.closed:
                state.failure = reason
                state.on_failure(reason)

    def _feed(self) -> None:
        """Feeder thread: pickles queued messages and writes them to the pipe, in order."""
        while True:
            msg = self._queue.get()
            try:
                if msg is None:
                    self._requests.send_bytes(pickle.dumps(("stop",)))
                    return
                if self._broken is None:
                    self._requests.send_bytes(pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL))
            except (OSError, ValueError) as e:
                # the writer is gone: poll() says so in the crawl's thread; the queue is still
                # drained, so nobody blocks on it
                self._send_error = self._send_error or f"the WARC writer is gone ({e})"
                if msg is None:
                    return


def _widen(conn: Connection) -> None:
    """A pipe that holds several pages (Linux: 1 MiB instead of 64 kiB), so a page goes over in
    one write and one read instead of a dozen turns of both processes."""
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if setsize is None:  # pragma: no cover - not Linux
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(conn.fileno(), setsize, PIPE_BYTES)


# -- the writer's side ----------------------------------------------------------------------------
def _die_with_parent() -> None:
    """Be killed when the crawl process dies, however it dies (Linux); a crash point hit here
    kills the crawl too."""
    parent = os.getppid()
    faults.die_with(parent)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):  # pragma: no cover - not glibc
            pass
    if os.getppid() != parent:  # pragma: no cover - the crawl died while this one started
        os._exit(1)


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s [%(name)s] %(levelname)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


class _Writer:
    def __init__(self, results: Connection):
        self.results = results
        self.archivers: dict[str, ExchangeArchiver] = {}
        self.failed: dict[str, str] = {}
        self.reported: dict[str, dict[str, int]] = {}
        self.last_report = time.monotonic()

    def handle(self, msg: tuple[Any, ...]) -> None:
        op, source = msg[0], msg[1]
        if op == "open":
            self._guard(source, lambda: self._open(msg[2]))
            if source not in self.failed:
                self.results.send(("opened", source))
        elif op == "exchange":
            arch = self.archivers.get(source)
            if arch is not None and source not in self.failed:
                self._archive(arch, msg[2], msg[3], msg[4])
            else:
                logger.warning("archiving has stopped; %s is not archived", msg[2].url)
                if arch is not None:
                    arch.counts["not_archived"] = arch.counts.get("not_archived", 0) + 1
        elif op == "close":
            arch = self.archivers.pop(source, None)
            if arch is not None:
                if source not in self.failed:
                    self._guard(source, arch.close)
                self._report(source, arch)
                arch.catalog.close()
            self.results.send(("closed", source))
            self.failed.pop(source, None)

    def idle(self) -> None:
        """Between messages: catalog rows that waited long enough, counts now and then."""
        for source, arch in self.archivers.items():
            if source not in self.failed and arch.flush_due():
                self._guard(source, arch.flush)
        if time.monotonic() - self.last_report >= REPORT_SECONDS:
            for source, arch in self.archivers.items():
                self._report(source, arch)
            self.last_report = time.monotonic()

    def _archive(
        self, arch: ExchangeArchiver, ex: Exchange, kind: str, prior: Capture | None
    ) -> None:
        self._guard(arch.source, lambda: arch.archive(ex, kind=kind, prior=prior), ex.url)
        if arch.source in self.failed:
            arch.counts["not_archived"] = arch.counts.get("not_archived", 0) + 1

    def _open(self, config: ArchiverConfig) -> None:
        self.archivers[config.source] = ExchangeArchiver.from_config(config)
        self.reported[config.source] = {}

    def _guard(self, source: str, work: Callable[[], object], url: str = "") -> None:
        try:
            work()
        except Exception as e:
            where = f" (at {url})" if url else ""
            logger.exception("archiving %s failed%s", source, where)
            self.failed[source] = f"{type(e).__name__}: {e}"
            self.results.send(("failed", source, self.failed[source]))

    def _report(self, source: str, arch: ExchangeArchiver) -> None:
        last = self.reported.setdefault(source, {})
        delta = {k: v - last.get(k, 0) for k, v in arch.counts.items() if v != last.get(k, 0)}
        if delta:
            self.results.send(("counts", source, delta))
            self.reported[source] = dict(arch.counts)


def serve(requests: Connection, results: Connection) -> None:
    """The writer process: archive what arrives until told to stop or the crawl is gone."""
    _die_with_parent()
    _setup_logging()
    writer = _Writer(results)
    while True:
        if requests.poll(FLUSH_SECONDS / 2):
            try:
                data = requests.recv_bytes()
            except (EOFError, OSError):
                # the crawl is gone without saying stop: leave the files as a crash leaves
                # them (unfinished, journalled), for the next run's recovery
                os._exit(1)
            msg = pickle.loads(data)
            if msg[0] == "stop":
                break
            writer.handle(msg)
        writer.idle()
    for source in list(writer.archivers):  # sources never closed: close them now
        writer.handle(("close", source))
    results.close()
