"""Syndication dedup: shingles and sketches, the persistent LSH index, clustering into works and
the choice of each work's original. Runs on SQLite, and on PostgreSQL when one is reachable."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
from sqlalchemy import select

from opeds.errors import NotFound
from opeds.storage.catalog.db import Article, Capture, Catalog, articles, works
from opeds.works.clustering import (
    ClusterConfig,
    cluster_articles,
    find_mention,
    norm_url,
    site_labels,
    site_of,
    tokens,
)
from opeds.works.minhash import (
    CHUNK_MAX,
    GROUP_BYTES,
    NUM_PERM,
    SAMPLE_MOD,
    SCHEME,
    IndexSchemeError,
    MinHashIndex,
    chunk_starts,
    lsh_params,
    minhash_bands,
    minhash_docs,
    shingle_batch,
    shingle_set,
    sketch_batch,
    sketch_text_reference,
    sketch_texts,
)


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    cat = Catalog(catalog_url)
    yield cat
    cat.close()


# -- articles ------------------------------------------------------------------------------------
T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
_counter = iter(range(1, 10**9))


def add_article(
    catalog: Catalog,
    url: str,
    body: str,
    *,
    title: str | None = None,
    published: str | None = None,
    page_canonical: str | None = None,
    hint: dict[str, Any] | None = None,
    captured_at: datetime = T0,
    night: str = "2025-03-01",
    authors: list[str] | None = None,
) -> int:
    n = next(_counter)
    cap = Capture(
        night=night,
        source="test",
        kind="article",
        url=url,
        canonical_url=url,
        captured_at=captured_at,
        status=200,
        record_type="response",
        record_id=f"<urn:uuid:{uuid.uuid4()}>",
        warc_key="t.warc.gz",
        offset=n,
        length=1,
    )
    art = Article(
        capture_id=catalog.add_capture(cap),
        night=night,
        source="test",
        url=url,
        canonical_url=url,
        outlet=urlsplit(url).hostname or "",
        captured_at=captured_at,
        title=title,
        authors=authors or [],
        published=published,
        page_canonical=page_canonical,
        original_hint=hint,
        body=body,
    )
    return catalog.add_article(art)


VOCAB = (
    "council budget school river harbour minister election housing rent tenant court judge "
    "farmer drought water price market bank loan interest inflation wage worker union strike "
    "hospital nurse doctor patient vaccine virus border migrant asylum policy reform tax "
    "energy solar wind coal climate summit treaty village city mayor police crime prison "
    "teacher student exam university research science museum artist novel film music festival "
    "railway station bus traffic bridge road port ship fishing forest fire flood storm coast "
    "the a of to and in that is was for on with as by at from it this be are have not but "
    "they which one all were when we there been has more if no out so said what up its about "
    "into than them can only other new some could time these two may then do first any my now "
    "such like our over man me even most made after also did many before must through back "
    "years where much your way well down should because each just those people how too little"
)
VOCAB_WORDS = VOCAB.split()


def paragraphs(seed: int, count: int = 8, words: int = 60) -> list[str]:
    """Distinct, deterministic article paragraphs (word salad with sentence punctuation)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        sentences = []
        left = words
        while left > 0:
            n = min(left, rng.randint(8, 18))
            ws = [rng.choice(VOCAB_WORDS) for _ in range(n)]
            sentences.append(" ".join(ws).capitalize() + rng.choice([".", ".", ",", "?"]))
            left -= n
        out.append(" ".join(sentences).replace(",", ".", 1))
    return out


def body(paras: list[str]) -> str:
    return "\n".join(paras)


# -- shingles and sketches -----------------------------------------------------------------------
def test_normalisation_makes_quotes_dashes_case_and_spacing_irrelevant() -> None:
    a = "It’s “the” plan — she said… Über-Café costs €5 in Zürich.\nNext paragraph here now"
    b = 'it\'s "THE" plan - she said... über café costs €5 in ZÜRICH.   Next  paragraph here now'
    assert np.array_equal(shingle_set(a), shingle_set(b))
    assert not np.array_equal(shingle_set(a), shingle_set(a.replace("plan", "plans")))


def test_short_texts_and_empty_texts() -> None:
    batch = shingle_batch(["", "one", "two words", "   ", "five words in a row"])
    assert [batch.of(i).size for i in range(5)] == [0, 1, 1, 0, 1]
    assert batch.of(1)[0] != batch.of(2)[0]
    sketches = sketch_texts(["", "one"])
    assert sketches[0].chunks == 0 and sketches[1].chunks == 1


def test_shingles_do_not_depend_on_the_batch() -> None:
    texts = [body(paragraphs(s)) for s in range(5)]
    alone = [shingle_set(t) for t in texts]
    batch = shingle_batch(texts)
    for i in range(len(texts)):
        assert np.array_equal(batch.set_of(i), alone[i])
    together = sketch_texts(texts)
    for i, t in enumerate(texts):
        assert np.array_equal(sketch_texts([t])[0].keys, together[i].keys)


def test_fast_sketch_equals_datasketch_objects() -> None:
    """The vectorised path computes what datasketch's MinHash.update_batch and MinHashLSH._H do."""
    texts = [body(paragraphs(s, count=12)) for s in range(6)] + ["short text of seven words here"]
    fast = sketch_texts(texts)
    bands, rows = lsh_params()
    assert bands * rows <= NUM_PERM
    for t, sketch in zip(texts, fast, strict=True):
        minhashes, keys = sketch_text_reference(t)
        assert len(minhashes) == sketch.chunks
        assert np.array_equal(keys, sketch.keys)


def test_large_batches_give_each_text_what_it_gets_alone() -> None:
    """A batch is shingled and sketched in groups of texts (one vectorised pass each): texts in
    any group, and the batch's own shingles and sketches, match those of the texts alone."""
    texts = [body(paragraphs(s, count=50)) for s in range(90)]
    assert sum(len(t) for t in texts) > 2 * GROUP_BYTES
    batch = shingle_batch(texts)
    together = sketch_texts(texts)
    again = sketch_batch(batch)
    for i in range(0, len(texts), 7):
        alone = shingle_batch([texts[i]])
        assert np.array_equal(batch.of(i), alone.of(0))
        keys = sketch_texts([texts[i]])[0].keys
        assert np.array_equal(together[i].keys, keys) and np.array_equal(again[i].keys, keys)
        assert together[i].shingles == again[i].shingles == alone.of(0).size
    assert np.array_equal(together[-1].keys, sketch_text_reference(texts[-1])[1])


def test_a_chunk_without_sampled_shingles_takes_all_of_them() -> None:
    """A (short) chunk none of whose shingles is in the sample gets the MinHash of all of them,
    as datasketch computes it, wherever it stands in a batch."""
    candidates = [" ".join(VOCAB_WORDS[i : i + 8]) for i in range(100)]
    unsampled = [t for t in candidates if not np.any(shingle_set(t) % SAMPLE_MOD == 0)]
    assert unsampled
    texts = [body(paragraphs(1)), unsampled[0], body(paragraphs(2)), *unsampled[1:3]]
    for t, sketch in zip(texts, sketch_texts(texts), strict=True):
        assert np.array_equal(sketch.keys, sketch_text_reference(t)[1])


def test_chunks_are_content_defined() -> None:
    """An inserted line changes the chunks around it only; the others stay identical."""
    paras = paragraphs(7, count=14)
    ids = shingle_batch([body(paras)]).of(0)
    starts = chunk_starts(ids)
    assert starts[0] == 0 and np.all(np.diff(starts) > 0)
    edited = body([*paras[:7], "Read also: a completely different story", *paras[7:]])
    original_keys = {tuple(r) for r in sketch_texts([body(paras)])[0].keys.tolist()}
    edited_keys = {tuple(r) for r in sketch_texts([edited])[0].keys.tolist()}
    assert len(original_keys & edited_keys) >= len(original_keys) - 3
    # a new first line and a dropped first paragraph leave the chunks after them alone
    reworked = body(["By Jane Roe, for the Planet", *paras[1:]])
    reworked_keys = {tuple(r) for r in sketch_texts([reworked])[0].keys.tolist()}
    assert len(original_keys & reworked_keys) >= len(original_keys) - 3
    assert all(np.diff(chunk_starts(shingle_batch([reworked]).of(0))) <= CHUNK_MAX)


# -- the persistent index ------------------------------------------------------------------------
def test_index_rows_persist_and_find_candidates(catalog_url: str) -> None:
    texts = {1: body(paragraphs(1)), 2: body(paragraphs(2)), 3: body(paragraphs(1)[1:])}
    sk = dict(zip(texts, sketch_texts(list(texts.values())), strict=True))
    index = MinHashIndex()
    with Catalog(catalog_url) as cat, cat.engine.begin() as conn:
        written = index.add(conn, {1: sk[1], 2: sk[2]})
        assert written == sum(s.keys.size for s in (sk[1], sk[2]))
    with Catalog(catalog_url) as cat, cat.engine.begin() as conn:
        assert index.indexed(conn, [1, 2, 3]) == {1: sk[1].shingles, 2: sk[2].shingles}
        hits = index.candidates(conn, {3: sk[3]})
        assert set(hits[3]) == {1}
        assert hits[3][1] >= 4
        scheme = conn.execute(select(minhash_docs.c.scheme)).scalars().all()
        assert set(scheme) == {SCHEME}


def test_an_index_of_another_scheme_is_refused(catalog: Catalog) -> None:
    sketch = sketch_texts([body(paragraphs(3))])[0]
    with catalog.engine.begin() as conn:
        MinHashIndex().add(conn, {7: sketch})
    with catalog.engine.begin() as conn, pytest.raises(IndexSchemeError, match="rebuild"):
        MinHashIndex(scheme="w5-old").indexed(conn, [7])


# -- clustering ----------------------------------------------------------------------------------
def _work_of(catalog: Catalog, article_id: int) -> tuple[str | None, str | None]:
    with catalog.connect() as c:
        row = c.execute(
            select(articles.c.work_id, articles.c.role).where(articles.c.id == article_id)
        ).one()
    return row.work_id, row.role


def _work_row(catalog: Catalog, work_id: str) -> Any:
    with catalog.connect() as c:
        return c.execute(select(works).where(works.c.id == work_id)).one()


def test_exact_and_edited_copies_join_one_work(catalog: Catalog) -> None:
    paras = paragraphs(11, count=10)
    other = paragraphs(12, count=3)
    original = add_article(
        catalog,
        "https://www.dailyplanet.com/opinion/2025/03/rivers",
        body(paras),
        title="Our rivers need a plan",
        published="2025-03-01",
    )
    exact = add_article(
        catalog,
        "https://news.example.org/story/rivers",
        body(paras),
        title="Our rivers need a plan",
        published="2025-03-02",
    )
    edited_paras = [p.replace(".", ",", 2) for p in paras[1:-1]]  # drop first and last
    edited_paras.insert(3, "Read Also: " + other[0][:60])
    merged = [edited_paras[0] + " " + edited_paras[1], *edited_paras[2:]]
    edited = add_article(
        catalog,
        "https://www.gazette.co.uk/comment/rivers-plan",
        body(
            [
                "By Jane Roe, writing for the Daily Planet about water",
                *merged,
                "Jane Roe is a columnist who writes about rivers and farms.",
                "The views expressed in this piece are the author's own.",
                "Tags: rivers, water, farming",
            ]
        ),
        title="Opinion: A plan for rivers",
        published="2025-03-03",
    )
    excerpt = add_article(
        catalog,
        "https://blog.example.net/2025/rivers",
        body([*paras[:4], "Continue reading at the Daily Planet."]),
        title="Rivers",
        published="2025-03-04",
    )
    result = cluster_articles(catalog, [original, exact, edited, excerpt], night="2025-03-04")
    assert result.new_works == 1 and result.singletons == 0 and result.joined == 0
    assert len(set(result.assignments.values())) == 1
    wid = result.assignments[original]
    assert wid.startswith("w-") and len(wid) == 12
    assert _work_of(catalog, original) == (wid, "original")
    assert {_work_of(catalog, a)[1] for a in (exact, edited, excerpt)} == {"copy"}
    row = _work_row(catalog, wid)
    assert row.original_article == original and row.title == "Our rivers need a plan"


def test_same_outlet_chrome_and_same_topic_stay_apart(catalog: Catalog) -> None:
    chrome = (
        "Sign up for the Morning Planet newsletter and get the best of our opinion pages in "
        "your inbox every day. The Daily Planet welcomes letters to the editor. Follow us on "
        "social media. Copyright 2025 The Daily Planet, all rights reserved. Our journalism "
        "is supported by readers like you, become a member today and help us keep going."
    )
    bio = "Jane Roe is a columnist for the Daily Planet who writes about cities and water."
    a = add_article(
        catalog, "https://www.dailyplanet.com/a", body([*paragraphs(21, 6), bio, chrome])
    )
    b = add_article(
        catalog, "https://www.dailyplanet.com/b", body([*paragraphs(22, 6), bio, chrome])
    )
    quote = (
        "We will not rest until every river in this country runs clean again and every "
        "farmer has the water the harvest needs, the minister told the summit on Tuesday."
    )
    topic_a = add_article(
        catalog,
        "https://www.gazette.co.uk/rivers-summit",
        body([*paragraphs(23, 4), quote, *paragraphs(24, 3)]),
    )
    topic_b = add_article(
        catalog,
        "https://www.herald.example/summit-report",
        body([*paragraphs(25, 3), quote, *paragraphs(26, 4)]),
    )
    result = cluster_articles(catalog, [a, b, topic_a, topic_b], night="2025-03-01")
    assert result.singletons == 4 and result.new_works == 0
    assert len(set(result.assignments.values())) == 4
    for aid in (a, b, topic_a, topic_b):
        assert _work_of(catalog, aid)[1] == "original"
        assert _work_row(catalog, result.assignments[aid]).original_reason == "only known copy"


def test_copy_in_a_later_night_joins_the_earlier_work(catalog_url: str) -> None:
    paras = paragraphs(31, count=9)
    with Catalog(catalog_url) as cat:
        first = add_article(
            cat,
            "https://www.dailyplanet.com/p/1",
            body(paras),
            published="2025-02-01",
            title="First",
        )
        night1 = cluster_articles(cat, [first], night="2025-02-01")
    assert night1.singletons == 1
    wid = night1.assignments[first]
    with Catalog(catalog_url) as cat:  # a new process, weeks later
        copy = add_article(
            cat,
            "https://www.gazette.co.uk/copy",
            body(paras[1:]),
            published="2025-02-20",
            captured_at=T0 + timedelta(days=30),
            night="2025-03-31",
        )
        unrelated = add_article(
            cat,
            "https://www.gazette.co.uk/other",
            body(paragraphs(32)),
            captured_at=T0 + timedelta(days=30),
            night="2025-03-31",
        )
        night2 = cluster_articles(cat, [copy, unrelated], night="2025-03-31")
        assert night2.joined == 1 and night2.singletons == 1 and night2.new_works == 0
        assert night2.assignments[copy] == wid
        assert _work_of(cat, first) == (wid, "original")
        assert _work_of(cat, copy) == (wid, "copy")
        assert _work_row(cat, wid).created_night == "2025-02-01"


def test_a_copy_linking_two_works_merges_them(catalog: Catalog) -> None:
    left, right = paragraphs(41, count=6), paragraphs(42, count=6)
    a = add_article(catalog, "https://www.dailyplanet.com/left", body(left))
    b = add_article(catalog, "https://www.gazette.co.uk/right", body(right))
    first = cluster_articles(catalog, [a, b], night="2025-03-01")
    assert first.singletons == 2
    # a digest that carries both pieces in full
    both = add_article(catalog, "https://www.herald.example/digest", body([*left, *right]))
    second = cluster_articles(catalog, [both], night="2025-03-02")
    assert second.merged == 1 and second.joined == 1
    wid = second.assignments[both]
    assert _work_of(catalog, a)[0] == _work_of(catalog, b)[0] == wid
    with catalog.connect() as c:
        assert c.execute(select(works.c.id)).scalars().all() == [wid]


def test_attribution_beats_an_earlier_date(catalog: Catalog) -> None:
    paras = paragraphs(51, count=8)
    original = add_article(
        catalog,
        "https://www.dailyplanet.com/opinion/water",
        body(paras),
        published="2025-03-10",
    )
    copy = add_article(
        catalog,
        "https://www.gazette.co.uk/water",
        body([*paras, "This article first appeared in The Daily Planet."]),
        published="2025-03-01",
    )
    result = cluster_articles(catalog, [copy, original], night="2025-03-10")
    wid = result.assignments[original]
    assert result.assignments[copy] == wid
    row = _work_row(catalog, wid)
    assert row.original_article == original
    assert "gazette.co.uk" in row.original_reason and "Daily Planet" in row.original_reason


def test_hint_and_canonical_name_the_original(catalog: Catalog) -> None:
    paras = paragraphs(52, count=8)
    original = add_article(
        catalog,
        "https://english.aawsat.com/opinion/5001",
        body(paras),
        published="2025-03-05",
    )
    standfirst = add_article(
        catalog,
        "https://syrianobserver.com/views/5001.html",
        body(paras[:-1]),
        published="2025-03-02",
        hint={"evidence": "standfirst", "outlet": "Asharq al-Awsat", "url": None, "text": "..."},
    )
    canonical = add_article(
        catalog,
        "https://www.herald.example/5001",
        body(paras[1:]),
        published="2025-03-01",
        page_canonical="https://english.aawsat.com/opinion/5001/",
    )
    result = cluster_articles(catalog, [original, standfirst, canonical], night="2025-03-05")
    row = _work_row(catalog, result.assignments[original])
    assert row.original_article == original
    assert row.original_reason.startswith(
        "copy at syrianobserver.com says it appeared first in Asharq al-Awsat (standfirst)"
    )


def test_a_name_the_work_gives_a_member_beats_a_look_alike_host(catalog: Catalog) -> None:
    """A copy points its canonical at the original and names the original's publisher, whose
    name also spells another copy's host: the name belongs to the canonical's target."""
    paras = paragraphs(55, count=8)
    original = add_article(
        catalog, "https://en.wikipedia.org/wiki/T-SNE", body(paras), published="2013-06-23"
    )
    look_alike = add_article(
        catalog, "https://wikimediafoundation.org/news/t-sne", body(paras), published="2013-06-28"
    )
    pointer = add_article(
        catalog,
        "https://practicalhorsemanmag.com/t-sne",
        body(["Source: Wikimedia Foundation, Inc.", *paras]),
        published="2013-06-24",
        page_canonical="https://en.wikipedia.org/wiki/T-SNE",
    )
    early = add_article(
        catalog,
        "https://www.liberation.fr/t-sne",
        body(["This piece was first published by Wikimedia Foundation, Inc.", *paras]),
        published="2013-06-20",
    )
    result = cluster_articles(catalog, [original, look_alike, pointer, early], night="2013-07-01")
    assert len(set(result.assignments.values())) == 1
    assert _work_row(catalog, result.assignments[original]).original_article == original


def test_a_date_tie_goes_to_the_page_without_added_lines(catalog: Catalog) -> None:
    paras = paragraphs(56, count=8)
    copy = add_article(
        catalog,
        "https://www.gazette.co.uk/x",
        body(["Guest column", *paras, "The views expressed are the writer's own.", "Tags: x"]),
        published="2025-03-02",
    )
    original = add_article(
        catalog,
        "https://www.kestrel-review.org/x",
        body(paras),
        published="2025-03-02",
        captured_at=T0 + timedelta(hours=3),
    )
    result = cluster_articles(catalog, [copy, original], night="2025-03-02")
    row = _work_row(catalog, result.assignments[copy])
    assert row.original_article == original
    assert row.original_reason.endswith("the others add lines it does not have")


def test_without_evidence_the_earliest_date_then_capture_wins(catalog: Catalog) -> None:
    paras = paragraphs(53, count=8)
    late = add_article(catalog, "https://a.example.com/x", body(paras), published="2025-03-03")
    early = add_article(
        catalog,
        "https://b.example.org/x",
        body(paras),
        published="2025-03-03T01:00:00+02:00",
        captured_at=T0 + timedelta(hours=1),
    )
    undated = add_article(catalog, "https://c.example.net/x", body(paras))
    # same day in UTC: the first capture decides
    other = paragraphs(54, count=8)
    first_seen = add_article(
        catalog, "https://d.example.com/y", body(other), published="2025-03-03"
    )
    second_seen = add_article(
        catalog,
        "https://e.example.org/y",
        body(other),
        published="2025-03-03T08:00:00Z",
        captured_at=T0 + timedelta(hours=2),
    )
    result = cluster_articles(
        catalog, [late, early, undated, first_seen, second_seen], night="2025-03-04"
    )
    row = _work_row(catalog, result.assignments[late])
    assert row.original_article == early  # 2025-03-02 23:00 UTC
    assert row.original_reason == "earliest published date (2025-03-02) of 3 copies"
    row = _work_row(catalog, result.assignments[first_seen])
    assert row.original_article == first_seen
    assert "captured first" in row.original_reason


def test_rerun_changes_nothing(catalog: Catalog) -> None:
    paras = paragraphs(61, count=8)
    ids = [
        add_article(catalog, "https://www.dailyplanet.com/r", body(paras), published="2025-03-01"),
        add_article(catalog, "https://www.gazette.co.uk/r", body(paras[1:])),
        add_article(catalog, "https://www.herald.example/s", body(paragraphs(62))),
    ]

    def snapshot() -> list[Any]:
        with catalog.connect() as c:
            return [
                c.execute(select(t).order_by(*t.primary_key.columns)).all()
                for t in (works, articles, minhash_docs, minhash_bands)
            ]

    first = cluster_articles(catalog, ids, night="2025-03-01")
    before = snapshot()
    again = cluster_articles(catalog, ids, night="2025-03-02")
    assert snapshot() == before
    assert again.assignments == first.assignments
    assert again.unchanged == 3 and again.new_works == again.joined == again.singletons == 0


def test_unknown_articles_are_an_error(catalog: Catalog) -> None:
    with pytest.raises(NotFound):
        cluster_articles(catalog, [12345], night="2025-03-01")
    assert cluster_articles(catalog, [], night="2025-03-01").assignments == {}


def test_config_thresholds_are_respected(catalog: Catalog) -> None:
    paras = paragraphs(71, count=10)
    a = add_article(catalog, "https://www.dailyplanet.com/c", body(paras))
    b = add_article(catalog, "https://www.gazette.co.uk/c", body(paras[:4]))
    strict = ClusterConfig(min_containment=1.01)
    result = cluster_articles(catalog, [a, b], night="2025-03-01", config=strict)
    assert result.singletons == 2


# -- outlet names --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "host", "strength"),
    [
        ("Asharq al-Awsat", "english.aawsat.com", 2),
        ("The Guardian", "www.theguardian.com", 2),
        ("The New York Times", "www.nytimes.com", 2),
        ("Financial Times", "www.ft.com", 2),
        ("CBS", "www.cbsnews.com", 2),
        ("Süddeutsche Zeitung", "www.sueddeutsche.de", 2),
        ("Libération", "www.liberation.fr", 2),
        ("BBC News", "www.bbc.co.uk", 2),
        ("WordPress Tavern", "wptavern.com", 2),
        ("The Beachbody Blog", "www.beachbodyondemand.com", 1),
        ("Related: The", "www.rt.com", 0),
        ("the council met", "www.tcm.com", 0),
        ("Reuters", "www.theguardian.com", 0),
    ],
)
def test_outlet_names_match_hosts_fuzzily(name: str, host: str, strength: int) -> None:
    found = find_mention(tokens(name), site_labels(host), name)
    assert (found.strength if found else 0) == strength


def test_sites_and_urls() -> None:
    assert site_of("english.aawsat.com") == "aawsat.com"
    assert site_of("https://www.bbc.co.uk/news/x") == "bbc.co.uk"
    assert norm_url("https://www.example.com/a/b/?utm=1#top") == "example.com/a/b"
    assert norm_url("example.com/a") == norm_url("http://EXAMPLE.com/a/")


# -- real pages ----------------------------------------------------------------------------------
KNOWN_WORKS = ("w042", "w055", "w052", "w040", "w010")


@pytest.mark.corpus
def test_corpus_works_cluster_right(corpus_dir: Path, tmp_path: Path) -> None:
    """A few works of the syndication set (excerpts, dropped paragraphs, standfirsts, changed
    headlines) with their hard negatives: each work is one cluster with the right original."""
    extract = pytest.importorskip("opeds.extraction.article").extract_article
    root = corpus_dir / "syndication"
    truth = [json.loads(line) for line in (root / "truth.jsonl").read_text().splitlines()]
    picked = [t for t in truth if t["work"] in KNOWN_WORKS]
    urls = {t["url"] for t in picked}
    negatives = [
        t
        for t in truth
        if t["topic_of"] in KNOWN_WORKS
        or (t["negative"] == "same-outlet" and t["outlet"] in {p["outlet"] for p in picked})
    ]
    picked += [t for t in negatives if t["url"] not in urls]
    with Catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as cat:
        ids = {}
        for t in picked:
            art = extract((root / t["file"]).read_text(encoding="utf-8"), t["url"])
            ids[t["url"]] = add_article(
                cat,
                t["url"],
                art.body,
                title=art.title,
                published=art.published,
                page_canonical=art.canonical,
                hint=art.original.to_json() if art.original else None,
            )
        result = cluster_articles(cat, list(ids.values()), night="2025-01-15")
        for wname in KNOWN_WORKS:
            members = [t for t in picked if t["work"] == wname]
            got = {result.assignments[ids[t["url"]]] for t in members}
            assert len(got) == 1, wname
            original = next(t for t in members if t["role"] == "original")
            assert _work_row(cat, got.pop()).original_article == ids[original["url"]], wname
        for t in picked:
            if t["work"] is None:
                assert _work_row(cat, result.assignments[ids[t["url"]]]).original_reason == (
                    "only known copy"
                ), t["url"]
