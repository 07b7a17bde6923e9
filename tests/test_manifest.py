"""Night manifests: exact bytes, validation, and a round trip through both stores."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from opeds.errors import NotFound, StoreError
from opeds.storage.stores.base import Store
from opeds.storage.stores.local import LocalStore
from opeds.storage.stores.manifest import (
    FileEntry,
    Manifest,
    bagit_key,
    build_manifest,
    list_manifests,
    manifest_key,
    parse_bagit,
    read_bagit,
    read_manifest,
    write_manifest,
)
from opeds.storage.stores.s3 import S3Store
from tests.s3server import MotoS3, moto_s3_fixture, store_options  # noqa: F401

SHA_A = hashlib.sha256(b"a").hexdigest()
SHA_B = hashlib.sha256(b"b").hexdigest()
CREATED = datetime(2026, 11, 28, 6, 30, 0, tzinfo=UTC)


def _entries() -> list[FileEntry]:
    return [
        FileEntry(
            key="warcs/2026/11/28/opeds-20261128020000-00001-h.warc.gz",
            size=2048,
            sha256=SHA_B,
            records=12,
            first_record=datetime(2026, 11, 28, 2, 10, 0),  # naive, as SQLite returns them
            last_record="2026-11-28T03:00:00+01:00",  # type: ignore[arg-type]
        ),
        FileEntry(
            key="warcs/2026/11/28/opeds-20261128020000-00000-h.warc.gz",
            size=1024,
            sha256=SHA_A,
            records=7,
            first_record=datetime(2026, 11, 28, 2, 0, 1, tzinfo=UTC),
            last_record=datetime(2026, 11, 28, 2, 5, 0, tzinfo=timezone(timedelta(hours=-5))),
        ),
    ]


def test_keys() -> None:
    assert manifest_key("2026-11-28") == "manifests/2026/11/28/night-2026-11-28.json"
    assert bagit_key("2026-11-28") == "manifests/2026/11/28/manifest-sha256.txt"
    for bad in ("2026-11-31", "26-11-28", "2026/11/28", "../2026-11-28", ""):
        with pytest.raises(StoreError):
            manifest_key(bad)


def test_exact_bytes() -> None:
    m = build_manifest("2026-11-28", _entries(), software="opeds/9.9.9", created=CREATED)
    first, second = m.files
    assert first.key.endswith("00000-h.warc.gz")  # sorted by key
    assert second.first_record == datetime(2026, 11, 28, 2, 10, tzinfo=UTC)
    assert second.last_record == datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    assert first.last_record == datetime(2026, 11, 28, 7, 5, tzinfo=UTC)
    expected = {
        "format": "opeds-night-manifest/1",
        "night": "2026-11-28",
        "created": "2026-11-28T06:30:00Z",
        "software": "opeds/9.9.9",
        "totals": {"files": 2, "bytes": 3072, "records": 19},
        "files": [
            {
                "key": "warcs/2026/11/28/opeds-20261128020000-00000-h.warc.gz",
                "size": 1024,
                "sha256": SHA_A,
                "records": 7,
                "first_record": "2026-11-28T02:00:01Z",
                "last_record": "2026-11-28T07:05:00Z",
            },
            {
                "key": "warcs/2026/11/28/opeds-20261128020000-00001-h.warc.gz",
                "size": 2048,
                "sha256": SHA_B,
                "records": 12,
                "first_record": "2026-11-28T02:10:00Z",
                "last_record": "2026-11-28T02:00:00Z",
            },
        ],
    }
    assert m.to_json() == (json.dumps(expected, indent=2) + "\n").encode()
    assert (
        m.to_bagit()
        == (
            f"{SHA_A}  warcs/2026/11/28/opeds-20261128020000-00000-h.warc.gz\n"
            f"{SHA_B}  warcs/2026/11/28/opeds-20261128020000-00001-h.warc.gz\n"
        ).encode()
    )
    assert Manifest.from_json(m.to_json()) == m
    assert parse_bagit(m.to_bagit()) == {f.key: f.sha256 for f in m.files}


def test_entries_are_checked() -> None:
    with pytest.raises(StoreError, match="twice"):
        build_manifest("2026-11-28", [*_entries(), _entries()[0]])
    with pytest.raises(StoreError):
        FileEntry("../etc/passwd", 1, SHA_A)
    with pytest.raises(StoreError):
        FileEntry("a\nb", 1, SHA_A)
    with pytest.raises(StoreError):
        FileEntry("a", -1, SHA_A)
    with pytest.raises(StoreError):
        FileEntry("a", 1, SHA_A.upper())
    with pytest.raises(StoreError):
        FileEntry("a", 1, "abc")
    with pytest.raises(StoreError, match="not a valid night manifest"):
        Manifest.from_json(b'{"format": "something-else"}')
    with pytest.raises(StoreError, match="not a valid night manifest"):
        Manifest.from_json(b"{not json")
    with pytest.raises(StoreError, match="line 2"):
        parse_bagit(f"{SHA_A}  a\nnot a line\n")


def test_bagit_paths_are_percent_encoded() -> None:
    m = build_manifest("2026-11-28", [FileEntry("odd/100%.warc", 1, SHA_A)], created=CREATED)
    assert m.to_bagit() == f"{SHA_A}  odd/100%25.warc\n".encode()
    assert parse_bagit(m.to_bagit()) == {"odd/100%.warc": SHA_A}


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path, moto_s3: MotoS3) -> Store:
    if request.param == "local":
        return LocalStore(tmp_path / "archive")
    return S3Store(moto_s3.bucket(), "arch", **store_options(moto_s3.endpoint))


def test_write_read_list(store: Store) -> None:
    assert list_manifests(store) == []
    nights = ["2026-11-29", "2026-11-27", "2026-11-28"]
    for night in nights:
        m = build_manifest(night, _entries(), created=CREATED)
        json_obj, txt_obj = write_manifest(store, m)
        assert json_obj.key == manifest_key(night)
        assert txt_obj.key == bagit_key(night)
        assert json_obj.sha256 == hashlib.sha256(m.to_json()).hexdigest()
    assert list_manifests(store) == sorted(nights)
    back = read_manifest(store, "2026-11-28")
    assert back == build_manifest("2026-11-28", _entries(), created=CREATED)
    assert back.software.startswith("opeds/")
    assert read_bagit(store, "2026-11-28") == {f.key: f.sha256 for f in back.files}
    with pytest.raises(NotFound, match="2026-12-01"):
        read_manifest(store, "2026-12-01")
    # only what looks like a manifest is listed; no temporary files are left behind
    keys = list(store.list("manifests/"))
    assert all(k.endswith(("manifest-sha256.txt", ".json")) for k in keys), keys
    assert len(keys) == 6


def test_rewriting_a_night_replaces_its_manifest(store: Store) -> None:
    write_manifest(store, build_manifest("2026-11-28", _entries()[:1], created=CREATED))
    write_manifest(store, build_manifest("2026-11-28", _entries(), created=CREATED))
    assert len(read_manifest(store, "2026-11-28").files) == 2
    assert len(read_bagit(store, "2026-11-28")) == 2


def test_a_manifest_for_another_night_is_rejected(store: Store, tmp_path: Path) -> None:
    wrong = build_manifest("2026-11-27", _entries(), created=CREATED)
    p = tmp_path / "m.json"
    p.write_bytes(wrong.to_json())
    store.put_file(p, manifest_key("2026-11-28"))
    with pytest.raises(StoreError, match="describes night 2026-11-27"):
        read_manifest(store, "2026-11-28")
