"""Night manifests: what a night stored, with sizes and SHA-256 digests, kept beside the files.

Each night gets two objects under ``manifests/YYYY/MM/DD/``:

- ``night-YYYY-MM-DD.json``: the night, when and by which opeds version the manifest was made,
  and for every stored file its key, size, SHA-256, record count and first/last record time;
- ``manifest-sha256.txt``: the same digests as BagIt-style ``<sha256>  <key>`` lines, which
  ``sha256sum -c`` can check from the archive root.

Keys in both are relative to the archive root (the store), not to the manifest's folder. The
text file is written first and the JSON last, so a night whose JSON exists has both.
:mod:`opeds.storage.stores.fixity` checks stored objects against these manifests.
"""

from __future__ import annotations

import itertools
import json
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from opeds import __version__
from opeds.errors import NotFound, StoreError
from opeds.storage.stores.base import Store, StoredObject, check_key

FORMAT = "opeds-night-manifest/1"
MANIFEST_ROOT = "manifests"
_NIGHT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_JSON_KEY_RE = re.compile(r"^manifests/(\d{4})/(\d{2})/(\d{2})/night-(\d{4}-\d{2}-\d{2})\.json$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def check_night(night: str) -> str:
    """Return ``night`` if it is a real date written ``YYYY-MM-DD``, else raise StoreError."""
    if not _NIGHT_RE.match(night):
        raise StoreError(f"night must be written YYYY-MM-DD, got {night!r}")
    try:
        date.fromisoformat(night)
    except ValueError:
        raise StoreError(f"night {night!r} is not a real date") from None
    return night


def manifest_key(night: str) -> str:
    """``manifests/YYYY/MM/DD/night-YYYY-MM-DD.json``."""
    y, m, d = check_night(night).split("-")
    return f"{MANIFEST_ROOT}/{y}/{m}/{d}/night-{night}.json"


def bagit_key(night: str) -> str:
    """``manifests/YYYY/MM/DD/manifest-sha256.txt``, beside the JSON manifest."""
    return manifest_key(night).rpartition("/")[0] + "/manifest-sha256.txt"


def _utc(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:  # catalog DateTime columns come back naive from SQLite
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


@dataclass(frozen=True)
class FileEntry:
    """One stored file of a night."""

    key: str
    size: int
    sha256: str
    records: int = 0
    first_record: datetime | None = None
    last_record: datetime | None = None

    def __post_init__(self) -> None:
        check_key(self.key)
        if "\n" in self.key or "\r" in self.key:
            raise StoreError(f"key {self.key!r} contains a line break")
        if not isinstance(self.size, int) or self.size < 0:
            raise StoreError(f"{self.key}: size must be a non-negative integer, got {self.size!r}")
        if not isinstance(self.sha256, str) or not _HEX64.match(self.sha256):
            raise StoreError(f"{self.key}: sha256 must be 64 lowercase hex digits")
        if not isinstance(self.records, int) or self.records < 0:
            raise StoreError(f"{self.key}: records must be a non-negative integer")
        object.__setattr__(self, "first_record", _utc(self.first_record))
        object.__setattr__(self, "last_record", _utc(self.last_record))

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "size": self.size,
            "sha256": self.sha256,
            "records": self.records,
            "first_record": _iso(self.first_record),
            "last_record": _iso(self.last_record),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FileEntry:
        return cls(
            key=d["key"],
            size=d["size"],
            sha256=d["sha256"],
            records=d.get("records", 0),
            first_record=d.get("first_record"),
            last_record=d.get("last_record"),
        )


@dataclass(frozen=True)
class Manifest:
    """A night's manifest: its files, sorted by key."""

    night: str
    created: datetime
    software: str
    files: tuple[FileEntry, ...] = field(default_factory=tuple)

    @property
    def key(self) -> str:
        return manifest_key(self.night)

    @property
    def bagit_key(self) -> str:
        return bagit_key(self.night)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def total_records(self) -> int:
        return sum(f.records for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "night": self.night,
            "created": _iso(self.created),
            "software": self.software,
            "totals": {
                "files": len(self.files),
                "bytes": self.total_bytes,
                "records": self.total_records,
            },
            "files": [f.to_dict() for f in self.files],
        }

    def to_json(self) -> bytes:
        """The JSON manifest, byte-for-byte reproducible for the same content."""
        return (json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    def to_bagit(self) -> bytes:
        """``<sha256>  <key>`` lines (RFC 8493 manifest format; ``%``, CR, LF percent-encoded)."""
        lines = [f"{f.sha256}  {_bagit_path(f.key)}\n" for f in self.files]
        return "".join(lines).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str, *, where: str = "manifest") -> Manifest:
        try:
            d = json.loads(data)
            if d.get("format") != FORMAT:
                raise ValueError(f"unknown format {d.get('format')!r} (expected {FORMAT})")
            created = _utc(d["created"])
            if created is None:
                raise ValueError("no creation time")
            m = build_manifest(
                d["night"],
                [FileEntry.from_dict(f) for f in d["files"]],
                software=d["software"],
                created=created,
            )
        except (ValueError, KeyError, TypeError, AttributeError, StoreError) as exc:
            raise StoreError(f"{where} is not a valid night manifest: {exc}") from None
        return m


def _bagit_path(key: str) -> str:
    return key.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _unbagit_path(path: str) -> str:
    return path.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


def parse_bagit(data: bytes | str, *, where: str = "manifest-sha256.txt") -> dict[str, str]:
    """``{key: sha256}`` from BagIt-style manifest lines."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        digest, _, path = line.partition(" ")
        path = path.lstrip(" \t")
        if not _HEX64.match(digest.lower()) or not path:
            raise StoreError(f"{where} line {n} is not '<sha256>  <path>': {line[:80]!r}")
        out[_unbagit_path(path)] = digest.lower()
    return out


def build_manifest(
    night: str,
    files: Iterable[FileEntry],
    *,
    software: str | None = None,
    created: datetime | None = None,
) -> Manifest:
    """A manifest for ``night`` from its stored files (any order; each key once)."""
    check_night(night)
    entries = sorted(files, key=lambda f: f.key)
    for a, b in itertools.pairwise(entries):
        if a.key == b.key:
            raise StoreError(f"manifest for {night} lists {a.key} twice")
    when = _utc(created) or datetime.now(UTC)
    return Manifest(
        night=night,
        created=when.replace(microsecond=0),
        software=software or f"opeds/{__version__}",
        files=tuple(entries),
    )


def write_manifest(store: Store, manifest: Manifest) -> tuple[StoredObject, StoredObject]:
    """Store the night's ``manifest-sha256.txt`` and then its JSON; both verified by the store.

    Each object appears whole or not at all (the store's ``put_file`` guarantees that). Writing
    a night's manifest again replaces it (on a versioned bucket, as a new version).
    """
    with tempfile.TemporaryDirectory(prefix="opeds-manifest-") as tmp:
        txt = Path(tmp) / "manifest-sha256.txt"
        txt.write_bytes(manifest.to_bagit())
        body = Path(tmp) / f"night-{manifest.night}.json"
        body.write_bytes(manifest.to_json())
        stored_txt = store.put_file(txt, manifest.bagit_key)
        stored_json = store.put_file(body, manifest.key)
    return stored_json, stored_txt


def _read_all(store: Store, key: str) -> bytes:
    with store.open(key) as f:
        return f.read()


def read_manifest(store: Store, night: str) -> Manifest:
    """The manifest of ``night``; :class:`NotFound` if it has none."""
    key = manifest_key(night)
    try:
        data = _read_all(store, key)
    except NotFound:
        raise NotFound(f"no manifest for night {night} in {store.uri} (expected {key})") from None
    m = Manifest.from_json(data, where=f"{store.uri}/{key}")
    if m.night != night:
        raise StoreError(f"{store.uri}/{key} describes night {m.night}, not {night}")
    return m


def read_bagit(store: Store, night: str) -> dict[str, str]:
    """``{key: sha256}`` from the night's ``manifest-sha256.txt``; :class:`NotFound` if absent."""
    key = bagit_key(night)
    try:
        data = _read_all(store, key)
    except NotFound:
        raise NotFound(f"no manifest-sha256.txt for night {night} in {store.uri}") from None
    return parse_bagit(data, where=f"{store.uri}/{key}")


def list_manifests(store: Store) -> list[str]:
    """Nights (``YYYY-MM-DD``) that have a JSON manifest in ``store``, oldest first."""
    nights = []
    for key in store.list(MANIFEST_ROOT + "/"):
        m = _JSON_KEY_RE.match(key)
        if m and f"{m.group(1)}-{m.group(2)}-{m.group(3)}" == m.group(4):
            nights.append(m.group(4))
    return sorted(set(nights))
