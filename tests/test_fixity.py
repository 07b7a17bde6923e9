"""Fixity: verify_archive finds deleted, truncated and altered objects in both stores."""

from __future__ import annotations

import hashlib
import io
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import warcio

from opeds.errors import StoreError
from opeds.storage.stores.base import Store
from opeds.storage.stores.fixity import Problem, verify_archive
from opeds.storage.stores.local import LocalStore
from opeds.storage.stores.manifest import FileEntry, bagit_key, build_manifest, write_manifest
from opeds.storage.stores.s3 import MIB, S3Store
from tests.s3server import (
    ERROR_500,
    PASS,
    TRUNCATE,
    MotoS3,
    cycle,
    fault_proxy,
    moto_s3_fixture,  # noqa: F401  (the moto_s3 fixture)
    store_options,
)

CREATED = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


@dataclass
class Archive:
    """A store plus a way to tamper with it behind the store's back."""

    store: Store
    server: MotoS3 | None = None
    bucket: str = ""

    def _full(self, key: str) -> str:
        assert isinstance(self.store, S3Store)
        return f"{self.store.prefix}/{key}"

    def delete(self, key: str) -> None:
        if self.server is None:
            path = self.store.local_path(key)
            assert path is not None
            path.unlink()
        else:
            self.server.client().delete_object(Bucket=self.bucket, Key=self._full(key))

    def overwrite(self, key: str, data: bytes) -> None:
        if self.server is None:
            path = self.store.local_path(key)
            assert path is not None
            path.write_bytes(data)
        else:
            self.server.client().put_object(Bucket=self.bucket, Key=self._full(key), Body=data)

    def read(self, key: str) -> bytes:
        with self.store.open(key) as f:
            return f.read()


@pytest.fixture(params=["local", "s3"])
def archive(request: pytest.FixtureRequest, tmp_path: Path, moto_s3: MotoS3) -> Archive:
    if request.param == "local":
        return Archive(LocalStore(tmp_path / "archive"))
    bucket = moto_s3.bucket(object_lock=True)
    store = S3Store(
        bucket,
        "arch",
        **store_options(moto_s3.endpoint, object_lock_mode="GOVERNANCE", object_lock_days=1),
    )
    return Archive(store, moto_s3, bucket)


def _store_night(archive: Archive, tmp_path: Path, night: str, sizes: list[int]) -> list[str]:
    entries = []
    day = night.replace("-", "/")
    for i, size in enumerate(sizes):
        p = tmp_path / f"{night}-{i}.warc.gz"
        p.write_bytes(random.Random(f"{night}/{i}").randbytes(size))
        key = f"warcs/{day}/opeds-{night}-{i:05d}.warc.gz"
        obj = archive.store.put_file(p, key)
        entries.append(FileEntry(key, obj.size, obj.sha256, records=i + 1))
    write_manifest(archive.store, build_manifest(night, entries, created=CREATED))
    return [e.key for e in entries]


def _kinds(problems: list[Problem]) -> list[tuple[str, str]]:
    return sorted((p.kind, p.key) for p in problems)


def test_intact_archive_is_ok(archive: Archive, tmp_path: Path) -> None:
    _store_night(archive, tmp_path, "2026-11-27", [10, 2000])
    _store_night(archive, tmp_path, "2026-11-28", [0, 70_000, 300])
    seen: list[tuple[int, int, str]] = []
    report = verify_archive(archive.store, progress=lambda d, t, k: seen.append((d, t, k)))
    assert report.ok, report.lines()
    assert report.nights == ["2026-11-27", "2026-11-28"]
    assert (report.objects_checked, report.bytes_read) == (5, 10 + 2000 + 70_000 + 300)
    assert [d for d, _, _ in seen] == [1, 2, 3, 4, 5] and {t for _, t, _ in seen} == {5}
    assert report.summary().startswith(
        f"fixity of {archive.store.uri}: OK; 2 night(s), 5 object(s)"
    )


def test_deleted_truncated_and_altered_objects_are_named(archive: Archive, tmp_path: Path) -> None:
    gone, short, flipped, fine = _store_night(archive, tmp_path, "2026-11-28", [500, 800, 900, 100])
    other = _store_night(archive, tmp_path, "2026-11-27", [50])
    archive.delete(gone)
    archive.overwrite(short, archive.read(short)[:-1])
    data = bytearray(archive.read(flipped))
    data[450] ^= 0x01  # one bit, same size
    archive.overwrite(flipped, bytes(data))

    report = verify_archive(archive.store)
    assert not report.ok
    assert _kinds(report.problems) == [
        ("altered", flipped),
        ("missing", gone),
        ("truncated", short),
    ]
    messages = {p.kind: p.message for p in report.problems}
    assert messages["missing"] == (
        f"MISSING {gone} (night 2026-11-28): not in the store (expected 500 bytes)"
    )
    assert messages["truncated"] == (
        f"TRUNCATED {short} (night 2026-11-28): 799 bytes stored, 800 recorded"
    )
    assert messages["altered"].startswith(f"ALTERED {flipped} (night 2026-11-28): sha256 ")
    assert all("\n" not in m for m in messages.values())
    assert report.lines()[0].endswith("3 problem(s); 2 night(s), 5 object(s), 1050 bytes read")
    # only the nights asked for
    assert verify_archive(archive.store, ["2026-11-27"]).ok
    assert fine not in {p.key for p in report.problems}
    assert not any(other[0] in line for line in report.lines())


def test_deletion_under_object_lock_keeps_the_locked_version(
    moto_s3: MotoS3, tmp_path: Path
) -> None:
    bucket = moto_s3.bucket(object_lock=True)
    store = S3Store(
        bucket,
        "arch",
        **store_options(moto_s3.endpoint, object_lock_mode="COMPLIANCE", object_lock_days=1),
    )
    archive = Archive(store, moto_s3, bucket)
    (key,) = _store_night(archive, tmp_path, "2026-11-28", [4000])
    archive.delete(key)  # a delete marker: the key is gone, the locked version is not
    report = verify_archive(store)
    assert _kinds(report.problems) == [("missing", key)]
    versions = moto_s3.client().list_object_versions(Bucket=bucket, Prefix=f"arch/{key}")
    assert len(versions["Versions"]) == 1 and len(versions["DeleteMarkers"]) == 1


def test_missing_manifests_and_disagreeing_bagit(archive: Archive, tmp_path: Path) -> None:
    keys = _store_night(archive, tmp_path, "2026-11-28", [10, 20])
    report = verify_archive(archive.store, ["2026-11-28", "2026-11-30"])
    assert [(p.kind, p.night) for p in report.problems] == [("manifest", "2026-11-30")]
    assert "no manifest for this night" in report.problems[0].message

    bad = tmp_path / "manifest-sha256.txt"
    bad.write_text(f"{'0' * 64}  {keys[0]}\n{hashlib.sha256(b'x').hexdigest()}  warcs/extra\n")
    archive.store.put_file(bad, bagit_key("2026-11-28"))
    problems = verify_archive(archive.store).problems
    assert [(p.kind, p.detail) for p in problems] == [
        ("manifest", f"digest of {keys[0]} differs from JSON"),
        ("manifest", f"does not list {keys[1]}"),
        ("manifest", "lists warcs/extra, which the JSON lacks"),
    ]
    archive.delete(bagit_key("2026-11-28"))
    problems = verify_archive(archive.store).problems
    assert [p.detail for p in problems] == ["missing beside the JSON manifest"]
    with pytest.raises(StoreError):
        verify_archive(archive.store, ["28/11/2026"])


def test_empty_archive_is_ok(archive: Archive) -> None:
    report = verify_archive(archive.store)
    assert report.ok and report.nights == [] and report.objects_checked == 0


def test_verify_reads_through_faults_without_false_alarms(moto_s3: MotoS3, tmp_path: Path) -> None:
    bucket = moto_s3.bucket()
    archive = Archive(S3Store(bucket, "arch", **store_options(moto_s3.endpoint)), moto_s3, bucket)
    _store_night(archive, tmp_path, "2026-11-28", [3 * MIB, 1000, 200_000])
    with fault_proxy(moto_s3, cycle([TRUNCATE, PASS, ERROR_500, PASS, PASS])) as proxy:
        store = S3Store(bucket, "arch", **store_options(proxy.endpoint))
        report = verify_archive(store)
    assert report.ok, report.lines()
    assert report.bytes_read == 3 * MIB + 1000 + 200_000
    assert proxy.counts[TRUNCATE] >= 1 and proxy.counts[ERROR_500] >= 1


def _warc_records(path: Path) -> Iterator[tuple[str, int, int]]:
    with open(path, "rb") as f:
        it = warcio.ArchiveIterator(f)
        for rec in it:
            rec.content_stream().read()
            yield rec.rec_type, it.get_record_offset(), it.get_record_length()


@pytest.mark.corpus
def test_real_warcs_fixity_and_record_access(
    corpus_dir: Path,
    tmp_path: Path,
    moto_s3: MotoS3,
) -> None:
    """Real WARCs from other tools: stored, listed in a manifest, verified, records read back."""
    bucket = moto_s3.bucket()
    store = S3Store(bucket, "arch", **store_options(moto_s3.endpoint))
    entries = []
    sources = [
        corpus_dir / "warc" / "pywb" / "iana.warc.gz",
        corpus_dir / "warc" / "pywb" / "dupes.warc.gz",
    ]
    for src in sources:
        local = tmp_path / src.name
        shutil.copyfile(src, local)
        records = list(_warc_records(local))
        obj = store.put_file(local, f"warcs/2026/11/28/{src.name}")
        entries.append(FileEntry(obj.key, obj.size, obj.sha256, records=len(records)))
        # each record can be fetched with one ranged read and parsed on its own
        for rec_type, offset, length in records[:: max(1, len(records) // 10)]:
            chunk = store.read_range(obj.key, offset, length)
            assert chunk == local.read_bytes()[offset : offset + length]
            (rec,) = list(warcio.ArchiveIterator(io.BytesIO(chunk)))
            assert rec.rec_type == rec_type
    assert entries[0].records == 343
    write_manifest(store, build_manifest("2026-11-28", entries, created=CREATED))
    assert verify_archive(store).ok
