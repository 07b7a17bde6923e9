"""One-shot setup of the stack's archive bucket: Object Lock on, public access blocked.

Run by the ``s3-init`` service of docker-compose.yml once the S3 server is healthy. It reads the
same variables as opeds itself: ``OPEDS_ARCHIVE`` (``s3://bucket/prefix``),
``OPEDS_S3_ENDPOINT_URL``, ``OPEDS_S3_REGION``, ``OPEDS_OBJECT_LOCK_MODE`` and
``OPEDS_OBJECT_LOCK_DAYS`` (which also become the bucket's default retention), and the standard
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``. Safe to run again: an existing bucket with
Object Lock is left as it is; one without Object Lock is an error.
"""

from __future__ import annotations

import sys
import time

from opeds.errors import OpedsError
from opeds.settings import Settings
from opeds.storage.stores.buckets import create_store_bucket
from opeds.storage.stores.s3 import S3Store


def main() -> int:
    settings = Settings.from_env()
    if not settings.is_remote:
        print(f"OPEDS_ARCHIVE={settings.archive!r} is not an s3:// URI", file=sys.stderr)
        return 2
    store = S3Store.from_uri(
        settings.archive, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region
    )
    retention = None
    if settings.object_lock_mode:
        retention = (settings.object_lock_mode, settings.object_lock_days)
    for attempt in range(1, 11):
        try:
            created = create_store_bucket(store, object_lock=True, default_retention=retention)
        except OpedsError as exc:
            if attempt == 10:
                print(f"bucket setup failed: {exc}", file=sys.stderr)
                return 1
            time.sleep(3)
            continue
        state = "created" if created else "already there"
        print(f"{store.bucket}: {state}; Object Lock on; default retention {retention or 'none'}")
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
