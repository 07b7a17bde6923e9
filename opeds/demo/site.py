"""The demo's sample outlets: three sites of op-eds, served by :class:`~opeds.loopback.LoopbackWeb`.

* ``https://english.aawsat.com``, shaped like Asharq Al-Awsat English: the originating outlet. Six
  columns at ``/home/article/<id>/<author-slug>/<title-slug>`` with JSON-LD
  ``OpinionNewsArticle``, an RSS feed (``/feed/opinion``), an ``/opinion`` listing whose "Most
  read" box links one column with ``utm_*`` parameters, and a ``/private/`` preview that
  robots.txt disallows but the listing links to.
* ``https://syrianobserver.com``, shaped like The Syrian Observer: republishes five columns in
  WordPress chrome (logo line, standfirst naming the original outlet, headline repeated, a "Read
  Also" line, author bio, disclaimer, "Helpful keywords"), prints two pieces of its own, and lists
  them in a news sitemap behind ``sitemap_index.xml``; an older archive sitemap falls outside the
  crawl window; an old URL of one copy answers 301.
* ``http://levant-review.example``, a fictional weekly: republishes four columns in a different
  template (changed headline, dropped paragraph, ``rel=canonical`` to the original, curly quotes),
  prints two pieces of its own, one on the same topic as the seed column, and its ``/opinion/``
  listing carries one link to a page that no longer exists (404).

Every date is relative to the night being demonstrated, and everything is deterministic for a
given night. The text is the project's own (see :mod:`opeds.demo.content`); the real outlets'
names and URL shapes are used only so the demo looks like the field it archives, and every page
says in its footer that it is a sample.

:func:`build` returns the pages and the ground truth (:class:`DemoArticle`), which tests use to
check crawling, extraction and clustering end to end.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from opeds.demo.content import BRIEFS, ESSAYS, Essay
from opeds.testing.web import Page, normalize_url

__all__ = [
    "AAWSAT",
    "BROKEN_URL",
    "LEVANT",
    "PRIVATE_URL",
    "REDIRECT_FROM",
    "SOURCES_PATH",
    "SYRIAN_OBSERVER",
    "TRACKING_URL",
    "DemoArticle",
    "DemoSite",
    "articles",
    "build",
    "build_site",
]

AAWSAT = "https://english.aawsat.com"
SYRIAN_OBSERVER = "https://syrianobserver.com"
LEVANT = "http://levant-review.example"
SOURCES_PATH = Path(__file__).with_name("sources.toml")
"""The sources config for the three sample outlets."""

Role = Literal["original", "copy", "singleton"]
Outlet = Literal["aawsat", "so", "lr"]

_SOURCE_NAMES: dict[Outlet, str] = {
    "aawsat": "asharq-al-awsat",
    "so": "syrian-observer",
    "lr": "levant-review",
}
_OUTLET_NAMES: dict[Outlet, str] = {
    "aawsat": "Asharq Al-Awsat",
    "so": "The Syrian Observer",
    "lr": "Levant Review",
}
_BASES: dict[Outlet, str] = {"aawsat": AAWSAT, "so": SYRIAN_OBSERVER, "lr": LEVANT}

SO_DISCLAIMER = (
    "The Syrian Observer has not verified the content of this story. Responsibility for the "
    "information and views set out in this article lies entirely with the author."
)
LR_DISCLAIMER = (
    "Views expressed in syndicated columns are the author's own and do not necessarily reflect "
    "those of Levant Review."
)
SAMPLE_NOTE = (
    "Sample page served by the opeds demo. The text is fictional and was written for the demo; "
    "it is not affiliated with, and does not reproduce, the publication named here."
)

_WINDOW_DAYS = 30  # Settings.sitemap_window_days default: how far back a night looks


@dataclass(frozen=True)
class DemoArticle:
    """Ground truth for one article page of the demo site."""

    url: str
    outlet: str
    """Host name of :attr:`url`."""
    source: str
    """Name of the source in :data:`SOURCES_PATH` that covers this page."""
    work: str | None
    """``w01``..; None for a singleton."""
    role: Role
    original_url: str | None
    """URL of the work's original (for originals and copies)."""
    published: datetime
    title: str
    """The headline as this page shows it."""
    author: str
    edits: tuple[str, ...] = ()
    """Republication edits on a copy (``standfirst``, ``read_also``, ``drop_paragraph:3``...)."""
    topic_of: str | None = None
    """For a different article on the same topic as a work: that work (must not be merged)."""
    discoverable: bool = True
    """Whether a night with the default 30-day sitemap window finds it (via feed, listing or a
    sitemap entry in the window)."""
    paragraphs: tuple[str, ...] = ()
    """The article text as this page prints it, paragraph by paragraph (body only)."""


@dataclass(frozen=True)
class DemoSite:
    night: date
    pages: dict[str, Page]
    articles: tuple[DemoArticle, ...]

    def article(self, url: str) -> DemoArticle:
        key = normalize_url(url)
        for a in self.articles:
            if normalize_url(a.url) == key:
                return a
        raise KeyError(url)

    def works(self) -> dict[str, list[DemoArticle]]:
        """Work id -> its pages, original first."""
        out: dict[str, list[DemoArticle]] = {}
        for a in sorted(self.articles, key=lambda a: (a.role != "original", a.published)):
            if a.work:
                out.setdefault(a.work, []).append(a)
        return out


# -- the plan: which essay appears where, when, and with which edits ------------------------------


@dataclass(frozen=True)
class _Placement:
    essay: str
    outlet: Outlet
    days_before: int
    at: tuple[int, int]
    """Hour and minute (UTC) of publication."""
    work: str | None = None
    headline: str | None = None
    """A changed headline (else the essay's title)."""
    section: str = ""
    """Syrian Observer section slug."""
    drop: tuple[int, ...] = ()
    """Indexes of paragraphs left out."""
    read_also: str | None = None
    """Essay key of an earlier article on the same outlet, linked inside the body."""
    read_also_after: int = 2
    standfirst: str | None = None
    attribution: str | None = None
    """A closing line naming where the column first appeared."""
    canonical_to_original: bool = False
    topic_of: str | None = None
    numeric_id: int = 0
    """Asharq Al-Awsat article id, Syrian Observer post id."""
    legacy_path: bool = False
    """Syrian Observer: old ``/<section>/<id>/<slug>.html`` URL."""


_PLAN: tuple[_Placement, ...] = (
    # Asharq Al-Awsat English: the originals (and one column nobody republishes).
    _Placement("normalization", "aawsat", 7, (19, 40), work="w01", numeric_id=3844811),
    _Placement("red-sea", "aawsat", 6, (17, 5), work="w02", numeric_id=3845270),
    _Placement("iraq-water", "aawsat", 5, (18, 20), work="w03", numeric_id=3845903),
    _Placement("lebanon-banks", "aawsat", 4, (16, 45), work="w04", numeric_id=3846418),
    _Placement("jordan-connectivity", "aawsat", 3, (18, 10), work="w05", numeric_id=3847102),
    _Placement("gulf-funds", "aawsat", 2, (17, 30), numeric_id=3847655),
    # The Syrian Observer.
    _Placement(
        "reconstruction",
        "so",
        700,
        (10, 0),
        section="commentary",
        numeric_id=265480,
        legacy_path=True,
    ),
    _Placement(
        "normalization",
        "so",
        6,
        (8, 30),
        work="w01",
        section="foreign-actors",
        numeric_id=298114,
        read_also="reconstruction",
        standfirst=(
            "Normalization with Damascus has produced none of the concessions its Arab sponsors "
            "hoped for, Jonathan Hargreaves said in an op-ed to Asharq al-Awsat."
        ),
    ),
    _Placement(
        "iraq-water",
        "so",
        5,
        (21, 30),
        work="w03",
        section="commentary",
        numeric_id=298231,
        read_also="normalization",
        read_also_after=3,
        standfirst=(
            "Iraq's shrinking rivers owe as much to mismanagement at home as to dams upstream, "
            "writes Omar Kheirallah in Asharq Al-Awsat."
        ),
    ),
    _Placement(
        "red-sea",
        "so",
        4,
        (11, 15),
        work="w02",
        section="commentary",
        numeric_id=298342,
        read_also="normalization",
        read_also_after=4,
        standfirst=(
            "Ships steering clear of the Bab al-Mandab are raising costs for the region's poorest "
            "importers, according to Mona Saadeh in Asharq Al-Awsat."
        ),
    ),
    _Placement(
        "bread-queues",
        "so",
        3,
        (13, 0),
        section="features",
        numeric_id=298407,
        read_also="iraq-water",
    ),
    _Placement(
        "lebanon-banks",
        "so",
        2,
        (7, 50),
        work="w04",
        section="commentary",
        numeric_id=298466,
        headline="Lebanon's Banking Reckoning Cannot Wait",
        read_also="bread-queues",
        standfirst=(
            "Dalia Naccache argues in Asharq Al-Awsat that every year of delay on a banking law "
            "shifts more of the losses onto ordinary depositors."
        ),
    ),
    _Placement(
        "jordan-connectivity",
        "so",
        2,
        (12, 0),
        work="w05",
        section="foreign-actors",
        numeric_id=298479,
        drop=(5,),
        read_also="lebanon-banks",
        read_also_after=3,
        standfirst=(
            "Jordan is betting that carrying electricity and goods for its neighbours can make it "
            "indispensable, writes Asharq Al-Awsat."
        ),
    ),
    _Placement(
        "idlib-clinics",
        "so",
        1,
        (9, 0),
        section="features",
        numeric_id=298530,
        read_also="bread-queues",
    ),
    # Levant Review.
    _Placement(
        "normalization",
        "lr",
        5,
        (11, 0),
        work="w01",
        headline="Arab Outreach to Assad Has Come Up Empty",
        standfirst="Two years of engagement with Damascus have bought the region nothing, argues "
        "Jonathan Hargreaves.",
        attribution="This column first appeared in Asharq Al-Awsat and is republished with "
        "permission.",
        canonical_to_original=True,
    ),
    _Placement(
        "iraq-water",
        "lr",
        4,
        (9, 45),
        work="w03",
        read_also="normalization",
        standfirst="Omar Kheirallah, writing in Asharq Al-Awsat, says Baghdad cannot blame its "
        "neighbours for everything.",
        attribution="Originally published by Asharq Al-Awsat.",
    ),
    _Placement(
        "seat-back",
        "lr",
        4,
        (15, 0),
        topic_of="w01",
        read_also="iraq-water",
    ),
    _Placement(
        "red-sea",
        "lr",
        3,
        (10, 20),
        work="w02",
        drop=(3,),
        read_also="seat-back",
        standfirst="Mona Saadeh on who really pays when ships avoid the Bab al-Mandab.",
        attribution="Originally published by Asharq Al-Awsat.",
    ),
    _Placement("port-inquiry", "lr", 2, (14, 0), read_also="red-sea"),
    _Placement(
        "jordan-connectivity",
        "lr",
        1,
        (10, 30),
        work="w05",
        read_also="port-inquiry",
        read_also_after=3,
        attribution="First published in Asharq Al-Awsat English.",
    ),
)

_AAWSAT_STOPWORDS = frozenset({"a", "an", "the", "with", "of", "to", "in", "on", "for", "and"})
_PRIVATE_ESSAY = "draft-gulf-diplomacy"
_PRIVATE_ID = 3848230
_SO_SECTIONS = {
    "foreign-actors": "Foreign Actors",
    "commentary": "Commentary",
    "features": "Features",
}
_AAWSAT_SECTIONS = {
    "middle-east": "Middle East",
    "world": "World",
    "business": "Business",
    "culture": "Culture",
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower().replace("'", "")).strip("-")


def _aawsat_slug(title: str) -> str:
    """Asharq Al-Awsat drops short words and keeps apostrophes: ``...-didn't-yield-...``."""
    words = re.findall(r"[a-z0-9']+", title.lower())
    return "-".join(w for w in words if w not in _AAWSAT_STOPWORDS)


def _aawsat_url(numeric_id: int, essay: Essay, prefix: str = "") -> str:
    return (
        f"{AAWSAT}{prefix}/home/article/{numeric_id}/{_slug(essay.author)}/"
        f"{_aawsat_slug(essay.title)}"
    )


TRACKING_URL = (
    _aawsat_url(3844811, ESSAYS["normalization"])
    + "?utm_source=most_read&utm_medium=web&utm_campaign=opinion"
)
"""The seed column linked with tracking parameters from the "Most read" box."""
PRIVATE_URL = _aawsat_url(_PRIVATE_ID, ESSAYS[_PRIVATE_ESSAY], prefix="/private/preview")
"""A draft under ``/private/`` (disallowed by robots.txt) that the opinion listing links to."""
REDIRECT_FROM = f"{SYRIAN_OBSERVER}/foreign-actors/normalization-syrian-regime-no-results.html"
"""An old URL of the Syrian Observer's copy of the seed column; answers 301."""
BROKEN_URL = f"{LEVANT}/opinion/2019/03/the-last-word-on-the-electricity-plan/"
"""Linked from Levant Review's listing; the page is gone (404)."""


@dataclass
class _Item:
    """A placement resolved for one night: its URL, time and text."""

    plan: _Placement
    essay: Essay
    url: str
    published: datetime
    headline: str
    paragraphs: tuple[str, ...]
    original: _Item | None = None
    read_also: _Item | None = None
    edits: list[str] = field(default_factory=list)

    @property
    def outlet(self) -> Outlet:
        return self.plan.outlet

    @property
    def teaser(self) -> str:
        return self.essay.summary


def _resolve(night: date) -> list[_Item]:
    midnight = datetime.combine(night, time(0, 0), UTC)
    items: list[_Item] = []
    by_key: dict[tuple[Outlet, str], _Item] = {}
    originals: dict[str, _Item] = {}
    for p in _PLAN:
        essay = ESSAYS[p.essay]
        published = (
            midnight - timedelta(days=p.days_before) + timedelta(hours=p.at[0], minutes=p.at[1])
        )
        headline = p.headline or essay.title
        if p.outlet == "aawsat":
            url = _aawsat_url(p.numeric_id, essay)
        elif p.outlet == "so":
            middle = f"{p.numeric_id}/" if p.legacy_path else ""
            url = f"{SYRIAN_OBSERVER}/{p.section}/{middle}{_slug(headline)}.html"
        else:
            url = f"{LEVANT}/opinion/{published:%Y/%m}/{_slug(headline)}/"
        paragraphs = tuple(t for i, t in enumerate(essay.paragraphs) if i not in p.drop)
        if p.outlet == "lr":
            headline, paragraphs = _curl(headline), tuple(_curl(t) for t in paragraphs)
        item = _Item(p, essay, url, published, headline, paragraphs)
        if p.read_also:
            item.read_also = by_key[(p.outlet, p.read_also)]
        if p.work:
            if p.outlet == "aawsat":
                originals[p.work] = item
            else:
                item.original = originals[p.work]
        by_key[(p.outlet, p.essay)] = item
        items.append(item)
    for item in items:
        if item.original is not None:
            item.edits = _edits(item)
    return items


def _edits(item: _Item) -> list[str]:
    p = item.plan
    assert item.original is not None
    shift = (item.published.date() - item.original.published.date()).days
    edits = [f"date_shift:{shift}"]
    if p.headline:
        edits.append("headline_changed")
    if p.outlet == "so":
        edits += ["logo_line", "standfirst", "headline_repeated"]
    elif p.standfirst:
        edits.append("standfirst")
    if p.read_also:
        edits.append("read_also")
    edits += [f"drop_paragraph:{i}" for i in p.drop]
    edits.append("author_bio")
    if p.attribution:
        edits.append("attribution_bottom")
    edits += ["disclaimer", "tag_block"]
    if p.outlet == "lr":
        edits.append("quotes_curled")
    edits.append("canonical_original" if p.canonical_to_original else "canonical_self")
    return edits


def _curl(text: str) -> str:
    """Typographic quotes, as Levant Review's templates print them."""
    out: list[str] = []
    opening = True
    for ch in text:
        if ch == '"':
            out.append("\u201c" if opening else "\u201d")
            opening = not opening
        elif ch == "'":
            out.append("\u2019")
        else:
            out.append(ch)
    return "".join(out)


# -- formatting helpers --------------------------------------------------------------------------

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def e(text: str) -> str:
    return escape(text, quote=True)


def _http_date(dt: datetime) -> str:
    return format_datetime(dt.astimezone(UTC), usegmt=True)


def _long_date(dt: datetime) -> str:
    return f"{_DAYS[dt.weekday()]}, {dt.day} {_MONTHS[dt.month - 1]}, {dt.year} - {dt:%H:%M}"


def _us_date(dt: datetime) -> str:
    return f"{_MONTHS[dt.month - 1]} {dt.day}, {dt.year}"


def _uk_date(dt: datetime) -> str:
    return f"{dt.day} {_MONTHS[dt.month - 1]} {dt.year}"


def _json_ld(data: dict[str, Any]) -> str:
    text = json.dumps(data, ensure_ascii=False, indent=2).replace("</", "<\\/")
    return f'<script type="application/ld+json">\n{text}\n</script>'


def _etag(body: bytes, weak: bool = False) -> str:
    tag = f'"{hashlib.sha1(body).hexdigest()[:20]}"'
    return f"W/{tag}" if weak else tag


def _paragraphs(texts: Iterable[str], indent: str = "      ") -> str:
    return "\n".join(f"{indent}<p>{e(t)}</p>" for t in texts)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# -- Asharq Al-Awsat English ----------------------------------------------------------------------

_AAWSAT_HEADERS = [
    ("Server", "nginx"),
    ("Content-Type", "text/html; charset=UTF-8"),
    ("Cache-Control", "max-age=300, public"),
    ("Vary", "Accept-Encoding"),
    ("X-Content-Type-Options", "nosniff"),
]


def _aawsat_page(
    *,
    title: str,
    main: str,
    sidebar: str,
    canonical: str,
    description: str,
    head_extra: str = "",
    body_class: str = "page",
) -> str:
    nav = "\n".join(
        f'        <li><a href="/{slug}">{e(name)}</a></li>'
        for slug, name in _AAWSAT_SECTIONS.items()
    )
    return f"""<!DOCTYPE html>
<html lang="en" dir="ltr">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{e(title)} | Asharq AL-awsat</title>
  <meta name="description" content="{e(description)}">
  <link rel="canonical" href="{e(canonical)}">
  <meta property="og:site_name" content="Asharq AL-awsat">
  <meta property="og:url" content="{e(canonical)}">
  <meta property="og:title" content="{e(title)}">
  <meta property="og:description" content="{e(description)}">
  <link rel="stylesheet" href="/assets/css/aawsat.css">
  <link rel="alternate" type="application/rss+xml" title="Opinion" href="/feed/opinion">
{head_extra}
</head>
<body class="{body_class}">
  <header class="site-header">
    <div class="top-bar"><span class="edition">English edition</span></div>
    <a class="logo" href="/" rel="home">Asharq <strong>Al-Awsat</strong></a>
    <nav class="main-nav" aria-label="Main">
      <ul>
        <li><a href="/">Home</a></li>
{nav}
        <li><a href="/opinion">Opinion</a></li>
      </ul>
    </nav>
  </header>
  <div class="layout">
    <main class="content">
{main}
    </main>
    <aside class="sidebar">
{sidebar}
    </aside>
  </div>
  <footer class="site-footer">
    <ul class="footer-links">
      <li><a href="/about-us">About us</a></li>
      <li><a href="/opinion">Opinion</a></li>
      <li><a href="/feed/opinion">RSS</a></li>
    </ul>
    <p class="copyright">Asharq Al-Awsat English edition.</p>
    <p class="sample-note">{e(SAMPLE_NOTE)}</p>
  </footer>
</body>
</html>
"""


def _aawsat_most_read(items: Sequence[_Item]) -> str:
    seed = next(i for i in items if i.plan.essay == "normalization")
    others = [i for i in items if i is not seed][:3]
    links = [f'        <li><a href="{e(TRACKING_URL)}">{e(seed.headline)}</a></li>'] + [
        f'        <li><a href="{e(i.url)}">{e(i.headline)}</a></li>' for i in others
    ]
    return (
        '      <section class="block most-read">\n        <h2>Most Read</h2>\n        <ol>\n'
        + "\n".join(links)
        + "\n        </ol>\n      </section>"
    )


def _aawsat_article(item: _Item, items: Sequence[_Item]) -> Page:
    essay = item.essay
    modified = item.published + timedelta(minutes=20)
    ld = _json_ld(
        {
            "@context": "https://schema.org",
            "@type": "OpinionNewsArticle",
            "headline": item.headline,
            "description": essay.summary,
            "author": [{"@type": "Person", "name": essay.author}],
            "datePublished": item.published.isoformat(),
            "dateModified": modified.isoformat(),
            "articleSection": "Opinion",
            "inLanguage": "en",
            "mainEntityOfPage": {"@type": "WebPage", "@id": item.url},
            "publisher": {"@type": "Organization", "name": "Asharq AL-awsat"},
        }
    )
    head_extra = "\n".join(
        [
            '  <meta property="og:type" content="article">',
            f'  <meta property="article:published_time" content="{item.published.isoformat()}">',
            f'  <meta name="author" content="{e(essay.author)}">',
            f"  {ld}",
        ]
    )
    more = [i for i in items if i is not item]
    sidebar = (
        '      <section class="block more-opinion">\n        <h2>More from Opinion</h2>\n'
        "        <ul>\n"
        + "\n".join(f'          <li><a href="{e(i.url)}">{e(i.headline)}</a></li>' for i in more)
        + "\n        </ul>\n      </section>\n"
        + _aawsat_most_read(items)
    )
    main = f"""      <article class="node node--article node--opinion">
        <div class="section-label"><a href="/opinion">Opinion</a></div>
        <h1 class="node-title">{e(item.headline)}</h1>
        <div class="byline">
          <span class="author-name">{e(essay.author)}</span>
          <time datetime="{item.published.isoformat()}">{_long_date(item.published)}</time>
        </div>
        <div class="field-body">
{_paragraphs(item.paragraphs, "          ")}
        </div>
        <div class="share-tools"><span>Share</span></div>
      </article>"""
    html = _aawsat_page(
        title=item.headline,
        main=main,
        sidebar=sidebar,
        canonical=item.url,
        description=essay.summary,
        head_extra=head_extra,
        body_class="page-node-type-article",
    )
    body = html.encode("utf-8")
    return Page(
        body,
        headers=list(_AAWSAT_HEADERS),
        gzip=True,
        etag=_etag(body, weak=True),  # nginx weakens ETags it gzips
        last_modified=_http_date(modified),
    )


def _aawsat_private(night: date, items: Sequence[_Item]) -> Page:
    essay = ESSAYS[_PRIVATE_ESSAY]
    when = datetime.combine(night - timedelta(days=1), time(23, 0), UTC)
    main = f"""      <article class="node node--article node--draft">
        <div class="draft-banner">Preview: not published</div>
        <h1 class="node-title">{e(essay.title)}</h1>
        <div class="byline"><span class="author-name">{e(essay.author)}</span>
          <time datetime="{when.isoformat()}">{_long_date(when)}</time></div>
        <div class="field-body">
{_paragraphs(essay.paragraphs, "          ")}
        </div>
      </article>"""
    html = _aawsat_page(
        title=f"[Preview] {essay.title}",
        main=main,
        sidebar=_aawsat_most_read(items),
        canonical=PRIVATE_URL,
        description=essay.summary,
        head_extra='  <meta name="robots" content="noindex, nofollow">',
        body_class="page-preview",
    )
    return Page(
        html.encode("utf-8"),
        headers=[*_AAWSAT_HEADERS[:2], ("Cache-Control", "private, no-store")],
        gzip=True,
    )


def _aawsat_cards(items: Sequence[_Item]) -> str:
    cards = []
    for i in sorted(items, key=lambda i: i.published, reverse=True):
        cards.append(
            f"""        <div class="views-row card">
          <h3 class="card-title"><a href="{e(i.url)}">{e(i.headline)}</a></h3>
          <div class="card-meta"><span class="author-name">{e(i.essay.author)}</span>
            <time datetime="{i.published.isoformat()}">{_long_date(i.published)}</time></div>
          <p class="card-teaser">{e(i.essay.summary)}</p>
        </div>"""
        )
    return "\n".join(cards)


def _aawsat_listing(items: Sequence[_Item]) -> Page:
    main = f"""      <h1 class="page-title">Opinion</h1>
      <div class="view view-opinion">
{_aawsat_cards(items)}
      </div>
      <nav class="pager" aria-label="Pages"><span class="current">1</span></nav>"""
    sidebar = (
        _aawsat_most_read(items)
        + """
      <section class="block editors-preview">
        <h2>Editors' preview</h2>
        <p><a href="""
        + f'"{e(PRIVATE_URL)}">Tomorrow\'s print column (staff only)</a></p>\n'
        + "      </section>"
    )
    html = _aawsat_page(
        title="Opinion",
        main=main,
        sidebar=sidebar,
        canonical=f"{AAWSAT}/opinion",
        description="Opinion columns from Asharq Al-Awsat English.",
        body_class="page-opinion",
    )
    return Page(html.encode("utf-8"), headers=list(_AAWSAT_HEADERS), gzip=True, chunked=True)


def _aawsat_briefs(name: str) -> str:
    return "\n".join(f'        <li class="brief">{e(b)}</li>' for b in BRIEFS[name])


def _aawsat_home(items: Sequence[_Item]) -> Page:
    blocks = "\n".join(
        f"""      <section class="section-block">
        <h2><a href="/{slug}">{e(name)}</a></h2>
        <ul>
{_aawsat_briefs(name)}
        </ul>
      </section>"""
        for slug, name in _AAWSAT_SECTIONS.items()
    )
    main = f"""      <h1 class="visually-hidden">Asharq Al-Awsat English</h1>
{blocks}
      <section class="section-block opinion-block">
        <h2><a href="/opinion">Opinion</a></h2>
        <div class="view view-opinion">
{_aawsat_cards(items[:4])}
        </div>
      </section>"""
    html = _aawsat_page(
        title="Asharq AL-awsat",
        main=main,
        sidebar=_aawsat_most_read(items),
        canonical=f"{AAWSAT}/",
        description="News and opinion from the Middle East and the world.",
        body_class="path-frontpage",
    )
    return Page(html.encode("utf-8"), headers=list(_AAWSAT_HEADERS), gzip=True, chunked=True)


def _aawsat_section(slug: str, name: str, items: Sequence[_Item]) -> Page:
    main = f"""      <h1 class="page-title">{e(name)}</h1>
      <ul class="briefs">
{_aawsat_briefs(name)}
      </ul>"""
    html = _aawsat_page(
        title=name,
        main=main,
        sidebar=_aawsat_most_read(items),
        canonical=f"{AAWSAT}/{slug}",
        description=f"{name} news from Asharq Al-Awsat English.",
        body_class=f"page-section section-{slug}",
    )
    return Page(html.encode("utf-8"), headers=list(_AAWSAT_HEADERS), gzip=True)


def _aawsat_about(items: Sequence[_Item]) -> Page:
    main = """      <h1 class="page-title">About us</h1>
      <p>The English edition publishes news, analysis and opinion on the Arab world, translated
      from the Arabic daily and written by its own correspondents and columnists.</p>"""
    html = _aawsat_page(
        title="About us",
        main=main,
        sidebar=_aawsat_most_read(items),
        canonical=f"{AAWSAT}/about-us",
        description="About the English edition.",
    )
    return Page(html.encode("utf-8"), headers=list(_AAWSAT_HEADERS), gzip=True)


def _rss(items: Sequence[_Item]) -> Page:
    ordered = sorted(items, key=lambda i: i.published, reverse=True)
    entries = "\n".join(
        f"""    <item>
      <title>{e(i.headline)}</title>
      <link>{e(i.url)}</link>
      <guid isPermaLink="true">{e(i.url)}</guid>
      <pubDate>{format_datetime(i.published)}</pubDate>
      <dc:creator>{e(i.essay.author)}</dc:creator>
      <category>Opinion</category>
      <description>{e(i.essay.summary)}</description>
    </item>"""
        for i in ordered
    )
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>Asharq AL-awsat - Opinion</title>
    <link>{AAWSAT}/opinion</link>
    <atom:link href="{AAWSAT}/feed/opinion" rel="self" type="application/rss+xml"/>
    <description>Opinion columns from Asharq Al-Awsat English (sample feed)</description>
    <language>en</language>
    <lastBuildDate>{format_datetime(ordered[0].published)}</lastBuildDate>
{entries}
  </channel>
</rss>
"""
    return Page(
        xml.encode("utf-8"),
        headers=[
            ("Server", "nginx"),
            ("Content-Type", "application/rss+xml; charset=utf-8"),
            ("Cache-Control", "max-age=600, public"),
        ],
        chunked=True,
        last_modified=_http_date(ordered[0].published),
    )


_AAWSAT_ROBOTS = """User-agent: *
Disallow: /private/
Disallow: /search
Allow: /

User-agent: GPTBot
Disallow: /
"""

_AAWSAT_CSS = """body{margin:0;font-family:Georgia,serif;color:#1a1a1a;background:#fff}
.site-header{border-bottom:4px solid #0b6e4f;padding:12px 24px}
.logo{font-size:28px;text-decoration:none;color:#0b6e4f}
.main-nav ul{list-style:none;display:flex;gap:18px;margin:8px 0 0;padding:0}
.layout{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,1fr);gap:32px;padding:24px}
.node-title{font-size:34px;line-height:1.2}.byline{color:#666;margin-bottom:20px}
.byline time,.card-meta time{margin-left:12px;color:#888}.author-name{font-weight:bold}
.footer-links{list-style:none;display:flex;gap:18px;padding:0}
.field-body p{font-size:19px;line-height:1.6}
.card{border-bottom:1px solid #eee;padding:12px 0}
.sidebar h2{font-size:16px;text-transform:uppercase}
.site-footer{background:#0b2a20;color:#ddd;padding:24px}.site-footer a{color:#fff}
.sample-note{font-size:12px;color:#aaa}.visually-hidden{position:absolute;left:-9999px}
"""


# -- The Syrian Observer --------------------------------------------------------------------------

_SO_CSS_URL = f"{SYRIAN_OBSERVER}/wp-content/themes/syrianobserver/style.css?ver=2.4.1"
_SO_LOGO_URL = f"{SYRIAN_OBSERVER}/wp-content/themes/syrianobserver/images/logo-wide.svg"
_SO_HEADERS = [
    ("Server", "Apache"),
    ("Content-Type", "text/html; charset=UTF-8"),
    ("X-Powered-By", "PHP/8.2.12"),
    ("Vary", "Accept-Encoding"),
]


def _so_page(
    *,
    title: str,
    main: str,
    items: Sequence[_Item],
    canonical: str,
    description: str,
    body_class: str,
    head_extra: str = "",
) -> str:
    nav = "\n".join(
        f'          <li class="menu-item"><a href="/category/{slug}/">{e(name)}</a></li>'
        for slug, name in _SO_SECTIONS.items()
    )
    # The seed column's copy is linked by an old URL that now redirects.
    seed = next(i for i in items if i.plan.essay == "normalization")
    others = [i for i in items if i is not seed and not i.plan.legacy_path][:3]
    most_read = [f'            <li><a href="{e(REDIRECT_FROM)}">{e(seed.headline)}</a></li>']
    most_read += [f'            <li><a href="{e(i.url)}">{e(i.headline)}</a></li>' for i in others]
    return f"""<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} - The Syrian Observer</title>
<meta name="description" content="{e(description)}">
<meta name="robots" content="index, follow, max-image-preview:large">
<link rel="canonical" href="{e(canonical)}">
<meta property="og:locale" content="en_US">
<meta property="og:site_name" content="The Syrian Observer">
<meta property="og:title" content="{e(title)}">
<meta property="og:url" content="{e(canonical)}">
<link rel="stylesheet" id="so-style-css" href="{e(_path(_SO_CSS_URL))}" media="all">
{head_extra}
</head>
<body class="{body_class}">
<div id="page" class="site">
  <a class="skip-link screen-reader-text" href="#content">Skip to content</a>
  <header id="masthead" class="site-header">
    <div class="site-branding">
      <a href="/" rel="home"><img src="{e(_path(_SO_LOGO_URL))}" alt="Logo Wide"
        width="260" height="48"></a>
    </div>
    <nav id="site-navigation" class="main-navigation">
      <div class="menu-primary-container">
        <ul id="primary-menu" class="menu">
          <li class="menu-item"><a href="/">Home</a></li>
{nav}
          <li class="menu-item"><a href="/about-us/">About Us</a></li>
        </ul>
      </div>
    </nav>
  </header>
  <div id="content" class="site-content">
    <div class="container row">
      <main id="main" class="site-main col-md-8">
{main}
      </main>
      <aside id="secondary" class="widget-area col-md-4">
        <section class="widget widget_most_read">
          <h2 class="widget-title">Most Read</h2>
          <ul>
{chr(10).join(most_read)}
          </ul>
        </section>
        <section class="widget widget_newsletter">
          <h2 class="widget-title">Newsletter</h2>
          <p>The day's translations of the Syrian and Arab press, in your inbox every morning.</p>
        </section>
      </aside>
    </div>
  </div>
  <footer id="colophon" class="site-footer">
    <div class="footer-menu">
      <a href="/about-us/">About Us</a> | <a href="/category/commentary/">Commentary</a>
    </div>
    <div class="site-info">&copy; The Syrian Observer. All rights reserved.</div>
    <div class="sample-note">{e(SAMPLE_NOTE)}</div>
  </footer>
</div>
</body>
</html>
"""


def _so_article(item: _Item, items: Sequence[_Item]) -> Page:
    essay, p = item.essay, item.plan
    copy = item.original is not None
    section = _SO_SECTIONS[p.section]
    standfirst = p.standfirst or essay.summary
    body: list[str] = []
    if copy:
        body.append(f"          <p><strong>{e(item.headline)}</strong></p>")
    for n, text in enumerate(item.paragraphs):
        body.append(f"          <p>{e(text)}</p>")
        if item.read_also is not None and n + 1 == p.read_also_after:
            ra = item.read_also
            body.append(
                f'          <p><strong>Read Also: <a href="{e(ra.url)}">{e(ra.headline)}</a>'
                "</strong></p>"
            )
    body.append(f"          <p><em>{e(essay.bio)}</em></p>")
    if copy:
        body.append(f'          <p class="so-disclaimer">{e(SO_DISCLAIMER)}</p>')
    tags = ", ".join(f'<a href="/tag/{_slug(k)}/" rel="tag">{e(k)}</a>' for k in essay.keywords)
    modified = item.published + timedelta(hours=1)
    author = essay.author
    ld = _json_ld(
        {
            "@context": "https://schema.org",
            "@graph": [
                {
                    "@type": "NewsArticle",
                    "@id": f"{item.url}#article",
                    "isPartOf": {"@id": item.url},
                    "headline": item.headline,
                    "author": {"@type": "Person", "name": author},
                    "datePublished": item.published.isoformat(),
                    "dateModified": modified.isoformat(),
                    "mainEntityOfPage": {"@id": item.url},
                    "publisher": {"@id": f"{SYRIAN_OBSERVER}/#organization"},
                    "keywords": list(essay.keywords),
                    "articleSection": [section],
                    "inLanguage": "en-US",
                },
                {"@type": "WebPage", "@id": item.url, "url": item.url, "name": item.headline},
                {
                    "@type": "Organization",
                    "@id": f"{SYRIAN_OBSERVER}/#organization",
                    "name": "The Syrian Observer",
                    "url": f"{SYRIAN_OBSERVER}/",
                },
            ],
        }
    )
    head_extra = "\n".join(
        [
            '<meta property="og:type" content="article">',
            f'<meta property="article:published_time" content="{item.published.isoformat()}">',
            f'<meta property="article:modified_time" content="{modified.isoformat()}">',
            f'<meta name="author" content="{e(author)}">',
            ld,
        ]
    )
    classes = f"post-{p.numeric_id} post type-post status-publish category-{p.section}"
    main = f"""        <article id="post-{p.numeric_id}" class="{classes}">
          <header class="entry-header">
            <div class="cat-links">
              <a href="/category/{p.section}/" rel="category tag">{e(section)}</a>
            </div>
            <h1 class="entry-title">{e(item.headline)}</h1>
            <div class="entry-excerpt"><p>{e(standfirst)}</p></div>
            <div class="entry-meta"><span class="posted-on">
              <time class="entry-date published" datetime="{item.published.isoformat()}">
                {_us_date(item.published)}</time></span></div>
          </header>
          <div class="entry-content">
{chr(10).join(body)}
          </div>
          <footer class="entry-footer">
            <div class="tags-links"><span class="tags-title">Helpful keywords:</span> {tags}</div>
          </footer>
        </article>"""
    html = _so_page(
        title=item.headline,
        main=main,
        items=items,
        canonical=item.url,
        description=standfirst,
        body_class=f"post-template-default single single-post postid-{p.numeric_id}",
        head_extra=head_extra,
    )
    return Page(
        html.encode("utf-8"),
        headers=[
            *_SO_HEADERS,
            ("Link", f"<{SYRIAN_OBSERVER}/?p={p.numeric_id}>; rel=shortlink"),
        ],
        chunked=True,
        gzip=True,
        last_modified=_http_date(modified),
    )


def _so_list(items: Sequence[_Item]) -> str:
    rows = []
    for i in sorted(items, key=lambda i: i.published, reverse=True):
        rows.append(
            f"""          <article class="post-summary">
            <h2 class="entry-title"><a href="{e(i.url)}" rel="bookmark">{e(i.headline)}</a></h2>
            <div class="entry-meta">
              <time datetime="{i.published.isoformat()}">{_us_date(i.published)}</time>
            </div>
            <div class="entry-summary"><p>{e(i.plan.standfirst or i.essay.summary)}</p></div>
          </article>"""
        )
    return "\n".join(rows)


def _so_listing_page(
    *, title: str, url: str, listed: Sequence[_Item], items: Sequence[_Item], body_class: str
) -> Page:
    main = f"""        <header class="page-header"><h1 class="page-title">{e(title)}</h1></header>
{_so_list(listed)}"""
    html = _so_page(
        title=title,
        main=main,
        items=items,
        canonical=url,
        description=f"{title} - translations and commentary from the Syrian and Arab press.",
        body_class=body_class,
    )
    return Page(html.encode("utf-8"), headers=list(_SO_HEADERS), chunked=True, gzip=True)


def _so_about(items: Sequence[_Item]) -> Page:
    main = """        <article class="page">
          <h1 class="entry-title">About Us</h1>
          <div class="entry-content">
          <p>The Syrian Observer translates and summarizes reporting and commentary from the
          Syrian and Arab press every day, with the original source named on every piece.</p>
          </div>
        </article>"""
    html = _so_page(
        title="About Us",
        main=main,
        items=items,
        canonical=f"{SYRIAN_OBSERVER}/about-us/",
        description="About The Syrian Observer.",
        body_class="page-template-default page",
    )
    return Page(html.encode("utf-8"), headers=list(_SO_HEADERS), chunked=True, gzip=True)


def _news_sitemap(items: Sequence[_Item]) -> Page:
    entries = "\n".join(
        f"""  <url>
    <loc>{e(i.url)}</loc>
    <lastmod>{(i.published + timedelta(hours=1)).isoformat()}</lastmod>
    <news:news>
      <news:publication>
        <news:name>The Syrian Observer</news:name>
        <news:language>en</news:language>
      </news:publication>
      <news:publication_date>{i.published.isoformat()}</news:publication_date>
      <news:title>{e(i.headline)}</news:title>
    </news:news>
  </url>"""
        for i in sorted(items, key=lambda i: i.published, reverse=True)
    )
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
{entries}
</urlset>
"""
    return _xml_page(xml, gzip=True)


def _plain_sitemap(items: Sequence[_Item]) -> Page:
    entries = "\n".join(
        f"  <url>\n    <loc>{e(i.url)}</loc>\n"
        f"    <lastmod>{i.published.isoformat()}</lastmod>\n  </url>"
        for i in items
    )
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
{entries}
</urlset>
"""
    return _xml_page(xml, gzip=False)


def _sitemap_index(entries: Sequence[tuple[str, datetime]]) -> Page:
    rows = "\n".join(
        f"  <sitemap>\n    <loc>{e(url)}</loc>\n"
        f"    <lastmod>{when.isoformat()}</lastmod>\n  </sitemap>"
        for url, when in entries
    )
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
{rows}
</sitemapindex>
"""
    return _xml_page(xml, gzip=False)


def _xml_page(xml: str, *, gzip: bool) -> Page:
    return Page(
        xml.encode("utf-8"),
        headers=[
            ("Server", "Apache"),
            ("Content-Type", "application/xml; charset=UTF-8"),
            ("X-Robots-Tag", "noindex, follow"),
            ("Vary", "Accept-Encoding"),
        ],
        gzip=gzip,
    )


_SO_ROBOTS = f"""User-agent: *
Disallow: /wp-admin/
Allow: /wp-admin/admin-ajax.php

Sitemap: {SYRIAN_OBSERVER}/sitemap_index.xml
"""

_SO_CSS = """/*
Theme Name: Syrian Observer
Version: 2.4.1
*/
body{margin:0;font:16px/1.6 "Helvetica Neue",Arial,sans-serif;color:#222}
.site-header{display:flex;justify-content:space-between;align-items:center;padding:10px 30px}
.site-header{background:#fff;border-bottom:1px solid #ddd}
#primary-menu{list-style:none;display:flex;gap:20px}
.container{display:flex;gap:30px;max-width:1140px;margin:0 auto;padding:20px}
.col-md-8{flex:2}.col-md-4{flex:1}
.entry-title{font-size:2rem;color:#b3141b}.entry-excerpt{font-size:1.15rem;color:#555}
.so-disclaimer{font-style:italic;color:#777}.tags-title{font-weight:bold}
.screen-reader-text{position:absolute;left:-9999px}.widget-title{font-size:1.1rem}
.site-footer{background:#1d1d1d;color:#ccc;padding:30px;text-align:center}
.site-footer a{color:#fff}.sample-note{font-size:12px;color:#999}
"""

_SO_LOGO = """<svg xmlns="http://www.w3.org/2000/svg" width="260" height="48" viewBox="0 0 260 48">
  <rect width="260" height="48" fill="#ffffff"/>
  <text x="0" y="32" font-family="Georgia, serif" font-size="24" fill="#b3141b"
    >The Syrian Observer</text>
</svg>
"""


# -- Levant Review --------------------------------------------------------------------------------

_LR_HEADERS = [
    ("Server", "levant-static/1.4"),
    ("Content-Type", "text/html; charset=utf-8"),
    ("Accept-Ranges", "bytes"),
    ("Cache-Control", "public, max-age=3600"),
]


def _lr_page(
    *, title: str, main: str, items: Sequence[_Item], canonical: str, head_extra: str = ""
) -> str:
    latest = sorted(items, key=lambda i: i.published, reverse=True)[:5]
    rail = "\n".join(
        f'        <li><a href="{e(_path(i.url))}">{e(i.headline)}</a></li>' for i in latest
    )
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{e(title)} \u2014 Levant Review</title>
  <meta name="viewport" content="width=device-width">
  <link rel="canonical" href="{e(canonical)}">
  <link rel="stylesheet" href="/static/css/lr.css">
{head_extra}
</head>
<body class="lr">
  <div class="lr-topbar">
    Independent commentary on the Levant \u00b7 <a href="/about/">About</a>
  </div>
  <header class="lr-masthead">
    <a class="lr-wordmark" href="/">Levant <span>Review</span></a>
    <nav class="lr-nav">
      <a href="/">Front page</a> <a href="/opinion/">Opinion</a> <a href="/about/">About</a>
    </nav>
  </header>
  <div class="lr-grid">
{main}
    <aside class="lr-rail">
      <h2>Latest</h2>
      <ol>
{rail}
      </ol>
    </aside>
  </div>
  <footer class="lr-footer">
    <p>Levant Review is published weekly. Letters: editors@levant-review.example</p>
    <p class="lr-sample">{e(SAMPLE_NOTE)}</p>
  </footer>
</body>
</html>
"""


def _lr_article(item: _Item, items: Sequence[_Item]) -> Page:
    essay, p = item.essay, item.plan
    copy = item.original is not None
    canonical = (
        item.original.url if p.canonical_to_original and item.original is not None else item.url
    )
    dek = p.standfirst if copy else essay.summary
    body: list[str] = []
    for n, text in enumerate(item.paragraphs):
        body.append(f"        <p>{e(text)}</p>")
        if item.read_also is not None and n + 1 == p.read_also_after:
            ra = item.read_also
            body.append(
                f'        <p class="lr-also">Also on Levant Review: <a href="{e(_path(ra.url))}">'
                f"{e(ra.headline)}</a></p>"
            )
    closing: list[str] = [
        '      <aside class="lr-bio">',
        "        <h2>About the author</h2>",
        f"        <p>{e(_curl(essay.bio))}</p>",
        "      </aside>",
    ]
    if p.attribution:
        closing.append(f'      <p class="lr-origin">{e(p.attribution)}</p>')
    if copy:
        closing.append(f'      <p class="lr-disclaimer">{e(_curl(LR_DISCLAIMER))}</p>')
    topics = " \u00b7 ".join(essay.keywords)
    closing.append(f'      <p class="lr-topics">Filed under: {e(topics)}</p>')
    dek_html = f'\n      <p class="lr-dek">{e(_curl(dek))}</p>' if dek else ""
    kicker = "Opinion \u00b7 Syndicated" if copy else "Opinion"
    main = f"""    <main class="lr-main" itemscope itemtype="https://schema.org/NewsArticle">
      <meta itemprop="mainEntityOfPage" content="{e(canonical)}">
      <p class="lr-kicker">{kicker}</p>
      <h1 itemprop="headline">{e(item.headline)}</h1>{dek_html}
      <p class="lr-byline">By <span itemprop="author" itemscope
        itemtype="https://schema.org/Person"><span itemprop="name">{e(essay.author)}</span></span>
        \u00b7 <time itemprop="datePublished"
        datetime="{item.published.isoformat()}">{_uk_date(item.published)}</time></p>
      <div class="lr-body" itemprop="articleBody">
{chr(10).join(body)}
      </div>
{chr(10).join(closing)}
    </main>"""
    head_extra = "\n".join(
        [
            '  <meta property="og:type" content="article">',
            f'  <meta property="og:title" content="{e(item.headline)}">',
            f'  <meta property="og:url" content="{e(item.url)}">',
            f'  <meta name="description" content="{e(_curl(essay.summary))}">',
            f'  <meta name="author" content="{e(essay.author)}">',
        ]
    )
    html = _lr_page(
        title=item.headline, main=main, items=items, canonical=canonical, head_extra=head_extra
    )
    body_bytes = html.encode("utf-8")
    return Page(
        body_bytes,
        headers=list(_LR_HEADERS),
        etag=_etag(body_bytes),
        last_modified=_http_date(item.published + timedelta(minutes=5)),
    )


def _lr_entries(items: Sequence[_Item]) -> str:
    return "\n".join(
        f"""        <li class="lr-entry">
          <a class="lr-entry-title" href="{e(_path(i.url))}">{e(i.headline)}</a>
          <span class="lr-entry-meta">{e(i.essay.author)} \u00b7 {_uk_date(i.published)}</span>
        </li>"""
        for i in sorted(items, key=lambda i: i.published, reverse=True)
    )


def _lr_listing(items: Sequence[_Item]) -> Page:
    main = f"""    <main class="lr-main lr-listing">
      <h1>Opinion</h1>
      <ul class="lr-entries">
{_lr_entries(items)}
      </ul>
      <section class="lr-archive">
        <h2>From the archive</h2>
        <p><a href="{e(_path(BROKEN_URL))}">The last word on the electricity plan</a></p>
      </section>
    </main>"""
    html = _lr_page(title="Opinion", main=main, items=items, canonical=f"{LEVANT}/opinion/")
    return Page(html.encode("utf-8"), headers=list(_LR_HEADERS), chunked=True)


def _lr_home(items: Sequence[_Item]) -> Page:
    latest = sorted(items, key=lambda i: i.published, reverse=True)[:3]
    main = f"""    <main class="lr-main lr-front">
      <h1 class="lr-visually-hidden">Levant Review</h1>
      <section class="lr-lead">
        <h2>This week</h2>
        <ul class="lr-entries">
{_lr_entries(latest)}
        </ul>
        <p><a href="/opinion/">All opinion</a></p>
      </section>
    </main>"""
    html = _lr_page(title="Levant Review", main=main, items=items, canonical=f"{LEVANT}/")
    return Page(html.encode("utf-8"), headers=list(_LR_HEADERS), chunked=True)


def _lr_about(items: Sequence[_Item]) -> Page:
    main = """    <main class="lr-main">
      <h1>About</h1>
      <p>Levant Review is an independent weekly of commentary on Lebanon, Syria, Jordan, Iraq
      and their neighbours. Alongside its own contributors it republishes, with permission,
      columns first printed elsewhere, always with the original publication named.</p>
    </main>"""
    html = _lr_page(title="About", main=main, items=items, canonical=f"{LEVANT}/about/")
    body = html.encode("utf-8")
    return Page(body, headers=list(_LR_HEADERS), etag=_etag(body))


_LR_ROBOTS = """User-agent: *
Disallow: /drafts/
"""

_LR_CSS = """body{margin:0;background:#faf7f2;color:#2b2b2b}
body{font:18px/1.55 "Iowan Old Style",Georgia,serif}
.lr-topbar{background:#2b2b2b;color:#eee;font-size:13px;padding:4px 20px}
.lr-topbar a{color:#fff}.lr-masthead{text-align:center;padding:24px 0 8px}
.lr-wordmark{font-size:44px;color:#7a2e1d;text-decoration:none}.lr-wordmark span{font-style:italic}
.lr-nav a{margin:0 10px;text-transform:uppercase;font-size:13px;letter-spacing:.08em}
.lr-grid{display:grid;grid-template-columns:minmax(0,680px) 260px;gap:48px;justify-content:center}
.lr-kicker{text-transform:uppercase;font-size:12px;color:#7a2e1d}.lr-dek{font-size:21px;color:#555}
.lr-also{border-left:3px solid #7a2e1d;padding-left:10px;font-size:15px}
.lr-bio{border-top:1px solid #ccc;margin-top:30px;font-size:15px}
.lr-disclaimer,.lr-origin{font-size:14px;color:#666}
.lr-footer{border-top:1px solid #ccc;text-align:center;font-size:13px;padding:20px}
.lr-visually-hidden{position:absolute;left:-9999px}
"""


# -- assembling the site --------------------------------------------------------------------------


def _text_page(text: str, content_type: str, server: str, **kwargs: Any) -> Page:
    return Page(
        text.encode("utf-8"), headers=[("Server", server), ("Content-Type", content_type)], **kwargs
    )


def build(night: date) -> DemoSite:
    """The demo site as it looks on ``night``: every URL's page, and the ground truth."""
    items = _resolve(night)
    by_outlet: dict[Outlet, list[_Item]] = {"aawsat": [], "so": [], "lr": []}
    for i in items:
        by_outlet[i.outlet].append(i)
    aawsat, so, lr = by_outlet["aawsat"], by_outlet["so"], by_outlet["lr"]
    so_recent = [i for i in so if not i.plan.legacy_path]
    so_old = [i for i in so if i.plan.legacy_path]
    pages: dict[str, Page] = {}

    # Asharq Al-Awsat English.
    aawsat_newest = sorted(aawsat, key=lambda i: i.published, reverse=True)
    for i in aawsat:
        pages[i.url] = _aawsat_article(i, aawsat_newest)
    seed = next(i for i in aawsat if i.plan.essay == "normalization")
    pages[TRACKING_URL] = pages[seed.url]
    pages[PRIVATE_URL] = _aawsat_private(night, aawsat_newest)
    pages[f"{AAWSAT}/"] = _aawsat_home(aawsat_newest)
    pages[f"{AAWSAT}/opinion"] = _aawsat_listing(aawsat_newest)
    pages[f"{AAWSAT}/about-us"] = _aawsat_about(aawsat_newest)
    for slug, name in _AAWSAT_SECTIONS.items():
        pages[f"{AAWSAT}/{slug}"] = _aawsat_section(slug, name, aawsat_newest)
    pages[f"{AAWSAT}/feed/opinion"] = _rss(aawsat)
    pages[f"{AAWSAT}/robots.txt"] = _text_page(_AAWSAT_ROBOTS, "text/plain; charset=utf-8", "nginx")
    pages[f"{AAWSAT}/assets/css/aawsat.css"] = _text_page(
        _AAWSAT_CSS, "text/css", "nginx", gzip=True
    )

    # The Syrian Observer.
    so_newest = sorted(so, key=lambda i: i.published, reverse=True)
    for i in so:
        pages[i.url] = _so_article(i, so_newest)
    seed_copy = next(i for i in so if i.plan.essay == "normalization")
    redirect = Page.redirect(seed_copy.url)
    redirect.headers[:0] = [("Server", "Apache"), ("X-Redirect-By", "WordPress")]
    pages[REDIRECT_FROM] = redirect
    pages[f"{SYRIAN_OBSERVER}/"] = _so_listing_page(
        title="Latest",
        url=f"{SYRIAN_OBSERVER}/",
        listed=so_recent,
        items=so_newest,
        body_class="home blog",
    )
    for slug, name in _SO_SECTIONS.items():
        listed = [i for i in so if i.plan.section == slug]
        pages[f"{SYRIAN_OBSERVER}/category/{slug}/"] = _so_listing_page(
            title=name,
            url=f"{SYRIAN_OBSERVER}/category/{slug}/",
            listed=listed,
            items=so_newest,
            body_class=f"archive category category-{slug}",
        )
    for keyword in sorted({k for i in so for k in i.essay.keywords}):
        url = f"{SYRIAN_OBSERVER}/tag/{_slug(keyword)}/"
        pages[url] = _so_listing_page(
            title=keyword,
            url=url,
            listed=[i for i in so if keyword in i.essay.keywords],
            items=so_newest,
            body_class=f"archive tag tag-{_slug(keyword)}",
        )
    pages[f"{SYRIAN_OBSERVER}/about-us/"] = _so_about(so_newest)
    newest_so = max(i.published for i in so_recent)
    pages[f"{SYRIAN_OBSERVER}/sitemap_index.xml"] = _sitemap_index(
        [
            (f"{SYRIAN_OBSERVER}/sitemap.xml", newest_so + timedelta(hours=1)),
            (f"{SYRIAN_OBSERVER}/archive-sitemap.xml", max(i.published for i in so_old)),
        ]
    )
    pages[f"{SYRIAN_OBSERVER}/sitemap.xml"] = _news_sitemap(so_recent)
    pages[f"{SYRIAN_OBSERVER}/archive-sitemap.xml"] = _plain_sitemap(so_old)
    pages[f"{SYRIAN_OBSERVER}/robots.txt"] = _text_page(
        _SO_ROBOTS, "text/plain; charset=utf-8", "Apache"
    )
    pages[_SO_CSS_URL] = _text_page(_SO_CSS, "text/css", "Apache", gzip=True)
    pages[_SO_LOGO_URL] = _text_page(_SO_LOGO, "image/svg+xml", "Apache")

    # Levant Review.
    for i in lr:
        pages[i.url] = _lr_article(i, lr)
    pages[f"{LEVANT}/"] = _lr_home(lr)
    pages[f"{LEVANT}/opinion/"] = _lr_listing(lr)
    pages[f"{LEVANT}/about/"] = _lr_about(lr)
    pages[f"{LEVANT}/robots.txt"] = _text_page(
        _LR_ROBOTS, "text/plain; charset=utf-8", "levant-static/1.4"
    )
    pages[f"{LEVANT}/static/css/lr.css"] = _text_page(
        _LR_CSS, "text/css; charset=utf-8", "levant-static/1.4"
    )

    window_start = datetime.combine(night - timedelta(days=_WINDOW_DAYS), time(0, 0), UTC)
    truth = tuple(
        DemoArticle(
            url=i.url,
            outlet=urlsplit(i.url).hostname or "",
            source=_SOURCE_NAMES[i.outlet],
            work=i.plan.work,
            role=_role(i),
            original_url=(i.original or i).url if i.plan.work else None,
            published=i.published,
            title=i.headline,
            author=i.essay.author,
            edits=tuple(i.edits),
            topic_of=i.plan.topic_of,
            discoverable=i.published >= window_start,
            paragraphs=i.paragraphs,
        )
        for i in items
    )
    return DemoSite(night, pages, truth)


def _role(item: _Item) -> Role:
    if not item.plan.work:
        return "singleton"
    return "copy" if item.original is not None else "original"


def build_site(night: date) -> dict[str, Page]:
    """Every URL of the demo site on ``night`` and its page."""
    return build(night).pages


def articles(night: date) -> list[DemoArticle]:
    """Ground truth for every article page of the demo site on ``night``."""
    return list(build(night).articles)
