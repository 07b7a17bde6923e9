"""What every object store is: the :class:`Store` protocol, a stored object, valid keys."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

from opeds.errors import StoreError

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
