"""Retrieval for archivists: search the catalog, pull one capture's exact records, export a work.

* :func:`search` — articles by author, outlet, words, dates, URL or URL prefix, work
  (:mod:`opeds.storage.catalog.search` does the querying).
* :func:`find_capture` — the capture of a URL closest to a time (default: the latest), with
  similar URLs or the nearest captures named when there is none.
* :func:`get_capture` — that capture as a small ``.warc.gz``: a warcinfo record saying where the
  records come from, then the request, response (or revisit) and metadata records copied byte for
  byte, each the gzip member exactly as stored. A revisit brings the records it refers to along.
  Each record group (a request and its response, written together; a metadata record) is read
  with one ranged read, located by the catalog: a whole WARC is never downloaded.
* :func:`export_work` — every capture of every copy of a work, all outlets and nights, as one
  WACZ package (py-wacz) with the work described in ``opeds/work.json`` (listed in
  ``datapackage.json``) and, in short, under the ``opeds`` key of ``datapackage.json``.

Every copied record is parsed and checked against what the catalog says is there (type, record
id, digests) before it is written, so a catalog that points at the wrong bytes is an error, not a
wrong file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Literal

from sqlalchemy import select
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from opeds import __version__
from opeds.errors import NotFound, OpedsError
from opeds.storage.catalog.db import Article, Capture, Catalog, articles, as_utc
from opeds.storage.catalog.search import (
    DateField,
    SearchHit,
    SearchQuery,
    articles_for_captures,
    capture_at,
    captures_of_url,
    iso_z,
    list_outlets,
    matching_outlets,
    nearest_captures,
    search_articles,
    similar_urls,
    utc,
)
from opeds.storage.stores.base import Store
from opeds.storage.warc.errors import WarcReadError
from opeds.storage.warc.reader import read_record_at
from opeds.storage.warc.writer import WARC_VERSION, RecordFactory, warc_date

Progress = Callable[[int, int, str], None]
"""(done, total, what) after each step of a long operation."""
Clock = Callable[[], datetime]
Role = Literal["request", "response", "revisit", "metadata"]

MAX_REVISIT_HOPS = 8
WORK_JSON = "opeds/work.json"
"""The work's description inside an exported package (py-wacz checks files one folder deep)."""
DATAPACKAGE_KEY = "opeds"
"""The key under which an exported package's ``datapackage.json`` describes the work."""


def _now() -> datetime:
    return datetime.now(UTC)


def _quiet(_done: int, _total: int, _what: str) -> None:
    pass


class RetrievalError(OpedsError):
    """The archive does not hold what the catalog says it does, or a file could not be made."""


class UnknownUrl(NotFound):
    """No capture of a URL; :attr:`suggestions` are captured URLs that look like it."""

    def __init__(self, url: str, suggestions: Sequence[str]):
        self.url = url
        self.suggestions = list(suggestions)
        if suggestions:
            hint = "; similar captured URLs: " + ", ".join(self.suggestions)
        else:
            hint = "; nothing captured on that site either (`opeds search --url-prefix` lists URLs)"
        super().__init__(f"no capture of {url} in the archive{hint}")


class NoCaptureAt(NotFound):
    """A URL has captures, but none at the time asked; :attr:`nearest` are the closest ones."""

    def __init__(self, url: str, window: TimeWindow, nearest: Sequence[Capture]):
        self.url = url
        self.window = window
        self.nearest = list(nearest)
        stamps = ", ".join(
            f"{warc_timestamp(c.captured_at)} ({c.status} {c.record_type})" for c in self.nearest
        )
        super().__init__(
            f"no capture of {url} at {window.text}; nearest captures: {stamps} "
            "(give one of them to --at, or add --nearest)"
        )


# ---------------------------------------------------------------------------------------------
# Times


@dataclass(frozen=True)
class TimeWindow:
    """A time as a person gives it, and the span it names: ``2026-11-28`` is the whole day,
    ``20261128083857`` one second."""

    start: datetime
    end: datetime
    """Exclusive."""
    text: str

    def contains(self, when: datetime) -> bool:
        return self.start <= when < self.end

    def distance(self, when: datetime) -> timedelta:
        if when < self.start:
            return self.start - when
        if when >= self.end:
            return when - self.end + timedelta(microseconds=1)
        return timedelta(0)


_ISO = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})"  # date
    r"(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?)?)?)?)?"  # time
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"  # zone
)
_DIGITS = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?$")


def parse_time(value: str | datetime) -> TimeWindow:
    """A 14-digit WARC timestamp or a prefix of one (``20261128``), an ISO date or date-time
    (``2026-11-28``, ``2026-11-28T08:38``, ``2026-11-28T10:38:57+02:00``), UTC unless it says."""
    if isinstance(value, datetime):
        start = utc(value)
        return TimeWindow(start, start + timedelta(microseconds=1), iso_z(start) or "")
    raw = value.strip()
    m = _DIGITS.match(raw) or _ISO.match(raw)
    if not m:
        raise OpedsError(
            f"{value!r} is not a time: use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM] "
            "or a WARC timestamp (YYYYMMDDhhmmss, or a prefix of one)"
        )
    groups = m.groups()
    parts = [g for g in groups[:6]]
    given = sum(1 for g in parts if g is not None)
    fraction = groups[6] if len(groups) > 7 else None
    zone = groups[7] if len(groups) > 7 else None
    year, month, day, hour, minute, second = (
        int(g) if g else d for g, d in zip(parts, (0, 1, 1, 0, 0, 0), strict=True)
    )
    try:
        start = datetime(year, month, day, hour, minute, second)
    except ValueError as e:
        raise OpedsError(f"{value!r} is not a valid time: {e}") from None
    if fraction:
        start = start.replace(microsecond=int(fraction.ljust(6, "0")))
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        hh, mm = int(zone[1:3]), int(zone[-2:])
        start = start - sign * timedelta(hours=hh, minutes=mm)
    start = start.replace(tzinfo=UTC)
    if fraction:
        end = start + timedelta(microseconds=10 ** (6 - len(fraction)))
    elif given == 1:
        end = start.replace(year=year + 1)
    elif given == 2:
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    else:
        unit = {3: timedelta(days=1), 4: timedelta(hours=1), 5: timedelta(minutes=1)}
        end = start + unit.get(given, timedelta(seconds=1))
    return TimeWindow(start, end, raw)


def warc_timestamp(dt: datetime) -> str:
    """The 14-digit timestamp replay tools use: ``20261128083857``."""
    value = as_utc(dt)
    assert value is not None
    return value.strftime("%Y%m%d%H%M%S")


# ---------------------------------------------------------------------------------------------
# Search


def _canonical(url: str) -> str:
    from opeds.crawler.sources.urls import canonical_url

    try:
        return canonical_url(url)
    except ValueError:
        return url


def _url_prefixes(prefix: str) -> tuple[str, ...]:
    """A prefix as given, with lower-case scheme and host; both schemes when it has none."""
    p = prefix.strip()
    if "://" not in p:
        return tuple(_url_prefixes(f"{scheme}://{p}")[0] for scheme in ("http", "https"))
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)(.*)$", p)
    if not m:
        return (p,)
    lowered = m.group(1).lower() + m.group(2).lower() + m.group(3)
    return tuple(dict.fromkeys((p, lowered)))


def search(
    catalog: Catalog,
    *,
    author: str | None = None,
    outlet: str | None = None,
    text: str | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    by: DateField = "published",
    url: str | None = None,
    url_prefix: str | None = None,
    work: str | None = None,
    limit: int = 50,
) -> list[SearchHit]:
    """Articles matching every criterion given (see
    :class:`opeds.storage.catalog.search.SearchQuery`).

    ``outlet`` is a host or source name, or part of one (``aawsat``); ``since``/``until`` are
    times as :func:`parse_time` reads them, ``until`` inclusive of the span it names (``--until
    2026-11-28`` includes that day); ``url`` matches the URL or its canonical form.
    """
    outlets: tuple[str, ...] = ()
    if outlet is not None:
        outlets = matching_outlets(catalog, outlet)
        if not outlets:
            known = list_outlets(catalog)[:12]
            raise NotFound(
                f"no outlet or source matches {outlet!r}"
                + (f"; outlets in the catalog: {', '.join(known)}" if known else "")
            )
    query = SearchQuery(
        author=author,
        outlets=outlets,
        text=text,
        since=parse_time(since).start if since is not None else None,
        until=parse_time(until).end if until is not None else None,
        by=by,
        urls=tuple(dict.fromkeys((url, _canonical(url)))) if url else (),
        url_prefixes=_url_prefixes(url_prefix) if url_prefix else (),
        work=work,
        limit=limit,
    )
    return search_articles(catalog, query)


# ---------------------------------------------------------------------------------------------
# Finding a capture


def find_capture(
    catalog: Catalog,
    url: str,
    at: str | datetime | TimeWindow | None = None,
    *,
    nearest: bool = False,
) -> Capture:
    """The capture of ``url`` (exact or canonical) in the span ``at`` names, closest to its
    start; the latest capture without ``at``. With ``nearest``, the closest capture even outside
    the span. Raises :class:`UnknownUrl` or :class:`NoCaptureAt`."""
    canonical = _canonical(url)
    caps = captures_of_url(catalog, (url, canonical))
    if not caps:
        raise UnknownUrl(url, similar_urls(catalog, canonical))
    if at is None:
        return max(caps, key=lambda c: (c.captured_at, c.record_type == "response", c.id or 0))
    window = at if isinstance(at, TimeWindow) else parse_time(at)

    def key(c: Capture) -> tuple[timedelta, timedelta, bool, int]:
        return (
            window.distance(c.captured_at),
            abs(c.captured_at - window.start),
            c.record_type != "response",
            c.id or 0,
        )

    best = min(caps, key=key)
    if not nearest and not window.contains(best.captured_at):
        raise NoCaptureAt(url, window, nearest_captures(caps, window.start))
    return best


def resolve_original(catalog: Catalog, cap: Capture) -> Capture:
    """The response capture whose payload a revisit stands for (following revisit chains);
    ``cap`` itself when it is a response."""
    seen: set[int | None] = set()
    cur = cap
    while cur.record_type == "revisit":
        seen.add(cur.id)
        found: Capture | None = None
        if cur.refers_to_uri and cur.refers_to_date:
            found = capture_at(catalog, cur.refers_to_uri, cur.refers_to_date)
        if found is None and cur.payload_digest:
            found = catalog.first_capture_with_digest(cur.payload_digest)
        if found is None:
            raise RetrievalError(
                f"the revisit of {cur.url} at {iso_z(cur.captured_at)} refers to "
                f"{cur.refers_to_uri} at {iso_z(cur.refers_to_date)}, which is not in the catalog"
            )
        if found.id in seen or len(seen) > MAX_REVISIT_HOPS:
            raise RetrievalError(f"revisits of {cap.url} refer to each other in a loop")
        cur = found
    return cur


# ---------------------------------------------------------------------------------------------
# Planning reads


@dataclass(frozen=True)
class RecordRef:
    """One record the catalog locates: a gzip member of a WARC file."""

    role: Role
    warc_key: str
    offset: int
    length: int
    target_uri: str
    record_id: str | None = None
    """The WARC-Record-ID the catalog expects (responses, revisits)."""
    concurrent_to: str | None = None
    """The record a request or metadata record must name in WARC-Concurrent-To."""

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "warc_key": self.warc_key,
            "offset": self.offset,
            "length": self.length,
            "target_uri": self.target_uri,
        }


@dataclass(frozen=True)
class ReadGroup:
    """Records next to each other in one WARC file, fetched with one ranged read."""

    warc_key: str
    offset: int
    length: int
    records: tuple[RecordRef, ...]


def _group(records: Sequence[RecordRef]) -> ReadGroup:
    key = records[0].warc_key
    if any(r.warc_key != key for r in records):
        raise RetrievalError("records of one group are in different WARC files")
    start = min(r.offset for r in records)
    end = max(r.offset + r.length for r in records)
    return ReadGroup(key, start, end - start, tuple(sorted(records, key=lambda r: r.offset)))


def capture_group(cap: Capture) -> ReadGroup:
    """A capture's request and response (or revisit) records: written together, read together."""
    role: Role = "revisit" if cap.record_type == "revisit" else "response"
    main = RecordRef(role, cap.warc_key, cap.offset, cap.length, cap.url, record_id=cap.record_id)
    refs = [main]
    if cap.request_offset is not None and cap.request_length:
        refs.append(
            RecordRef(
                "request",
                cap.warc_key,
                cap.request_offset,
                cap.request_length,
                cap.url,
                concurrent_to=cap.record_id,
            )
        )
    return _group(refs)


def metadata_group(art: Article, described: Capture) -> ReadGroup | None:
    """The metadata record written for an article, if it has one yet."""
    if not art.metadata_warc_key or art.metadata_offset is None or not art.metadata_length:
        return None
    ref = RecordRef(
        "metadata",
        art.metadata_warc_key,
        art.metadata_offset,
        art.metadata_length,
        art.url,
        concurrent_to=described.record_id,
    )
    return _group([ref])


@dataclass(frozen=True)
class CapturePlan:
    """What to copy for one capture, in the order to write it."""

    capture: Capture
    original: Capture | None
    """The response a revisit refers to (None for a response)."""
    article: Article | None
    """The article extracted from the capture (or from its original)."""
    groups: tuple[ReadGroup, ...]


def plan_capture(
    catalog: Catalog, cap: Capture, *, known_articles: dict[int, Article] | None = None
) -> CapturePlan:
    """The record groups that make a capture whole: its original's request and response first
    (for a revisit), then its own request and response or revisit, then the metadata record of
    the article extracted from it (or, for a revisit, from its original)."""
    original = resolve_original(catalog, cap) if cap.record_type == "revisit" else None
    lookup = known_articles
    if lookup is None:
        ids = [c.id for c in (cap, original) if c is not None and c.id is not None]
        lookup = articles_for_captures(catalog, ids)
    article = lookup.get(cap.id or -1)
    described = cap
    if article is None and original is not None:
        article = lookup.get(original.id or -1)
        described = original
    groups: list[ReadGroup] = []
    if original is not None:
        groups.append(capture_group(original))
    groups.append(capture_group(cap))
    if article is not None:
        meta = metadata_group(article, described)
        if meta is not None:
            groups.append(meta)
    return CapturePlan(cap, original, article, tuple(groups))


# ---------------------------------------------------------------------------------------------
# Reading and checking


@dataclass(frozen=True)
class CopiedRecord:
    """A record's stored bytes (one gzip member), checked against the catalog."""

    ref: RecordRef
    data: bytes
    record_id: str
    warc_type: str
    date: datetime | None


def _check(ref: RecordRef, data: bytes) -> CopiedRecord:
    where = f"{ref.warc_key}@{ref.offset}"
    if len(data) != ref.length:
        raise RetrievalError(
            f"{where}: read {len(data)} bytes of a {ref.length}-byte record: the file is shorter "
            "than the catalog says (run `opeds verify`)"
        )
    try:
        parsed = read_record_at(data, name=ref.warc_key, offset=ref.offset, strict=False)
    except WarcReadError as e:
        raise RetrievalError(f"{where}: not the record the catalog expects: {e}") from None
    info = parsed.info
    problems = []
    if info.rec_type != ref.role:
        problems.append(f"a {info.rec_type} record, not a {ref.role}")
    if ref.record_id and info.record_id != ref.record_id:
        problems.append(f"record id {info.record_id}, not {ref.record_id}")
    if ref.concurrent_to and ref.concurrent_to not in info.concurrent_to:
        problems.append(f"not concurrent to {ref.concurrent_to}")
    if info.target_uri != ref.target_uri:
        problems.append(f"target {info.target_uri}, not {ref.target_uri}")
    if problems:
        raise RetrievalError(
            f"{where}: the catalog and the archive disagree: {'; '.join(problems)}"
        )
    assert info.record_id is not None
    return CopiedRecord(ref, data, info.record_id, info.rec_type, info.date)


def read_groups(
    store: Store, groups: Iterable[ReadGroup], *, progress: Progress = _quiet
) -> list[CopiedRecord]:
    """Every record of ``groups``, one ranged read per distinct group, in the order given."""
    unique = list(dict.fromkeys(groups))
    out: list[CopiedRecord] = []
    for i, g in enumerate(unique, 1):
        data = store.read_range(g.warc_key, g.offset, g.length)
        for ref in g.records:
            start = ref.offset - g.offset
            out.append(_check(ref, data[start : start + ref.length]))
        progress(i, len(unique), g.warc_key)
    return out


# ---------------------------------------------------------------------------------------------
# Writing


def _warcinfo(filename: str, fields: Sequence[tuple[str, str]], when: datetime) -> Any:
    factory = RecordFactory()
    headers = StatusAndHeaders("", [], protocol=WARC_VERSION)
    headers.add_header("WARC-Type", "warcinfo")
    headers.add_header("WARC-Record-ID", factory.new_id())
    headers.add_header("WARC-Filename", filename)
    headers.add_header("WARC-Date", warc_date(when))
    block = "".join(f"{k}: {v}\r\n" for k, v in fields if v).encode("utf-8")
    return factory.create_warc_record(
        "",
        "warcinfo",
        warc_headers=headers,
        payload=io.BytesIO(block),
        length=len(block),
        warc_content_type="application/warc-fields",
    )


def write_warc(
    out: BinaryIO,
    records: Sequence[CopiedRecord],
    *,
    filename: str,
    fields: Sequence[tuple[str, str]],
    when: datetime,
) -> None:
    """A warcinfo record made of ``fields``, then ``records`` exactly as stored."""
    writer = WARCWriter(out, gzip=True, warc_version=WARC_VERSION)
    writer.write_record(_warcinfo(filename, fields, when))
    for rec in records:
        out.write(rec.data)


def _provenance(source: str, records: Sequence[CopiedRecord]) -> list[tuple[str, str]]:
    fields = [
        ("software", f"opeds/{__version__}"),
        ("format", "WARC File Format 1.1"),
        (
            "conformsTo",
            "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        ),
        (
            "description",
            "Records copied byte for byte from an opeds archive: each is the gzip member "
            "stored at the WARC file, offset and length named in an opeds-record field.",
        ),
        ("opeds-archive", source),
    ]
    for r in records:
        fields.append(
            (
                "opeds-record",
                f"{r.record_id} {r.warc_type} {r.ref.warc_key} {r.ref.offset} {r.ref.length}",
            )
        )
    return fields


def _write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
            size = fh.tell()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return size


def default_get_name(cap: Capture) -> str:
    """``<host>-<14-digit time>-<hash of the URL>.warc.gz``."""
    from opeds.crawler.sources.urls import outlet_of

    digest = hashlib.sha1(cap.url.encode()).hexdigest()[:8]
    return f"{outlet_of(cap.url) or 'capture'}-{warc_timestamp(cap.captured_at)}-{digest}.warc.gz"


@dataclass(frozen=True)
class GetResult:
    path: Path
    size: int
    plan: CapturePlan
    records: tuple[CopiedRecord, ...]
    reads: int
    """Ranged reads made (one per record group)."""

    def to_json(self) -> dict[str, Any]:
        cap = self.plan.capture
        orig = self.plan.original
        return {
            "path": str(self.path),
            "size": self.size,
            "url": cap.url,
            "captured": iso_z(cap.captured_at),
            "timestamp": warc_timestamp(cap.captured_at),
            "status": cap.status,
            "record_type": cap.record_type,
            "night": cap.night,
            "original": (
                {"url": orig.url, "captured": iso_z(orig.captured_at)} if orig is not None else None
            ),
            "article": self.plan.article.id if self.plan.article is not None else None,
            "work": self.plan.article.work_id if self.plan.article is not None else None,
            "reads": self.reads,
            "records": [
                {"record_id": r.record_id, "type": r.warc_type, **r.ref.to_json()}
                for r in self.records
            ],
        }


def get_capture(
    catalog: Catalog,
    store: Store,
    url: str,
    *,
    at: str | datetime | None = None,
    nearest: bool = False,
    out: Path | None = None,
    source: str = "",
    clock: Clock = _now,
    progress: Progress = _quiet,
) -> GetResult:
    """Write the capture of ``url`` closest to ``at`` (see :func:`find_capture`) to ``out``
    (default: :func:`default_get_name` in the current folder) as a ``.warc.gz``."""
    cap = find_capture(catalog, url, at, nearest=nearest)
    return write_capture(
        catalog, store, cap, out=out, source=source, clock=clock, progress=progress
    )


def write_capture(
    catalog: Catalog,
    store: Store,
    cap: Capture,
    *,
    out: Path | None = None,
    source: str = "",
    clock: Clock = _now,
    progress: Progress = _quiet,
) -> GetResult:
    """Write ``cap`` (with what it refers to and its metadata record) to ``out`` (default:
    :func:`default_get_name` in the current folder) as a ``.warc.gz``."""
    plan = plan_capture(catalog, cap)
    records = read_groups(store, plan.groups, progress=progress)
    path = out if out is not None else Path(default_get_name(cap))
    fields = [
        *_provenance(source or store.uri, records),
        ("opeds-url", cap.url),
        ("opeds-captured", iso_z(cap.captured_at) or ""),
    ]
    size = _write_atomically(
        path,
        lambda fh: write_warc(fh, records, filename=path.name, fields=fields, when=clock()),
    )
    return GetResult(path, size, plan, tuple(records), len(set(plan.groups)))


# ---------------------------------------------------------------------------------------------
# Export of a work


@dataclass(frozen=True)
class ExportResult:
    path: Path
    size: int
    work: dict[str, Any]
    captures: int
    records: int
    reads: int
    pages: int

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "size": self.size,
            "work": self.work["work"],
            "title": self.work.get("title"),
            "original": self.work.get("original"),
            "members": len(self.work["members"]),
            "captures": self.captures,
            "records": self.records,
            "reads": self.reads,
            "pages": self.pages,
        }


def _work_articles(catalog: Catalog, work: dict[str, Any]) -> list[Article]:
    found = catalog.articles_in_works([work["work"]])
    if found:
        return found
    # a work not clustered yet is one article
    urls = [m["url"] for m in work["members"]]
    with catalog.connect() as conn:
        rows = conn.execute(
            select(articles).where(articles.c.url.in_(urls), articles.c.work_id.is_(None))
        )
        return [Article.from_row(r) for r in rows]


def export_work(
    catalog: Catalog,
    store: Store,
    work_id: str,
    *,
    out: Path | None = None,
    source: str = "",
    clock: Clock = _now,
    progress: Progress = _quiet,
) -> ExportResult:
    """Every capture of every copy of ``work_id`` (each member's URL, every night) as one WACZ,
    written to ``out`` (default ``<work id>.wacz``)."""
    from opeds.storage.access.cdxj import write_cdxj
    from opeds.storage.access.wacz import Page, create_wacz
    from opeds.works.listing import get_work

    work = get_work(catalog, work_id)
    members = _work_articles(catalog, work)
    if not members:
        raise NotFound(f"work {work_id} has no articles in the catalog")
    caps: dict[int, Capture] = {}
    for art in members:
        for cap in captures_of_url(catalog, (art.url, art.canonical_url)):
            assert cap.id is not None
            caps[cap.id] = cap
    ordered = sorted(caps.values(), key=lambda c: (c.captured_at, c.id or 0))
    known = articles_for_captures(catalog, caps)
    plans = [
        plan_capture(catalog, c, known_articles=None if c.record_type == "revisit" else known)
        for c in ordered
    ]
    groups = list(dict.fromkeys(g for p in plans for g in p.groups))
    steps = len(groups) + 1  # every read, then packaging

    def reading(done: int, _total: int, what: str) -> None:
        progress(done, steps, what)

    records = read_groups(store, groups, progress=reading)
    path = out if out is not None else Path(f"{work['work']}.wacz")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", work["work"])
    warc_name = f"opeds-work-{stem}.warc.gz"
    by_id = {a.id: a for a in members}
    description = _work_description(work, members, ordered)
    with tempfile.TemporaryDirectory(prefix="opeds-export-") as tmp:
        warc_path = Path(tmp) / warc_name
        fields = [
            *_provenance(source or store.uri, records),
            ("opeds-work", work["work"]),
            ("opeds-original", work.get("original") or ""),
        ]
        with open(warc_path, "wb") as fh:
            write_warc(fh, records, filename=warc_name, fields=fields, when=clock())
        pages = [
            Page(a.url, a.captured_at, a.title)
            for a in sorted(by_id.values(), key=lambda a: (a.captured_at, a.id or 0))
        ]
        packaged = Path(tmp) / "work.wacz"
        result = create_wacz(
            [warc_path],
            packaged,
            pages=pages,
            title=f"{work.get('title') or work['work']} — every archived copy",
            description=f"Work {work['work']}: original {work.get('original')}, "
            f"{len(work['members'])} copies on "
            f"{len({m['outlet'] for m in work['members']})} outlets",
            replay_index=False,  # finish_package puts in the replay index and the work
        )
        progress(steps, steps, str(path))
        replay_index = io.StringIO()
        write_cdxj(warc_path, replay_index, filename=warc_name)
        size = _write_atomically(
            path,
            lambda fh: finish_package(packaged, fh, description, replay_index.getvalue()),
        )
    return ExportResult(
        path,
        size,
        work,
        captures=len(ordered),
        records=len(records),
        reads=len(groups),
        pages=result.pages,
    )


def _work_description(
    work: dict[str, Any], members: Sequence[Article], caps: Sequence[Capture]
) -> dict[str, Any]:
    by_url: dict[str, list[Capture]] = {}
    for a in members:
        by_url[a.url] = [c for c in caps if c.url == a.url or c.canonical_url == a.canonical_url]
    return {
        "work": work["work"],
        "title": work.get("title"),
        "authors": work.get("authors", []),
        "original": work.get("original"),
        "original_reason": work.get("original_reason"),
        "members": [
            {
                **m,
                "captures": [
                    {
                        "timestamp": warc_timestamp(c.captured_at),
                        "captured": iso_z(c.captured_at),
                        "status": c.status,
                        "record_type": c.record_type,
                        "night": c.night,
                        "warc_key": c.warc_key,
                    }
                    for c in by_url.get(m["url"], [])
                ],
            }
            for m in work["members"]
        ],
    }


def finish_package(
    src: Path, dst: BinaryIO, description: dict[str, Any], replay_index: str
) -> None:
    """Copy the WACZ ``src`` to ``dst`` with ``replay_index`` as its index
    (:func:`opeds.storage.access.wacz.replace_index`), :data:`WORK_JSON` holding ``description`` and
    ``datapackage.json`` summing the work up under :data:`DATAPACKAGE_KEY`."""
    body = json.dumps(description, ensure_ascii=False, indent=2).encode("utf-8")
    summary = {
        "work": description["work"],
        "title": description.get("title"),
        "original": description.get("original"),
        "members": [
            {"url": m["url"], "outlet": m["outlet"], "role": m["role"]}
            for m in description["members"]
        ],
        "description": WORK_JSON,
    }
    from opeds.storage.access.wacz import replace_index

    replace_index(
        src, dst, replay_index, members={WORK_JSON: body}, package={DATAPACKAGE_KEY: summary}
    )
