"""Object stores: where sealed archive files live.

One interface, :class:`Store`, with a local-folder implementation here (the embedded default) and
an S3 one in :mod:`opeds.storage.stores.s3`. Keys are ``/``-separated relative paths such as
``warcs/2026/11/28/opeds-20261128020000-00000-host.warc.gz``; a store never lets a key escape its
root or prefix."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from opeds.errors import NotFound, StoreError
from opeds.faults import crash_point
from opeds.storage.stores.base import Store, StoredObject, check_key, sha256_file


class LocalStore:
    """A folder on disk. Files appear under their final name only once complete."""

    def __init__(self, root: Path | str):
        self.root = Path(root).expanduser().resolve()
        self.uri = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def put_file(self, path: Path, key: str) -> StoredObject:
        dest = self._path(key)
        size, digest = sha256_file(path)
        if Path(path).resolve() == dest:
            return StoredObject(key, size, digest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        shutil.copyfile(path, tmp)
        crash_point("store-upload")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        got_size, got = sha256_file(tmp)
        if (got_size, got) != (size, digest):
            tmp.unlink(missing_ok=True)
            raise StoreError(f"copy of {path} to {dest} does not verify")
        os.replace(tmp, dest)
        return StoredObject(key, size, digest)

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        try:
            with open(self._path(key), "rb") as f:
                f.seek(offset)
                return f.read(length)
        except FileNotFoundError:
            raise NotFound(f"no object {key!r} in {self.uri}") from None

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError:
            raise NotFound(f"no object {key!r} in {self.uri}") from None

    def stat(self, key: str) -> StoredObject | None:
        p = self._path(key)
        if not p.is_file():
            return None
        size, digest = sha256_file(p)
        return StoredObject(key, size, digest)

    def size(self, key: str) -> int | None:
        p = self._path(key)
        return p.stat().st_size if p.is_file() else None

    def list(self, prefix: str = "") -> Iterator[str]:
        base = self.root
        keys = []
        for p in base.rglob("*"):
            if p.is_file():
                k = p.relative_to(base).as_posix()
                if k.startswith(prefix):
                    keys.append(k)
        yield from sorted(keys)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)


class SpoolFirst:
    """Reads a night's WARCs where they are: from the spool while they are there (not sealed
    yet, or a local archive), else from the archive's store, opened on first need."""

    def __init__(self, spool: LocalStore, archive: Callable[[], Store] | None = None):
        self.spool = spool
        self._open_archive = archive
        self._archive: Store | None = None

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        if self.spool.size(key) is not None or self._open_archive is None:
            return self.spool.read_range(key, offset, length)
        if self._archive is None:
            self._archive = self._open_archive()
        return self._archive.read_range(key, offset, length)
