"""Setting up a bucket for an archive: created with Object Lock, and checked for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
)

from opeds.errors import ConfigError, StoreError
from opeds.storage.stores.s3 import LOCK_MODES, S3Store
from opeds.storage.stores.s3_client import (
    BUCKET_RE,
    UNSUPPORTED_CODES,
    error_code,
    is_missing,
    log,
    redact,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def create_bucket(
    client: S3Client,
    bucket: str,
    *,
    region: str | None = None,
    object_lock: bool = True,
    default_retention: tuple[str, int] | None = None,
    abort_incomplete_days: int = 2,
) -> bool:
    """Create ``bucket`` for an archive; True if created, False if it was already ours.

    With ``object_lock`` (the default) the bucket is created with Object Lock enabled (which
    also turns on versioning); ``default_retention=("COMPLIANCE", 3650)`` adds a default
    retention rule. Public access is blocked and unfinished multipart uploads are cleaned up
    after ``abort_incomplete_days`` by a lifecycle rule, where the server supports those.
    """
    if not BUCKET_RE.match(bucket):
        raise ConfigError(f"invalid bucket name {bucket!r}")
    if default_retention is not None:
        mode, days = default_retention
        if mode not in LOCK_MODES or days < 1:
            raise ConfigError(
                f"default retention must be (GOVERNANCE|COMPLIANCE, days>=1): {mode} {days}"
            )
        if not object_lock:
            raise ConfigError("a default retention needs object_lock=True")
    args: dict[str, Any] = {"Bucket": bucket}
    if object_lock:
        args["ObjectLockEnabledForBucket"] = True
    if region and region != "us-east-1":
        args["CreateBucketConfiguration"] = {"LocationConstraint": region}
    # us-east-1 answers 200 to CreateBucket on a bucket one already owns: ask first
    created = not _bucket_exists(client, bucket)
    if created:
        try:
            client.create_bucket(**args)
        except ClientError as exc:
            code, _ = error_code(exc)
            if code != "BucketAlreadyOwnedByYou":
                raise StoreError(
                    f"cannot create bucket {bucket!r}: {_describe_plain(exc)}"
                ) from None
            created = False
        except BotoCoreError as exc:
            raise StoreError(f"cannot create bucket {bucket!r}: {_describe_plain(exc)}") from None
    if object_lock and not created and not bucket_has_object_lock(client, bucket):
        raise StoreError(
            f"bucket {bucket!r} exists without Object Lock: use a new bucket, or enable versioning "
            "and Object Lock on it with your server's tools"
        )
    _optional(
        bucket,
        "block public access",
        lambda: client.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        ),
    )
    if abort_incomplete_days > 0:
        _optional(
            bucket,
            "lifecycle rule for unfinished uploads",
            lambda: client.put_bucket_lifecycle_configuration(
                Bucket=bucket,
                LifecycleConfiguration={
                    "Rules": [
                        {
                            "ID": "abort-incomplete-multipart-uploads",
                            "Status": "Enabled",
                            "Filter": {"Prefix": ""},
                            "AbortIncompleteMultipartUpload": {
                                "DaysAfterInitiation": abort_incomplete_days
                            },
                        }
                    ]
                },
            ),
        )
    if default_retention is not None:
        mode, days = default_retention
        try:
            client.put_object_lock_configuration(
                Bucket=bucket,
                ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {"DefaultRetention": {"Mode": mode, "Days": days}},  # type: ignore[typeddict-item]
                },
            )
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(
                f"cannot set default retention on {bucket!r}: {_describe_plain(exc)}"
            ) from None
    return created


def _bucket_exists(client: S3Client, bucket: str) -> bool:
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if is_missing(exc):
            return False
        raise StoreError(f"cannot look up bucket {bucket!r}: {_describe_plain(exc)}") from None
    except BotoCoreError as exc:
        raise StoreError(f"cannot look up bucket {bucket!r}: {_describe_plain(exc)}") from None
    return True


def bucket_has_object_lock(client: S3Client, bucket: str) -> bool:
    """Whether ``bucket`` has Object Lock enabled."""
    try:
        conf = client.get_object_lock_configuration(Bucket=bucket)
    except ClientError as exc:
        code, _ = error_code(exc)
        if code in ("ObjectLockConfigurationNotFoundError", "InvalidRequest") or is_missing(exc):
            return False
        raise StoreError(
            f"cannot read Object Lock configuration of {bucket!r}: {_describe_plain(exc)}"
        ) from None
    return conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"


def _describe_plain(exc: BaseException) -> str:
    code, status = error_code(exc)
    if isinstance(exc, ClientError):
        msg = exc.response.get("Error", {}).get("Message") or ""
        return redact(f"{code} (HTTP {status})" + (f": {msg}" if msg else ""))
    return redact(f"{type(exc).__name__}: {exc}")


def _optional(bucket: str, what: str, call: Callable[[], object]) -> None:
    """Run a bucket setting that some S3-compatible servers do not implement."""
    try:
        call()
    except ClientError as exc:
        code, status = error_code(exc)
        if code in UNSUPPORTED_CODES or status == 501:
            log.warning("%s: the server does not support %s (%s)", bucket, what, code)
            return
        raise StoreError(f"cannot set {what} on {bucket!r}: {_describe_plain(exc)}") from None
    except BotoCoreError as exc:
        raise StoreError(f"cannot set {what} on {bucket!r}: {_describe_plain(exc)}") from None


def create_store_bucket(
    store: S3Store, *, object_lock: bool = True, default_retention: tuple[str, int] | None = None
) -> bool:
    """Create the bucket of ``store`` (see :func:`create_bucket`); True if it was created."""
    return create_bucket(
        store.client,
        store.bucket,
        region=store.region,
        object_lock=object_lock,
        default_retention=default_retention,
    )
