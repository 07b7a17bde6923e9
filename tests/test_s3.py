"""S3Store against a real S3 HTTP server (moto on 127.0.0.1), with and without injected faults."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import random
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opeds.errors import ConfigError, NotFound, StoreError
from opeds.storage.stores.base import Store
from opeds.storage.stores.buckets import create_bucket, create_store_bucket
from opeds.storage.stores.local import LocalStore
from opeds.storage.stores.s3 import MIB, S3Store
from opeds.storage.stores.s3_client import redact
from opeds.storage.stores.uri import open_store
from tests.s3server import (
    ACCESS_KEY,
    DELAY,
    DROP_AFTER,
    DROP_BEFORE,
    ERROR_500,
    ERROR_503,
    PASS,
    SECRET_KEY,
    TRUNCATE,
    MotoS3,
    Watcher,
    cycle,
    fault_proxy,
    moto_s3_fixture,  # noqa: F401  (the moto_s3 fixture)
    seeded,
    store_options,
)

PART = 5 * MIB


def _file(tmp_path: Path, name: str, size: int, seed: int = 0) -> Path:
    p = tmp_path / name
    p.write_bytes(random.Random(seed).randbytes(size))
    return p


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _b64sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _s3(server: MotoS3, bucket: str, prefix: str = "archive", **kw: Any) -> S3Store:
    endpoint = kw.pop("endpoint", server.endpoint)
    return S3Store(bucket, prefix, **store_options(endpoint, part_size=PART, **kw))


def _uploads_in_progress(server: MotoS3, bucket: str) -> list[str]:
    resp = server.client().list_multipart_uploads(Bucket=bucket)
    return [u["Key"] for u in resp.get("Uploads", [])]


# -- the Store contract, for both stores -------------------------------------------------------


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path, moto_s3: MotoS3) -> Store:
    if request.param == "local":
        return LocalStore(tmp_path / "archive")
    return _s3(moto_s3, moto_s3.bucket())


def test_store_contract(store: Store, tmp_path: Path) -> None:
    small = _file(tmp_path, "small.bin", 1000, seed=1)
    empty = _file(tmp_path, "empty.bin", 0)
    got = store.put_file(small, "warcs/2026/11/28/a.warc.gz")
    assert (got.key, got.size, got.sha256) == (
        "warcs/2026/11/28/a.warc.gz",
        1000,
        _sha(small.read_bytes()),
    )
    assert store.put_file(empty, "warcs/2026/11/28/empty.warc.gz").size == 0
    data = small.read_bytes()
    assert store.read_range("warcs/2026/11/28/a.warc.gz", 10, 25) == data[10:35]
    assert store.read_range("warcs/2026/11/28/a.warc.gz", 990, 50) == data[990:]
    assert store.read_range("warcs/2026/11/28/a.warc.gz", 5000, 5) == b""
    with store.open("warcs/2026/11/28/a.warc.gz") as f:
        assert f.read() == data
    with store.open("warcs/2026/11/28/empty.warc.gz") as f:
        assert f.read() == b""
    stat = store.stat("warcs/2026/11/28/a.warc.gz")
    assert stat is not None and stat.sha256 == _sha(data) and stat.size == 1000
    assert store.size("warcs/2026/11/28/a.warc.gz") == 1000
    assert store.size("warcs/nope") is None
    assert store.stat("warcs/nope") is None
    with pytest.raises(NotFound):
        store.read_range("warcs/nope", 0, 10)
    with pytest.raises(NotFound):
        store.open("warcs/nope")
    assert list(store.list("warcs/")) == [
        "warcs/2026/11/28/a.warc.gz",
        "warcs/2026/11/28/empty.warc.gz",
    ]
    assert list(store.list("indexes/")) == []


@pytest.mark.parametrize("key", ["../escape", "/abs/key", "a/../../b", "a//b", "a/./b", "", "a\\b"])
def test_keys_cannot_escape(store: Store, tmp_path: Path, key: str) -> None:
    small = _file(tmp_path, "small.bin", 10)
    with pytest.raises(StoreError):
        store.put_file(small, key)
    with pytest.raises(StoreError):
        store.read_range(key, 0, 1)


# -- uploads ------------------------------------------------------------------------------------


def test_single_and_multipart_uploads_verify_with_sha256(moto_s3: MotoS3, tmp_path: Path) -> None:
    bucket = moto_s3.bucket()
    store = _s3(moto_s3, bucket)
    small = _file(tmp_path, "small.warc.gz", 300_000, seed=2)
    big = _file(tmp_path, "big.warc.gz", PART + 12345, seed=3)
    assert store.put_file(small, "warcs/small.warc.gz").sha256 == _sha(small.read_bytes())
    stored = store.put_file(big, "warcs/big.warc.gz")
    assert (stored.size, stored.sha256) == (big.stat().st_size, _sha(big.read_bytes()))

    client = moto_s3.client()
    head = client.head_object(
        Bucket=bucket, Key="archive/warcs/small.warc.gz", ChecksumMode="ENABLED"
    )
    assert head["ChecksumSHA256"] == _b64sha(small.read_bytes())  # full-object checksum
    assert head["Metadata"]["sha256"] == _sha(small.read_bytes())
    assert head["ContentType"] == "application/warc"

    head = client.head_object(
        Bucket=bucket, Key="archive/warcs/big.warc.gz", ChecksumMode="ENABLED"
    )
    data = big.read_bytes()
    parts = [data[i : i + PART] for i in range(0, len(data), PART)]
    assert len(parts) == 2
    composite = base64.b64encode(
        hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest()
    ).decode()
    assert head["ChecksumSHA256"].split("-")[0] == composite  # composite of the part checksums
    assert head["ContentLength"] == len(data)
    body = client.get_object(Bucket=bucket, Key="archive/warcs/big.warc.gz")["Body"].read()
    assert body == data
    assert _uploads_in_progress(moto_s3, bucket) == []


def test_every_part_carries_a_sha256_checksum(moto_s3: MotoS3, tmp_path: Path) -> None:
    bucket = moto_s3.bucket()
    big = _file(tmp_path, "big.bin", PART + 1, seed=4)
    data = big.read_bytes()
    with fault_proxy(moto_s3, cycle([PASS])) as proxy:
        _s3(moto_s3, bucket, endpoint=proxy.endpoint).put_file(big, "k/big.bin")
    uploads = [n for n, m, p, _ in proxy.requests if m == "PUT" and "partNumber=" in p]
    assert len(uploads) == 2
    for i, n in enumerate(uploads):
        h = proxy.headers(n)
        piece = data[i * PART : (i + 1) * PART]
        assert h["x-amz-checksum-sha256"] == _b64sha(piece)
        assert h["x-amz-sdk-checksum-algorithm"] == "SHA256"
        assert h["content-md5"] == base64.b64encode(hashlib.md5(piece).digest()).decode()
        assert "aws-chunked" not in h.get("content-encoding", "")
    create = [n for n, m, p, _ in proxy.requests if m == "POST" and p.endswith("?uploads")]
    assert proxy.headers(create[0])["x-amz-checksum-algorithm"] == "SHA256"


def test_same_file_again_is_not_uploaded_again(moto_s3: MotoS3, tmp_path: Path) -> None:
    bucket = moto_s3.bucket()
    small = _file(tmp_path, "a.bin", 5000, seed=5)
    with fault_proxy(moto_s3, cycle([PASS])) as proxy:
        store = _s3(moto_s3, bucket, endpoint=proxy.endpoint)
        store.put_file(small, "a.bin")
        before = len(proxy.requests)
        assert store.put_file(small, "a.bin").sha256 == _sha(small.read_bytes())
        again = [m for _, m, _, _ in proxy.requests[before:]]
    assert again == ["HEAD"]
    changed = _file(tmp_path, "a.bin", 5000, seed=6)
    assert store.put_file(changed, "a.bin").sha256 == _sha(changed.read_bytes())
    assert store.stat("a.bin") is not None
    assert store.stat("a.bin").sha256 == _sha(changed.read_bytes())  # type: ignore[union-attr]


def test_read_range_is_exactly_one_ranged_get(moto_s3: MotoS3, tmp_path: Path) -> None:
    bucket = moto_s3.bucket()
    big = _file(tmp_path, "big.bin", 3 * MIB, seed=7)
    _s3(moto_s3, bucket).put_file(big, "big.bin")
    with fault_proxy(moto_s3, cycle([PASS])) as proxy:
        store = _s3(moto_s3, bucket, endpoint=proxy.endpoint)
        got = store.read_range("big.bin", MIB - 100, 1000)
    assert got == big.read_bytes()[MIB - 100 : MIB + 900]
    assert [(m, f) for _, m, _, f in proxy.requests] == [("GET", PASS)]
    assert proxy.headers(0)["range"] == f"bytes={MIB - 100}-{MIB + 899}"


# -- Object Lock --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["GOVERNANCE", "COMPLIANCE"])
def test_retention_on_every_object(moto_s3: MotoS3, tmp_path: Path, mode: str) -> None:
    bucket = moto_s3.bucket(object_lock=True)
    now = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)
    store = _s3(moto_s3, bucket, object_lock_mode=mode, object_lock_days=30, clock=lambda: now)
    small = _file(tmp_path, "small.bin", 1234, seed=8)
    big = _file(tmp_path, "big.bin", PART + 1, seed=9)
    store.put_file(small, "small.bin")
    store.put_file(big, "big.bin")
    client = moto_s3.client()
    for key in ("archive/small.bin", "archive/big.bin"):
        head = client.head_object(Bucket=bucket, Key=key)
        assert head["ObjectLockMode"] == mode
        assert head["ObjectLockRetainUntilDate"] == now + timedelta(days=30)
        with pytest.raises(ClientError) as err:  # the locked version cannot be deleted
            client.delete_object(Bucket=bucket, Key=key, VersionId=head["VersionId"])
        assert err.value.response["Error"]["Code"] == "AccessDenied"


def test_retention_needs_a_lock_bucket(moto_s3: MotoS3, tmp_path: Path) -> None:
    store = _s3(moto_s3, moto_s3.bucket(), object_lock_mode="GOVERNANCE", object_lock_days=1)
    with pytest.raises(StoreError, match=r"InvalidRequest|Object Lock"):
        store.put_file(_file(tmp_path, "a.bin", 10), "a.bin")


def test_lock_settings_are_checked() -> None:
    with pytest.raises(ConfigError):
        S3Store("bucket-x", object_lock_mode="FOREVER", object_lock_days=1, region="us-east-1")
    with pytest.raises(ConfigError):
        S3Store("bucket-x", object_lock_mode="COMPLIANCE", object_lock_days=0, region="us-east-1")
    with pytest.raises(ConfigError):
        S3Store("bucket-x", part_size=MIB, region="us-east-1")
    with pytest.raises(ConfigError):
        S3Store.from_uri("s3://Bad_Bucket/x", region="us-east-1")
    with pytest.raises(ConfigError):
        S3Store.from_uri("s3://bucket-x/x", no_such_option=1)


def test_create_bucket_with_object_lock(moto_s3: MotoS3) -> None:
    name = f"opeds-new-{os.urandom(4).hex()}"
    store = S3Store(name, "p", **store_options(moto_s3.endpoint))
    assert create_store_bucket(store, default_retention=("GOVERNANCE", 7)) is True
    assert create_store_bucket(store) is False  # idempotent
    client = moto_s3.client()
    lock = client.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    retention = lock["Rule"]["DefaultRetention"]
    assert (retention["Mode"], retention["Days"]) == ("GOVERNANCE", 7)
    block = client.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    rules = client.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert rules[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}
    plain = moto_s3.bucket()
    with pytest.raises(StoreError, match="without Object Lock"):
        create_bucket(client, plain)


# -- open_store and settings --------------------------------------------------------------------


def test_open_store_maps_settings_names(moto_s3: MotoS3) -> None:
    bucket = moto_s3.bucket(object_lock=True)
    opts = store_options(moto_s3.endpoint)
    opts.pop("endpoint_url")
    opts.pop("region")
    store = open_store(
        f"s3://{bucket}/nightly/",
        s3_endpoint_url=moto_s3.endpoint,
        s3_region="us-east-1",
        object_lock_mode="GOVERNANCE",
        object_lock_days=3,
        **opts,
    )
    assert isinstance(store, S3Store)
    assert store.uri == f"s3://{bucket}/nightly"
    assert (store.object_lock_mode, store.object_lock_days) == ("GOVERNANCE", 3)
    assert SECRET_KEY not in repr(store)


# -- credentials --------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_credentials_never_in_errors_or_logs(
    moto_s3: MotoS3,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="opeds.storage.stores.s3")
    small = _file(tmp_path, "a.bin", 100)
    failures: list[str] = []
    missing = _s3(moto_s3, "opeds-no-such-bucket")
    with pytest.raises(StoreError) as e1:
        missing.put_file(small, "a.bin")
    assert "NoSuchBucket" in str(e1.value)
    failures.append(str(e1.value))
    down = S3Store(
        "bucket-x",
        **store_options(
            f"http://{ACCESS_KEY}:{SECRET_KEY}@127.0.0.1:{_closed_port()}",
            max_attempts=2,
            attempts=2,
        ),
    )
    with pytest.raises(StoreError) as e2:
        down.put_file(small, "a.bin")
    failures.append(str(e2.value))
    with pytest.raises(StoreError) as e3:
        down.read_range("a.bin", 0, 1)
    failures.append(str(e3.value))
    failures.append(repr(down))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "failed (attempt 1 of 2)" in logged
    for text in [*failures, logged]:
        assert SECRET_KEY not in text
        assert ACCESS_KEY not in text
    assert redact("http://u:p@host/x?X-Amz-Signature=abc&X-Amz-Credential=AKIA/x") == (
        "http://***@host/x?X-Amz-Signature=***&X-Amz-Credential=***"
    )


# -- faults -------------------------------------------------------------------------------------


def _no_partial_objects(watcher: Watcher, sizes: dict[str, int]) -> None:
    assert watcher.listings > 0
    assert set(watcher.seen) == set(sizes)  # every object was seen, and only ever whole
    for key, seen in watcher.seen.items():
        assert seen == {sizes[key]}, f"{key} was visible with sizes {sorted(seen)}"


def test_uploads_survive_drops_delays_and_5xx(moto_s3: MotoS3, tmp_path: Path) -> None:
    bucket = moto_s3.bucket()
    files = {
        f"warcs/{name}": _file(tmp_path, name, size, seed=i)
        for i, (name, size) in enumerate(
            [
                ("a.warc.gz", 1),
                ("b.warc.gz", 70_000),
                ("c.warc.gz", PART + 1),
                ("d.warc.gz", 1_000_000),
                ("e.warc.gz", 2 * PART + 333),
                ("f.warc.gz", 0),
            ]
        )
    }
    sizes = {f"archive/{k}": p.stat().st_size for k, p in files.items()}
    faults = [DROP_BEFORE, DROP_AFTER, DELAY, ERROR_500, ERROR_503]
    started = time.monotonic()
    with (
        fault_proxy(moto_s3, seeded(11, 0.35, faults), delay=1.5) as proxy,
        Watcher(moto_s3.client(), bucket, interval=0.02) as watcher,
    ):
        store = _s3(
            moto_s3,
            bucket,
            endpoint=proxy.endpoint,
            max_attempts=3,
            read_timeout=0.75,
            attempts=8,
        )
        for key, path in files.items():
            stored = store.put_file(path, key)
            assert stored.sha256 == _sha(path.read_bytes())
        time.sleep(1.6)  # let delayed requests reach the server before the last listing
    elapsed = time.monotonic() - started
    counts = proxy.counts
    assert all(counts[f] >= 1 for f in faults), counts
    _no_partial_objects(watcher, sizes)
    client = moto_s3.client()
    for key, path in files.items():
        body = client.get_object(Bucket=bucket, Key=f"archive/{key}")["Body"].read()
        assert body == path.read_bytes(), key
    # unfinished uploads (never visible as objects; the bucket's lifecycle rule removes them) can
    # only come from a multipart create, complete or abort request that met a fault
    orphans = [
        p
        for _, m, p, f in proxy.requests
        if f in faults
        and (
            (m == "POST" and ("?uploads" in p or "uploadId=" in p))
            or (m == "DELETE" and "uploadId=" in p)
        )
    ]
    assert len(_uploads_in_progress(moto_s3, bucket)) <= len(orphans)
    assert elapsed < 60


def test_failed_part_aborts_the_upload_and_retries(moto_s3: MotoS3, tmp_path: Path) -> None:
    bucket = moto_s3.bucket()
    big = _file(tmp_path, "big.bin", PART + 5, seed=12)
    part2 = {"count": 0}

    def schedule(n: int, method: str, path: str) -> str:
        if method == "PUT" and "partNumber=2" in path and part2["count"] < 3:
            part2["count"] += 1
            return ERROR_500  # three in a row: botocore (max 3 attempts) gives up
        return PASS

    with fault_proxy(moto_s3, schedule) as proxy, Watcher(moto_s3.client(), bucket) as watcher:
        store = _s3(moto_s3, bucket, endpoint=proxy.endpoint, max_attempts=3)
        assert store.put_file(big, "big.bin").sha256 == _sha(big.read_bytes())
    aborts = [p for _, m, p, _ in proxy.requests if m == "DELETE" and "uploadId=" in p]
    creates = [p for _, m, p, _ in proxy.requests if m == "POST" and p.endswith("?uploads")]
    assert (len(aborts), len(creates)) == (1, 2)  # aborted, then a fresh upload
    assert _uploads_in_progress(moto_s3, bucket) == []
    _no_partial_objects(watcher, {"archive/big.bin": big.stat().st_size})


def test_gives_up_cleanly_when_the_server_keeps_failing(moto_s3: MotoS3, tmp_path: Path) -> None:
    bucket = moto_s3.bucket()
    big = _file(tmp_path, "big.bin", PART + 5, seed=13)

    def schedule(n: int, method: str, path: str) -> str:
        return ERROR_503 if method == "PUT" else PASS

    with fault_proxy(moto_s3, schedule) as proxy:
        store = _s3(moto_s3, bucket, endpoint=proxy.endpoint, max_attempts=1, attempts=3)
        with pytest.raises(StoreError, match=r"after 3 attempts.*SlowDown"):
            store.put_file(big, "big.bin")
    assert store.size("big.bin") is None
    assert _uploads_in_progress(moto_s3, bucket) == []
    assert sum(1 for _, m, _, _ in proxy.requests if m == "DELETE") == 3


def test_reads_resume_after_cut_responses(moto_s3: MotoS3, tmp_path: Path) -> None:
    bucket = moto_s3.bucket()
    big = _file(tmp_path, "big.bin", 2 * MIB + 77, seed=14)
    gets = {"n": 0}

    def schedule(n: int, method: str, path: str) -> str:
        if method == "GET":
            gets["n"] += 1
            return TRUNCATE if gets["n"] % 2 else PASS
        return PASS

    with fault_proxy(moto_s3, schedule) as proxy:
        store = _s3(moto_s3, bucket, endpoint=proxy.endpoint, verify="readback")
        assert store.put_file(big, "big.bin").sha256 == _sha(big.read_bytes())
        with store.open("big.bin") as f:
            assert f.read() == big.read_bytes()
        assert store.read_range("big.bin", 100, 5000) == big.read_bytes()[100:5100]
    assert proxy.counts[TRUNCATE] >= 3
    ranges = [proxy.headers(n).get("range", "") for n, m, _, _ in proxy.requests if m == "GET"]
    assert any(r.startswith("bytes=") and r.endswith("-") for r in ranges)  # resumed reads


@pytest.mark.parametrize("verify", ["auto", "readback"])
def test_an_impostor_object_is_not_taken_for_the_file(
    moto_s3: MotoS3, tmp_path: Path, verify: Any
) -> None:
    """Same size and claimed digest but other bytes and no server checksum: read back, replaced."""
    bucket = moto_s3.bucket()
    small = _file(tmp_path, "a.bin", 4000, seed=15)
    client = moto_s3.client()
    client.put_object(
        Bucket=bucket,
        Key="archive/a.bin",
        Body=b"x" * 4000,
        Metadata={"sha256": _sha(small.read_bytes())},
    )
    store = _s3(moto_s3, bucket, verify=verify)
    assert store.put_file(small, "a.bin").sha256 == _sha(small.read_bytes())
    body = client.get_object(Bucket=bucket, Key="archive/a.bin")["Body"].read()
    assert body == small.read_bytes()
