"""Finding article URLs: RSS/Atom/JSON feeds, sitemaps (indexes, news sitemaps) and listing pages.

Parsers are defensive: no entity expansion, no network, size caps on decompression, and
malformed input yields what could be read plus a :class:`DiscoveryError` only when nothing could.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from lxml import etree, html

from opeds.errors import OpedsError

MAX_XML_BYTES = 50 * 1024 * 1024


class DiscoveryError(OpedsError):
    """A feed, sitemap or listing page could not be read."""


@dataclass(frozen=True)
class Link:
    """A discovered URL with what the document said about it."""

    url: str
    modified: datetime | None = None
    title: str | None = None


@dataclass(frozen=True)
class SitemapDoc:
    kind: str  # "index" | "urlset"
    links: list[Link]


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        recover=True,
        remove_comments=True,
        huge_tree=False,
        load_dtd=False,
    )


def maybe_gunzip(body: bytes, *, limit: int = MAX_XML_BYTES) -> bytes:
    """Decompress a gzip body (a ``.xml.gz`` sitemap), refusing to inflate beyond ``limit``."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    out = io.BytesIO()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as f:
            while chunk := f.read(1024 * 1024):
                out.write(chunk)
                if out.tell() > limit:
                    raise DiscoveryError(f"gzip body inflates beyond {limit} bytes; refused")
    except (OSError, EOFError) as e:
        raise DiscoveryError(f"broken gzip data: {e}") from None
    return out.getvalue()


def parse_date(text: str | None) -> datetime | None:
    """ISO 8601 (W3C datetime, as in sitemaps and Atom) or RFC 822 (RSS) to aware UTC."""
    if not text:
        return None
    s = text.strip()
    if not s:
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            return datetime.combine(date.fromisoformat(s), datetime.min.time(), UTC)
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        try:
            dt = parsedate_to_datetime(s)
        except (TypeError, ValueError, IndexError):
            return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _child_text(el: etree._Element, *names: str) -> str | None:
    for child in el:
        if _local(child.tag) in names and child.text and child.text.strip():
            return str(child.text.strip())
    return None


def _xml_root(body: bytes, what: str) -> tuple[etree._Element, str | None]:
    """The root element, and the first error the recovering parser got past (if any)."""
    body = maybe_gunzip(body)
    if len(body) > MAX_XML_BYTES:
        raise DiscoveryError(f"{what} is larger than {MAX_XML_BYTES} bytes; refused")
    parser = _parser()
    try:
        root = etree.fromstring(body.lstrip(), parser=parser)
    except etree.XMLSyntaxError as e:
        raise DiscoveryError(f"{what} is not XML: {e}") from None
    if root is None:
        raise DiscoveryError(f"{what} is empty or not XML")
    errors = [e for e in parser.error_log if e.level >= etree.ErrorLevels.ERROR]
    return root, (f"line {errors[0].line}: {errors[0].message}" if errors else None)


def parse_sitemap(body: bytes, base_url: str) -> SitemapDoc:
    """A sitemap index or urlset (incl. Google News sitemaps)."""
    root, error = _xml_root(body, "sitemap")
    kind = _local(root.tag)
    if kind not in ("sitemapindex", "urlset"):
        raise DiscoveryError(f"sitemap root element is <{kind}>, not <urlset> or <sitemapindex>")
    links: list[Link] = []
    for entry in root:
        if _local(entry.tag) not in ("sitemap", "url"):
            continue
        loc = _child_text(entry, "loc")
        if not loc:
            continue
        modified = parse_date(_child_text(entry, "lastmod"))
        title = None
        for child in entry:
            if _local(child.tag) == "news":
                modified = modified or parse_date(_child_text(child, "publication_date"))
                title = _child_text(child, "title")
        links.append(Link(urljoin(base_url, loc), modified, title))
    if not links and error:
        raise DiscoveryError(f"malformed sitemap, nothing readable: {error}")
    return SitemapDoc("index" if kind == "sitemapindex" else "urlset", links)


def parse_feed(body: bytes, base_url: str) -> list[Link]:
    """Item links of an RSS 0.9x/1.0/2.0, Atom or JSON Feed document."""
    stripped = maybe_gunzip(body).lstrip()
    if stripped.startswith(b"{"):
        return _parse_json_feed(stripped, base_url)
    root, error = _xml_root(stripped, "feed")
    links: list[Link] = []
    for el in root.iter():
        name = _local(el.tag)
        if name == "item":  # RSS 1.0 / 2.0
            url = _child_text(el, "link") or el.get(
                "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about"
            )
            if not url:
                guid = next((c for c in el if _local(c.tag) == "guid"), None)
                if guid is not None and guid.get("isPermaLink", "true") != "false" and guid.text:
                    url = guid.text.strip()
            date_text = _child_text(el, "pubdate", "date", "updated", "published")
            if url:
                links.append(
                    Link(urljoin(base_url, url), parse_date(date_text), _child_text(el, "title"))
                )
        elif name == "entry":  # Atom
            href = None
            for child in el:
                if _local(child.tag) == "link" and child.get("rel", "alternate") == "alternate":
                    href = child.get("href")
                    break
            if href:
                date_text = _child_text(el, "updated", "published")
                links.append(
                    Link(urljoin(base_url, href), parse_date(date_text), _child_text(el, "title"))
                )
    if not links and error:
        raise DiscoveryError(f"malformed feed, nothing readable: {error}")
    if not links and _local(root.tag) not in ("rss", "feed", "rdf"):
        raise DiscoveryError(f"not a feed: root element <{_local(root.tag)}>")
    return links


def _parse_json_feed(body: bytes, base_url: str) -> list[Link]:
    try:
        doc = json.loads(body)
    except ValueError as e:
        raise DiscoveryError(f"JSON feed is not valid JSON: {e}") from None
    items = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise DiscoveryError("JSON feed has no 'items' list")
    links = []
    for item in items:
        if not isinstance(item, dict):
            continue
        url = item.get("url") or item.get("external_url")
        if isinstance(url, str) and url:
            modified = parse_date(item.get("date_modified") or item.get("date_published"))
            title = item.get("title") if isinstance(item.get("title"), str) else None
            links.append(Link(urljoin(base_url, url), modified, title))
    return links


def listing_links(body: bytes, base_url: str, pattern: re.Pattern[str]) -> list[Link]:
    """Links on a listing page whose absolute URL matches ``pattern``, in page order, unique."""
    try:
        doc = html.fromstring(body, base_url=base_url)
    except (etree.ParserError, ValueError):
        return []
    seen: set[str] = set()
    out: list[Link] = []
    for el in doc.iter("a"):
        href = el.get("href")
        if not href:
            continue
        url = urljoin(base_url, href.strip()).split("#", 1)[0]
        if urlsplit(url).scheme not in ("http", "https"):
            continue
        if pattern.search(url) and url not in seen:
            seen.add(url)
            title = " ".join(el.text_content().split()) or None
            out.append(Link(url, None, title))
    return out


def in_window(link: Link, since: datetime | None) -> bool:
    """Whether a sitemap entry is recent enough (entries without lastmod are kept)."""
    return since is None or link.modified is None or link.modified >= since


def allowed(url: str, domains: Iterable[str]) -> bool:
    """Whether ``url`` is an http(s) URL on one of ``domains`` or their subdomains."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return False
    host = (parts.hostname or "").lower()
    return any(host == d or host.endswith("." + d) for d in domains)
