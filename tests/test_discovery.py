from __future__ import annotations

import gzip
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from opeds.crawler.capture.rechecks import recheck_due
from opeds.crawler.sources.discovery import (
    DiscoveryError,
    in_window,
    listing_links,
    maybe_gunzip,
    parse_feed,
    parse_sitemap,
)
from opeds.crawler.sources.urls import canonical_url


@pytest.fixture
def feeds(corpus_dir: Path) -> Path:
    return corpus_dir / "feeds" / "trafilatura"


def test_real_feeds(feeds: Path) -> None:
    rss = parse_feed((feeds / "feed2.rss").read_bytes(), "http://www.example.com/")
    atom = parse_feed((feeds / "feed1.atom").read_bytes(), "http://example.org/")
    jsonfeed = parse_feed((feeds / "feed.json").read_bytes(), "https://www.npr.org/")
    assert rss and rss[0].url == "http://www.example.com/blog/post/1"
    assert atom[0].url == "http://example.org/2003/12/13/atom03"
    assert atom[0].modified == datetime(2003, 12, 13, 18, 30, 2, tzinfo=UTC)
    assert len(jsonfeed) > 5 and all(
        link.url.startswith("https://www.npr.org/") for link in jsonfeed
    )


def test_real_sitemaps(feeds: Path) -> None:
    plain = parse_sitemap((feeds / "sitemap.xml").read_bytes(), "https://www.sitemaps.org/")
    zipped = parse_sitemap((feeds / "sitemap.xml.gz").read_bytes(), "https://www.sitemaps.org/")
    index = parse_sitemap((feeds / "sitemap2.xml").read_bytes(), "http://www.example.com/")
    hreflang = parse_sitemap((feeds / "sitemap-hreflang.xml").read_bytes(), "http://x/")
    assert plain.kind == "urlset" and len(plain.links) == len(zipped.links) > 50
    assert index.kind == "index"
    assert [link.url for link in index.links] == [
        "http://www.example.com/sitemap1.xml.gz",
        "http://www.example.com/sitemap2.xml.gz",  # CDATA
    ]
    assert len(hreflang.links) == 4  # alternates are not separate entries


def test_news_sitemap_and_window() -> None:
    body = b"""<?xml version="1.0"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
 <url><loc>https://o.example/a.html</loc>
  <news:news><news:publication_date>2026-11-27T08:00:00Z</news:publication_date>
  <news:title>Fresh</news:title></news:news></url>
 <url><loc>https://o.example/b.html</loc><lastmod>2020-01-01</lastmod></url>
</urlset>"""
    doc = parse_sitemap(body, "https://o.example/sitemap.xml")
    since = datetime(2026, 11, 1, tzinfo=UTC)
    kept = [link.url for link in doc.links if in_window(link, since)]
    assert kept == ["https://o.example/a.html"]
    assert doc.links[0].title == "Fresh"


def test_xml_bomb_is_not_expanded() -> None:
    bomb = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&lol3;</loc></url>
<url><loc>https://o.example/x</loc></url></urlset>"""
    doc = parse_sitemap(bomb, "https://o.example/")
    assert "lollol" not in "".join(link.url for link in doc.links)


def test_external_entity_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
        "<rss><channel><item><link>https://o.example/&x;</link></item></channel></rss>"
    ).encode()
    links = parse_feed(xxe, "https://o.example/")
    assert all("TOPSECRET" not in link.url for link in links)


def test_gzip_bomb_refused() -> None:
    bomb = gzip.compress(b"\0" * (60 * 1024 * 1024))
    with pytest.raises(DiscoveryError, match="inflates beyond"):
        maybe_gunzip(bomb)


def test_not_a_feed() -> None:
    with pytest.raises(DiscoveryError):
        parse_feed(b"<html><body>hello</body></html>", "https://o.example/")
    with pytest.raises(DiscoveryError):
        parse_sitemap(b"not xml at all", "https://o.example/")


def test_listing_links_match_pattern_unique_and_absolute() -> None:
    page = b"""<html><body>
      <a href="/opinion/one.html">One</a> <a href="/opinion/one.html#c">One again</a>
      <a href="https://o.example/opinion/two.html?utm_source=x">Two</a>
      <a href="/about">About</a> <a href="mailto:x@o.example">mail</a></body></html>"""
    links = listing_links(page, "https://o.example/opinion/", re.compile(r"/opinion/[a-z]+\.html"))
    assert [link.url for link in links] == [
        "https://o.example/opinion/one.html",
        "https://o.example/opinion/two.html?utm_source=x",
    ]


def test_canonical_url_drops_tracking_only() -> None:
    assert (
        canonical_url("HTTPS://O.example:443/a?utm_source=rss&id=3&fbclid=x#top")
        == "https://o.example/a?id=3"
    )
    assert canonical_url("http://o.example/a?b=2&a=1") == "http://o.example/a?a=1&b=2"


def test_recheck_schedule_counts_nights() -> None:
    first = date(2026, 11, 1)
    days = (1, 7, 30)
    assert not recheck_due(first, first, date(2026, 11, 1), days)  # the same night again
    assert recheck_due(first, first, date(2026, 11, 2), days)
    checked = date(2026, 11, 2)
    assert not recheck_due(first, checked, date(2026, 11, 5), days)
    assert recheck_due(first, checked, date(2026, 11, 8), days)
    assert recheck_due(first, checked, date(2027, 1, 1), days)
    assert not recheck_due(first, date(2026, 12, 2), date(2027, 1, 1), days)
    # the same answers five years either side: nothing here looks at the clock
    for years in (-5, 5):
        shift = timedelta(days=365 * years)
        assert recheck_due(first + shift, first + shift, date(2026, 11, 2) + shift, days)
        assert not recheck_due(first + shift, checked + shift, date(2026, 11, 5) + shift, days)
