"""Object stores: where sealed archive files live.

One interface, :class:`Store`, with a local-folder implementation here (the embedded default) and
an S3 one in :mod:`opeds.storage.stores.s3`. Keys are ``/``-separated relative paths such as
``warcs/2026/11/28/opeds-20261128020000-00000-host.warc.gz``; a store never lets a key escape its
root or prefix.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

from opeds.errors import NotFound, StoreError
from opeds.faults import crash_point

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative key, else raise :class:`StoreError`."""
    p = PurePosixPath(key)
    bad_part = any(part in ("", ".", "..") for part in p.parts)
    if not key or key.startswith("/") or "\\" in key or bad_part:
        raise StoreError(f"unsafe object key {key!r}: keys are relative paths without '..'")
    if key != str(p):
        raise StoreError(f"unsafe object key {key!r}: not in normal form")
    return key


def sha256_file(path: Path) -> tuple[int, str]:
    """Size and hex SHA-256 of a local file, read in chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


class Store(Protocol):
    """Where sealed files are kept."""

    uri: str

    def put_file(self, path: Path, key: str) -> StoredObject:
        """Store a complete local file under ``key``, verified; never a partial object."""
        ...

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """One ranged read of ``length`` bytes at ``offset``."""
        ...

    def open(self, key: str) -> BinaryIO:
        """A readable stream of the whole object."""
        ...

    def stat(self, key: str) -> StoredObject | None:
        """Size and SHA-256 of a stored object (computed by reading it), or None if missing."""
        ...

    def size(self, key: str) -> int | None:
        """Size of a stored object without reading it, or None if missing."""
        ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys under ``prefix``, sorted."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A local filesystem path for ``key`` if the store is local, else None."""
        ...


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


def open_store(archive: str, **s3_options: object) -> Store:
    """The store for an archive URI: a local folder, or ``s3://bucket/prefix``."""
    if archive.startswith("s3://"):
        from opeds.storage.stores.s3 import S3Store  # imported lazily: boto3 is slow to import

        return S3Store.from_uri(archive, **s3_options)
    if "://" in archive:
        raise StoreError(
            f"unsupported archive URI {archive!r}: use a folder path or s3://bucket/prefix"
        )
    return LocalStore(archive)
