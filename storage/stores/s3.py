"""S3-compatible object store: AWS S3, MinIO, Ceph RGW, Garage, SeaweedFS, versitygw.

:class:`S3Store` keeps sealed files under ``s3://bucket/prefix``. Every upload sends a SHA-256
checksum (and a Content-MD5, which every S3-compatible server checks) with each request, large
files go up as a multipart upload one part at a time (memory stays at one part), and the stored
object is verified against the local file before :meth:`S3Store.put_file` returns: its size, and
its SHA-256 either as the checksum the server reports (full-object for a single PUT, composite
``<base64>-<parts>`` for a multipart upload) or, when the server reports none, by reading the
object back. A failed attempt is retried with back-off; an object appears under its final key only
whole (a single PUT or a completed multipart upload are atomic), and an unfinished multipart
upload is aborted.

Endpoint, region and credentials come from the arguments or, as with any boto3 client, from the
standard ``AWS_*`` environment variables, shared config files or instance roles. Credentials are
never written to logs or put in exception messages."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    IncompleteReadError,
)

from opeds.errors import ConfigError, NotFound, OpedsError, StoreError
from opeds.faults import crash_point
from opeds.storage.stores.base import CHUNK, StoredObject, check_key
from opeds.storage.stores.s3_client import (
    BUCKET_RE,
    bucket_and_prefix,
    error_code,
    is_missing,
    is_transient,
    log,
    make_client,
    redact,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB
"""S3's smallest part (all but the last)."""
MAX_PARTS = 10_000
DEFAULT_PART_SIZE = 32 * MIB
"""Files up to this size go up in one PUT; larger ones in parts of this size."""
LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")
META_SHA256 = "sha256"
"""User metadata (``x-amz-meta-sha256``) holding the hex SHA-256 of the whole object."""

Verify = Literal["auto", "readback"]


@dataclass(frozen=True)
class _Part:
    number: int
    offset: int
    length: int
    sha256: bytes
    md5: bytes


@dataclass(frozen=True)
class _Plan:
    """What is to be stored: a local file's size, digests and parts, read once up front."""

    size: int
    sha256: bytes
    parts: tuple[_Part, ...]
    multipart: bool

    @property
    def hexdigest(self) -> str:
        return self.sha256.hex()

    def accepted_checksums(self) -> frozenset[str]:
        """The ``ChecksumSHA256`` values that prove the stored bytes equal the file's."""
        full = _b64(self.sha256)
        if not self.multipart:
            return frozenset({full})
        composite = _b64(hashlib.sha256(b"".join(p.sha256 for p in self.parts)).digest())
        return frozenset({full, composite, f"{composite}-{len(self.parts)}"})

    @classmethod
    def of(cls, path: Path, part_size: int) -> _Plan:
        size = path.stat().st_size
        multipart = size > part_size
        if multipart and -(-size // part_size) > MAX_PARTS:
            part_size = -(-size // MAX_PARTS // MIB) * MIB + MIB
        whole = hashlib.sha256()
        parts: list[_Part] = []
        step = part_size if multipart else max(size, 1)
        with open(path, "rb") as f:
            offset = 0
            number = 1
            while offset < size or (offset == 0 and size == 0):
                ph, pm = hashlib.sha256(), hashlib.md5()
                length = 0
                while length < step and (chunk := f.read(min(CHUNK, step - length))):
                    ph.update(chunk)
                    pm.update(chunk)
                    whole.update(chunk)
                    length += len(chunk)
                parts.append(_Part(number, offset, length, ph.digest(), pm.digest()))
                offset += length
                number += 1
                if length == 0:
                    break
        if offset != size:
            raise StoreError(f"{path} changed size while it was read ({size} then {offset} bytes)")
        return cls(size, whole.digest(), tuple(parts), multipart)


class _VerifyError(Exception):
    """The stored object does not match the local file (a retryable condition)."""


def _version(value: object) -> str | None:
    """A usable version id: unversioned buckets answer ``null``, which some servers reject."""
    return value if isinstance(value, str) and value not in ("", "null") else None


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _content_type(key: str) -> str:
    if key.endswith((".warc.gz", ".warc")):
        return "application/warc"
    if key.endswith(".json"):
        return "application/json"
    if key.endswith(".txt"):
        return "text/plain; charset=utf-8"
    return "application/octet-stream"


class S3Store:
    """A bucket and prefix on an S3-compatible server, implementing
    :class:`opeds.storage.stores.local.Store`.

    ``object_lock_mode`` (``GOVERNANCE`` or ``COMPLIANCE``) and ``object_lock_days`` put Object
    Lock retention on every stored object; the bucket must have been created with Object Lock
    (:func:`opeds.storage.stores.buckets.create_bucket`). ``verify="readback"`` re-reads every
    upload instead of trusting the checksum the server reports. ``attempts`` and ``backoff``
    drive the verify-and-retry loop around whole uploads; each request is also retried by botocore
    (:func:`~opeds.storage.stores.s3_client.client_config`).
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: S3Client | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        session: boto3.session.Session | None = None,
        config: Config | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        object_lock_mode: str | None = None,
        object_lock_days: int = 0,
        part_size: int = DEFAULT_PART_SIZE,
        verify: Verify = "auto",
        attempts: int = 4,
        backoff: float = 1.0,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not BUCKET_RE.match(bucket):
            raise ConfigError(f"invalid bucket name {bucket!r}")
        prefix = prefix.strip("/")
        if prefix:
            check_key(prefix)
        if object_lock_mode is not None and object_lock_mode not in LOCK_MODES:
            raise ConfigError(
                f"object_lock_mode must be GOVERNANCE or COMPLIANCE, got {object_lock_mode!r}"
            )
        if object_lock_mode and object_lock_days < 1:
            raise ConfigError("object_lock_days must be at least 1 when object_lock_mode is set")
        if part_size < MIN_PART_SIZE:
            raise ConfigError(f"part_size must be at least {MIN_PART_SIZE} bytes (5 MiB)")
        if verify not in ("auto", "readback"):
            raise ConfigError(f"verify must be 'auto' or 'readback', got {verify!r}")
        if attempts < 1:
            raise ConfigError("attempts must be at least 1")
        self.bucket = bucket
        self.prefix = prefix
        self.uri = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        self.region = region
        self.object_lock_mode = object_lock_mode
        self.object_lock_days = object_lock_days if object_lock_mode else 0
        self.part_size = part_size
        self.verify = verify
        self.attempts = attempts
        self.backoff = backoff
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep
        self._secrets = tuple(s for s in (aws_secret_access_key, aws_session_token) if s)
        self._session = session
        self.client: S3Client = client or make_client(
            endpoint_url=endpoint_url,
            region=region,
            session=session,
            config=config,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
        )

    # -- construction ------------------------------------------------------------------------

    _OPTION_ALIASES: Mapping[str, str] = {
        "s3_endpoint_url": "endpoint_url",
        "s3_region": "region",
        "region_name": "region",
    }

    @classmethod
    def from_uri(cls, uri: str, **options: Any) -> S3Store:
        """The store for ``s3://bucket/prefix``; ``options`` are :class:`S3Store` arguments.

        ``s3_endpoint_url``/``s3_region`` (the :class:`opeds.settings.Settings` names) and boto3's
        ``region_name`` are accepted as aliases; ``None`` values are ignored.
        """
        bucket, prefix = bucket_and_prefix(uri)
        kwargs: dict[str, Any] = {}
        for name, value in options.items():
            if value is None:
                continue
            kwargs[cls._OPTION_ALIASES.get(name, name)] = value
        try:
            return cls(bucket, prefix, **kwargs)
        except TypeError as exc:
            raise ConfigError(f"bad option for an S3 archive: {exc}") from None

    def __repr__(self) -> str:
        lock = (
            f", lock={self.object_lock_mode}/{self.object_lock_days}d"
            if self.object_lock_mode
            else ""
        )
        return f"S3Store({self.uri!r}{lock})"

    # -- helpers -----------------------------------------------------------------------------

    def _full(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _where(self, full: str) -> str:
        return f"s3://{self.bucket}/{full}"

    def _known_secrets(self) -> tuple[str, ...]:
        found: list[str] = list(self._secrets)
        creds: Any = None
        try:
            if self._session is not None:
                creds = self._session.get_credentials()
            else:  # the client's signer holds the credentials it resolved
                creds = getattr(getattr(self.client, "_request_signer", None), "_credentials", None)
            if creds is not None:
                frozen = creds.get_frozen_credentials()
                found += [frozen.secret_key or "", frozen.token or "", frozen.access_key or ""]
        except Exception:  # scrubbing is best effort and must never raise
            pass
        return tuple(s for s in found if s)

    def describe(self, exc: BaseException) -> str:
        """One line about an S3 failure, free of credentials."""
        code, status = error_code(exc)
        if isinstance(exc, ClientError):
            msg = exc.response.get("Error", {}).get("Message") or ""
            text = f"{code or 'error'} (HTTP {status})" + (f": {msg}" if msg else "")
        else:
            text = f"{type(exc).__name__}: {exc}"
        return redact(text, self._known_secrets())

    def _fail(self, action: str, full: str, exc: BaseException) -> OpedsError:
        if is_missing(exc):
            return NotFound(f"no object {self._where(full)}")
        return StoreError(f"{action} {self._where(full)} failed: {self.describe(exc)}")

    def _pause(self, attempt: int) -> None:
        self._sleep(min(30.0, self.backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0))

    def _head(self, full: str, version: str | None = None) -> dict[str, Any] | None:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": full, "ChecksumMode": "ENABLED"}
        if version:
            args["VersionId"] = version
        try:
            return dict(self.client.head_object(**args))
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise

    def _retention_until(self) -> datetime | None:
        if not self.object_lock_mode:
            return None
        return (self._clock() + timedelta(days=self.object_lock_days)).replace(microsecond=0)

    # -- Store protocol ----------------------------------------------------------------------

    def put_file(self, path: Path, key: str) -> StoredObject:
        """Upload ``path`` as ``key``, verify it, apply retention; retried until it verifies.

        An identical object already under ``key`` is kept as it is (re-running a night is
        cheap). Raises :class:`StoreError` once ``attempts`` are spent or on a permanent error
        (access denied, no such bucket).
        """
        path = Path(path)
        full = self._full(key)
        try:
            plan = _Plan.of(path, self.part_size)
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
        until = self._retention_until()
        last: BaseException | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                head = self._head(full)
                if head is not None and self._same(full, head, plan):
                    self._ensure_retention(full, head, until)
                    if attempt == 1:
                        log.info("%s already stored and verified", self._where(full))
                    return StoredObject(key, plan.size, plan.hexdigest)
                version = self._upload(path, full, plan, until)
                head = self._verified(full, plan, version)
                self._ensure_retention(full, head, until)
                log.info(
                    "stored %s (%d bytes, %d part%s, sha256 %s)",
                    self._where(full),
                    plan.size,
                    len(plan.parts),
                    "" if len(plan.parts) == 1 else "s",
                    plan.hexdigest[:16],
                )
                return StoredObject(key, plan.size, plan.hexdigest)
            except (BotoCoreError, ClientError, _VerifyError, OSError) as exc:
                if not (isinstance(exc, _VerifyError) or is_transient(exc)):
                    raise self._fail("upload to", full, exc) from None
                last = exc
                log.warning(
                    "upload of %s to %s failed (attempt %d of %d): %s",
                    path.name,
                    self._where(full),
                    attempt,
                    self.attempts,
                    self.describe(exc),
                )
                if attempt < self.attempts:
                    self._pause(attempt)
        assert last is not None
        raise StoreError(
            f"could not store {path} as {self._where(full)} after {self.attempts} attempts: "
            f"{self.describe(last)}"
        )

    def _lock_args(self, until: datetime | None) -> dict[str, Any]:
        if until is None:
            return {}
        return {"ObjectLockMode": self.object_lock_mode, "ObjectLockRetainUntilDate": until}

    def _upload(self, path: Path, full: str, plan: _Plan, until: datetime | None) -> str | None:
        common: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": full,
            "ContentType": _content_type(full),
            "Metadata": {META_SHA256: plan.hexdigest},
            **self._lock_args(until),
        }
        if not plan.multipart:
            part = plan.parts[0]
            body = _read_exact(path, part)
            crash_point("store-upload")
            resp = self.client.put_object(
                **common,
                Body=body,
                ContentLength=part.length,
                ContentMD5=_b64(part.md5),
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=_b64(part.sha256),
            )
            return _version(resp.get("VersionId"))
        upload_id = self.client.create_multipart_upload(**common, ChecksumAlgorithm="SHA256")[
            "UploadId"
        ]
        try:
            done: list[dict[str, Any]] = []
            for part in plan.parts:
                resp_part = self.client.upload_part(
                    Bucket=self.bucket,
                    Key=full,
                    UploadId=upload_id,
                    PartNumber=part.number,
                    Body=_read_exact(path, part),
                    ContentLength=part.length,
                    ContentMD5=_b64(part.md5),
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=_b64(part.sha256),
                )
                crash_point("store-upload")
                echoed = resp_part.get("ChecksumSHA256")
                if echoed is not None and echoed != _b64(part.sha256):
                    raise _VerifyError(f"part {part.number}: server checksum {echoed} differs")
                done.append(
                    {
                        "PartNumber": part.number,
                        "ETag": resp_part["ETag"],
                        "ChecksumSHA256": _b64(part.sha256),
                    }
                )
            completed = self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=full,
                UploadId=upload_id,
                MultipartUpload={"Parts": done},  # type: ignore[typeddict-item]
            )
            return _version(completed.get("VersionId"))
        except BaseException:
            self._abort(full, upload_id)
            raise

    def _abort(self, full: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)
        except (BotoCoreError, ClientError) as exc:
            code, _ = error_code(exc)
            if code != "NoSuchUpload":  # already completed or aborted
                log.warning(
                    "could not abort multipart upload of %s: %s (a lifecycle rule will)",
                    self._where(full),
                    self.describe(exc),
                )

    def _same(self, full: str, head: dict[str, Any], plan: _Plan) -> bool:
        """Whether the object ``head`` describes holds the same bytes as ``plan``.

        Size and the recorded digest must match; then the server's checksum decides, or, when
        there is none (or ``verify="readback"``), reading the object back.
        """
        if head.get("ContentLength") != plan.size:
            return False
        if head.get("Metadata", {}).get(META_SHA256) != plan.hexdigest:
            return False
        try:
            self._verified(full, plan, _version(head.get("VersionId")), head)
        except _VerifyError:
            return False
        return True

    def _verified(
        self, full: str, plan: _Plan, version: str | None, head: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The HEAD answer for the stored object, once it is shown to equal ``plan``."""
        if head is None:
            head = self._head(full, version)
        if head is None:
            raise _VerifyError(f"{self._where(full)} is missing right after its upload")
        got_size = head.get("ContentLength")
        if got_size != plan.size:
            raise _VerifyError(f"stored size {got_size}, expected {plan.size}")
        checksum = head.get("ChecksumSHA256")
        if checksum is not None and checksum not in plan.accepted_checksums():
            raise _VerifyError(f"stored SHA-256 checksum {checksum} does not match the file")
        if checksum is None or self.verify == "readback":
            try:
                size, digest = self._read_back(full, _version(head.get("VersionId")) or version)
            except OpedsError as exc:
                raise _VerifyError(f"read-back failed: {exc}") from None
            if (size, digest) != (plan.size, plan.hexdigest):
                raise _VerifyError(
                    f"read back {size} bytes with sha256 {digest[:16]}…, "
                    f"expected {plan.size} bytes with {plan.hexdigest[:16]}…"
                )
        return head

    def _read_back(self, full: str, version: str | None) -> tuple[int, str]:
        h = hashlib.sha256()
        size = 0
        with io.BufferedReader(_ObjectReader(self, full, version), CHUNK) as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
                size += len(chunk)
        return size, h.hexdigest()

    def _ensure_retention(self, full: str, head: Mapping[str, Any], until: datetime | None) -> None:
        """Make sure the stored version carries the configured Object Lock retention.

        Retention is sent with the upload; a server that ignores it on multipart uploads gets
        an explicit PutObjectRetention. Retention is only ever extended, never shortened.
        """
        if until is None:
            return
        got_mode = head.get("ObjectLockMode")
        got_until = head.get("ObjectLockRetainUntilDate")
        if got_mode == self.object_lock_mode and got_until is not None:
            return
        args: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": full,
            "Retention": {"Mode": self.object_lock_mode, "RetainUntilDate": until},
        }
        version = _version(head.get("VersionId"))
        if version:
            args["VersionId"] = version
        self.client.put_object_retention(**args)
        check = self._head(full, version)
        if check is None or check.get("ObjectLockMode") != self.object_lock_mode:
            raise StoreError(
                f"{self._where(full)} was stored but the server did not apply Object Lock "
                f"retention ({self.object_lock_mode}); was the bucket created with Object Lock?"
            )

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """Exactly one ranged GET (repeated only if it fails); short at the end of the object."""
        if offset < 0 or length < 0:
            raise StoreError(f"bad range offset={offset} length={length}")
        full = self._full(key)
        if length == 0:
            return b""
        last: BaseException | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                return self._get_range(full, offset, length)
            except (BotoCoreError, ClientError, OSError) as exc:
                code, _ = error_code(exc)
                if code == "InvalidRange":  # offset at or past the end
                    return b""
                if not (isinstance(exc, _VerifyError) or is_transient(exc)):
                    raise self._fail("read of", full, exc) from None
                last = exc
                if attempt < self.attempts:
                    self._pause(attempt)
        assert last is not None
        raise self._fail("read of", full, last)

    def _get_range(self, full: str, offset: int, length: int) -> bytes:
        resp = self.client.get_object(
            Bucket=self.bucket, Key=full, Range=f"bytes={offset}-{offset + length - 1}"
        )
        body = resp["Body"]
        try:
            if resp.get("ContentRange"):
                data = body.read()
                want = length
                total = str(resp["ContentRange"]).rpartition("/")[2]
                if total.isdigit():
                    want = max(0, min(length, int(total) - offset))
                if len(data) != want:
                    raise IncompleteReadError(actual_bytes=len(data), expected_bytes=want)
                return bytes(data)
            # the server ignored Range: skip to the offset within this same response
            skipped = 0
            while skipped < offset and (chunk := body.read(min(CHUNK, offset - skipped))):
                skipped += len(chunk)
            return bytes(body.read(length))
        finally:
            body.close()

    def open(self, key: str) -> BinaryIO:
        """A buffered stream of the whole object; dropped connections resume where they broke."""
        return io.BufferedReader(_ObjectReader(self, self._full(key), None), CHUNK)

    def stat(self, key: str) -> StoredObject | None:
        """Size and SHA-256 of the stored object, computed by reading it, or None if missing."""
        full = self._full(key)
        try:
            size, digest = self._read_back(full, None)
        except NotFound:
            return None
        return StoredObject(key, size, digest)

    def size(self, key: str) -> int | None:
        full = self._full(key)
        try:
            head = self._head(full)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("HEAD of", full, exc) from None
        return None if head is None else int(head["ContentLength"])

    def list(self, prefix: str = "") -> Iterator[str]:
        if prefix.startswith("/") or ".." in prefix.split("/"):
            raise StoreError(f"unsafe prefix {prefix!r}")
        base = f"{self.prefix}/" if self.prefix else ""
        keys: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base + prefix
            )
            for page in pages:
                keys += [o["Key"][len(base) :] for o in page.get("Contents", []) if "Key" in o]
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"listing {self.uri} failed: {self.describe(exc)}") from None
        yield from sorted(keys)

    def local_path(self, key: str) -> Path | None:
        return None


def _read_exact(path: Path, part: _Part) -> bytes:
    """One part of a file, checked against the digest taken before the upload began."""
    with open(path, "rb") as f:
        f.seek(part.offset)
        data = f.read(part.length)
    if len(data) != part.length or hashlib.sha256(data).digest() != part.sha256:
        raise StoreError(f"{path} changed while it was being uploaded (part {part.number})")
    return data


class _ObjectReader(io.RawIOBase):
    """A GET body that resumes with a ranged GET of the same version when a read fails."""

    def __init__(self, store: S3Store, full: str, version: str | None):
        self._store = store
        self._full = full
        self._version = version
        self._etag: str | None = None
        self._pos = 0
        self._size: int | None = None
        self._body: Any = None
        self._open_at(0)

    def readable(self) -> bool:
        return True

    def _open_at(self, pos: int) -> None:
        store = self._store
        args: dict[str, Any] = {"Bucket": store.bucket, "Key": self._full}
        if self._version:
            args["VersionId"] = self._version
        elif self._etag:
            args["IfMatch"] = self._etag
        if pos:
            args["Range"] = f"bytes={pos}-"
        try:
            resp = store.client.get_object(**args)
        except (BotoCoreError, ClientError) as exc:
            code, _ = error_code(exc)
            if code == "PreconditionFailed":
                raise StoreError(f"{store._where(self._full)} changed while it was read") from None
            if code == "InvalidRange" and self._size is not None and pos >= self._size:
                self._body = None
                return
            raise store._fail("read of", self._full, exc) from None
        self._body = resp["Body"]
        self._etag = self._etag or resp.get("ETag")
        self._version = self._version or _version(resp.get("VersionId"))
        if self._size is None:
            self._size = int(resp.get("ContentLength", 0))

    def readinto(self, b: Any) -> int:
        if self._body is None or (self._size is not None and self._pos >= self._size):
            return 0
        store = self._store
        for attempt in range(1, store.attempts + 1):
            try:
                n = int(self._body.readinto(b))
                if n == 0 and self._size is not None and self._pos < self._size:
                    raise IncompleteReadError(actual_bytes=self._pos, expected_bytes=self._size)
                self._pos += n
                return n
            except (BotoCoreError, OSError) as exc:
                if attempt == store.attempts or not (
                    isinstance(exc, _VerifyError) or is_transient(exc)
                ):
                    raise store._fail("read of", self._full, exc) from None
                log.warning(
                    "read of %s broke at byte %d (%s); resuming",
                    store._where(self._full),
                    self._pos,
                    store.describe(exc),
                )
                self._close_body()
                store._pause(attempt)
                self._open_at(self._pos)
        return 0  # pragma: no cover - the loop returns or raises

    def _close_body(self) -> None:
        if self._body is not None:
            with contextlib.suppress(Exception):
                self._body.close()
            self._body = None

    def close(self) -> None:
        self._close_body()
        super().close()
