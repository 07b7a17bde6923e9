"""opeds search over a demo night's catalog, on SQLite (FTS5) and PostgreSQL (tsvector): by
author, outlet, words and phrases, dates, URL, URL prefix and work; the index kept in step."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select

from opeds.cli import main
from opeds.cli.retrieval import search as search_command
from opeds.storage.access.retrieval import search
from opeds.storage.catalog.db import Article, Capture, Catalog, articles, captures, works
from opeds.storage.catalog.search import (
    AUTHORS_FTS_TABLE,
    FTS_TABLE,
    SearchError,
    SearchQuery,
    ensure_search_index,
    fts5_query,
    search_articles,
)
from tests.conftest import postgres_schema

NIGHT = "2026-11-28"
SEED_ORIGINAL = (
    "https://english.aawsat.com/home/article/3844811/jonathan-hargreaves/"
    "normalization-syrian-regime-didn't-yield-any-results"
)
SEED_COPY = (
    "https://syrianobserver.com/foreign-actors/"
    "normalization-with-the-syrian-regime-didnt-yield-any-results.html"
)
SEED_TITLE = "Normalization with the Syrian Regime Didn't Yield any Results"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("search") / "archive"
    res = CliRunner().invoke(main, ["demo", "--archive", str(root), "--night", NIGHT])
    assert res.exit_code == 0, res.output
    return root


def _postgres_copy(source: Path) -> Iterator[str]:
    """A PostgreSQL schema of its own holding the demo catalog's captures, works and articles."""
    for url in postgres_schema():
        src = Catalog(f"sqlite:///{source}")
        dst = Catalog(url)
        with src.connect() as s, dst.engine.begin() as d:
            for table in (captures, works, articles):
                rows = [dict(r._mapping) for r in s.execute(select(table))]
                if rows:
                    d.execute(insert(table), rows)
        src.close()
        dst.close()
        yield url


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def catalog(
    request: pytest.FixtureRequest, archive: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Catalog]:
    """The demo night's catalog: a copy of the SQLite file, or its rows in PostgreSQL."""
    if request.param == "sqlite":
        copy = tmp_path_factory.mktemp("catalog") / "catalog.sqlite"
        shutil.copyfile(archive / "catalog.sqlite", copy)
        cat = Catalog(f"sqlite:///{copy}")
        yield cat
        cat.close()
    else:
        for url in _postgres_copy(archive / "catalog.sqlite"):
            cat = Catalog(url)
            yield cat
            cat.close()


def urls(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [h.url for h in hits]


def seed_body(cat: Catalog) -> str:
    (art,) = [a for a in cat.iter_articles() if a.url == SEED_ORIGINAL]
    assert art.body
    return art.body


# -- the seed op-ed, found three ways ----------------------------------------------------------


def test_author_finds_the_seed_op_ed_by_any_part_of_the_name(catalog: Catalog) -> None:
    for name in ("Hargreaves", "hargreaves", "Jonathan Hargreaves", "Jon Harg", "greav"):
        hits = search(catalog, author=name)
        found = urls(hits)
        assert SEED_ORIGINAL in found and SEED_COPY in found, name
        assert all("Jonathan Hargreaves" in h.authors for h in hits), name
    assert search(catalog, author="Hargreaves Xyzzy") == []
    assert search(catalog, author="Zzq") == []


def test_outlet_finds_the_seed_original_by_host_or_source_name(catalog: Catalog) -> None:
    for outlet in ("english.aawsat.com", "aawsat", "asharq-al-awsat", "ENGLISH.AAWSAT.COM"):
        hits = search(catalog, outlet=outlet)
        assert SEED_ORIGINAL in urls(hits), outlet
        assert {h.outlet for h in hits} == {"english.aawsat.com"}, outlet
    with pytest.raises(Exception, match=r"no outlet or source matches 'nowhere'.*aawsat"):
        search(catalog, outlet="nowhere")


def test_a_phrase_from_the_body_finds_every_copy_first(catalog: Catalog) -> None:
    words = seed_body(catalog).split()
    phrase = " ".join(words[40:46]).strip(".,;:!?\"'“”‘’")
    hits = search(catalog, text=f'"{phrase}"')
    assert SEED_ORIGINAL in urls(hits) and SEED_COPY in urls(hits)
    assert all(h.work == hits[0].work for h in hits)
    assert all(h.rank is not None and h.rank > 0 for h in hits)
    assert hits[0].snippet and "[" in hits[0].snippet
    # the same words out of order, not as a phrase: found too
    assert SEED_ORIGINAL in urls(search(catalog, text=" ".join(reversed(phrase.split()))))


def test_title_words_rank_above_body_words(catalog: Catalog) -> None:
    hits = search(catalog, text="normalization")
    assert hits and hits[0].title is not None and "Normalization" in hits[0].title
    ranks = [h.rank for h in hits]
    assert ranks == sorted(ranks, reverse=True)  # type: ignore[type-var]


def test_text_operators(catalog: Catalog) -> None:
    both = set(urls(search(catalog, text="water OR bread")))
    water = set(urls(search(catalog, text="water")))
    bread = set(urls(search(catalog, text="bread")))
    assert both == water | bread and water and bread
    assert set(urls(search(catalog, text="water -bread"))) == water - bread
    with pytest.raises(SearchError):
        search(catalog, text="-water")


# -- other criteria -----------------------------------------------------------------------------


def test_published_dates_inclusive_of_the_until_day(catalog: Catalog) -> None:
    hits = search(catalog, author="Hargreaves", since="2026-11-21", until="2026-11-22")
    assert set(urls(hits)) == {SEED_ORIGINAL, SEED_COPY}  # the 23rd's copy is left out
    hits = search(catalog, author="Hargreaves", until="2026-11-21")
    assert urls(hits) == [SEED_ORIGINAL]
    everything = search(catalog, limit=1000)
    dated = [h for h in everything if h.published]
    since = search(catalog, since="2026-11-25", limit=1000)
    assert {h.url for h in since} == {h.url for h in dated if h.published >= "2026-11-25"}  # type: ignore[operator]


def test_capture_dates(catalog: Catalog) -> None:
    everything = search(catalog, limit=1000)
    first = min(h.captured for h in everything)
    got = search(catalog, since=first, by="captured", limit=1000)
    assert len(got) == len(everything)
    assert search(catalog, until="2020-01-01", by="captured") == []


def test_url_and_url_prefix(catalog: Catalog) -> None:
    assert urls(search(catalog, url=SEED_COPY)) == [SEED_COPY]
    assert urls(search(catalog, url=SEED_ORIGINAL.replace("didn't", "didn%27t"))) == [SEED_ORIGINAL]
    for prefix in ("https://syrianobserver.com/commentary/", "syrianobserver.com/commentary/"):
        hits = search(catalog, url_prefix=prefix, limit=1000)
        assert len(hits) >= 3
        assert all(h.url.startswith("https://syrianobserver.com/commentary/") for h in hits)
    assert search(catalog, url_prefix="HTTPS://SyrianObserver.com/commentary/")
    assert search(catalog, url_prefix="https://syrianobserver.com/nothing-here/") == []


def test_work_and_combined_criteria(catalog: Catalog) -> None:
    (seed,) = search(catalog, url=SEED_ORIGINAL)
    assert seed.work and seed.role == "original" and seed.title == SEED_TITLE
    members = search(catalog, work=seed.work)
    assert {SEED_ORIGINAL, SEED_COPY} <= set(urls(members)) and len(members) == 3
    assert urls(search(catalog, work=seed.work, outlet="syrianobserver")) == [SEED_COPY]
    assert len(search(catalog, limit=2)) == 2
    with pytest.raises(SearchError):
        SearchQuery(limit=0)


def test_cli_search_table_and_json(archive: Path) -> None:
    res = CliRunner().invoke(search_command, ["--archive", str(archive), "--author", "hargreaves"])
    assert res.exit_code == 0, res.output
    assert "PUBLISHED" in res.output and SEED_ORIGINAL in res.output and "3 articles" in res.output
    res = CliRunner().invoke(
        search_command, ["--archive", str(archive), "--text", '"yield any results"', "--json"]
    )
    assert res.exit_code == 0, res.output
    docs = [json.loads(line) for line in res.output.splitlines()]
    assert {d["url"] for d in docs} >= {SEED_ORIGINAL, SEED_COPY}
    assert set(docs[0]) >= {"url", "outlet", "title", "authors", "published", "captured", "work"}
    res = CliRunner().invoke(search_command, ["--archive", str(archive), "--outlet", "nope"])
    assert res.exit_code == 1 and res.output.startswith("Error: no outlet")


# -- the index ----------------------------------------------------------------------------------


def _capture(cat: Catalog, n: int) -> int:
    return cat.add_capture(
        Capture(
            night=NIGHT,
            source="s",
            kind="article",
            url=f"https://news.example/op/{n}",
            canonical_url=f"https://news.example/op/{n}",
            captured_at=datetime(2026, 11, 28, 2, n, tzinfo=UTC),
            status=200,
            record_type="response",
            record_id=f"<urn:uuid:{n}>",
            warc_key="warcs/x.warc.gz",
            offset=0,
            length=1,
        )
    )


def _article(cat: Catalog, n: int, *, title: str, body: str, authors: list[str]) -> int:
    cap = _capture(cat, n)
    return cat.add_article(
        Article(
            capture_id=cap,
            night=NIGHT,
            source="s",
            url=f"https://news.example/op/{n}",
            canonical_url=f"https://news.example/op/{n}",
            outlet="news.example",
            captured_at=datetime(2026, 11, 28, 2, n, tzinfo=UTC),
            title=title,
            body=body,
            authors=authors,
        )
    )


def test_sqlite_index_follows_inserts_updates_and_deletes(tmp_path: Path) -> None:
    cat = Catalog(f"sqlite:///{tmp_path / 'c.sqlite'}")
    first = _article(cat, 1, title="Tides", body="The harbour fills at dawn.", authors=["Ana Ruiz"])
    # a catalog that already holds articles is indexed when the index is made
    assert ensure_search_index(cat) is True
    assert ensure_search_index(cat) is False
    assert urls(search_articles(cat, SearchQuery(text="harbour"))) == ["https://news.example/op/1"]
    second = _article(cat, 2, title="Salt", body="Salt pans shine.", authors=["Bo Lindqvist"])
    assert [h.article_id for h in search_articles(cat, SearchQuery(author="lindq"))] == [second]
    cat.set_article_fields(first, body="The estuary empties at dusk.")
    assert search_articles(cat, SearchQuery(text="harbour")) == []
    assert [h.article_id for h in search_articles(cat, SearchQuery(text="estuary"))] == [first]
    cat.set_article_fields(first, authors=json.dumps(["Ana Ruiz-Ortega"]))
    assert [h.article_id for h in search_articles(cat, SearchQuery(author="ortega"))] == [first]
    cat.set_article_fields(first, role="copy")  # other columns leave the index alone
    with cat.engine.begin() as c:
        c.execute(articles.delete().where(articles.c.id == second))
    assert search_articles(cat, SearchQuery(author="lindq")) == []
    with cat.engine.connect() as c:  # FTS5's own check that the index matches its content
        for t in (FTS_TABLE, AUTHORS_FTS_TABLE):
            c.exec_driver_sql(f"INSERT INTO {t}({t}) VALUES ('integrity-check')")
    cat.close()
    # a second process (a new engine) finds the index made
    again = Catalog(f"sqlite:///{tmp_path / 'c.sqlite'}")
    assert ensure_search_index(again) is False
    again.close()


def test_sqlite_searches_use_the_indexes(archive: Path, tmp_path: Path) -> None:
    from opeds.storage.catalog.search import _filters

    shutil.copyfile(archive / "catalog.sqlite", tmp_path / "catalog.sqlite")
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    ensure_search_index(catalog)

    def plan(q: SearchQuery) -> str:
        stmt = select(articles.c.id).where(*_filters(catalog, q))
        sql = str(stmt.compile(catalog.engine, compile_kwargs={"literal_binds": True}))
        with catalog.connect() as c:
            return " | ".join(str(r[-1]) for r in c.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))

    assert "VIRTUAL TABLE INDEX" in plan(SearchQuery(author="hargreaves"))
    assert "USING INDEX ix_articles_url" in plan(SearchQuery(url_prefixes=("https://x/",)))
    assert "SCAN articles" not in plan(SearchQuery(url_prefixes=("https://x/",)))
    catalog.close()


@pytest.mark.parametrize(
    "query",
    ['"', 'a"b', "AND", "OR OR", "NEAR(a b)", "col:word", "a -", "(", "*", "x* OR", "^start"],
)
def test_any_text_is_a_valid_query(catalog: Catalog, query: str) -> None:
    try:
        search(catalog, text=query)
    except SearchError as e:
        assert "no word" in str(e)


def test_fts5_query_quotes_every_term() -> None:
    assert fts5_query('regime -assad "a b" OR x*') == '("regime" "a b" OR "x"*) NOT "assad"'
    assert fts5_query('say "hi" there') == '"say" "hi" "there"'
    assert fts5_query('it"s') == '"it""s"'


def test_the_index_is_made_once(catalog: Catalog) -> None:
    search(catalog, author="Hargreaves")  # made by the first search (if not before)
    again = Catalog(catalog.url)  # another engine, as another process would have
    try:
        assert ensure_search_index(again) is False
        assert search(again, author="Hargreaves")
    finally:
        again.close()
