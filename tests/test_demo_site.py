"""The demo's sample outlets: links resolve, copies match originals, robots and HTTP hold."""

from __future__ import annotations

import gzip
import json
import re
import ssl
import urllib.request
import urllib.robotparser
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from lxml import etree, html

from opeds.crawler.sources.config import load_sources
from opeds.demo.site import (
    AAWSAT,
    BROKEN_URL,
    LEVANT,
    PRIVATE_URL,
    REDIRECT_FROM,
    SOURCES_PATH,
    SYRIAN_OBSERVER,
    TRACKING_URL,
    DemoSite,
    build,
    build_site,
)
from opeds.testing.web import LoopbackWeb, Page, normalize_url

NIGHT = date(2026, 11, 28)
HOSTS = {urlsplit(u).hostname for u in (AAWSAT, SYRIAN_OBSERVER, LEVANT)}
VOID = {"meta", "link", "img", "br", "hr", "input", "source", "wbr", "area", "base", "col"}


@pytest.fixture(scope="module")
def site() -> DemoSite:
    return build(NIGHT)


def page(site: DemoSite, url: str) -> Page:
    return site.pages[normalize_url(url)] if normalize_url(url) in site.pages else site.pages[url]


def resolve(site: DemoSite, url: str) -> Page | None:
    """The page a client ends on, following redirects inside the site; None for a 404."""
    pages = {normalize_url(u): p for u, p in site.pages.items()}
    for _ in range(5):
        p = pages.get(normalize_url(url))
        if p is None:
            return None
        location = dict(p.headers).get("Location")
        if p.status in (301, 302, 307, 308) and location:
            url = urljoin(url, location)
            continue
        return p
    raise AssertionError(f"redirect loop at {url}")


def is_html(p: Page) -> bool:
    return dict(p.headers).get("Content-Type", "text/html").startswith("text/html")


def text_paragraphs(body: bytes, xpath: str = "//p") -> list[str]:
    doc = html.fromstring(body)
    out = []
    for el in doc.xpath(xpath):
        t = " ".join(el.text_content().split())
        out.append(t.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"'))
    return out


def links_in(url: str, body: bytes) -> list[str]:
    doc = html.fromstring(body)
    out = []
    for el in doc.iter("a", "link", "img"):
        ref = el.get("href") or el.get("src")
        if ref and not ref.startswith(("#", "mailto:")):
            out.append(urljoin(url, ref).split("#", 1)[0])
    return out


def sitemap_locs(body: bytes) -> list[tuple[str, str]]:
    root = etree.fromstring(body)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    return [
        (el.findtext("s:loc", namespaces=ns), el.findtext("s:lastmod", namespaces=ns))
        for el in root.xpath("/s:sitemapindex/s:sitemap | /s:urlset/s:url", namespaces=ns)
    ]


# -- links ---------------------------------------------------------------------------------------


def test_every_link_in_feeds_sitemaps_and_listings_resolves(site: DemoSite) -> None:
    sources = load_sources(SOURCES_PATH).sources
    found: set[str] = set()
    for src in sources:
        for feed in src.feeds:
            root = etree.fromstring(page(site, feed).body)
            found.update(root.xpath("//item/link/text()"))
        todo = list(src.sitemaps)
        while todo:
            locs = sitemap_locs(page(site, todo.pop()).body)
            for loc, _ in locs:
                (todo.append(loc) if loc.endswith(".xml") else found.add(loc))
        for listing in src.start_urls:
            found.update(links_in(listing, page(site, listing).body))
    unresolved = {u for u in found if urlsplit(u).hostname in HOSTS and resolve(site, u) is None}
    assert unresolved == {BROKEN_URL}  # the one deliberate dead link
    articles = {a.url for a in site.articles}
    assert articles <= found  # every article is discoverable from some feed, sitemap or listing


def test_every_internal_link_on_every_page_resolves(site: DemoSite) -> None:
    broken = set()
    for url, p in site.pages.items():
        if p.status == 200 and is_html(p):
            for link in links_in(url, p.body):
                if urlsplit(link).hostname in HOSTS and resolve(site, link) is None:
                    broken.add(link)
    assert broken == {BROKEN_URL}


def test_tracking_link_and_redirect(site: DemoSite) -> None:
    assert TRACKING_URL in links_in(f"{AAWSAT}/opinion", page(site, f"{AAWSAT}/opinion").body)
    clean = TRACKING_URL.split("?", 1)[0]
    assert page(site, TRACKING_URL) is page(site, clean)
    canonical = html.fromstring(page(site, clean).body).xpath("//link[@rel='canonical']/@href")
    assert canonical == [clean]
    redirect = page(site, REDIRECT_FROM)
    assert redirect.status == 301
    target = dict(redirect.headers)["Location"]
    assert site.article(target).work == "w01" and site.article(target).role == "copy"
    assert REDIRECT_FROM in page(site, f"{SYRIAN_OBSERVER}/").body.decode()


# -- copies and originals -----------------------------------------------------------------------


def test_copies_share_most_paragraphs_with_their_original(site: DemoSite) -> None:
    works = site.works()
    assert sorted(works) == ["w01", "w02", "w03", "w04", "w05"]
    copies = 0
    for pages in works.values():
        original, *others = pages
        assert original.role == "original" and original.url.startswith(AAWSAT)
        orig_paras = text_paragraphs(page(site, original.url).body, "//div[@class='field-body']/p")
        assert orig_paras == list(original.paragraphs)
        assert len(orig_paras) >= 5
        for copy in others:
            copies += 1
            assert copy.role == "copy" and copy.original_url == original.url
            paras = set(text_paragraphs(page(site, copy.url).body))
            shared = sum(p in paras for p in orig_paras)
            assert shared / len(orig_paras) >= 0.8, copy.url
            dropped = [e for e in copy.edits if e.startswith("drop_paragraph:")]
            assert shared == len(orig_paras) - len(dropped), copy.url
    assert copies == 9


def test_copies_carry_the_usual_republication_edits(site: DemoSite) -> None:
    for a in site.articles:
        if a.role != "copy":
            continue
        text = " ".join(text_paragraphs(page(site, a.url).body))
        assert "Asharq Al-Awsat".lower() in text.lower(), a.url  # the original outlet is named
        if a.url.startswith(SYRIAN_OBSERVER):
            body = page(site, a.url).body.decode()
            assert 'alt="Logo Wide"' in body
            assert "The Syrian Observer has not verified the content of this story." in text
            assert "Helpful keywords:" in body and "Read Also: " in text
            repeated = html.fromstring(body).xpath("//div[@class='entry-content']/p[1]/strong")
            assert [el.text_content() for el in repeated] == [a.title]  # headline again
        else:
            assert "Levant Review" in text
    lr_seed = next(a for a in site.articles if a.url.startswith(LEVANT) and a.work == "w01")
    seed = next(a for a in site.articles if a.work == "w01" and a.role == "original")
    assert lr_seed.title != seed.title and "headline_changed" in lr_seed.edits
    canonical = html.fromstring(page(site, lr_seed.url).body).xpath(
        "//link[@rel='canonical']/@href"
    )
    assert canonical == [seed.url]


def test_copy_dates_follow_the_original_within_three_days(site: DemoSite) -> None:
    originals = {a.url: a for a in site.articles if a.role == "original"}
    for a in site.articles:
        assert a.published < datetime.combine(NIGHT, datetime.min.time(), UTC)
        if a.role == "copy":
            assert a.original_url is not None
            delta = a.published.date() - originals[a.original_url].published.date()
            assert timedelta(0) <= delta <= timedelta(days=3)
            assert f"date_shift:{delta.days}" in a.edits


def test_same_topic_pair_is_different_text(site: DemoSite) -> None:
    (other,) = [a for a in site.articles if a.topic_of == "w01"]
    seed = next(a for a in site.articles if a.work == "w01" and a.role == "original")
    assert other.role == "singleton" and other.work is None
    assert not set(other.paragraphs) & set(seed.paragraphs)
    words = set(" ".join(other.paragraphs).lower().split())
    assert {"damascus", "arab", "league", "refugees", "smuggling"} <= words


def test_roles_and_counts(site: DemoSite) -> None:
    roles = Counter(a.role for a in site.articles)
    assert roles == {"original": 5, "copy": 9, "singleton": 6}
    per_outlet = Counter((a.outlet, a.role) for a in site.articles)
    assert per_outlet[("syrianobserver.com", "singleton")] == 3  # one of them is old
    assert per_outlet[("levant-review.example", "singleton")] == 2
    (stale,) = [a for a in site.articles if not a.discoverable]
    assert stale.url.startswith(SYRIAN_OBSERVER) and "/265480/" in stale.url


# -- metadata -----------------------------------------------------------------------------------


def test_originals_carry_opinion_json_ld(site: DemoSite) -> None:
    for a in site.articles:
        if not a.url.startswith(AAWSAT):
            continue
        doc = html.fromstring(page(site, a.url).body)
        (raw,) = doc.xpath("//script[@type='application/ld+json']/text()")
        ld = json.loads(raw)
        assert ld["@type"] == "OpinionNewsArticle"
        assert ld["headline"] == a.title
        assert ld["author"][0]["name"] == a.author
        assert datetime.fromisoformat(ld["datePublished"]) == a.published
        assert re.search(r"/home/article/\d+/[a-z-]+/[a-z0-9'-]+$", a.url)
    seed = next(a for a in site.articles if a.work == "w01" and a.role == "original")
    assert seed.url == (
        f"{AAWSAT}/home/article/3844811/jonathan-hargreaves/"
        "normalization-syrian-regime-didn't-yield-any-results"
    )
    assert seed.author == "Jonathan Hargreaves"


def test_feed_and_sitemaps(site: DemoSite) -> None:
    rss = etree.fromstring(page(site, f"{AAWSAT}/feed/opinion").body)
    assert len(rss.xpath("//item")) == 6
    index = sitemap_locs(page(site, f"{SYRIAN_OBSERVER}/sitemap_index.xml").body)
    assert [u for u, _ in index] == [
        f"{SYRIAN_OBSERVER}/sitemap.xml",
        f"{SYRIAN_OBSERVER}/archive-sitemap.xml",
    ]
    window = datetime.combine(NIGHT - timedelta(days=30), datetime.min.time(), UTC)
    fresh = {u for u, mod in index if datetime.fromisoformat(mod) >= window}
    assert fresh == {f"{SYRIAN_OBSERVER}/sitemap.xml"}
    news = page(site, f"{SYRIAN_OBSERVER}/sitemap.xml")
    assert news.gzip and b"<news:publication_date>" in news.body
    assert all(lastmod for _, lastmod in sitemap_locs(news.body))


def test_robots_disallows_the_private_page_that_the_listing_links(site: DemoSite) -> None:
    robots = urllib.robotparser.RobotFileParser()
    robots.parse(page(site, f"{AAWSAT}/robots.txt").body.decode().splitlines())
    assert not robots.can_fetch("opeds", PRIVATE_URL)
    assert all(robots.can_fetch("opeds", a.url) for a in site.articles if a.outlet in AAWSAT)
    assert PRIVATE_URL in links_in(f"{AAWSAT}/opinion", page(site, f"{AAWSAT}/opinion").body)
    (aawsat,) = [s for s in load_sources(SOURCES_PATH).sources if s.name == "asharq-al-awsat"]
    assert aawsat.article_re is not None and aawsat.article_re.search(PRIVATE_URL)
    assert page(site, PRIVATE_URL).status == 200  # only robots.txt keeps a crawler out


def test_sources_config_covers_every_article(site: DemoSite) -> None:
    sources = {s.name: s for s in load_sources(SOURCES_PATH).sources}
    assert set(sources) == {a.source for a in site.articles}
    for a in site.articles:
        src = sources[a.source]
        assert src.article_re is not None and src.article_re.search(a.url), a.url
        assert a.outlet in src.allowed_domains
        assert src.crawl_delay is not None and src.crawl_delay <= 0.2
    for url in (f"{AAWSAT}/opinion", f"{SYRIAN_OBSERVER}/category/features/", f"{LEVANT}/opinion/"):
        assert not any(s.article_re and s.article_re.search(url) for s in sources.values())


# -- HTTP and HTML ------------------------------------------------------------------------------


class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else ''}>")
        else:
            self.stack.pop()


def test_html_pages_are_well_formed_with_chrome(site: DemoSite) -> None:
    for url, p in site.pages.items():
        if p.status != 200 or not is_html(p):
            continue
        text = p.body.decode("utf-8")
        checker = _Balance()
        checker.feed(text)
        checker.close()
        assert not checker.errors and not checker.stack, (url, checker.errors[:3], checker.stack)
        doc = html.fromstring(p.body)
        assert doc.get("lang", "").startswith("en")
        assert doc.findtext(".//title")
        assert doc.xpath("//header") and doc.xpath("//footer") and doc.xpath("//nav"), url
        assert "opeds demo" in text  # every page says it is a sample


def test_http_details_vary_like_real_servers(site: DemoSite) -> None:
    pages = list(site.pages.values())
    assert any(p.gzip and not p.chunked for p in pages)
    assert any(p.chunked and not p.gzip for p in pages)
    assert any(p.chunked and p.gzip for p in pages)
    assert any(not p.chunked and not p.gzip for p in pages)
    for a in site.articles:
        p = page(site, a.url)
        assert p.etag or p.last_modified, a.url
    assert any(page(site, a.url).etag for a in site.articles)
    assert len({dict(p.headers).get("Server") for p in pages}) >= 3


def test_build_is_deterministic_and_moves_with_the_night() -> None:
    a, b = build_site(NIGHT), build_site(NIGHT)
    assert {u: p.body for u, p in a.items()} == {u: p.body for u, p in b.items()}
    later = build(NIGHT + timedelta(days=40))
    first = build(NIGHT)
    assert len(later.articles) == len(first.articles)
    for x, y in zip(first.articles, later.articles, strict=True):
        assert y.published - x.published == timedelta(days=40)
    assert f"{AAWSAT}/feed/opinion" in later.pages


def test_site_served_through_the_loopback_proxy() -> None:
    with LoopbackWeb(build_site(NIGHT)) as web:
        context = ssl.create_default_context(cadata=web.ca_pem.decode("ascii"))
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({"http": web.proxy_url, "https": web.proxy_url}),
            urllib.request.HTTPSHandler(context=context),
        )
        with opener.open(f"{AAWSAT}/feed/opinion", timeout=5) as r:
            assert etree.fromstring(r.read()).xpath("count(//item)") == 6
        with opener.open(f"{SYRIAN_OBSERVER}/sitemap.xml", timeout=5) as r:
            assert r.headers["Content-Encoding"] == "gzip"
            assert b"<urlset" in gzip.decompress(r.read())
        with opener.open(REDIRECT_FROM, timeout=5) as r:
            assert site_url(r.geturl()).endswith("didnt-yield-any-results.html")
        with opener.open(f"{LEVANT}/opinion/", timeout=5) as r:
            assert b"From the archive" in r.read()
        with pytest.raises(urllib.error.HTTPError) as e:
            opener.open(BROKEN_URL, timeout=5)
        assert e.value.code == 404
        raw = web.sent[normalize_url(f"{AAWSAT}/feed/opinion")][0]
        assert b"\r\nTransfer-Encoding: chunked\r\n" in raw


def site_url(url: str) -> str:
    return normalize_url(url)
