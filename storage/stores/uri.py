"""The store an archive URI names: a local folder, or ``s3://bucket/prefix``."""

from __future__ import annotations

from opeds.errors import StoreError
from opeds.storage.stores.base import Store
from opeds.storage.stores.local import LocalStore


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
