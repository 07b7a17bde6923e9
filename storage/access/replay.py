"""Replay of a local archive with pywb, on the loopback interface.

:func:`build_replay_config` writes a pywb configuration in ``<archive>/.pywb/``: one collection,
``opeds``, whose index is ``.pywb/indexes/`` (symbolic links to each night's merged CDXJ index,
or to the per-file indexes of a night without one) and whose archive path is the archive root,
which the ``filename`` of every CDXJ line (``warcs/YYYY/MM/DD/<name>.warc.gz``) is relative to.
WARCs are never copied. WARCs without an index are indexed first (:mod:`opeds.storage.access.cdxj`).

pywb runs on gevent and needs its monkey patching, which must happen before anything else is
imported, so the server always runs in a child process (``python -m opeds.replay``):
:func:`serve_replay` runs it in the foreground, :func:`start_replay` in the background (tests).

A capture is at ``/opeds/<14-digit timestamp>/<url>`` (in pywb's frame, with its banner) and
exactly as archived at ``/opeds/<timestamp>id_/<url>``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import ipaddress
import json
import os
import selectors
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import IO

from opeds.errors import ConfigError, NotFound, OpedsError
from opeds.interpreter import child_environment, python_command

COLLECTION = "opeds"
PYWB_DIR = ".pywb"
READY = "opeds-replay listening on "


class ReplayError(OpedsError):
    """The replay server could not be started."""


@dataclass(frozen=True)
class ReplayConfig:
    root: Path
    config_file: Path
    index_dir: Path
    collection: str
    indexes: int
    """Index files linked into :attr:`index_dir`."""

    def path(self, url: str, timestamp: str = "", *, raw: bool = False) -> str:
        """The replay path of ``url`` (closest to ``timestamp``); ``raw`` serves the archived
        bytes unrewritten, outside the frame."""
        return f"/{self.collection}/{timestamp}{'id_' if raw else ''}/{url}"


def _night_dirs(root: Path, top: str) -> list[tuple[date, Path]]:
    nights = []
    for day_dir in sorted((root / top).glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]")):
        y, m, d = (int(x) for x in day_dir.relative_to(root / top).parts)
        try:
            nights.append((date(y, m, d), day_dir))
        except ValueError:
            continue
    return nights


def build_replay_config(
    archive_dir: Path | str, *, collection: str = COLLECTION, index_missing: bool = True
) -> ReplayConfig:
    """Write ``<archive>/.pywb/config.yaml`` and link the archive's indexes for pywb."""
    from opeds.storage.access.cdxj import index_night, night_index_key, per_file_index_keys
    from opeds.storage.stores.local import LocalStore

    root = Path(archive_dir).expanduser().resolve()
    if not root.is_dir():
        raise NotFound(f"no archive folder at {root}")
    store = LocalStore(root)
    if index_missing:
        for night, _ in _night_dirs(root, "warcs"):
            index_night(store, night)
    pywb_dir = root / PYWB_DIR
    index_dir = pywb_dir / "indexes"
    index_dir.mkdir(parents=True, exist_ok=True)
    for old in index_dir.iterdir():
        if old.is_symlink() or old.suffix == ".cdxj":
            old.unlink()
    linked = 0
    for night, _ in _night_dirs(root, "indexes"):
        merged = root / night_index_key(night)
        keys = [night_index_key(night)] if merged.is_file() else per_file_index_keys(store, night)
        for key in keys:
            target = root / key
            link = index_dir / f"{night:%Y-%m-%d}--{target.name}"
            link.symlink_to(target)
            linked += 1
    config_file = pywb_dir / "config.yaml"
    # JSON strings are YAML strings: quoting keeps any path safe
    lines = [
        "# written by opeds.replay.build_replay_config; rebuilt on every start",
        "collections:",
        f"  {collection}:",
        f"    index: {json.dumps(str(index_dir))}",
        f"    archive_paths: {json.dumps(str(root) + os.sep)}",
        "enable_auto_colls: false",
        f"collections_root: {json.dumps(str(pywb_dir / 'collections'))}",
        "framed_replay: true",
        "enable_memento: true",
    ]
    tmp = config_file.with_name(config_file.name + ".part")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, config_file)
    return ReplayConfig(root, config_file, index_dir, collection, linked)


def _check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ConfigError(
        f"replay serves on the loopback interface only (127.0.0.1, ::1), not {host!r}: put a "
        "reverse proxy in front of it to publish the archive"
    )


def require_pywb() -> None:
    """Raise :class:`ReplayError` saying how to install pywb when this environment lacks it."""
    if importlib.util.find_spec("pywb") is None:
        raise ReplayError(
            "replay needs pywb, which the [replay] extra installs: pip install -c "
            "constraints.txt -e '.[replay]' (in an environment without the [celery] extra: "
            "pywb pins redis 2.10.6)"
        )


def _command(config: ReplayConfig, port: int, host: str) -> list[str]:
    return python_command(
        "opeds.storage.access.replay",
        "--config",
        str(config.config_file),
        "--port",
        str(port),
        "--host",
        host,
    )


def _child_env() -> dict[str, str]:
    return child_environment({k: v for k, v in os.environ.items() if k != "PYWB_CONFIG_FILE"})


def serve_replay(archive_dir: Path | str, port: int, host: str = "127.0.0.1") -> int:
    """Serve the archive with pywb until interrupted; returns the server's exit code."""
    _check_loopback(host)
    require_pywb()
    config = build_replay_config(archive_dir)
    proc = subprocess.Popen(
        _command(config, port, host), cwd=config.root / PYWB_DIR, env=_child_env()
    )
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait(timeout=10)


class ReplayServer:
    """A pywb server running in a child process; a context manager that stops it."""

    def __init__(self, config: ReplayConfig, proc: subprocess.Popen[str], url: str) -> None:
        self.config = config
        self.proc = proc
        self.url = url
        """Base URL, e.g. ``http://127.0.0.1:8080``."""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self) -> ReplayServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_replay(
    archive_dir: Path | str, port: int = 0, host: str = "127.0.0.1", *, timeout: float = 60.0
) -> ReplayServer:
    """Start pywb over the archive in the background (``port=0``: any free port) and wait until
    it listens."""
    _check_loopback(host)
    require_pywb()
    config = build_replay_config(archive_dir)
    log = config.root / PYWB_DIR / "server.log"
    with open(log, "w", encoding="utf-8") as err:
        proc = subprocess.Popen(
            _command(config, port, host),
            cwd=config.root / PYWB_DIR,
            env=_child_env(),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    url = _wait_ready(proc, proc.stdout, deadline)
    if url is None:
        proc.kill()
        proc.wait()
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
        raise ReplayError(f"pywb did not start: {' | '.join(tail) or 'no output'} (log: {log})")
    return ReplayServer(config, proc, url)


def _wait_ready(proc: subprocess.Popen[str], out: IO[str], deadline: float) -> str | None:
    """The server's base URL once it says it listens; None if it exits or time runs out."""
    with selectors.DefaultSelector() as sel:
        sel.register(out, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not sel.select(timeout=min(left, 1.0)):
                if proc.poll() is not None:
                    return None
                continue
            line = out.readline()
            if not line:
                return None
            if line.startswith(READY):
                return line[len(READY) :].strip().rstrip("/")
    return None


def main(argv: list[str] | None = None) -> int:
    """The child process: gevent's monkey patching first, then pywb."""
    from gevent import monkey

    monkey.patch_all()

    parser = argparse.ArgumentParser(prog="python -m opeds.replay")
    parser.add_argument("--config", required=True)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    _check_loopback(args.host)

    from gevent.pywsgi import WSGIServer
    from pywb.apps.frontendapp import FrontEndApp
    from pywb.utils.geventserver import RequestURIWSGIHandler

    app = FrontEndApp(config_file=args.config)
    server = WSGIServer((args.host, args.port), app, handler_class=RequestURIWSGIHandler, log=None)
    server.init_socket()
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"{READY}http://{host}:{server.address[1]}/", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
