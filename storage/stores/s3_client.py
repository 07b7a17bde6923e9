"""Talking to an S3-compatible server: the boto3 client and its settings, which errors are
worth a retry, and messages with no credential in them."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ChecksumError,
    ClientError,
    ConnectionError,
    FlexibleChecksumError,
    HTTPClientError,
    IncompleteReadError,
)

from opeds.errors import ConfigError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


log = logging.getLogger(__name__)

TRANSIENT_CODES = frozenset(
    {
        "BadDigest",
        "IncompleteBody",
        "InternalError",
        "InvalidDigest",
        "InvalidPart",
        "NoSuchUpload",
        "OperationAborted",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "ServiceUnavailable",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "XAmzContentSHA256Mismatch",
    }
)
UNSUPPORTED_CODES = frozenset({"NotImplemented", "MethodNotAllowed", "XNotImplemented"})
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
_URL_USERINFO = re.compile(r"(?<=://)[^/@\s'\"]+@")
_SIGNED_PARAM = re.compile(
    r"(?i)((?:X-Amz-)?(?:Credential|Signature|Security-Token|SignedHeaders)=)[^&,\s'\"]+"
)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` without URL user-info, signing parameters or any of ``secrets``."""
    text = _URL_USERINFO.sub("***@", text)
    text = _SIGNED_PARAM.sub(r"\1***", text)
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "***")
    return text


def client_config(
    *,
    retry_mode: Literal["standard", "adaptive", "legacy"] = "standard",
    max_attempts: int = 5,
    connect_timeout: float = 10.0,
    read_timeout: float = 60.0,
    addressing_style: Literal["auto", "path", "virtual"] | None = None,
) -> Config:
    """The botocore configuration opeds uses for S3.

    Retries: botocore's ``standard`` (or ``adaptive``) mode retries 5xx answers, throttling,
    connection resets and timeouts with jittered exponential back-off, up to ``max_attempts``
    attempts per request. Checksums: since botocore 1.36 a client computes CRC checksums for every
    upload and sends them as an ``aws-chunked`` trailer over HTTPS, which many S3-compatible
    servers reject; ``when_required`` turns that off, and opeds sends its own SHA-256 checksums as
    plain headers instead (see :meth:`S3Store.put_file`). Addressing: botocore's default (path
    style for a custom endpoint) or the AWS config file's, unless ``addressing_style`` is given.
    """
    cfg = Config(
        retries={"mode": retry_mode, "total_max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        tcp_keepalive=True,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    if addressing_style:
        cfg = cfg.merge(Config(s3={"addressing_style": addressing_style}))
    return cfg


def make_client(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    session: boto3.session.Session | None = None,
    config: Config | None = None,
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    aws_session_token: str | None = None,
) -> S3Client:
    """An S3 client with :func:`client_config` (merged with ``config`` when given).

    Without explicit keys, boto3 finds credentials the usual way (``AWS_ACCESS_KEY_ID`` /
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, config files, instance or task roles); without
    ``endpoint_url``, ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` or AWS itself.
    """
    if session is None:
        session = boto3.session.Session(
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            region_name=region,
        )
    cfg = client_config() if config is None else client_config().merge(config)
    return session.client("s3", endpoint_url=endpoint_url, region_name=region, config=cfg)


def error_code(exc: BaseException) -> tuple[str, int]:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return str(err.get("Code", "")), int(status or 0)
    return "", 0


def is_missing(exc: BaseException) -> bool:
    code, status = error_code(exc)
    if code in ("NoSuchBucket", "NoSuchUpload"):
        return False
    return status == 404 or code in ("NoSuchKey", "NotFound", "404")


def is_transient(exc: BaseException) -> bool:
    """Whether an S3 failure is worth another try: 5xx, throttling, resets, timeouts, digests."""
    if isinstance(exc, ClientError):
        code, status = error_code(exc)
        return status >= 500 or status == 429 or code in TRANSIENT_CODES
    return isinstance(
        exc,
        ConnectionError
        | HTTPClientError
        | IncompleteReadError
        | ChecksumError
        | FlexibleChecksumError
        | OSError,
    )


def bucket_and_prefix(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ConfigError(f"not an S3 URI: {uri!r} (expected s3://bucket/prefix)")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not BUCKET_RE.match(bucket):
        raise ConfigError(
            f"invalid bucket name {bucket!r} in {uri!r}: 3-63 lowercase letters, digits, '.', '-'"
        )
    return bucket, prefix.strip("/")
