"""The sources config: which outlets to crawl and how.

A TOML file of ``[[source]]`` tables::

    [[source]]
    name = "asharq-al-awsat"
    feeds = ["https://english.aawsat.com/feed/opinion"]
    sitemaps = ["https://english.aawsat.com/sitemap_index.xml"]
    start_urls = ["https://english.aawsat.com/opinion"]
    article_pattern = "/home/article/\\\\d+/"
    allowed_domains = ["english.aawsat.com"]
    crawl_delay = 5.0
    language = "en"

Errors name the file, the source and the field.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from opeds.errors import ConfigError

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_FIELDS = {
    "name",
    "feeds",
    "sitemaps",
    "start_urls",
    "article_pattern",
    "allowed_domains",
    "crawl_delay",
    "language",
    "enabled",
}


@dataclass(frozen=True)
class Source:
    """One outlet to crawl."""

    name: str
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    start_urls: tuple[str, ...] = ()
    article_pattern: str | None = None
    allowed_domains: tuple[str, ...] = ()
    crawl_delay: float | None = None
    language: str | None = None
    enabled: bool = True
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def article_re(self) -> re.Pattern[str] | None:
        return re.compile(self.article_pattern) if self.article_pattern else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "feeds": list(self.feeds),
            "sitemaps": list(self.sitemaps),
            "start_urls": list(self.start_urls),
            "article_pattern": self.article_pattern,
            "allowed_domains": list(self.allowed_domains),
            "crawl_delay": self.crawl_delay,
            "language": self.language,
            "enabled": self.enabled,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Source:
        return parse_source(d, where="<dict>")


@dataclass(frozen=True)
class SourcesFile:
    path: str
    sha256: str
    sources: tuple[Source, ...]

    def select(self, names: Sequence[str] | None) -> list[Source]:
        """The enabled sources, or exactly the named ones (unknown names are an error)."""
        if not names:
            return [s for s in self.sources if s.enabled]
        by_name = {s.name: s for s in self.sources}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ConfigError(
                f"{self.path}: no source named {', '.join(unknown)} "
                f"(known: {', '.join(sorted(by_name))})"
            )
        return [by_name[n] for n in names]


def load_sources(path: str | Path) -> SourcesFile:
    """Read and validate a sources file."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{p}: sources file not found") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot read sources file: {e.strerror}") from None
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: invalid TOML: {e}") from None
    unknown_top = set(doc) - {"source"}
    if unknown_top:
        raise ConfigError(f"{p}: unknown top-level key(s) {', '.join(sorted(unknown_top))}")
    raw = doc.get("source")
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{p}: no [[source]] tables")
    sources: list[Source] = []
    seen: set[str] = set()
    for i, table in enumerate(raw, 1):
        label = table.get("name") if isinstance(table, dict) else None
        where = f"{p}: source #{i}" + (f" ({label!r})" if isinstance(label, str) else "")
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: must be a table")
        src = parse_source(table, where=where)
        if src.name in seen:
            raise ConfigError(f"{where}: field 'name': duplicate source name {src.name!r}")
        seen.add(src.name)
        sources.append(src)
    return SourcesFile(str(p), hashlib.sha256(data).hexdigest(), tuple(sources))


def parse_source(table: dict[str, Any], *, where: str) -> Source:
    unknown = set(table) - _FIELDS
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")

    def err(fieldname: str, msg: str) -> ConfigError:
        return ConfigError(f"{where}: field {fieldname!r}: {msg}")

    name = table.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise err("name", "required; lowercase letters, digits, '-' or '_' (max 63)")

    def urls(fieldname: str) -> tuple[str, ...]:
        v = table.get(fieldname, [])
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(u, str) for u in v):
            raise err(fieldname, "must be a list of URLs")
        for u in v:
            parts = urlsplit(u)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise err(fieldname, f"{u!r} is not an http(s) URL")
        return tuple(v)

    feeds, sitemaps, start_urls = urls("feeds"), urls("sitemaps"), urls("start_urls")
    if not (feeds or sitemaps or start_urls):
        raise err("feeds", "a source needs at least one of feeds, sitemaps or start_urls")
    pattern = table.get("article_pattern")
    if pattern is not None:
        if not isinstance(pattern, str):
            raise err("article_pattern", "must be a regular expression string")
        try:
            re.compile(pattern)
        except re.error as e:
            raise err("article_pattern", f"invalid regular expression: {e}") from None
    if start_urls and pattern is None:
        raise err("article_pattern", "required with start_urls (which links are articles?)")
    domains = table.get("allowed_domains", [])
    if not isinstance(domains, list) or not all(
        isinstance(d, str) and d and "/" not in d for d in domains
    ):
        raise err("allowed_domains", "must be a list of host names")
    if not domains:
        domains = sorted({urlsplit(u).hostname or "" for u in (*feeds, *sitemaps, *start_urls)})
    delay = table.get("crawl_delay")
    if delay is not None and (
        isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0
    ):
        raise err("crawl_delay", "must be a number of seconds >= 0")
    language = table.get("language")
    if language is not None and (not isinstance(language, str) or not language):
        raise err("language", "must be a language code such as 'en'")
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise err("enabled", "must be true or false")
    return Source(
        name=name,
        feeds=feeds,
        sitemaps=sitemaps,
        start_urls=start_urls,
        article_pattern=pattern,
        allowed_domains=tuple(d.lower() for d in domains),
        crawl_delay=float(delay) if delay is not None else None,
        language=language,
        enabled=enabled,
    )
