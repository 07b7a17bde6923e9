"""Article extraction: body text and metadata of one page, without what a syndicator added to it.

``extract_article`` runs trafilatura for the body and most metadata, reads the page's structured
data (JSON-LD, OpenGraph and meta tags, ``rel=canonical``) for what trafilatura does not return,
removes from the body the paragraphs that are not the article (``opeds.extraction.boilerplate``)
and turns republication evidence into an ``OriginalHint`` (``opeds.extraction.attribution``). It
never raises.
"""

from __future__ import annotations

import codecs
import html as html_lib
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.settings import Document
from trafilatura.utils import detect_encoding, load_html

from opeds.extraction import attribution, boilerplate
from opeds.extraction.attribution import OriginalHint
from opeds.extraction.boilerplate import normalize

__all__ = ["ExtractedArticle", "OriginalHint", "decode_html", "extract_article"]

LOGGER = logging.getLogger(__name__)

# Below this many characters a precision-mode body is suspect: compare it with a balanced run.
SHORT_BODY = 1500
# Below this many bytes an encoding guess is noise: read undeclared non-UTF-8 as windows-1252.
GUESS_MIN_BYTES = 256
FIELDS = (
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
)


@dataclass
class ExtractedArticle:
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None  # ISO 8601 date or datetime
    updated: str | None = None
    body: str = ""  # paragraphs separated by "\n"
    language: str | None = None
    canonical: str | None = None  # absolute rel=canonical / og:url
    section: str | None = None
    site_name: str | None = None
    original: OriginalHint | None = None
    is_opinion: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in FIELDS}
        out["authors"] = list(self.authors)
        out["original"] = self.original.to_json() if self.original else None
        return out


# --- decoding ------------------------------------------------------------------------------------

_CT_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:\-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(
    rb"<meta[^>]+charset\s*=\s*[\"']?([\w.:\-]+)|<meta[^>]+content\s*=\s*[\"'][^\"'>]*charset=([\w.:\-]+)",
    re.IGNORECASE,
)


def _codec(name: str | bytes | None) -> str | None:
    if not name:
        return None
    label = name.decode("ascii", "ignore") if isinstance(name, bytes) else name
    try:
        found = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    # browsers read iso-8859-1 and ascii labels as windows-1252 (WHATWG encoding standard)
    return "cp1252" if found in ("latin-1", "iso8859-1", "ascii") else found


def decode_html(data: bytes, content_type: str | None = None) -> str:
    """Bytes to text: Content-Type charset, then ``<meta>`` charset, then UTF-8, then a guess."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    declared = []
    if content_type:
        m = _CT_CHARSET.search(content_type)
        declared.append(_codec(m.group(1)) if m else None)
    m2 = _META_CHARSET.search(data[:4096])
    if m2:
        declared.append(_codec(m2.group(1) or m2.group(2)))
    for enc in declared:
        if enc:
            try:
                return data.decode(enc)
            except UnicodeDecodeError:
                # a wrong label: keep it only if most of the page decodes
                text = data.decode(enc, errors="replace")
                if text.count("\ufffd") < max(8, len(text) // 1000):
                    return text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if len(data) < GUESS_MIN_BYTES:
        return data.decode("cp1252", errors="replace")
    try:
        for guess in detect_encoding(data):
            try:
                return data.decode(guess)
            except (LookupError, UnicodeDecodeError):
                continue
    except Exception:  # a detector failing on garbage must not stop extraction
        LOGGER.debug("encoding detection failed", exc_info=True)
    return data.decode("cp1252", errors="replace")


# --- structured data -----------------------------------------------------------------------------

_ARTICLE_TYPES = re.compile(r"article|posting|blog|report|review|column|opinion|creativework", re.I)


def _jsonld_objects(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    for script in tree.iterfind(".//script[@type]"):
        if "ld+json" not in (script.get("type") or "").lower() or not script.text:
            continue
        try:
            data = json.loads(script.text.strip().rstrip(";"))
        except ValueError:
            continue
        stack: list[Any] = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                yield item
                if isinstance(item.get("@graph"), list):
                    stack.extend(reversed(item["@graph"]))
                if isinstance(item.get("mainEntity"), dict):
                    stack.append(item["mainEntity"])


def _types(obj: Mapping[str, Any]) -> list[str]:
    t = obj.get("@type")
    return [str(x) for x in t] if isinstance(t, list) else [str(t)] if t else []


def _article_object(objs: list[dict[str, Any]]) -> dict[str, Any]:
    for obj in objs:
        if any(_ARTICLE_TYPES.search(t) for t in _types(obj)) and (
            obj.get("headline") or obj.get("articleBody") or obj.get("author")
        ):
            return obj
    return {}


def _meta_tags(tree: HtmlElement) -> dict[str, str]:
    out: dict[str, str] = {}
    for meta in tree.iterfind(".//meta"):
        key = (
            meta.get("property")
            or meta.get("name")
            or meta.get("itemprop")
            or meta.get("http-equiv")
        )
        content = meta.get("content")
        if key and content and content.strip():
            out.setdefault(key.strip().lower(), content.strip())
    return out


def _text_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        parts = [t for t in (_text_of(v) for v in value) if t]
        return parts[0] if parts else None
    if isinstance(value, Mapping):
        return _text_of(value.get("name"))
    return None


def _iso(value: str | None) -> str | None:
    """An ISO 8601 date or datetime from a structured-data value, or None."""
    if not value:
        return None
    v = value.strip()
    m = re.match(
        r"^(\d{4}-\d{2}-\d{2})"
        r"(?:[T ](\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?)\s*(Z|[+-]\d{2}:?\d{2})?)?",
        v,
    )
    if not m:
        return None
    date, time, tz = m.groups()
    try:
        datetime.fromisoformat(date)
    except ValueError:
        return None
    if not time:
        return date
    tz = "+00:00" if tz == "Z" else (tz[:3] + ":" + tz[-2:] if tz and ":" not in tz else tz)
    try:
        return datetime.fromisoformat(f"{date}T{time}{tz or ''}").isoformat()
    except ValueError:
        return date


# --- authors -------------------------------------------------------------------------------------

_BY = re.compile(r"^\s*(?:by|von|par|por|di|door|written by|text:|texto:|author:|autor:)\s+", re.I)
_JOB = re.compile(
    r"\b(?:editor|reporter|correspondent|writer|columnist|contributor|staff|journalist|producer|"
    r"analyst|director|professor|fellow|chief|senior|deputy|managing|redakteur\w*|korrespondent\w*|"
    r"autor\w*|journalist\w*|kolumnist\w*|freelance|contributing|associate|news desk)\b",
    re.I,
)
_VIEW_ALL = re.compile(
    r"^\s*(?:view|see|more)\s+(?:all\s+)?(?:posts|articles|stories)\s+(?:by|from)\s+", re.I
)
_DATE_WORD = re.compile(
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?|\d+[.,:]?\d*|updated|"
    r"published|posted|aktualisiert|veröffentlicht|am|um|on|at",
    re.I,
)
_DESK = re.compile(
    r"games|news|sports|tech|technology|politics|business|science|health|features|opinion|culture|"
    r"travel|staff|senior|deputy|contributing|associate|managing|executive",
    re.I,
)
_GENERIC_NAME = re.compile(
    r"username|user|admin|administrator|staff|guest|anonymous|unknown|redaktion|editorial|"
    r"authority control|author|autor|editor|team",
    re.I,
)
_CREDIT = re.compile(
    r"\s+(?:edited|photos?|photography|reporting|illustrations?|additional reporting|translated|"
    r"graphics|video|bearbeitet|übersetzt|fotos?)\s+(?:by|von)\s+",
    re.I,
)
_ORG_WORD = re.compile(
    r"\b(?:news|times|post|observer|media|press|blog|magazine|journal|daily|network|agency|tv|"
    r"radio|online|group|staff|desk|team|foundation|society|institute|zeitung|redaktion|verlag|"
    r"nachrichten|rundschau|tribune|herald|gazette|review|report|chronicle|world|today|inc|ltd|"
    r"gmbh|llc|org|com)\b",
    re.I,
)
_NOT_A_NAME = re.compile(r"@|https?://|www\.|\.com\b|\d{3,}", re.I)


def clean_authors(
    raw: list[str], site_names: list[str | None], *, organisations: tuple[str, ...] = ()
) -> list[str]:
    """Names only: no "By", job titles, dates, bios, e-mail, handles or outlet names.

    A name that is the page's own outlet is dropped when it is not a person's: declared an
    organisation (``organisations``), one word, or worded like one ("... News", "... Observer").
    """
    out: list[str] = []
    for item in raw:
        item = _CREDIT.split(item)[0]
        for part in re.split(r";|\s+and\s+|\s+und\s+|\s*&\s*|\s*\|\s*|\n", item):
            name = _BY.sub("", _VIEW_ALL.sub("", part)).strip(" ,.-–—:")
            # "Jane Doe, Senior Editor" / "Jane Doe - Reuters" / "Jane Doe is a writer ..."
            name = re.split(r"\s*,\s*|\s+[-–—]\s+|\s+(?:is|ist|was|war)\s+|\s*\(", name)[0].strip()
            if not name or _NOT_A_NAME.search(name):
                continue
            toks = name.split()
            # a job title ("Ben Silverman Games Editor") or a date ("Jane Doe March 25") after it
            for k, tok in enumerate(toks):
                if k and (_JOB.fullmatch(tok) or (k >= 2 and _DATE_WORD.fullmatch(tok))):
                    toks = toks[:k]
                    while len(toks) > 2 and _DESK.fullmatch(toks[-1]):
                        toks.pop()
                    break
            while toks and (toks[-1].islower() or toks[-1].isdigit()):
                toks.pop()
            name = " ".join(toks)
            if not name or len(toks) > 5 or _JOB.fullmatch(name) or _GENERIC_NAME.fullmatch(name):
                continue
            if len(toks) == 1 and (len(name) <= 3 or not name[0].isupper()):
                continue  # "MA", "admin"
            organisation = name in organisations or len(toks) == 1 or bool(_ORG_WORD.search(name))
            if organisation and attribution.is_own_outlet(name, None, site_names):
                continue
            if (name.isupper() or name.islower()) and len(toks) > 1:
                name = name.title()
            if name not in out:
                out.append(name)
    return out


# --- opinion -------------------------------------------------------------------------------------

_OPINION_PATH = re.compile(
    r"/(?:opinions?|op-?eds?|views?|commentary|commentaries|comment|columns?|columnists?|editorials?|"
    r"perspectives?|meinung|meinungen|kommentare?|standpunkte?|gastbeitr(?:ä|ae)ge?|debatte|essays?|"
    r"kolumnen?|leitartikel|analysis)(?:/|$|[-_.])",
    re.I,
)
_OPINION_WORD = re.compile(
    r"^(?:opinion|opinions|views|view|commentary|comment|op-?ed|editorials?|columns?|columnists?|"
    r"perspective|perspectives|analysis|meinung|kommentar|kommentare|standpunkt|gastbeitrag|debatte|"
    r"essay|kolumne|leitartikel)\b",
    re.I,
)


def _is_opinion(
    types: list[str],
    url: str,
    canonical: str | None,
    section: str | None,
    title: str | None,
    hint: OriginalHint | None,
) -> bool:
    if any("opinion" in t.lower() for t in types):
        return True
    for u in (url, canonical or ""):
        if _OPINION_PATH.search(urlsplit(u).path):
            return True
    if section and _OPINION_WORD.match(section.strip()):
        return True
    if title and re.match(
        r"^\s*(?:opinion|commentary|op-?ed|column|views?|perspective|meinung|kommentar|gastbeitrag|"
        r"gastkommentar|standpunkt|essay)\s*[:|]",
        title,
        re.I,
    ):
        return True
    return bool(
        hint
        and hint.text
        and re.search(
            r"\bop-?ed\b|\bopinion\b|\bcolumn\b|\bcommentary\b|"
            r"\bgastbeitrag\b|\bkommentar\b|\bkolumne\b",
            hint.text,
            re.I,
        )
    )


# --- body ----------------------------------------------------------------------------------------


def _run_trafilatura(
    tree: HtmlElement, url: str, *, precision: bool, metadata: bool, tables: bool = True
) -> Document | None:
    result = bare_extraction(
        tree,
        url=url,
        favor_precision=precision,
        include_comments=False,
        include_tables=tables,
        with_metadata=metadata,
    )
    return result if isinstance(result, Document) else None


def _paragraphs(text: str | None) -> list[str]:
    return [" ".join(line.split()) for line in (text or "").split("\n") if line.strip()]


def _is_label_and_link(tree: HtmlElement, text: str) -> bool:
    """Whether the page element holding ``text`` is a short label followed by one link."""
    target = boilerplate.normalize(text)
    size = len(text)
    for el in tree.iter("p", "div", "li", "h3", "h4", "h5", "h6"):
        content = el.text_content()
        if not 0.7 * size <= len(content) <= 2 * size + 20:
            continue
        if boilerplate.normalize(content) != target:
            continue
        anchors = [boilerplate.normalize(a.text_content()) for a in el.iter("a")]
        anchors = [a for a in anchors if a]
        label = target[: len(target) - len(anchors[0])] if len(anchors) == 1 else ""
        return (
            len(anchors) == 1
            and target.endswith(anchors[0])
            and len(anchors[0].split()) >= 3
            and 1 <= len(label.split()) <= 4
        )
    return False


def _block_links(tree: HtmlElement, text: str) -> list[str]:
    """Links in the page element whose text is ``text`` (the URL in an attribution line)."""
    target = boilerplate.normalize(text)
    if not target:
        return []
    size = len(text)
    for el in tree.iter(
        "p",
        "div",
        "li",
        "span",
        "small",
        "em",
        "i",
        "section",
        "footer",
        "aside",
        "blockquote",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "td",
    ):
        hrefs = [h for a in el.iter("a") if (h := a.get("href"))]
        if not hrefs:
            continue
        content = el.text_content()
        if 0.7 * size <= len(content) <= 3 * size + 40 and boilerplate.normalize(content) == target:
            return hrefs
    return []


_CANDIDATE_BLOCKS = (
    "p",
    "div",
    "li",
    "small",
    "em",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "section",
    "aside",
    "footer",
    "span",
)


def _container_blocks(tree: HtmlElement, paragraphs: list[str]) -> list[str]:
    """Texts of short leaf blocks inside the element that holds the extracted body."""
    if not paragraphs:
        return []
    probes = (paragraphs[0], paragraphs[-1], paragraphs[len(paragraphs) // 2])
    wanted = {boilerplate.normalize(p) for p in probes}
    low, high = 0.7 * min(map(len, probes)), 3 * max(map(len, probes)) + 40
    hits = []
    for el in tree.iter("p", "div", "li", "h2", "h3", "blockquote"):
        content = el.text_content()
        if low <= len(content) <= high and boilerplate.normalize(content) in wanted:
            hits.append(el)
    if not hits:
        return []
    container = hits[0].getparent()
    while container is not None and not all(_is_within(h, container) for h in hits):
        container = container.getparent()
    if container is None:
        return []
    out = []
    for el in container.iter(*_CANDIDATE_BLOCKS):
        if any(child.tag in ("p", "div", "li", "section") for child in el) or any(
            a.tag in ("figure", "figcaption", "nav") for a in el.iterancestors()
        ):
            continue
        text = " ".join(el.text_content().split())
        if text and len(boilerplate.words(text)) <= 90:
            out.append(text)
    return out


def _is_within(el: HtmlElement, ancestor: HtmlElement) -> bool:
    node: HtmlElement | None = el
    while node is not None:
        if node is ancestor:
            return True
        node = node.getparent()
    return False


def _names_other_outlet(
    text: str, url: str, authors: list[str], site_names: list[str | None]
) -> bool:
    outlet = attribution.outlet_in(text, exclude=authors)
    return outlet is not None and not attribution.is_own_outlet(outlet, url, site_names)


def _hint_for(
    kind: str,
    text: str,
    tree: HtmlElement,
    url: str,
    authors: list[str],
    site_names: list[str | None],
) -> OriginalHint | None:
    outlet = attribution.outlet_in(text, exclude=authors)
    if outlet and attribution.is_own_outlet(outlet, url, site_names):
        return None
    link = attribution.foreign_link(_block_links(tree, text), url)
    if not outlet and (not link or len(boilerplate.words(text)) > 20):
        return None
    return OriginalHint(kind, outlet, link, text)


# --- the public function -------------------------------------------------------------------------


def extract_article(
    html: bytes | str, url: str, *, content_type: str | None = None
) -> ExtractedArticle:
    """Extract one article page. Never raises: unusable input gives an empty body."""
    try:
        return _extract(html, url, content_type)
    except Exception:  # garbage in must not stop a night's run
        LOGGER.warning("extraction failed for %s", url, exc_info=True)
        return ExtractedArticle()


def _extract(html: bytes | str, url: str, content_type: str | None) -> ExtractedArticle:
    text = decode_html(html, content_type) if isinstance(html, bytes) else html
    if not text.strip() or "\x00" in text[:1024]:
        return ExtractedArticle()
    tree = load_html(text)
    if tree is None:
        return ExtractedArticle()

    meta = _meta_tags(tree)
    objs = list(_jsonld_objects(tree))
    art = _article_object(objs)

    doc, paragraphs = _body(tree, url)
    canonical = _canonical(tree, meta, url)
    publisher = _text_of(art.get("publisher"))
    site_name = meta.get("og:site_name") or publisher or doc.sitename
    site_names = [site_name, publisher, doc.sitename, meta.get("application-name")]

    title = _clean_title(
        doc.title or _text_of(art.get("headline")) or meta.get("og:title"), site_names
    )

    authors = _authors(art, doc, site_names)

    # body: drop what is not the article, keep the evidence
    h1s = [" ".join(h.text_content().split()) for h in tree.iterfind(".//h1")][:3]
    verdicts = boilerplate.classify(
        paragraphs,
        titles=[
            title,
            doc.title,
            meta.get("og:title"),
            meta.get("twitter:title"),
            *h1s,
            _text_of(tree.findtext(".//title")),
        ],
        names_outlet=lambda t: _names_other_outlet(t, url, authors, site_names),
        is_link_line=lambda t: _is_label_and_link(tree, t),
    )
    removed = {v.index for v in verdicts}
    body = "\n".join(p for i, p in enumerate(paragraphs) if i not in removed)

    hints = _hints(tree, art, canonical, url, verdicts, authors, site_names)
    if not any(h.evidence in ("attribution", "standfirst") for h in hints):
        around = _evidence_around(tree, paragraphs)
        verdicts = verdicts + around
        hints += _hints(tree, {}, None, url, around, authors, site_names)
    original = attribution.merge(hints)
    # a copy names the original's author in its standfirst or bio: that beats the host's byline,
    # which may be its own staff or a leftover of the page's chrome
    outlets = [h.outlet for h in hints if h.outlet]
    kinds = {boilerplate.STANDFIRST, boilerplate.BIO}
    if not authors:
        kinds.add(boilerplate.ATTRIBUTION)
    for v in verdicts:
        if v.kind in kinds:
            name = attribution.author_in(v.text, exclude=[*outlets, *_present(site_names)])
            if name and clean_authors([name], []) == [name]:
                if not any(
                    normalize(name) in normalize(a) or normalize(a) in normalize(name)
                    for a in authors
                ):
                    authors = [name]
                break

    section = _text_of(art.get("articleSection")) or meta.get("article:section")
    if not section and doc.categories:
        section = doc.categories[0]

    # htmldate (through trafilatura) is the better judge of the day; structured data adds the time
    structured_date = _iso(_text_of(art.get("datePublished"))) or _iso(
        meta.get("article:published_time")
    )
    published = _iso(doc.date)
    if structured_date and (not published or structured_date[:10] == published[:10]):
        published = structured_date
    updated = (
        _iso(_text_of(art.get("dateModified")))
        or _iso(meta.get("article:modified_time"))
        or _iso(meta.get("og:updated_time"))
    )

    language = (
        tree.get("lang")
        or tree.get("xml:lang")
        or _text_of(art.get("inLanguage"))
        or meta.get("content-language")
        or meta.get("og:locale")
        or doc.language
    )
    if language:
        language = language.strip().replace("_", "-").split(",")[0] or None

    return ExtractedArticle(
        title=title,
        authors=authors,
        published=published,
        updated=updated,
        body=body,
        language=language,
        canonical=canonical,
        section=section,
        site_name=site_name,
        original=original,
        is_opinion=_is_opinion(_types(art), url, canonical, section, title, original),
    )


def _body(tree: HtmlElement, url: str) -> tuple[Document, list[str]]:
    """trafilatura's metadata and body paragraphs: precision first, balanced when that is thin."""
    doc = _run_trafilatura(tree, url, precision=True, metadata=True)
    paragraphs = _paragraphs(doc.text if doc else None)
    if len("\n".join(paragraphs)) < SHORT_BODY:
        balanced = _run_trafilatura(tree, url, precision=False, metadata=False)
        alt = _paragraphs(balanced.text if balanced else None)
        if len("\n".join(alt)) > 2 * len("\n".join(paragraphs)):
            paragraphs = alt
    if len(paragraphs) <= 2 and any(p.startswith("|") and len(p) > SHORT_BODY for p in paragraphs):
        # a page laid out with tables comes back as one flattened row: read it without tables
        untabled = _run_trafilatura(tree, url, precision=False, metadata=False, tables=False)
        alt = _paragraphs(untabled.text if untabled else None)
        if len(alt) >= 3:
            paragraphs = alt
    return doc or Document(), paragraphs


def _canonical(tree: HtmlElement, meta: Mapping[str, str], url: str) -> str | None:
    for link in tree.iterfind(".//link[@rel]"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            return urljoin(url, link.get("href", "").strip())
    return urljoin(url, meta["og:url"]) if meta.get("og:url") else None


def _authors(art: Mapping[str, Any], doc: Document, site_names: list[str | None]) -> list[str]:
    declared = _as_list(art.get("author"))
    raw = [a for a in (_text_of(x) for x in declared) if a]
    organisations = tuple(
        name
        for x in declared
        if isinstance(x, Mapping)
        and "organization" in str(x.get("@type", "")).lower()
        and (name := _text_of(x))
    )
    authors = clean_authors(raw, site_names, organisations=organisations)
    if not authors and doc.author:
        authors = clean_authors([doc.author], site_names)
    return authors


def _hints(
    tree: HtmlElement,
    art: Mapping[str, Any],
    canonical: str | None,
    url: str,
    verdicts: list[boilerplate.Verdict],
    authors: list[str],
    site_names: list[str | None],
) -> list[OriginalHint]:
    """All evidence of republication: markup first, then the sentences removed from the body."""
    hints: list[OriginalHint] = []
    structured = attribution.jsonld_hint(art, url) if art else None
    if structured is not None and not (
        structured.outlet
        and not structured.url
        and attribution.is_own_outlet(structured.outlet, url, site_names)
    ):
        hints.append(structured)
    canon = attribution.canonical_hint(canonical, url)
    if canon:
        hints.append(canon)
    evidence = {
        boilerplate.ATTRIBUTION: "attribution",
        boilerplate.STANDFIRST: "standfirst",
        boilerplate.BIO: "bio",
    }
    for v in verdicts:
        if v.kind in evidence:
            h = _hint_for(evidence[v.kind], v.text, tree, url, authors, site_names)
            if h:
                hints.append(h)
    return hints


def _present(names: list[str | None]) -> list[str]:
    return [n for n in names if n]


def _clean_title(title: str | None, site_names: list[str | None]) -> str | None:
    if not title:
        return None
    title = " ".join(html_lib.unescape(title).split())
    for name in _present(site_names):
        for sep in (" | ", " - ", " – ", " — ", " :: ", " · "):
            if title.endswith(sep + name) and len(title) > len(sep + name) + 8:
                title = title[: -len(sep + name)]
    return title or None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _evidence_around(tree: HtmlElement, paragraphs: list[str]) -> list[boilerplate.Verdict]:
    """Attribution lines, standfirsts and bios the extractor left out of the body, found in the
    element that holds the article."""
    kept = {boilerplate.normalize(p) for p in paragraphs}
    out = []
    for text in _container_blocks(tree, paragraphs):
        if boilerplate.normalize(text) in kept:
            continue
        if boilerplate.is_attribution(text):
            out.append(boilerplate.Verdict(-1, boilerplate.ATTRIBUTION, text))
        elif boilerplate.is_bio(text):
            out.append(boilerplate.Verdict(-1, boilerplate.BIO, text))
        elif boilerplate.is_standfirst(text):
            out.append(boilerplate.Verdict(-1, boilerplate.STANDFIRST, text))
    return out
