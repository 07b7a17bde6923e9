"""Article extraction on hand-written seed pages and on real pages of the shared corpus."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest
from lxml import html as lxml_html

from opeds.extraction.article import FIELDS, ExtractedArticle, decode_html, extract_article
from opeds.extraction.boilerplate import normalize

FIXTURES = Path(__file__).parent / "fixtures" / "extract"
AAWSAT_URL = (
    "https://english.aawsat.com/home/article/3844811/jonathan-hargreaves/"
    "normalization-syrian-regime-didn't-yield-any-results"
)
OBSERVER_URL = (
    "https://syrianobserver.com/foreign-actors/"
    "normalization-with-the-syrian-regime-didnt-yield-any-results.html"
)
HEADLINE = "Normalization with the Syrian Regime Didn't Yield any Results"


@pytest.fixture(scope="module")
def seed_pair() -> tuple[ExtractedArticle, ExtractedArticle]:
    original = extract_article((FIXTURES / "aawsat-original.html").read_bytes(), AAWSAT_URL)
    copy = extract_article((FIXTURES / "syrianobserver-copy.html").read_bytes(), OBSERVER_URL)
    return original, copy


def _original_paragraphs() -> list[str]:
    tree = lxml_html.fromstring((FIXTURES / "aawsat-original.html").read_bytes())
    return [
        " ".join(p.text_content().split()) for p in tree.xpath("//div[@class='article-body']/p")
    ]


# --- the seed case -------------------------------------------------------------------------------


def test_seed_original_metadata(seed_pair: tuple[ExtractedArticle, ExtractedArticle]) -> None:
    original, _ = seed_pair
    assert original.title == HEADLINE
    assert original.authors == ["Jonathan Hargreaves"]
    assert original.published == "2022-08-14T09:30:00+00:00"
    assert original.updated == "2022-08-14T11:05:00+00:00"
    assert original.language == "en"
    assert original.canonical == AAWSAT_URL
    assert original.section == "Opinion"
    assert original.is_opinion is True
    assert original.original is None
    assert original.body.split("\n") == _original_paragraphs()


def test_seed_copy_body_is_the_original_body(
    seed_pair: tuple[ExtractedArticle, ExtractedArticle],
) -> None:
    original, copy = seed_pair
    assert copy.body == original.body
    for addition in (
        "Logo Wide",
        "in an op-ed to Asharq al-Awsat",
        "Read Also",
        "Jordan Steps Up Border Patrols",
        "London-based writer",
        "has not verified the content",
        "Helpful keywords",
        "Arab League",
    ):
        assert addition not in copy.body
    assert HEADLINE not in copy.body


def test_seed_copy_author_and_hint(seed_pair: tuple[ExtractedArticle, ExtractedArticle]) -> None:
    _, copy = seed_pair
    assert copy.authors == ["Jonathan Hargreaves"]  # the page's own author is the outlet
    assert copy.site_name == "The Syrian Observer"
    assert copy.original is not None
    assert copy.original.evidence == "standfirst"
    assert copy.original.outlet == "Asharq al-Awsat"
    assert copy.original.text is not None and "op-ed to Asharq al-Awsat" in copy.original.text
    assert copy.is_opinion is True


def test_to_json_has_exactly_the_cli_fields(
    seed_pair: tuple[ExtractedArticle, ExtractedArticle],
) -> None:
    _, copy = seed_pair
    data = copy.to_json()
    assert list(data) == list(FIELDS)
    assert set(data) == {
        "title",
        "authors",
        "published",
        "updated",
        "body",
        "language",
        "canonical",
        "section",
        "site_name",
        "original",
        "is_opinion",
    }
    assert data["original"] == {
        "evidence": "standfirst",
        "outlet": "Asharq al-Awsat",
        "url": None,
        "text": copy.original.text if copy.original else None,
    }
    assert json.loads(json.dumps(data)) == data


def test_alternative_phrasings_are_removed_and_attributed() -> None:
    """Other wordings than the seed page (English and German) for the same kinds of addition."""
    paras = "".join(
        f"<p>{p}</p>"
        for p in [
            "In einem Gastbeitrag für die Neue Zürcher Zeitung schreibt Anna Keller, dass die "
            "Annäherung an Damaskus gescheitert ist.",
            *[
                f"Absatz {i}: Die Staaten der Region haben lange gehofft, dass eine Öffnung zu "
                "einer politischen Lösung führt, doch die Bilanz der letzten Jahre fällt "
                "ernüchternd aus und niemand in der Hauptstadt zeigt Bereitschaft zu Reformen."
                for i in range(1, 6)
            ],
            "Lesen Sie auch: Wie die Liga ihren Kurs gegenüber Syrien änderte",
            "Anna Keller ist Politikwissenschaftlerin an der Universität Basel.",
            "Dieser Beitrag erschien zuerst in der Neuen Zürcher Zeitung.",
            "Gastbeiträge geben nicht zwingend die Meinung der Redaktion wieder.",
            "Schlagworte: Syrien, Arabische Liga, Diplomatie",
        ]
    )
    page = (
        "<html lang='de'><head><title>Annäherung ohne Ergebnis</title>"
        "<meta property='og:site_name' content='Nahost Rundschau'></head><body>"
        f"<article><h1>Annäherung ohne Ergebnis</h1>{paras}</article></body></html>"
    )
    art = extract_article(page, "https://nahost-rundschau.example/meinung/annaeherung.html")
    body = art.body.split("\n")
    assert len(body) == 5 and all(p.startswith("Absatz") for p in body)
    assert art.original is not None
    assert art.original.outlet in ("Neue Zürcher Zeitung", "Neuen Zürcher Zeitung")
    assert art.is_opinion is True
    assert art.language == "de"


def test_a_label_and_one_link_is_a_related_line_whatever_the_label() -> None:
    prose = (
        "The regional states had long hoped that an opening would lead to a political solution, "
        "but the record of recent years is sobering and nobody in the capital is ready to move."
    )
    paras = [f"<p>{n}. {prose}</p>" for n in ("One", "Two", "Three", "Four", "Five")]
    link = (
        "<p><b>Worth a look:</b> <a href='/news/geneva.html'>Why the talks in Geneva failed</a></p>"
    )
    page = (
        "<html><body><article><h1>A headline for the test page</h1>"
        + "".join(paras[:2])
        + link
        + "".join(paras[2:])
        + "</article></body></html>"
    )
    art = extract_article(page, "https://example.org/opinion/a.html")
    assert "Worth a look" not in art.body and "Geneva" not in art.body
    assert len(art.body.split("\n")) == 5


# --- robustness ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        "",
        b"\x00\x01\x02\xff\xfe" * 200,
        "<html><body>" + "<div>" * 5000 + "deep" + "</div>" * 5000 + "</body></html>",
        "<<<>>>&&&;;<p>unclosed <b>tags <i>everywhere",
        "plain text, no markup at all",
        b"\x1f\x8b\x08\x00garbage-gzip",
    ],
)
def test_garbage_never_raises(garbage: bytes | str) -> None:
    art = extract_article(garbage, "https://example.org/x")
    assert isinstance(art, ExtractedArticle)
    assert isinstance(art.body, str)
    assert art.to_json()["body"] == art.body


def test_decoding_follows_header_then_meta_then_utf8() -> None:
    text = "<html><head><meta charset='windows-1251'></head><body><p>Привет, мир</p></body></html>"
    data = text.encode("cp1251")
    assert "Привет" in decode_html(data)  # meta charset
    assert "Привет" in decode_html(text.encode("koi8_r"), "text/html; charset=KOI8-R")  # header
    assert decode_html("Grüße".encode()) == "Grüße"  # utf-8 without any declaration
    assert decode_html("Grüße".encode("latin-1")) == "Grüße"  # windows-1252 default
    german = "<p>Schöne Grüße aus Köln, wo die Straßen über Nacht glatt geworden sind.</p>" * 8
    assert decode_html(german.encode("latin-1")) == german  # a guess on enough text


# --- real pages ----------------------------------------------------------------------------------


def _readability(corpus: Path, name: str) -> tuple[bytes, dict[str, Any]]:
    folder = corpus / "extraction" / "readability" / name
    return (folder / "source.html").read_bytes(), json.loads(
        (folder / "expected-metadata.json").read_text()
    )


@pytest.mark.corpus
def test_msn_cross_domain_canonical_is_a_hint(corpus_dir: Path) -> None:
    page, meta = _readability(corpus_dir, "msn")
    art = extract_article(page, "https://www.msn.com/en-us/news/technology/super-mario-run/ar-1")
    assert art.title == meta["title"]
    assert art.authors == [meta["byline"]]
    assert art.original is not None and art.original.evidence == "canonical"
    assert art.original.url == "http://www.businessinsider.com/super-mario-run-december-15-2016-11"


@pytest.mark.corpus
def test_medium_originally_published_at(corpus_dir: Path) -> None:
    page, meta = _readability(corpus_dir, "medium-2")
    art = extract_article(page, "https://medium.com/@ckirchoff/on-behalf-of-literally-429fab868ca8")
    assert art.authors == [meta["byline"]]
    assert art.original is not None and art.original.evidence == "attribution"
    assert art.original.outlet == "www.courtneykirchoff.com"
    assert art.original.url and "courtneykirchoff.com" in art.original.url
    assert "Originally published at" not in art.body
    assert art.published and art.published.startswith("2015-02-24")


@pytest.mark.corpus
def test_aeb_page_body_matches_ground_truth(corpus_dir: Path) -> None:
    aeb = corpus_dir / "extraction" / "aeb"
    truth = json.loads((aeb / "ground-truth.json").read_text())
    item = "1f765c48"  # a Sputnik column: the body is long and the page is full of teasers
    key = next(k for k in truth if k.startswith(item))
    page = gzip.decompress((aeb / "html" / f"{key}.html.gz").read_bytes())
    art = extract_article(page, truth[key]["url"])
    expected = set(normalize(truth[key]["articleBody"]).split())
    got = normalize(art.body).split()
    assert got and sum(w in expected for w in got) / len(got) > 0.97
    assert art.title and "Royal" in art.title


def _truth(corpus: Path) -> list[dict[str, Any]]:
    lines = (corpus / "syndication" / "truth.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


_MARKED = ["standfirst", "attribution", "author-bio", "disclaimer", "tags"]


def _copies_with(corpus: Path, edits: set[str], limit: int) -> list[dict[str, Any]]:
    rows = sorted(
        (r for r in _truth(corpus) if r["role"] == "copy" and edits & set(r["edits"])),
        key=lambda r: r["file"],
    )
    return rows[:limit]


@pytest.mark.corpus
def test_syndicated_copies_lose_their_additions(corpus_dir: Path) -> None:
    """Standfirsts, attribution lines, bios, disclaimers and tag blocks never reach the body."""
    rows = _copies_with(corpus_dir, {"standfirst", "attribution_top", "tag_block"}, 10)
    assert len(rows) == 10
    for row in rows:
        raw = (corpus_dir / "syndication" / row["file"]).read_bytes()
        tree = lxml_html.fromstring(raw)
        additions = [
            " ".join(el.text_content().split())
            for cls in _MARKED
            for el in tree.xpath(f"//*[@class='{cls}']")
        ]
        art = extract_article(raw, row["url"])
        body = normalize(art.body)
        assert len(body) > 500, row["file"]
        for text in additions:
            if normalize(text):
                assert normalize(text) not in body, (row["file"], text)
        related = [
            " ".join(el.text_content().split())
            for el in tree.xpath(
                "//p[strong[starts-with(., 'Read Also') or starts-with(., 'Related')]]"
            )
        ]
        for text in related:
            assert normalize(text) not in body, (row["file"], text)


@pytest.mark.corpus
def test_syndicated_copies_name_the_original_outlet(corpus_dir: Path) -> None:
    rows = _copies_with(corpus_dir, {"standfirst", "attribution_top", "attribution_bottom"}, 12)
    found = 0
    for row in rows:
        raw = (corpus_dir / "syndication" / row["file"]).read_bytes()
        tree = lxml_html.fromstring(raw)
        named = " ".join(
            " ".join(el.text_content().split())
            for el in tree.xpath("//*[@class='standfirst' or @class='attribution']")
        )
        if not named:
            continue  # the edit had no visible slot in this host's chrome
        art = extract_article(raw, row["url"])
        assert art.original is not None, row["file"]
        assert art.original.outlet and art.original.outlet in named, (row["file"], art.original)
        found += 1
    assert found >= 8


@pytest.mark.corpus
def test_originals_have_no_hint_unless_they_say_so(corpus_dir: Path) -> None:
    rows = sorted(
        (r for r in _truth(corpus_dir) if r["role"] == "original"), key=lambda r: r["file"]
    )[:15]
    for row in rows:
        raw = (corpus_dir / "syndication" / row["file"]).read_bytes()
        art = extract_article(raw, row["url"])
        if art.original is not None:
            # a real page that itself says it was published elsewhere first
            said = art.original.text or ""
            assert re.search(r"originally|first|canonical", said + art.original.evidence, re.I)
