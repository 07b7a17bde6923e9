"""Finding things in the catalog: articles by author, outlet, words, dates, URL or work, and the
captures of a URL.

Full-text search uses the catalog database's own text search:

* **SQLite** — two FTS5 tables with ``articles`` as their external content, kept in sync by
  triggers: ``articles_fts`` (title and body, ``unicode61`` words without diacritics, ranked with
  BM25, title weighted 10:1) and ``articles_authors_fts`` (the authors list, ``trigram``, so any
  part of a name of three letters or more is found through the index).
* **PostgreSQL** — a GIN index on ``to_tsvector('simple', title || ' ' || body)`` queried with
  ``websearch_to_tsquery`` and ranked with ``ts_rank_cd`` (title weighted above body), and, when
  the ``pg_trgm`` extension can be had, a trigram GIN index on ``lower(authors)``.

:func:`ensure_search_index` creates all of it (and the few plain indexes searches need) with
``IF NOT EXISTS`` DDL after ``metadata.create_all``; it is idempotent and cheap after the first
call, and every search function calls it. On SQLite, creating the FTS tables in a catalog that
already holds articles indexes them (FTS5 ``rebuild``); from then on the triggers keep them in
step with every insert, delete and change of ``title``, ``body`` or ``authors``.

Text queries read like a web search on both databases: words (all must occur), ``"a phrase"``,
``word*`` for a prefix (SQLite), ``-word`` to exclude, ``OR`` between alternatives.
"""

from __future__ import annotations

import difflib
import json
import re
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    and_,
    bindparam,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from opeds.errors import OpedsError
from opeds.storage.catalog.db import Article, Capture, Catalog, articles, as_utc, captures

FTS_TABLE = "articles_fts"
AUTHORS_FTS_TABLE = "articles_authors_fts"
TITLE_WEIGHT = 10.0
"""BM25 / ts_rank weight of a title match against a body match (1)."""
MAX_LIMIT = 10_000
TRIGRAM = 3
"""The trigram tokenizer finds substrings of at least this many characters through the index."""

DateField = Literal["published", "captured"]


class SearchError(OpedsError):
    """A search could not be run as asked (a malformed query, an unusable option)."""


# ---------------------------------------------------------------------------------------------
# The index


_SQLITE_DDL = (
    f"""CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(
        title, body, content='articles', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    f"""CREATE VIRTUAL TABLE IF NOT EXISTS {AUTHORS_FTS_TABLE} USING fts5(
        authors, content='articles', content_rowid='id', tokenize='trigram')""",
    f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ai AFTER INSERT ON articles BEGIN
        INSERT INTO {FTS_TABLE}(rowid, title, body) VALUES (new.id, new.title, new.body);
        INSERT INTO {AUTHORS_FTS_TABLE}(rowid, authors) VALUES (new.id, new.authors);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ad AFTER DELETE ON articles BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, body)
            VALUES ('delete', old.id, old.title, old.body);
        INSERT INTO {AUTHORS_FTS_TABLE}({AUTHORS_FTS_TABLE}, rowid, authors)
            VALUES ('delete', old.id, old.authors);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_au AFTER UPDATE OF title, body ON articles
    BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, body)
            VALUES ('delete', old.id, old.title, old.body);
        INSERT INTO {FTS_TABLE}(rowid, title, body) VALUES (new.id, new.title, new.body);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS {AUTHORS_FTS_TABLE}_au AFTER UPDATE OF authors ON articles
    BEGIN
        INSERT INTO {AUTHORS_FTS_TABLE}({AUTHORS_FTS_TABLE}, rowid, authors)
            VALUES ('delete', old.id, old.authors);
        INSERT INTO {AUTHORS_FTS_TABLE}(rowid, authors) VALUES (new.id, new.authors);
    END""",
)

_PLAIN_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_articles_url ON articles (url)",
    "CREATE INDEX IF NOT EXISTS ix_articles_source ON articles (source)",
    "CREATE INDEX IF NOT EXISTS ix_articles_published ON articles (published)",
    "CREATE INDEX IF NOT EXISTS ix_articles_captured ON articles (captured_at)",
)

_PG_TEXT = "coalesce(title, '') || ' ' || coalesce(body, '')"
"""The text PostgreSQL indexes (the same expression in the index and in queries)."""
_PG_DDL = (
    "CREATE INDEX IF NOT EXISTS ix_articles_fts ON articles "
    f"USING GIN (to_tsvector('simple', {_PG_TEXT}))",
    # prefix searches (LIKE 'p%') under any collation
    "CREATE INDEX IF NOT EXISTS ix_articles_url_prefix ON articles (url text_pattern_ops)",
    "CREATE INDEX IF NOT EXISTS ix_articles_canonical_prefix ON articles "
    "(canonical_url text_pattern_ops)",
    "CREATE INDEX IF NOT EXISTS ix_captures_canonical_prefix ON captures "
    "(canonical_url text_pattern_ops)",
)
_PG_TRIGRAM = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ix_articles_authors_trgm ON articles "
    "USING GIN (lower(authors) gin_trgm_ops)",
)

_ready: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def _sqlite_objects(conn: Connection) -> set[str]:
    rows = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
    return {str(r[0]) for r in rows}


def ensure_search_index(catalog: Catalog) -> bool:
    """Create the catalog's search index if it is missing; True if anything was created.

    Safe to call any number of times, from any process; after the first call on an engine it
    costs nothing.
    """
    engine = catalog.engine
    if _ready.get(engine):
        return False
    if catalog.dialect == "sqlite":
        created = _ensure_sqlite(engine)
    elif catalog.dialect == "postgresql":
        created = _ensure_postgres(engine)
    else:
        raise SearchError(f"full-text search needs SQLite or PostgreSQL, not {catalog.dialect}")
    _ready[engine] = True
    return created


def _ensure_sqlite(engine: Engine) -> bool:
    names = (
        FTS_TABLE,
        AUTHORS_FTS_TABLE,
        f"{FTS_TABLE}_ai",
        f"{FTS_TABLE}_ad",
        f"{FTS_TABLE}_au",
        f"{AUTHORS_FTS_TABLE}_au",
    )
    with engine.connect() as conn:
        have = _sqlite_objects(conn)
        plain = {
            str(r[0])
            for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
    wanted_plain = {ddl.split()[5] for ddl in _PLAIN_INDEXES}
    if set(names) <= have and wanted_plain <= plain:
        return False
    with engine.begin() as conn:
        have = _sqlite_objects(conn)  # again, inside the write transaction
        fresh = [t for t in (FTS_TABLE, AUTHORS_FTS_TABLE) if t not in have]
        try:
            for ddl in _SQLITE_DDL:
                conn.exec_driver_sql(ddl)
        except DBAPIError as e:
            raise SearchError(
                f"this SQLite ({_sqlite_version(conn)}) cannot build the search index: {e.orig}; "
                "FTS5 with the trigram tokenizer needs SQLite 3.34 or later"
            ) from None
        for t in fresh:  # index what the catalog already holds
            conn.exec_driver_sql(f"INSERT INTO {t}({t}) VALUES ('rebuild')")
        for ddl in _PLAIN_INDEXES:
            conn.exec_driver_sql(ddl)
    return True


def _sqlite_version(conn: Connection) -> str:
    return str(conn.exec_driver_sql("SELECT sqlite_version()").scalar())


_PG_INDEXES = {ddl.split()[5] for ddl in (*_PG_DDL, *_PLAIN_INDEXES)}


def _ensure_postgres(engine: Engine) -> bool:
    existing = text(
        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename IN ('articles', 'captures')"
    )
    with engine.connect() as conn:
        have = {str(r[0]) for r in conn.execute(existing)}
    if have >= _PG_INDEXES:  # the trigram index is optional: not looked for
        return False
    with engine.begin() as conn:
        for ddl in (*_PG_DDL, *_PLAIN_INDEXES):
            conn.exec_driver_sql(ddl)
        # the trigram index is a bonus: without the extension, author searches scan
        for ddl in _PG_TRIGRAM:
            savepoint = conn.begin_nested()
            try:
                conn.exec_driver_sql(ddl)
            except DBAPIError:
                savepoint.rollback()
                break
            savepoint.commit()
    return True


# ---------------------------------------------------------------------------------------------
# Text queries


_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


@dataclass(frozen=True)
class TextTerm:
    """A word or phrase of a text query."""

    text: str
    phrase: bool
    negated: bool
    prefix: bool


def parse_text_query(query: str) -> list[TextTerm | str]:
    """Words, ``"phrases"``, ``-excluded`` terms, ``word*`` prefixes and ``OR`` operators."""
    out: list[TextTerm | str] = []
    for m in _TOKEN.finditer(query):
        neg, phrase, word = m.group(1), m.group(2), m.group(3)
        if phrase is not None:
            if phrase.strip():
                out.append(TextTerm(" ".join(phrase.split()), True, bool(neg), False))
            continue
        assert word is not None
        if word == "OR":
            if out and out[-1] != "OR":
                out.append("OR")
            continue
        negated = word.startswith("-") and len(word) > 1
        word = word[1:] if negated else word
        prefix = word.endswith("*") and len(word) > 1
        word = word.rstrip("*")
        if word:
            out.append(TextTerm(word, False, negated, prefix))
    while out and out[-1] == "OR":
        out.pop()
    return out


def fts5_query(query: str) -> str:
    """A user's search words as an FTS5 query string, every term quoted (no syntax errors)."""
    terms = parse_text_query(query)
    positive: list[str] = []
    negative: list[str] = []
    for t in terms:
        if isinstance(t, str):
            positive.append("OR")
            continue
        quoted = '"' + t.text.replace('"', '""') + '"' + ("*" if t.prefix else "")
        (negative if t.negated else positive).append(quoted)
    while positive and positive[0] == "OR":
        positive.pop(0)
    if not positive:
        raise SearchError(f"the text query {query!r} has no word to look for")
    expr = " ".join(positive)
    # "OR" with a negated term between: drop a dangling operator
    expr = re.sub(r"(^| )OR( OR)+( |$)", " OR ", expr).strip()
    expr = expr.removesuffix(" OR").strip()
    if negative:
        return f"({expr}) " + " ".join(f"NOT {n}" for n in negative)
    return expr


def websearch_query(query: str) -> str:
    """A user's search words for PostgreSQL's ``websearch_to_tsquery`` (prefix stars dropped)."""
    parts: list[str] = []
    for t in parse_text_query(query):
        if isinstance(t, str):
            parts.append("or")
            continue
        body = f'"{t.text}"' if t.phrase else t.text
        parts.append(("-" if t.negated else "") + body)
    if not [p for p in parts if p != "or" and not p.startswith("-")]:
        raise SearchError(f"the text query {query!r} has no word to look for")
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------
# Article search


@dataclass(frozen=True)
class SearchQuery:
    """What to look for; every criterion given must hold (AND)."""

    author: str | None = None
    """Any part of an author's name, case-insensitive."""
    outlets: tuple[str, ...] = ()
    """Outlet host names or source names (exact, lower case); see :func:`matching_outlets`."""
    text: str | None = None
    """Words in the title or body (see the module doc for the syntax)."""
    since: datetime | None = None
    """From this time on (inclusive)."""
    until: datetime | None = None
    """Before this time (exclusive)."""
    by: DateField = "published"
    urls: tuple[str, ...] = ()
    """Exact URLs: an article matches if its URL or canonical URL is one of them."""
    url_prefixes: tuple[str, ...] = ()
    """URL prefixes, matched against URL and canonical URL."""
    work: str | None = None
    limit: int = 50

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise SearchError(f"limit must be between 1 and {MAX_LIMIT}, got {self.limit}")
        if self.by not in ("published", "captured"):
            raise SearchError(f"dates are 'published' or 'captured', not {self.by!r}")


@dataclass(frozen=True)
class SearchHit:
    """One article found."""

    article_id: int
    url: str
    outlet: str
    title: str | None
    authors: tuple[str, ...]
    published: str | None
    captured: datetime
    work: str | None
    role: str | None
    rank: float | None = None
    """Relevance of a text search, higher is better; None without ``text``."""
    snippet: str | None = None
    """Where the words occur in the body, matches in [brackets] (text searches only)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "article_id": self.article_id,
            "url": self.url,
            "outlet": self.outlet,
            "title": self.title,
            "authors": list(self.authors),
            "published": self.published,
            "captured": iso_z(self.captured),
            "work": self.work,
            "role": self.role,
            "rank": self.rank,
            "snippet": self.snippet,
        }


def iso_z(dt: datetime | None) -> str | None:
    """``2026-11-28T02:00:05.123456Z``."""
    value = as_utc(dt)
    return value.isoformat().replace("+00:00", "Z") if value else None


_HIT_COLUMNS = (
    articles.c.id,
    articles.c.url,
    articles.c.outlet,
    articles.c.title,
    articles.c.authors,
    articles.c.published,
    articles.c.captured_at,
    articles.c.work_id,
    articles.c.role,
)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def prefix_end(prefix: str) -> str:
    """The smallest string above every string starting with ``prefix`` (binary collation)."""
    return prefix + "\U0010ffff"


def _prefix_match(col: Any, prefix: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "sqlite":  # binary collation: a range on the column's index
        return and_(col >= prefix, col < prefix_end(prefix))
    return col.like(_escape_like(prefix) + "%", escape="\\")  # text_pattern_ops index


def utc(dt: datetime) -> datetime:
    """``dt`` in UTC, aware (a naive time is taken as UTC). SQLite stores it without the zone,
    PostgreSQL as ``timestamptz``: both compare it right."""
    return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)


def _published_bound(dt: datetime) -> str:
    """An ISO string to compare ``published`` values (ISO dates or date-times) with."""
    u = utc(dt).replace(tzinfo=None)
    if (u.hour, u.minute, u.second, u.microsecond) == (0, 0, 0, 0):
        return u.date().isoformat()
    return u.isoformat(timespec="seconds")


def _author_filter(catalog: Catalog, author: str) -> ColumnElement[bool]:
    parts = [p for p in author.lower().split() if p]
    if not parts:
        raise SearchError("--author needs part of a name")
    if catalog.dialect == "sqlite":
        fts = table(AUTHORS_FTS_TABLE, column("rowid"))
        long_parts = [p for p in parts if len(p) >= TRIGRAM]
        conds: list[ColumnElement[bool]] = []
        if long_parts:
            match = " AND ".join('"' + p.replace('"', '""') + '"' for p in long_parts)
            conds.append(
                articles.c.id.in_(
                    select(fts.c.rowid).where(
                        text(f"{AUTHORS_FTS_TABLE} MATCH :author_match").bindparams(
                            author_match=match
                        )
                    )
                )
            )
        for p in parts:  # short parts (and the rest, cheaply, on the rows already found)
            if len(p) < TRIGRAM:
                conds.append(articles.c.authors.ilike(f"%{_escape_like(p)}%", escape="\\"))
        return and_(*conds)
    lowered: ColumnElement[Any] = literal_column("lower(articles.authors)")
    return and_(*(lowered.like(f"%{_escape_like(p)}%", escape="\\") for p in parts))


def _filters(catalog: Catalog, q: SearchQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    dialect = catalog.dialect
    if q.author is not None:
        where.append(_author_filter(catalog, q.author))
    if q.outlets:
        outlets = list(q.outlets)
        where.append(or_(articles.c.outlet.in_(outlets), articles.c.source.in_(outlets)))
    if q.work:
        where.append(articles.c.work_id == q.work)
    if q.urls:
        urls = list(q.urls)
        where.append(or_(articles.c.url.in_(urls), articles.c.canonical_url.in_(urls)))
    if q.url_prefixes:
        where.append(
            or_(
                *(
                    _prefix_match(col, p, dialect)
                    for p in q.url_prefixes
                    for col in (articles.c.url, articles.c.canonical_url)
                )
            )
        )
    if q.since is not None or q.until is not None:
        if q.by == "captured":
            if q.since is not None:
                where.append(articles.c.captured_at >= utc(q.since))
            if q.until is not None:
                where.append(articles.c.captured_at < utc(q.until))
        else:
            where.append(articles.c.published.is_not(None))
            if q.since is not None:
                where.append(articles.c.published >= _published_bound(q.since))
            if q.until is not None:
                where.append(articles.c.published < _published_bound(q.until))
    return where


def search_articles(catalog: Catalog, query: SearchQuery) -> list[SearchHit]:
    """Articles matching every criterion of ``query``: by relevance for a text search, else
    newest first (published, then captured)."""
    ensure_search_index(catalog)
    where = _filters(catalog, query)
    stmt: Select[Any]
    if query.text is not None and query.text.strip():
        stmt = _text_select(catalog, query.text)
    else:
        stmt = select(
            *_HIT_COLUMNS,
            literal_column("NULL").label("rank"),
            literal_column("NULL").label("snippet"),
        ).order_by(
            articles.c.published.is_(None),
            articles.c.published.desc(),
            articles.c.captured_at.desc(),
            articles.c.id.desc(),
        )
    stmt = stmt.where(*where).limit(query.limit)
    with catalog.connect() as conn:
        try:
            rows = list(conn.execute(stmt))
        except DBAPIError as e:  # e.g. an FTS5 query the parser refuses after all
            raise SearchError(f"the search failed: {e.orig}") from None
    return [_hit(r) for r in rows]


def _text_select(catalog: Catalog, words: str) -> Select[Any]:
    if catalog.dialect == "sqlite":
        fts = table(FTS_TABLE, column("rowid"))
        match = fts5_query(words)
        rank: ColumnElement[Any] = literal_column(f"-bm25({FTS_TABLE}, {TITLE_WEIGHT}, 1.0)")
        snippet: ColumnElement[Any] = literal_column(f"snippet({FTS_TABLE}, 1, '[', ']', '…', 16)")
        return (
            select(*_HIT_COLUMNS, rank.label("rank"), snippet.label("snippet"))
            .select_from(fts.join(articles, articles.c.id == fts.c.rowid))
            .where(text(f"{FTS_TABLE} MATCH :text_match").bindparams(text_match=match))
            .order_by(rank.desc(), articles.c.id)
        )
    doc: ColumnElement[Any] = literal_column(
        f"to_tsvector('simple', {_PG_TEXT})"
    )  # the GIN index's expression
    tsquery = func.websearch_to_tsquery(
        literal_column("'simple'"), bindparam("text_match", websearch_query(words))
    )
    # weights are {D, C, B, A}: a title (A) word counts TITLE_WEIGHT times a body (D) word
    weights: ColumnElement[Any] = literal_column(f"'{{{1.0 / TITLE_WEIGHT}, 0.2, 0.4, 1.0}}'")
    weighted: ColumnElement[Any] = literal_column(
        "setweight(to_tsvector('simple', coalesce(articles.title, '')), 'A') || "
        "setweight(to_tsvector('simple', coalesce(articles.body, '')), 'D')"
    )
    pg_rank: ColumnElement[Any] = func.ts_rank_cd(weights, weighted, tsquery)
    pg_snippet: ColumnElement[Any] = func.ts_headline(
        literal_column("'simple'"),
        literal_column("coalesce(articles.body, '')"),
        tsquery,
        literal_column("'StartSel=[, StopSel=], MaxWords=24, MinWords=8'"),
    )
    return (
        select(*_HIT_COLUMNS, pg_rank.label("rank"), pg_snippet.label("snippet"))
        .where(doc.op("@@")(tsquery))
        .order_by(pg_rank.desc(), articles.c.id)
    )


def _hit(r: Any) -> SearchHit:
    captured = as_utc(r.captured_at)
    assert captured is not None
    return SearchHit(
        article_id=int(r.id),
        url=r.url,
        outlet=r.outlet,
        title=r.title,
        authors=tuple(json.loads(r.authors)) if r.authors else (),
        published=r.published,
        captured=captured,
        work=r.work_id,
        role=r.role,
        rank=float(r.rank) if r.rank is not None else None,
        snippet=r.snippet,
    )


def list_outlets(catalog: Catalog) -> tuple[str, ...]:
    """Every outlet host and source name of the catalog's articles, sorted."""
    with catalog.connect() as conn:
        hosts = {str(r[0]) for r in conn.execute(select(articles.c.outlet).distinct())}
        sources = {str(r[0]) for r in conn.execute(select(articles.c.source).distinct())}
    return tuple(sorted(hosts | sources))


def matching_outlets(catalog: Catalog, name: str) -> tuple[str, ...]:
    """Outlet hosts and source names that ``name`` picks out.

    An exact host or source name picks itself; otherwise every host or source name that contains
    ``name`` (case-insensitive), so ``aawsat`` finds ``english.aawsat.com``. Empty if none.
    """
    wanted = name.strip().lower()
    if not wanted:
        return ()
    names = list_outlets(catalog)
    exact = tuple(v for v in names if v.lower() == wanted)
    return exact or tuple(v for v in names if wanted in v.lower())


# ---------------------------------------------------------------------------------------------
# Captures of a URL


def captures_of_url(catalog: Catalog, urls: Iterable[str]) -> list[Capture]:
    """Every capture whose URL or canonical URL is one of ``urls``, oldest first."""
    wanted = sorted(set(urls))
    if not wanted:
        return []
    q = (
        select(captures)
        .where(or_(captures.c.url.in_(wanted), captures.c.canonical_url.in_(wanted)))
        .order_by(captures.c.captured_at, captures.c.id)
    )
    with catalog.connect() as conn:
        return [Capture.from_row(r) for r in conn.execute(q)]


def capture_at(catalog: Catalog, url: str, when: datetime) -> Capture | None:
    """The response or revisit record of ``url`` written at exactly ``when`` (its WARC-Date);
    a response rather than a revisit when both exist."""
    q = (
        select(captures)
        .where(captures.c.url == url, captures.c.captured_at == utc(when))
        .order_by(captures.c.id)
    )
    with catalog.connect() as conn:
        caps = [Capture.from_row(r) for r in conn.execute(q)]
    return next((c for c in caps if c.record_type == "response"), caps[0] if caps else None)


def similar_urls(catalog: Catalog, canonical: str, *, limit: int = 5) -> list[str]:
    """Captured URLs that look like ``canonical``: those under the longest path prefix it shares
    with any capture (same host at least), most alike first."""
    m = re.match(r"^([a-z][a-z0-9+.-]*://[^/]+/)(.*)$", canonical)
    if not m:
        return []
    root, path = m.group(1), m.group(2)
    segments = path.split("/")
    prefixes = [
        root + "/".join(segments[:i]) + ("/" if i else "") for i in range(len(segments) - 1, -1, -1)
    ]
    hosts = {root, root.replace("://www.", "://", 1), root.replace("://", "://www.", 1)}
    with catalog.connect() as conn:
        for prefix in [*prefixes, *sorted(hosts - {root})]:
            q = (
                select(captures.c.canonical_url, captures.c.url)
                .where(_prefix_match(captures.c.canonical_url, prefix, catalog.dialect))
                .order_by(captures.c.canonical_url)
                .limit(2000)
            )
            found: dict[str, str] = {}
            for canon, url in conn.execute(q):
                found.setdefault(str(canon), str(url))
            if found:
                ranked = sorted(
                    found,
                    key=lambda c: (-difflib.SequenceMatcher(None, canonical, c).ratio(), c),
                )
                return [found[c] for c in ranked[:limit]]
    return []


def nearest_captures(
    captures_list: Sequence[Capture], when: datetime, *, limit: int = 3
) -> list[Capture]:
    """Up to ``limit`` captures on each side of ``when``, in time order."""
    before = [c for c in captures_list if c.captured_at < when][-limit:]
    after = [c for c in captures_list if c.captured_at >= when][:limit]
    return before + after


def articles_for_captures(catalog: Catalog, capture_ids: Iterable[int]) -> dict[int, Article]:
    """The article extracted from each capture, where there is one."""
    ids = sorted(set(capture_ids))
    if not ids:
        return {}
    with catalog.connect() as conn:
        rows = conn.execute(select(articles).where(articles.c.capture_id.in_(ids)))
        return {int(r.capture_id): Article.from_row(r) for r in rows}
