"""The catalog: what was captured, where its records are, which articles and works they hold.

SQLAlchemy Core, so the same code runs on SQLite (the embedded default) and PostgreSQL. The
catalog is also the dedup state that survives nights: the payload-digest index behind revisit
records and the conditional-GET validators (ETag / Last-Modified) of archived articles.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, make_url

from opeds.faults import crash_point
from opeds.storage.warc.writer import PROFILE_IDENTICAL

metadata = MetaData()

nights = Table(
    "nights",
    metadata,
    Column("night", String(10), primary_key=True),
    Column("started", DateTime(timezone=True)),
    Column("finished", DateTime(timezone=True)),
    Column("sources_digest", String(80)),
    Column("report", Text),
    # set when an extraction of the night left none of its pages pending; a crawl of the night
    # clears it (its new captures are pending until extracted)
    Column("extracted", DateTime(timezone=True)),
)

# One row per crawl of a source for a night (every try: a re-run, an Airflow retry)
crawl_runs = Table(
    "crawl_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("night", String(10), nullable=False),
    Column("source", String(200), nullable=False),
    Column("started", DateTime(timezone=True)),
    Column("finished", DateTime(timezone=True)),
    Column("completed", Boolean, nullable=False),
    Column("summary", Text),  # JSON: counts, failures (the first ones), finish_reason, error
    Index("ix_crawl_runs_night", "night", "source"),
)

captures = Table(
    "captures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("night", String(10), nullable=False),
    Column("source", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # robots|feed|sitemap|listing|article|other
    Column("url", Text, nullable=False),  # exactly as requested
    Column("canonical_url", Text, nullable=False),  # for dedup: tracking parameters dropped
    Column("captured_at", DateTime(timezone=True), nullable=False),
    Column("status", Integer, nullable=False),
    Column("mime", String(200)),
    Column("record_type", String(16), nullable=False),  # response|revisit
    Column("revisit_profile", String(200)),
    Column("payload_digest", String(80)),
    Column("refers_to_uri", Text),
    Column("refers_to_date", DateTime(timezone=True)),
    Column("record_id", String(80), nullable=False),
    Column("warc_key", Text, nullable=False),
    Column("offset", Integer, nullable=False),
    Column("length", Integer, nullable=False),
    Column("request_offset", Integer),
    Column("request_length", Integer),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("ip", String(64)),
    Index("ix_captures_url_time", "url", "captured_at"),
    Index("ix_captures_canonical", "canonical_url"),
    Index("ix_captures_digest", "payload_digest"),
    Index("ix_captures_night", "night"),
    Index("ix_captures_warc", "warc_key"),
)

# The MinHash LSH index of article bodies (written and read by :mod:`opeds.works.minhash`).
minhash_docs = Table(
    "minhash_docs",
    metadata,
    Column("article_id", Integer, primary_key=True, autoincrement=False),
    Column("scheme", String(64), nullable=False),
    Column("shingles", Integer, nullable=False),
    Column("chunks", Integer, nullable=False),
)

minhash_bands = Table(
    "minhash_bands",
    metadata,
    Column("key", BigInteger, primary_key=True, autoincrement=False),
    Column("band", SmallInteger, primary_key=True, autoincrement=False),
    Column("article_id", Integer, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)


warc_files = Table(
    "warc_files",
    metadata,
    Column("key", Text, primary_key=True),
    Column("night", String(10), nullable=False),
    Column("size", Integer),
    Column("sha256", String(64)),
    Column("records", Integer),
    Column("first_record", DateTime(timezone=True)),
    Column("last_record", DateTime(timezone=True)),
    Column("stored", Boolean, nullable=False, default=False),
    Index("ix_warc_files_night", "night"),
)

works = Table(
    "works",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("title", Text),
    Column("original_article", Integer),
    Column("original_reason", Text),
    Column("created_night", String(10)),
)

articles = Table(
    "articles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("capture_id", Integer, ForeignKey("captures.id"), nullable=False, unique=True),
    Column("night", String(10), nullable=False),
    Column("source", String(200), nullable=False),
    Column("url", Text, nullable=False),
    Column("canonical_url", Text, nullable=False),
    Column("outlet", String(255), nullable=False),
    Column("title", Text),
    Column("authors", Text),  # JSON list
    Column("published", String(32)),
    Column("updated", String(32)),
    Column("language", String(16)),
    Column("section", Text),
    Column("site_name", Text),  # the name the page gives its outlet (og:site_name, JSON-LD)
    Column("page_canonical", Text),  # rel=canonical as the page states it
    Column("original_hint", Text),  # JSON: attribution evidence found on the page
    Column("body", Text),
    Column("body_sha1", String(40)),
    Column("captured_at", DateTime(timezone=True), nullable=False),
    Column("work_id", String(40), ForeignKey("works.id")),
    Column("role", String(16)),  # original|copy
    Column("metadata_warc_key", Text),
    Column("metadata_offset", Integer),
    Column("metadata_length", Integer),
    Index("ix_articles_canonical", "canonical_url"),
    Index("ix_articles_work", "work_id"),
    Index("ix_articles_night", "night"),
    Index("ix_articles_outlet", "outlet"),
)


# Article pages (captures of kind article, status 200) that gave no article yet: why, and how
# many extraction runs tried them. A page with no article and no row here is pending too.
extraction_state = Table(
    "extraction_state",
    metadata,
    Column("capture_id", Integer, ForeignKey("captures.id"), primary_key=True, autoincrement=False),
    Column("state", String(16), nullable=False),  # pending|given_up|unchanged
    Column("tries", Integer, nullable=False),
    Column("reason", Text),
    Column("night", String(10)),  # the night whose extraction tried it last
)

PENDING = "pending"
GIVEN_UP = "given_up"
UNCHANGED = "unchanged"
"""The same bytes of the same URL gave an article already: nothing new to extract."""


@dataclass(frozen=True)
class ExtractionCounts:
    """What became of a night's article pages (captures of kind article answered 200)."""

    pages: int
    articles: int
    unchanged: int
    pending: int
    given_up: int
    failures: list[dict[str, Any]]
    """The first pages pending or given up: url, state, tries, reason."""

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(dt: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: they are UTC."""
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@dataclass
class Capture:
    """One archived HTTP exchange: where its response (or revisit) record lies."""

    night: str
    source: str
    kind: str
    url: str
    canonical_url: str
    captured_at: datetime
    status: int
    record_type: str
    record_id: str
    warc_key: str
    offset: int
    length: int
    mime: str | None = None
    revisit_profile: str | None = None
    payload_digest: str | None = None
    refers_to_uri: str | None = None
    refers_to_date: datetime | None = None
    request_offset: int | None = None
    request_length: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    ip: str | None = None
    id: int | None = None

    @classmethod
    def from_row(cls, row: Any) -> Capture:
        d = dict(row._mapping)
        d["captured_at"] = as_utc(d["captured_at"])
        d["refers_to_date"] = as_utc(d["refers_to_date"])
        return cls(**d)


@dataclass
class Article:
    """An article as the catalog holds it."""

    capture_id: int
    night: str
    source: str
    url: str
    canonical_url: str
    outlet: str
    captured_at: datetime
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    updated: str | None = None
    language: str | None = None
    section: str | None = None
    site_name: str | None = None
    page_canonical: str | None = None
    original_hint: dict[str, Any] | None = None
    body: str | None = None
    body_sha1: str | None = None
    work_id: str | None = None
    role: str | None = None
    metadata_warc_key: str | None = None
    metadata_offset: int | None = None
    metadata_length: int | None = None
    id: int | None = None

    @classmethod
    def from_row(cls, row: Any) -> Article:
        d = dict(row._mapping)
        d["authors"] = json.loads(d["authors"]) if d["authors"] else []
        d["original_hint"] = json.loads(d["original_hint"]) if d["original_hint"] else None
        d["captured_at"] = as_utc(d["captured_at"])
        return cls(**d)

    def to_row(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["authors"] = json.dumps(self.authors, ensure_ascii=False)
        d["original_hint"] = (
            json.dumps(self.original_hint, ensure_ascii=False) if self.original_hint else None
        )
        if d["id"] is None:
            del d["id"]
        return d


# statements the crawl runs once per page, built once (SQLAlchemy then reuses their compiled form)
_FIRST_WITH_DIGEST = (
    select(captures)
    .where(captures.c.payload_digest == bindparam("digest"), captures.c.record_type == "response")
    .order_by(captures.c.captured_at, captures.c.id)
    .limit(1)
)
_HISTORY = (
    select(captures)
    .where(captures.c.canonical_url == bindparam("canonical"))
    .order_by(captures.c.night, captures.c.captured_at, captures.c.id)
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class Catalog:
    """Typed access to the catalog database."""

    def __init__(self, url: str, *, create: bool = True):
        self.url = url
        u = make_url(url)
        if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, future=True)
        self._local = threading.local()
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        if create:
            metadata.create_all(self.engine)
            self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Bring a catalog made by an earlier version up to date: columns added since then are
        nullable, so adding them is all it takes."""
        from sqlalchemy import inspect, text

        insp = inspect(self.engine)
        with self.engine.begin() as c:
            for table in metadata.sorted_tables:
                if not insp.has_table(table.name):
                    continue
                have = {col["name"] for col in insp.get_columns(table.name)}
                for col in table.columns:
                    if col.name not in have and col.nullable:
                        kind = col.type.compile(dialect=self.engine.dialect)
                        c.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{col.name}" {kind}'))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self.engine.dispose()

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """This thread's kept connection, for the lookups a crawl makes for every page (no pool
        round trip); each lookup ends its transaction, so it never pins an old snapshot."""
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._local.conn = self.engine.connect()
        try:
            yield conn
        finally:
            conn.rollback()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> Connection:
        return self.engine.connect()

    # -- nights ---------------------------------------------------------------------------------
    def start_night(self, night: str, sources_digest: str) -> None:
        with self.engine.begin() as c:
            exists = c.execute(select(nights.c.night).where(nights.c.night == night)).first()
            if exists:
                c.execute(
                    update(nights)
                    .where(nights.c.night == night)
                    .values(sources_digest=sources_digest)
                )
            else:
                c.execute(
                    insert(nights).values(
                        night=night, started=utcnow(), sources_digest=sources_digest
                    )
                )

    def finish_night(self, night: str, report: dict[str, Any]) -> None:
        with self.engine.begin() as c:
            c.execute(
                update(nights)
                .where(nights.c.night == night)
                .values(finished=utcnow(), report=json.dumps(report, sort_keys=True))
            )

    def night_sources_digest(self, night: str) -> str:
        with self.engine.connect() as c:
            row = c.execute(select(nights.c.sources_digest).where(nights.c.night == night)).first()
        return str(row[0]) if row and row[0] else ""

    def list_nights(self) -> list[str]:
        with self.engine.connect() as c:
            return [r[0] for r in c.execute(select(nights.c.night).order_by(nights.c.night))]

    # -- crawl runs -----------------------------------------------------------------------------
    def add_crawl_run(
        self,
        night: str,
        source: str,
        summary: dict[str, Any],
        *,
        started: datetime,
        finished: datetime,
        completed: bool,
    ) -> None:
        """Record one crawl of ``source`` for ``night`` (``completed``: it archived something)."""
        with self.engine.begin() as c:
            c.execute(
                insert(crawl_runs).values(
                    night=night,
                    source=source,
                    started=started,
                    finished=finished,
                    completed=completed,
                    summary=json.dumps(summary, sort_keys=True, default=str),
                )
            )

    def crawl_runs(self, night: str) -> dict[str, list[dict[str, Any]]]:
        """``{source: [run, ...]}`` of the night, each run's summary with ``started``,
        ``finished`` and ``completed``, oldest first."""
        q = select(crawl_runs).where(crawl_runs.c.night == night).order_by(crawl_runs.c.id)
        out: dict[str, list[dict[str, Any]]] = {}
        with self.engine.connect() as c:
            for r in c.execute(q):
                run = json.loads(r.summary or "{}")
                run.update(
                    started=as_utc(r.started),
                    finished=as_utc(r.finished),
                    completed=bool(r.completed),
                )
                out.setdefault(str(r.source), []).append(run)
        return out

    def completed_crawl(self, night: str, source: str) -> dict[str, Any] | None:
        """The summary of the latest completed crawl of ``source`` for ``night``, or None."""
        runs = [r for r in self.crawl_runs(night).get(source, []) if r["completed"]]
        return runs[-1] if runs else None

    # -- captures -------------------------------------------------------------------------------
    def add_capture(self, cap: Capture) -> int:
        row = dict(cap.__dict__)
        row.pop("id")
        with self.engine.begin() as c:
            res = c.execute(insert(captures).values(**row))
            pk = res.inserted_primary_key
            assert pk is not None
            cap.id = int(pk[0])
            return cap.id

    def add_captures(self, caps: Sequence[Capture]) -> None:
        """Insert many captures in one transaction (the crawl writes them in batches)."""
        if not caps:
            return
        rows = []
        for cap in caps:
            row = dict(cap.__dict__)
            row.pop("id")
            rows.append(row)
        with self.engine.begin() as c:
            c.execute(insert(captures), rows)
            crash_point("catalog-write")

    def capture_record_ids(self, warc_key: str) -> set[str]:
        """Record ids of the captures whose response (or revisit) lies in a WARC file."""
        q = select(captures.c.record_id).where(captures.c.warc_key == warc_key)
        with self.engine.connect() as c:
            return {r[0] for r in c.execute(q)}

    def first_capture_with_digest(self, digest: str) -> Capture | None:
        """The earliest full (non-revisit) capture of a payload, any URL, any night."""
        with self._reading() as c:
            row = c.execute(_FIRST_WITH_DIGEST, {"digest": digest}).first()
        return Capture.from_row(row) if row else None

    def latest_payload_capture(
        self, canonical_url: str, kind: str | None = None, *, through_night: str | None = None
    ) -> Capture | None:
        """The latest 200 capture of a canonical URL that stands for a payload (a response, or a
        revisit of identical payload): of the latest night (up to ``through_night``, when
        given), the latest of that night. Its validators (ETag, Last-Modified) are what the
        server sent then."""
        q = select(captures).where(
            captures.c.canonical_url == canonical_url,
            captures.c.status == 200,
            or_(
                captures.c.record_type == "response",
                captures.c.revisit_profile == PROFILE_IDENTICAL,
            ),
        )
        if kind:
            q = q.where(captures.c.kind == kind)
        if through_night:
            q = q.where(captures.c.night <= through_night)
        q = q.order_by(
            captures.c.night.desc(), captures.c.captured_at.desc(), captures.c.id.desc()
        ).limit(1)
        with self.engine.connect() as c:
            row = c.execute(q).first()
        return Capture.from_row(row) if row else None

    def capture_history(
        self, canonical_url: str, *, through_night: str | None = None
    ) -> list[Capture]:
        """Every capture of a canonical URL, by night then capture time; with ``through_night``
        only those of nights up to it (what that night's crawl knew of)."""
        with self._reading() as c:
            rows = c.execute(_HISTORY, {"canonical": canonical_url})
            return [
                Capture.from_row(r)
                for r in rows
                if through_night is None or r.night <= through_night
            ]

    def captures_for_night(
        self, night: str, *, kind: str | None = None, source: str | None = None
    ) -> list[Capture]:
        q = select(captures).where(captures.c.night == night)
        if kind:
            q = q.where(captures.c.kind == kind)
        if source:
            q = q.where(captures.c.source == source)
        with self.engine.connect() as c:
            return [Capture.from_row(r) for r in c.execute(q.order_by(captures.c.id))]

    def latest_definite_capture(self, night: str, url: str) -> Capture | None:
        """The latest capture of exactly ``url`` on ``night`` that is a definite answer (not a
        5xx or 429, which are tried again)."""
        q = (
            select(captures)
            .where(captures.c.night == night, captures.c.url == url)
            .where(captures.c.status < 500, captures.c.status != 429)
            .order_by(captures.c.captured_at.desc(), captures.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as c:
            row = c.execute(q).first()
        return Capture.from_row(row) if row else None

    def capture_times(self, capture_ids: Iterable[int]) -> dict[int, tuple[datetime, str]]:
        """``{capture id: (capture time, WARC-Record-ID)}``; ``KeyError`` for an unknown id."""
        wanted = sorted(set(capture_ids))
        q = select(captures.c.id, captures.c.captured_at, captures.c.record_id).where(
            captures.c.id.in_(wanted)
        )
        with self.engine.connect() as c:
            found = {int(i): (as_utc(at) or at, str(rid)) for i, at, rid in c.execute(q)}
        missing = [i for i in wanted if i not in found]
        if missing:
            raise KeyError(missing[0])
        return found

    def capture_counts(self, night: str) -> dict[str, dict[str, int]]:
        """``{source: {record type: captures}}`` of the night, whichever try made them."""
        q = (
            select(captures.c.source, captures.c.record_type, func.count())
            .where(captures.c.night == night)
            .group_by(captures.c.source, captures.c.record_type)
        )
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as c:
            for source, record_type, n in c.execute(q):
                out.setdefault(str(source), {})[str(record_type)] = int(n)
        return out

    def get_capture(self, capture_id: int) -> Capture:
        with self.engine.connect() as c:
            row = c.execute(select(captures).where(captures.c.id == capture_id)).first()
        if row is None:
            raise KeyError(capture_id)
        return Capture.from_row(row)

    def iter_captures(self) -> Iterator[Capture]:
        with self.engine.connect() as c:
            for r in c.execute(select(captures).order_by(captures.c.id)):
                yield Capture.from_row(r)

    def count(self, table: Table, *where: Any) -> int:
        q = select(func.count()).select_from(table)
        for w in where:
            q = q.where(w)
        with self.engine.connect() as c:
            return int(c.execute(q).scalar_one())

    # -- WARC files -----------------------------------------------------------------------------
    def record_warc_file(
        self,
        key: str,
        night: str,
        *,
        size: int,
        sha256: str,
        records: int,
        first_record: datetime | None,
        last_record: datetime | None,
        stored: bool,
    ) -> None:
        values = dict(
            night=night,
            size=size,
            sha256=sha256,
            records=records,
            first_record=first_record,
            last_record=last_record,
            stored=stored,
        )
        with self.engine.begin() as c:
            if c.execute(select(warc_files.c.key).where(warc_files.c.key == key)).first():
                c.execute(update(warc_files).where(warc_files.c.key == key).values(**values))
            else:
                c.execute(insert(warc_files).values(key=key, **values))

    def record_closed_file(self, closed: Any, night: str) -> None:
        """Note a WARC file the writer just completed (a
        :class:`opeds.storage.warc.writer.ClosedFile`)."""
        self.record_warc_file(
            closed.key,
            night,
            size=closed.size,
            sha256=closed.sha256,
            records=closed.records,
            first_record=closed.first_record,
            last_record=closed.last_record,
            stored=False,
        )

    def warc_file(self, key: str) -> dict[str, Any] | None:
        """The row of one WARC file, or None."""
        with self.engine.connect() as c:
            row = c.execute(select(warc_files).where(warc_files.c.key == key)).first()
        return dict(row._mapping) if row else None

    def forget_records(self, warc_key: str, *, from_offset: int = 0) -> int:
        """Forget what lies in a WARC file from ``from_offset`` on (all of it by default): its
        captures and the articles extracted from them go, metadata record locations in it are
        cleared (so those records are written again), and, for the whole file, its row.
        Returns how many captures went."""
        with self.engine.begin() as c:
            gone = select(captures.c.id).where(
                captures.c.warc_key == warc_key, captures.c.offset >= from_offset
            )
            c.execute(delete(articles).where(articles.c.capture_id.in_(gone)))
            c.execute(delete(extraction_state).where(extraction_state.c.capture_id.in_(gone)))
            n = c.execute(
                delete(captures).where(
                    captures.c.warc_key == warc_key, captures.c.offset >= from_offset
                )
            ).rowcount
            c.execute(
                update(articles)
                .where(
                    articles.c.metadata_warc_key == warc_key,
                    articles.c.metadata_offset >= from_offset,
                )
                .values(metadata_warc_key=None, metadata_offset=None, metadata_length=None)
            )
            if from_offset == 0:
                c.execute(delete(warc_files).where(warc_files.c.key == warc_key))
        return int(n or 0)

    def warc_files_for_night(self, night: str) -> list[dict[str, Any]]:
        q = select(warc_files).where(warc_files.c.night == night).order_by(warc_files.c.key)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q)]

    # -- extraction state -----------------------------------------------------------------------
    def reopen_extraction(self, night: str) -> None:
        """The night is being crawled: its new pages are pending until extracted."""
        with self.engine.begin() as c:
            c.execute(update(nights).where(nights.c.night == night).values(extracted=None))

    def pages_to_extract(self, night: str) -> list[Capture]:
        """The article pages an extraction of ``night`` works on: the night's own, and those of
        every night whose extraction left pages pending, that gave no article yet (neither
        given up nor unchanged). By night, source and URL: the order (and so the articles' ids)
        does not depend on the order in which the crawl happened to fetch them."""
        open_nights = select(nights.c.night).where(nights.c.extracted.is_(None))
        done = select(articles.c.capture_id)
        settled = select(extraction_state.c.capture_id).where(
            extraction_state.c.state.in_([GIVEN_UP, UNCHANGED])
        )
        q = (
            select(captures)
            .where(
                captures.c.kind == "article",
                captures.c.status == 200,
                or_(captures.c.night == night, captures.c.night.in_(open_nights)),
                captures.c.id.not_in(done),
                captures.c.id.not_in(settled),
            )
            .order_by(captures.c.night, captures.c.source, captures.c.url, captures.c.id)
        )
        with self.engine.connect() as c:
            return [Capture.from_row(r) for r in c.execute(q)]

    def has_article_for_payload(self, canonical_url: str, digest: str) -> bool:
        """Whether a capture of ``canonical_url`` with payload ``digest`` gave an article."""
        q = (
            select(articles.c.id)
            .join(captures, captures.c.id == articles.c.capture_id)
            .where(captures.c.canonical_url == canonical_url, captures.c.payload_digest == digest)
            .limit(1)
        )
        with self._reading() as c:
            return c.execute(q).first() is not None

    def set_extraction_state(
        self, rows: Sequence[tuple[int, str, str | None]], night: str, *, max_tries: int
    ) -> int:
        """Record what an extraction run of ``night`` made of pages that gave no article:
        ``(capture id, state, reason)`` each. A ``pending`` page counts a try; one that used
        ``max_tries`` is given up. Returns how many were given up now."""
        if not rows:
            return 0
        given_up = 0
        with self.engine.begin() as c:
            ids = [i for i, _, _ in rows]
            tries = {
                int(i): int(n)
                for i, n in c.execute(
                    select(extraction_state.c.capture_id, extraction_state.c.tries).where(
                        extraction_state.c.capture_id.in_(ids)
                    )
                )
            }
            c.execute(delete(extraction_state).where(extraction_state.c.capture_id.in_(ids)))
            values = []
            for i, state, reason in rows:
                n = tries.get(i, 0) + (1 if state == PENDING else 0)
                if state == PENDING and n >= max_tries:
                    state = GIVEN_UP
                    given_up += 1
                values.append(
                    {"capture_id": i, "state": state, "tries": n, "reason": reason, "night": night}
                )
            c.execute(insert(extraction_state), values)
        return given_up

    def close_extraction(self) -> list[str]:
        """Mark extracted every open night none of whose pages is pending any more; those
        nights, in order."""
        closed: list[str] = []
        with self.engine.begin() as c:
            open_nights = [
                r[0]
                for r in c.execute(
                    select(nights.c.night)
                    .where(nights.c.extracted.is_(None))
                    .order_by(nights.c.night)
                )
            ]
            for n in open_nights:
                if self._pending_count(c, n) == 0:
                    c.execute(update(nights).where(nights.c.night == n).values(extracted=utcnow()))
                    closed.append(n)
        return closed

    @staticmethod
    def _pending_count(c: Connection, night: str) -> int:
        q = (
            select(func.count())
            .select_from(captures)
            .outerjoin(articles, articles.c.capture_id == captures.c.id)
            .outerjoin(extraction_state, extraction_state.c.capture_id == captures.c.id)
            .where(
                captures.c.night == night,
                captures.c.kind == "article",
                captures.c.status == 200,
                articles.c.id.is_(None),
                or_(extraction_state.c.state.is_(None), extraction_state.c.state == PENDING),
            )
        )
        return int(c.execute(q).scalar_one())

    def extraction_counts(self, night: str, *, sample: int = 20) -> ExtractionCounts:
        """What became of the night's article pages, whichever run extracted them."""
        base = (
            select(captures.c.id)
            .outerjoin(articles, articles.c.capture_id == captures.c.id)
            .outerjoin(extraction_state, extraction_state.c.capture_id == captures.c.id)
            .where(
                captures.c.night == night,
                captures.c.kind == "article",
                captures.c.status == 200,
            )
        )
        with self.engine.connect() as c:
            pages = int(c.execute(select(func.count()).select_from(base.subquery())).scalar_one())
            with_articles = int(
                c.execute(
                    select(func.count()).select_from(
                        base.where(articles.c.id.is_not(None)).subquery()
                    )
                ).scalar_one()
            )
            by_state = {
                str(k): int(n)
                for k, n in c.execute(
                    select(extraction_state.c.state, func.count())
                    .join(captures, captures.c.id == extraction_state.c.capture_id)
                    .outerjoin(articles, articles.c.capture_id == captures.c.id)
                    .where(captures.c.night == night, articles.c.id.is_(None))
                    .group_by(extraction_state.c.state)
                )
            }
            failing = c.execute(
                select(
                    captures.c.url,
                    extraction_state.c.state,
                    extraction_state.c.tries,
                    extraction_state.c.reason,
                )
                .join(extraction_state, extraction_state.c.capture_id == captures.c.id)
                .outerjoin(articles, articles.c.capture_id == captures.c.id)
                .where(
                    captures.c.night == night,
                    articles.c.id.is_(None),
                    extraction_state.c.state.in_([PENDING, GIVEN_UP]),
                )
                .order_by(captures.c.id)
                .limit(sample)
            ).all()
        unchanged = by_state.get(UNCHANGED, 0)
        given_up = by_state.get(GIVEN_UP, 0)
        return ExtractionCounts(
            pages=pages,
            articles=with_articles,
            unchanged=unchanged,
            pending=pages - with_articles - unchanged - given_up,
            given_up=given_up,
            failures=[
                {"url": url, "state": st, "tries": int(n), "reason": why}
                for url, st, n, why in failing
            ],
        )

    # -- articles -------------------------------------------------------------------------------
    def add_article(self, art: Article) -> int:
        with self.engine.begin() as c:
            res = c.execute(insert(articles).values(**art.to_row()))
            pk = res.inserted_primary_key
            assert pk is not None
            art.id = int(pk[0])
            return art.id

    def article_for_capture(self, capture_id: int) -> Article | None:
        with self.engine.connect() as c:
            row = c.execute(select(articles).where(articles.c.capture_id == capture_id)).first()
        return Article.from_row(row) if row else None

    def articles_for_night(self, night: str) -> list[Article]:
        q = select(articles).where(articles.c.night == night).order_by(articles.c.id)
        with self.engine.connect() as c:
            return [Article.from_row(r) for r in c.execute(q)]

    def article_ids_for_night(self, night: str) -> list[int]:
        """Ids of the night's articles, in order (no bodies read)."""
        q = select(articles.c.id).where(articles.c.night == night).order_by(articles.c.id)
        with self.engine.connect() as c:
            return [int(i) for (i,) in c.execute(q)]

    def unclustered_article_ids(self) -> list[int]:
        """Ids of the articles in no work yet, any night, in order."""
        q = select(articles.c.id).where(articles.c.work_id.is_(None)).order_by(articles.c.id)
        with self.engine.connect() as c:
            return [int(i) for (i,) in c.execute(q)]

    def article_counts_by_source(self, night: str) -> dict[str, int]:
        """How many articles the night holds, per source."""
        q = (
            select(articles.c.source, func.count())
            .where(articles.c.night == night)
            .group_by(articles.c.source)
        )
        with self.engine.connect() as c:
            return {str(source): int(n) for source, n in c.execute(q)}

    def night_pages(self, night: str) -> list[tuple[str, datetime, str | None]]:
        """(url, capture time, title) of the night's articles, in order (no bodies read)."""
        q = (
            select(articles.c.url, articles.c.captured_at, articles.c.title)
            .where(articles.c.night == night)
            .order_by(articles.c.id)
        )
        with self.engine.connect() as c:
            return [(url, as_utc(at) or at, title) for url, at, title in c.execute(q)]

    def articles_without_metadata(self, *, after: int, limit: int) -> list[Article]:
        """The next ``limit`` articles (by id, above ``after``) with no metadata record: the
        night's, and those of earlier nights that were extracted since."""
        q = (
            select(articles)
            .where(
                articles.c.id > after,
                or_(articles.c.metadata_warc_key.is_(None), articles.c.metadata_warc_key == ""),
            )
            .order_by(articles.c.id)
            .limit(limit)
        )
        with self.engine.connect() as c:
            return [Article.from_row(r) for r in c.execute(q)]

    def set_metadata_locations(self, located: Sequence[tuple[int, str, int, int]]) -> None:
        """Record where articles' metadata records are: ``(article id, WARC key, offset,
        length)`` each, in one transaction."""
        if not located:
            return
        with self.engine.begin() as c:
            c.execute(
                update(articles)
                .where(articles.c.id == bindparam("b_id"))
                .values(
                    metadata_warc_key=bindparam("b_key"),
                    metadata_offset=bindparam("b_off"),
                    metadata_length=bindparam("b_len"),
                ),
                [{"b_id": i, "b_key": k, "b_off": o, "b_len": n} for i, k, o, n in located],
            )

    def get_articles(self, ids: Iterable[int]) -> list[Article]:
        ids = list(ids)
        if not ids:
            return []
        with self.engine.connect() as c:
            rows = c.execute(select(articles).where(articles.c.id.in_(ids)).order_by(articles.c.id))
            return [Article.from_row(r) for r in rows]

    def iter_articles(self) -> Iterator[Article]:
        with self.engine.connect() as c:
            for r in c.execute(select(articles).order_by(articles.c.id)):
                yield Article.from_row(r)

    def set_article_fields(self, article_id: int, **values: Any) -> None:
        with self.engine.begin() as c:
            c.execute(update(articles).where(articles.c.id == article_id).values(**values))

    def articles_in_works(self, work_ids: Sequence[str]) -> list[Article]:
        if not work_ids:
            return []
        q = select(articles).where(articles.c.work_id.in_(list(work_ids))).order_by(articles.c.id)
        with self.engine.connect() as c:
            return [Article.from_row(r) for r in c.execute(q)]
