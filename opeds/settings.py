"""The one settings object.

Values come from, in order of precedence: explicit arguments at the edges (CLI flags, DAG params),
``OPEDS_*`` environment variables, then the defaults below. Nothing below the edges reads the
environment: code receives a :class:`Settings`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opeds.errors import ConfigError

DEFAULT_ARCHIVE = "./archive"
DEFAULT_USER_AGENT = (
    "opeds/{version} (+https://github.com/opeds/opeds; archiving op-eds for research)"
)


@dataclass(frozen=True)
class Settings:
    """Everything a night needs to know, typed and validated once."""

    archive: str = DEFAULT_ARCHIVE
    """Archive URI: a local folder (``./archive``) or ``s3://bucket/prefix``."""
    catalog_url: str | None = None
    """SQLAlchemy URL of the catalog. Default: ``sqlite:///<archive>/catalog.sqlite`` for a local
    archive, a SQLite file under :attr:`state_dir` for an S3 archive."""
    state_dir: str = "~/.local/share/opeds"
    """Local working state for remote archives: the spool of WARCs being written, catalogs."""
    warc_prefix: str = "opeds"
    warc_max_bytes: int = 1_000_000_000
    gzip_level: int = 2
    """ISA-L compression level for each WARC record's gzip member: 0 (fastest) to 3 (smallest)."""
    user_agent: str = DEFAULT_USER_AGENT
    operator: str = ""
    crawl_delay: float = 1.0
    concurrent_requests: int = 16
    download_timeout: float = 30.0
    max_page_bytes: int = 20 * 1024 * 1024
    revisit_days: tuple[int, ...] = (1, 7, 30)
    sitemap_window_days: int = 30
    """Sitemap entries with a ``lastmod`` older than this many days before the night are skipped."""
    max_pages_per_source: int = 500
    """Article pages a source may request in one night (new pages and re-checks); 0 means no
    limit. A cap by default, so that the first night of a large outlet (a sitemap of thousands
    of pages) or a scheduled run started by unpausing the DAG stays polite."""
    obey_robots: bool = True
    block_private_addresses: bool = False
    """Refuse targets (and redirects) that resolve to private, loopback or link-local addresses.
    Turn on in production; the demo and tests reach their sample outlets on 127.0.0.1."""
    retry_after_max: float = 300.0
    """The longest ``Retry-After`` wait honoured, in seconds."""
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    object_lock_mode: str | None = None
    object_lock_days: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.gzip_level not in range(0, 4):
            raise ConfigError(f"gzip_level must be 0-3 (ISA-L levels), got {self.gzip_level}")
        if self.warc_max_bytes < 1024:
            raise ConfigError(f"warc_max_bytes must be at least 1024, got {self.warc_max_bytes}")
        if self.max_pages_per_source < 0:
            raise ConfigError(
                "max_pages_per_source must be 0 (no limit) or more, got "
                f"{self.max_pages_per_source}"
            )
        if self.crawl_delay < 0:
            raise ConfigError(f"crawl_delay must be >= 0, got {self.crawl_delay}")
        if self.object_lock_mode not in (None, "GOVERNANCE", "COMPLIANCE"):
            raise ConfigError(
                f"object_lock_mode must be GOVERNANCE or COMPLIANCE, got {self.object_lock_mode!r}"
            )

    @property
    def is_remote(self) -> bool:
        return self.archive.startswith("s3://")

    @property
    def archive_path(self) -> Path:
        """The local archive folder; only meaningful when not :attr:`is_remote`."""
        return Path(self.archive).expanduser()

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir).expanduser()

    @property
    def effective_catalog_url(self) -> str:
        if self.catalog_url:
            return self.catalog_url
        if self.is_remote:
            bucket_and_prefix = self.archive[len("s3://") :].strip("/").replace("/", "_")
            return f"sqlite:///{self.state_path / 'catalogs' / (bucket_and_prefix + '.sqlite')}"
        return f"sqlite:///{self.archive_path.resolve() / 'catalog.sqlite'}"

    @property
    def spool_path(self) -> Path:
        """Where WARC files are written before they are stored.

        For a local archive this is the archive itself (files appear under their final key on
        close); for a remote one, a folder under :attr:`state_dir`.
        """
        if self.is_remote:
            bucket_and_prefix = self.archive[len("s3://") :].strip("/").replace("/", "_")
            return self.state_path / "spool" / bucket_and_prefix
        return self.archive_path

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``OPEDS_*`` variables (e.g. ``OPEDS_ARCHIVE``) plus overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name == "extra":
                continue
            raw = env.get(f"OPEDS_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            values[f.name] = _coerce(f.name, f.type, raw)
        if "s3_endpoint_url" not in values and env.get("AWS_ENDPOINT_URL"):
            values["s3_endpoint_url"] = env["AWS_ENDPOINT_URL"]
        if "s3_region" not in values and env.get("AWS_DEFAULT_REGION"):
            values["s3_region"] = env["AWS_DEFAULT_REGION"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def public_dict(self) -> dict[str, Any]:
        """Settings as JSON-able values, safe to log (no credentials are ever held here)."""
        out = dataclasses.asdict(self)
        out["revisit_days"] = list(self.revisit_days)
        out["extra"] = dict(self.extra)
        return out


def _coerce(name: str, type_: Any, raw: str) -> Any:
    t = str(type_)
    try:
        if t.startswith("int"):
            return int(raw)
        if t.startswith("float"):
            return float(raw)
        if t.startswith("bool"):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if t.startswith("tuple[int"):
            return tuple(int(x) for x in raw.replace(" ", "").split(",") if x)
    except ValueError:
        raise ConfigError(f"OPEDS_{name.upper()}={raw!r} is not a valid {t}") from None
    return raw
