"""What every step of a night shares: the catalog, the store, the night's ``warcinfo`` fields."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from datetime import date

import scrapy
import warcio

from opeds import __version__
from opeds.settings import Settings
from opeds.storage.catalog.db import Catalog
from opeds.storage.stores.base import Store
from opeds.storage.stores.local import LocalStore
from opeds.storage.stores.uri import open_store

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def night_id(night: str) -> str:
    date.fromisoformat(night)  # validates
    return night


def catalog_for(settings: Settings) -> Catalog:
    return Catalog(settings.effective_catalog_url)


def store_for(settings: Settings) -> Store:
    if settings.is_remote:
        return open_store(
            settings.archive,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            object_lock_mode=settings.object_lock_mode,
            object_lock_days=settings.object_lock_days,
        )
    return LocalStore(settings.archive_path)


def warcinfo_fields(settings: Settings, night: str, sources_sha256: str) -> dict[str, str]:
    """What every WARC file of the night says about how it was made (no credentials, ever)."""
    return {
        "software": f"opeds/{__version__} (Scrapy/{scrapy.__version__}; warcio/{warcio_version()})",
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "robots": "obey" if settings.obey_robots else "ignore",
        "operator": settings.operator or "unspecified",
        "hostname": socket.gethostname(),
        "http-header-user-agent": settings.user_agent.format(version=__version__),
        "isPartOf": f"opeds-night-{night}",
        "opeds-night": night,
        "opeds-sources-sha256": sources_sha256,
        "description": "Nightly capture of op-ed pages, feeds, sitemaps and robots.txt. "
        "Response bodies are stored as received; when the transfer was chunked the body is "
        "stored de-chunked and the header is kept as X-Archive-Orig-Transfer-Encoding.",
    }


def warcio_version() -> str:
    try:
        from importlib.metadata import version

        return version("warcio")
    except Exception:  # pragma: no cover
        return str(getattr(warcio, "__version__", "?"))
