"""Recognising syndication additions and the outlets they name, in English and German."""

from __future__ import annotations

import pytest

from opeds.extraction import boilerplate
from opeds.extraction.attribution import (
    OriginalHint,
    author_in,
    canonical_hint,
    is_own_outlet,
    jsonld_hint,
    merge,
    outlet_in,
    site_of,
)


@pytest.mark.parametrize(
    ("text", "outlet"),
    [
        ("This article was originally published in Asharq al-Awsat.", "Asharq al-Awsat"),
        ("This commentary first ran in Der Spiegel.", "Der Spiegel"),
        ("Reprinted by arrangement with The Guardian.", "The Guardian"),
        (
            "Republished with permission from pv magazine International.",
            "pv magazine International",
        ),
        ("This piece was first published by ScienceAlert on November 13, 2019.", "ScienceAlert"),
        ("Originally appeared in sputniknews.com.", "sputniknews.com"),
        ("Continue reading at Foreign Policy.", "Foreign Policy"),
        ("Source: The Beachbody Blog", "The Beachbody Blog"),
        (
            "Dieser Gastbeitrag erschien zuerst in der Frankfurter Allgemeinen Zeitung.",
            "Frankfurter Allgemeinen Zeitung",
        ),
        ("Der Text ist zuerst bei Übermedien erschienen.", "Übermedien"),
        ("Mit freundlicher Genehmigung von Zeit Online.", "Zeit Online"),
        ("Erstveröffentlichung: taz", "taz"),
        ("Erschienen in: Die Zeit", "Die Zeit"),
        ("Dieser Artikel wurde uns von Telepolis zur Verfügung gestellt.", "Telepolis"),
        ("This story is published in partnership with Inside Climate News.", "Inside Climate News"),
    ],
)
def test_attribution_lines(text: str, outlet: str) -> None:
    assert boilerplate.is_attribution(text)
    assert outlet_in(text) == outlet


@pytest.mark.parametrize(
    ("text", "outlet"),
    [
        (
            "The regime has not changed, said Jonathan Hargreaves, in an op-ed to Asharq al-Awsat.",
            "Asharq al-Awsat",
        ),
        ("Normalisation has failed, writes Asharq Al-Awsat.", "Asharq Al-Awsat"),
        (
            "Victor Davis Hanson, writing in National Review: “The Impeachment Clock”",
            "National Review",
        ),
        ("In a column for Al-Monitor, Jane Doe argues that the talks failed.", "Al-Monitor"),
        ("Jane Doe argues in The Atlantic that sanctions work.", "The Atlantic"),
        ("An opinion piece by Jane Doe, first published in vox.com.", "vox.com"),
        (
            "In einem Gastbeitrag für die Süddeutsche Zeitung schreibt Max Muster, dass es so ist.",
            "Süddeutsche Zeitung",
        ),
        ("Max Muster schreibt in der FAZ: Die Lage ist ernst.", "FAZ"),
        ("Jane Doe opines in The National that the talks failed.", "The National"),
        ("From LA NACION: Abdullah Ocalan desembarcó en Italia en 1998.", "LA NACION"),
    ],
)
def test_standfirsts(text: str, outlet: str) -> None:
    assert boilerplate.is_standfirst(text)
    assert outlet_in(text) == outlet


@pytest.mark.parametrize(
    "text",
    [
        "Cases of Eastern Equine Encephalitis first appeared in West Michigan in August.",
        "In-car infotainment comes courtesy of an 8-inch touchscreen display.",
        "The band first played in Detroit in 1971.",
        "Two soldiers were killed, the US military said in a statement on Wednesday.",
        "I will keep working, says Mayer",
    ],
)
def test_ordinary_sentences_are_not_attribution(text: str) -> None:
    assert not boilerplate.is_attribution(text)
    assert not boilerplate.is_standfirst(text)


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("bio", "Jonathan Hargreaves is a London-based writer on Gulf and Levant politics."),
        ("bio", "Jane Doe is a senior fellow at the Atlantic Council."),
        ("bio", "— Finian Cunningham is a columnist at sputniknews.com."),
        ("bio", "Max Muster ist Politikwissenschaftler an der Universität Bonn."),
        ("bio", "Über die Autorin: Anna Keller lehrt Geschichte in Wien."),
        ("bio", "Jane Doe teaches history at Oxford."),
        ("disclaimer", "Für den Inhalt ist allein der Autor verantwortlich."),
        ("disclaimer", "The opinions expressed are those of the writer."),
        ("disclaimer", "Die Redaktion übernimmt keine Verantwortung für Gastbeiträge."),
        ("tags", "Explore more on these topics: Syria, Diplomacy, Gulf"),
        ("tags", "Mehr zu den Themen: Syrien, Türkei"),
        ("related", "Lesetipp: Warum die Gespräche in Genf scheiterten"),
        (
            "disclaimer",
            "The Syrian Observer has not verified the content of this story. "
            "Responsibility for the information and views set out in this article lies entirely "
            "with the author.",
        ),
        ("disclaimer", "Opinions expressed by contributors are their own and not those of X."),
        (
            "disclaimer",
            "The views expressed in this article are the author's own and do not "
            "necessarily reflect the editorial policy of the site.",
        ),
        ("disclaimer", "Gastbeiträge geben nicht zwingend die Meinung der Redaktion wieder."),
        ("disclaimer", "Die Verantwortung für den Inhalt liegt allein beim Autor."),
        ("tags", "Helpful keywords: Arab League, Normalization, Syrian Regime"),
        ("tags", "Tags: Containers, Performance, Workout"),
        ("tags", "Schlagworte: Syrien, Türkei, Diplomatie"),
        ("related", "Read Also: Jordan Steps Up Border Patrols After Smuggling Attempts"),
        ("related", "Lesen Sie auch: Wie die Liga ihren Kurs änderte"),
        ("related", "More on this: Why the talks in Geneva stalled again"),
    ],
)
def test_addition_kinds(kind: str, text: str) -> None:
    check = {
        "bio": boilerplate.is_bio,
        "disclaimer": boilerplate.is_disclaimer,
        "tags": lambda t: boilerplate.is_tag_block(t, last=True),
        "related": boilerplate.is_related_line,
    }[kind]
    assert check(text)


def test_recipe_lines_are_not_tag_blocks() -> None:
    assert not boilerplate.is_tag_block(
        "Portion Fix Containers: 1 Green, 1 Red, 1 Yellow", last=True
    )
    assert not boilerplate.is_related_line("See it now: Amazon")


def test_classify_positions() -> None:
    body = [
        "Logo Wide",
        "A Headline About Syria",
        "Nothing changed, said Jane Doe, in an op-ed to Al-Monitor.",
        "A Headline About Syria",
        *[
            f"Paragraph {i} of the article with enough words to count as real prose here."
            for i in range(4)
        ],
        "Read Also: Another Headline About Something Else Entirely",
        "Paragraph five of the article with enough words to count as real prose here.",
        "Jane Doe is a researcher at the Middle East Institute.",
        "Tags: Syria, Diplomacy, Arab League",
    ]
    verdicts = boilerplate.classify(
        body, titles=["A Headline About Syria"], names_outlet=lambda t: outlet_in(t) is not None
    )
    kinds = {v.index: v.kind for v in verdicts}
    assert kinds == {
        0: boilerplate.MASTHEAD,
        1: boilerplate.TITLE,
        2: boilerplate.STANDFIRST,
        3: boilerplate.TITLE,
        8: boilerplate.RELATED,
        10: boilerplate.BIO,
        11: boilerplate.TAGS,
    }


def test_sites_and_own_outlet() -> None:
    assert site_of("https://english.aawsat.com/home/article/1") == "aawsat.com"
    assert site_of("https://www.bbc.co.uk/news") == "bbc.co.uk"
    assert is_own_outlet(
        "The Syrian Observer", "https://syrianobserver.com/x", ["The Syrian Observer"]
    )
    assert is_own_outlet("syrianobserver.com", "https://syrianobserver.com/x", [])
    assert not is_own_outlet(
        "Asharq al-Awsat", "https://syrianobserver.com/x", ["The Syrian Observer"]
    )


def test_structured_hints_and_merge() -> None:
    page = "https://copy.example/a.html"
    assert canonical_hint("https://copy.example/a.html", page) is None
    canon = canonical_hint("https://origin.example/a", page)
    assert canon == OriginalHint("canonical", None, "https://origin.example/a", None)
    based = jsonld_hint(
        {
            "isBasedOn": {
                "@type": "NewsArticle",
                "url": "https://origin.example/a",
                "publisher": {"name": "Origin Times"},
            }
        },
        page,
    )
    assert based is not None and based.outlet == "Origin Times"
    assert based.url == "https://origin.example/a"
    org = jsonld_hint({"sourceOrganization": {"name": "Wire Service"}}, page)
    assert org is not None and org.outlet == "Wire Service" and org.url is None
    text = OriginalHint("attribution", "Origin Times", None, "First published in Origin Times.")
    merged = merge([text, canon])
    assert merged == OriginalHint(
        "canonical", "Origin Times", "https://origin.example/a", "First published in Origin Times."
    )
    assert merge([OriginalHint("bio", "Somewhere", None, "X writes for Somewhere.")]) is None
    assert merge([]) is None


def test_author_in_standfirst_and_bio() -> None:
    assert author_in(
        "Nothing changed, said Jonathan Hargreaves, in an op-ed to Asharq al-Awsat."
    ) == ("Jonathan Hargreaves")
    assert author_in("Jane Doe is a senior fellow at the Atlantic Council.") == "Jane Doe"
    assert author_in("In a column, writes Asharq Al-Awsat.", exclude=["Asharq Al-Awsat"]) is None
