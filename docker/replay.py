"""The stack's replay service: pywb over the archive's WARCs in S3.

pywb reads every record straight from the bucket with one ranged GET (its archive path is the
archive URI, to which each CDXJ line's ``filename`` — ``warcs/YYYY/MM/DD/<name>.warc.gz`` — is
relative). Its index must be local, so every ``OPEDS_REPLAY_SYNC_SECONDS`` (default 600) this
script copies the nights' merged indexes (``indexes/YYYY/MM/DD/night-*.cdxj``) from the archive
into the collection's index folder, replacing each file atomically. Settings as for opeds
(``OPEDS_ARCHIVE``, ``OPEDS_S3_ENDPOINT_URL``, AWS credentials); give it read-only credentials.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from opeds.errors import OpedsError
from opeds.settings import Settings
from opeds.storage.stores.s3 import S3Store

ROOT = Path(os.environ.get("OPEDS_REPLAY_DIR", "/webarchive"))
COLLECTION = "opeds"
NIGHT_INDEX = re.compile(r"^indexes/\d{4}/\d{2}/\d{2}/night-\d{4}-\d{2}-\d{2}\.cdxj$")


def write_config(store: S3Store) -> None:
    archive = f"s3://{store.bucket}/{store.prefix + '/' if store.prefix else ''}"
    (ROOT / "collections" / COLLECTION / "indexes").mkdir(parents=True, exist_ok=True)
    (ROOT / "config.yaml").write_text(
        "collections:\n"
        f"  {COLLECTION}:\n"
        f"    index_paths: {ROOT}/collections/{COLLECTION}/indexes/\n"
        f"    archive_paths: {archive}\n"
        "framed_replay: true\n"
    )


def sync_indexes(store: S3Store) -> int:
    """Copy new or changed night indexes; return how many were copied."""
    target = ROOT / "collections" / COLLECTION / "indexes"
    copied = 0
    for key in store.list("indexes/"):
        if not NIGHT_INDEX.match(key):
            continue
        dest = target / key.rsplit("/", 1)[1]
        size = store.size(key)
        if size is not None and dest.is_file() and dest.stat().st_size == size:
            continue
        tmp = dest.with_suffix(".part")
        with store.open(key) as src, open(tmp, "wb") as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
        os.replace(tmp, dest)
        copied += 1
    return copied


def main() -> int:
    settings = Settings.from_env()
    store = S3Store.from_uri(
        settings.archive, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region
    )
    every = int(os.environ.get("OPEDS_REPLAY_SYNC_SECONDS", "600"))
    write_config(store)
    try:
        print(f"replay: {sync_indexes(store)} night index(es) copied", flush=True)
    except OpedsError as exc:
        print(f"replay: index sync failed, will retry: {exc}", file=sys.stderr, flush=True)
    server = subprocess.Popen(["wayback", "--port", "8080", "--bind", "0.0.0.0", "-d", str(ROOT)])

    def stop(signum: int, frame: FrameType | None) -> None:
        server.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while server.poll() is None:
        deadline = time.monotonic() + every
        while server.poll() is None and time.monotonic() < deadline:
            time.sleep(1)
        if server.poll() is None:
            try:
                copied = sync_indexes(store)
                if copied:
                    print(f"replay: {copied} night index(es) updated", flush=True)
            except OpedsError as exc:
                print(f"replay: index sync failed: {exc}", file=sys.stderr, flush=True)
    return server.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
