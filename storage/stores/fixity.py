"""Fixity: re-read stored objects and check them against the nights' manifests.

:func:`verify_archive` streams every object a manifest lists through SHA-256 and names each one
that is missing, truncated (shorter than recorded), altered (other bytes, or longer), or
unreadable, and each manifest that is missing, unreadable, or disagrees with its
``manifest-sha256.txt``. ``opeds verify`` exits non-zero when the report is not ``ok``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from opeds.errors import NotFound, OpedsError
from opeds.storage.stores.base import CHUNK, Store
from opeds.storage.stores.manifest import (
    FileEntry,
    Manifest,
    bagit_key,
    check_night,
    list_manifests,
    manifest_key,
    read_bagit,
    read_manifest,
)

ProblemKind = Literal["missing", "truncated", "altered", "unreadable", "manifest"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong, said in one line."""

    kind: ProblemKind
    night: str
    key: str
    detail: str

    @property
    def message(self) -> str:
        return f"{self.kind.upper()} {self.key} (night {self.night}): {self.detail}"

    def __str__(self) -> str:
        return self.message


@dataclass
class FixityReport:
    """What :func:`verify_archive` checked and what it found."""

    store: str
    nights: list[str] = field(default_factory=list)
    objects_checked: int = 0
    bytes_read: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        state = "OK" if self.ok else f"{len(self.problems)} problem(s)"
        return (
            f"fixity of {self.store}: {state}; {len(self.nights)} night(s), "
            f"{self.objects_checked} object(s), {self.bytes_read} bytes read"
        )

    def lines(self) -> list[str]:
        """The summary, then one line per problem."""
        return [self.summary(), *(p.message for p in self.problems)]


Progress = Callable[[int, int, str], None]
"""Called after each object with (objects done, objects in total, key)."""


def _digest(store: Store, key: str) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with store.open(key) as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def check_object(store: Store, night: str, entry: FileEntry) -> tuple[int, Problem | None]:
    """Bytes read and the problem with one stored object, if any."""

    def problem(kind: ProblemKind, detail: str) -> Problem:
        return Problem(kind, night, entry.key, detail)

    try:
        size = store.size(entry.key)
        if size is None:
            return 0, problem("missing", f"not in the store (expected {entry.size} bytes)")
        if size < entry.size:
            return 0, problem("truncated", f"{size} bytes stored, {entry.size} recorded")
        if size > entry.size:
            return 0, problem("altered", f"{size} bytes stored, {entry.size} recorded")
        got_size, digest = _digest(store, entry.key)
    except NotFound:
        return 0, problem("missing", f"not in the store (expected {entry.size} bytes)")
    except (OpedsError, OSError) as exc:
        return 0, problem("unreadable", str(exc))
    if got_size != entry.size:
        kind: ProblemKind = "truncated" if got_size < entry.size else "altered"
        return got_size, problem(kind, f"read {got_size} bytes, {entry.size} recorded")
    if digest != entry.sha256:
        return got_size, problem(
            "altered", f"sha256 {digest} read, {entry.sha256} recorded ({entry.size} bytes)"
        )
    return got_size, None


def _check_bagit(store: Store, manifest: Manifest) -> list[Problem]:
    night = manifest.night
    key = bagit_key(night)
    try:
        listed = read_bagit(store, night)
    except NotFound:
        return [Problem("manifest", night, key, "missing beside the JSON manifest")]
    except (OpedsError, OSError) as exc:
        return [Problem("manifest", night, key, f"unreadable: {exc}")]
    expected = {f.key: f.sha256 for f in manifest.files}
    problems = []
    for k in sorted(set(expected) | set(listed)):
        if k not in listed:
            problems.append(Problem("manifest", night, key, f"does not list {k}"))
        elif k not in expected:
            problems.append(Problem("manifest", night, key, f"lists {k}, which the JSON lacks"))
        elif listed[k] != expected[k]:
            problems.append(Problem("manifest", night, key, f"digest of {k} differs from JSON"))
    return problems


def verify_archive(
    store: Store, nights: list[str] | None = None, *, progress: Progress | None = None
) -> FixityReport:
    """Check every object of ``nights`` (all nights with a manifest when None).

    Objects are streamed, never held in memory. A night named in ``nights`` without a manifest
    is a problem; an archive with no manifests at all checks nothing and is ``ok``. A night not
    written ``YYYY-MM-DD`` raises :class:`opeds.errors.StoreError`.
    """
    report = FixityReport(store=store.uri)
    wanted = list_manifests(store) if nights is None else list(dict.fromkeys(nights))
    for night in wanted:
        check_night(night)  # a mistyped night is the caller's error, not a fixity problem
    manifests: list[Manifest] = []
    for night in wanted:
        report.nights.append(night)
        try:
            manifests.append(read_manifest(store, night))
        except NotFound:
            report.problems.append(
                Problem("manifest", night, manifest_key(night), "no manifest for this night")
            )
        except (OpedsError, OSError) as exc:
            report.problems.append(
                Problem("manifest", night, manifest_key(night), f"unreadable: {exc}")
            )
    total = sum(len(m.files) for m in manifests)
    done = 0
    for m in manifests:
        report.problems += _check_bagit(store, m)
        for entry in m.files:
            read, found = check_object(store, m.night, entry)
            report.objects_checked += 1
            report.bytes_read += read
            if found is not None:
                report.problems.append(found)
            done += 1
            if progress is not None:
                progress(done, total, entry.key)
    return report
