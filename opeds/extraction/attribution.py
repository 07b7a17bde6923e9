"""Evidence on a page that its article was first published elsewhere, and the outlet it names."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from opeds.extraction.boilerplate import normalize, words

# Strongest first: what the publisher declared in markup beats what a sentence says.
EVIDENCE_ORDER = ("jsonld", "canonical", "attribution", "standfirst", "bio")


@dataclass
class OriginalHint:
    """Evidence on a page that it is a republication."""

    evidence: str  # "canonical" | "jsonld" | "attribution" | "standfirst" | "bio"
    outlet: str | None  # outlet name as the page says it, e.g. "Asharq al-Awsat"
    url: str | None  # URL of the original when known
    text: str | None  # the sentence the evidence came from

    def to_json(self) -> dict[str, Any]:
        return {
            "evidence": self.evidence,
            "outlet": self.outlet,
            "url": self.url,
            "text": self.text,
        }


# --- domains -------------------------------------------------------------------------------------

_SECOND_LEVEL = {
    "co",
    "com",
    "org",
    "net",
    "ac",
    "gov",
    "edu",
    "or",
    "ne",
    "go",
    "gv",
    "nic",
    "mil",
}


_DOMAIN = re.compile(r"(?:www\.)?(?:[\w\-]+\.)+[a-z]{2,}", re.IGNORECASE)


def site_of(url_or_host: str | None) -> str | None:
    """Registrable part ("english.aawsat.com" -> "aawsat.com"): enough to compare sites."""
    if not url_or_host:
        return None
    host = urlsplit(url_or_host).hostname if "/" in url_or_host else url_or_host.lower()
    if not host:
        return None
    labels = host.strip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def same_site(a: str | None, b: str | None) -> bool:
    sa, sb = site_of(a), site_of(b)
    return sa is not None and sa == sb


def is_own_outlet(outlet: str, page_url: str | None, site_names: Iterable[str | None]) -> bool:
    """Whether an outlet a sentence names is the page's own site (a bio, a print-edition note)."""
    no = normalize(outlet).replace(" ", "")
    if not no:
        return True
    if _DOMAIN.fullmatch(outlet.strip()) and page_url:
        return same_site(outlet.strip().lower(), page_url)
    for name in site_names:
        if name and _DOMAIN.fullmatch(name.strip()) and page_url and not same_site(name, page_url):
            continue  # a domain-like site name that is not this page's domain says nothing
        nn = normalize(name or "").replace(" ", "")
        if nn and (nn == no or (len(nn) >= 5 and (nn in no or no in nn))):
            return True
    site = site_of(page_url)
    if site:
        label = site.split(".")[0]
        if len(label) >= 4 and (label == no or no.startswith(label) or label in no):
            return True
    return False


# --- outlet names in sentences -------------------------------------------------------------------

_MONTHS = (
    r"jan(?:uary|uar)?|feb(?:ruary|ruar)?|m(?:a|ä)r(?:ch|z)?|apr(?:il)?|ma[iy]|june?|juni|july?|"
    r"juli|"
    r"aug(?:ust)?|sep(?:t|tember)?|o[ck]t(?:ober)?|nov(?:ember)?|de[cz](?:ember)?"
)
_VERBS = (
    r"writes|wrote|argues|argued|says|said|notes|warns|contends|explains|reports|opines|observes|"
    r"maintains|suggests|schreibt|argumentiert|meint|warnt|erklärt|kommentiert|berichtet"
)
_STOP_AFTER = re.compile(
    r"\s+(?:on|am|vom|at|um|and|und|who|which|where|that|dass|der am|since|seit|in (?:19|20)\d\d|"
    r"under|unter|with|mit|as part|through|via|about|über|erschienen|veröffentlicht|publiziert|"
    r"abgedruckt|zur|zum|gestellt|" + _VERBS + r")\b.*$|"
    r"\s+(?:\d{1,2}\.?\s+)?(?:" + _MONTHS + r")\b.*$",
    re.IGNORECASE,
)
_TERMINATOR = re.compile(r"[;:!?,()\[\]\"“”«»„|]|\s[—–-]\s|\.(?=\s|$)")
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an|der|die|das|dem|den|des|einer|einem|eines)\s+")
_GENERIC = re.compile(
    r"^(?:this|it|him|her|them|us|permission|print|online|the author|author|here|full|original|"
    r"edition|website|site|blog|newspaper|magazine|zeitung|page|seite|supplied|file|handout|"
    r"screenshot|archive|archiv|agencies|news agencies|agenturen|wires|staff|getty images|"
    r"[\d\s./-]+)$",
    re.IGNORECASE,
)
_PREPOSITION = re.compile(
    r"\b(?:in|on|at|to|by|from|of|with|for|bei|beim|im|auf|von|vom|unter|für)\s+", re.IGNORECASE
)

# (priority, cue, where the name starts): "label" right after the cue, "prep" after one of the
# next prepositions, "direct" right after a verb ("writes Asharq Al-Awsat").
_CUES: list[tuple[int, re.Pattern[str], str]] = [
    (
        0,
        re.compile(
            r"\b(?:source|sources|quelle|quellen|via|credit|original|erstveröffentlichung|"
            r"originally published|first published)\s*[:：]\s*|"
            r"\b(?:erschienen|veröffentlicht|published|appeared)\s+(?:in|bei|auf|on|at|"
            r"im)\s*[:：]\s*|"
            r"^\W*(?:from|via|aus|von|courtesy of|republished from|übernommen von)\s+"
            r"(?=[^:：]{2,40}[:：])",
            re.IGNORECASE,
        ),
        "label",
    ),
    (
        1,
        re.compile(
            r"\b(?:published|appeared|appears|ran|posted|printed|aired|syndicated|featured|"
            r"reprinted|republished|reproduced|re-?posted|permission|courtesy|arrangement|reading|"
            r"erschienen|erschien|veröffentlicht|publiziert|abgedruckt|genehmigung|erlaubnis|"
            r"übernommen|weiterlesen|lesen|zuerst|erstmals|ursprünglich|zunächst)\b",
            re.IGNORECASE,
        ),
        "prep",
    ),
    (
        2,
        re.compile(
            r"\b(?:writing|op-?ed|opinion piece|opinion article|opinion|column|commentary|essay|"
            r"editorial|guest post|guest essay|piece|article|post|letter|gastbeitrag|"
            r"gastkommentar|kommentar|beitrag|artikel|meinungsbeitrag|kolumne|essay|schreiben|"
            + _VERBS
            + r")\b",
            re.IGNORECASE,
        ),
        "prep",
    ),
    (
        3,
        re.compile(
            r"\b(?i:" + _VERBS + r")\s+(?=(?:the\s+|die\s+|der\s+|das\s+)?(?:[A-Z]|"
            r"[a-z][\w\-]*\.[a-z]{2,}))",
        ),
        "direct",
    ),
    (
        4,
        re.compile(
            r"\b(?:writes|blogs|reports|columnist|contributor|editor|correspondent|writer|fellow|"
            r"schreibt|kolumnist|kolumnistin|autor|autorin|redakteur|redakteurin)\b",
            re.IGNORECASE,
        ),
        "prep",
    ),
]


_QUOTES = " .'\"\u2019\u201d"


def _clean_outlet(raw: str, exclude: Sequence[str], *, label: bool = False) -> str | None:
    cut = _TERMINATOR.search(raw)
    name = raw[: cut.start()] if cut else raw
    name = _STOP_AFTER.sub("", name).strip(_QUOTES)
    name = _LEADING_ARTICLE.sub("", name).strip()
    n = len(words(name))
    if n == 0 or n > 7 or _GENERIC.match(name):
        return None
    # lowercase names only after a label ("Quelle: taz"), or when they look like a domain or a
    # brand followed by capitals ("pv magazine International")
    if not (
        name[0].isupper()
        or name[0].isdigit()
        or (label and n <= 3)
        or re.search(r"\w\.[a-z]{2,}\b", name)
        or re.match(r"^[a-z][\w\-]*(?:\s+[a-z][\w\-]*)?\s+[A-Z]", name)
    ):
        return None
    if (name[0].islower() and _PREPOSITION.search(name)) or re.match(
        r"(?:" + _MONTHS + r"|\d)\b", name, re.IGNORECASE
    ):
        return None
    nn = normalize(name)
    if any(nn == normalize(x) for x in exclude if x):
        return None
    return name


def _names_after(text: str, cue: re.Match[str], how: str, exclude: Sequence[str]) -> str | None:
    rest = text[cue.end() :]
    if how == "label":
        return _clean_outlet(rest, exclude, label=True)
    if how == "direct":
        return _clean_outlet(rest, exclude)
    window = rest[:80]
    for prep in _PREPOSITION.finditer(window):
        if len(words(window[: prep.start()])) > 5:
            break
        name = _clean_outlet(rest[prep.end() :], exclude)
        if name:
            return name
    return None


def outlet_in(text: str, *, exclude: Sequence[str] = ()) -> str | None:
    """The outlet a standfirst, attribution line or bio names, as written ("Asharq al-Awsat")."""
    for prio, cue, how in _CUES:
        # a byline cue ("a piece by X") can name the author: only there exclude authors
        for m in cue.finditer(text):
            name = _names_after(text, m, how, exclude if prio >= 2 else ())
            if name:
                return name
    # "This article originally appeared in sputniknews.com." without a cue we know: a domain
    dm = re.search(r"\b((?:[a-z0-9\-]+\.)+[a-z]{2,})\b", text, re.IGNORECASE)
    return dm.group(1) if dm else None


# --- hints from structured data ------------------------------------------------------------------


def _first_str(value: Any, *keys: str) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        for v in value:
            s = _first_str(v, *keys)
            if s:
                return s
        return None
    if isinstance(value, Mapping):
        for k in keys:
            s = _first_str(value.get(k), *keys)
            if s:
                return s
    return None


def jsonld_hint(article: Mapping[str, Any], page_url: str | None) -> OriginalHint | None:
    """``isBasedOn`` / ``isBasedOnUrl`` / ``sourceOrganization`` of the page's article object."""
    for key in ("isBasedOn", "isBasedOnUrl", "sourceOrganization"):
        value = article.get(key)
        if not value:
            continue
        url = _first_str(value, "url", "@id", "sameAs")
        if isinstance(value, str):
            url = value if re.match(r"https?://", value) else None
        name = None
        if isinstance(value, (Mapping, list)):
            name = _first_str(value, "name", "legalName", "alternateName")
            pub = value.get("publisher") if isinstance(value, Mapping) else None
            if pub:
                name = _first_str(pub, "name") or name
        if isinstance(value, str) and not url:
            name = value
        if url and page_url:
            url = urljoin(page_url, url)
        if url and same_site(url, page_url):
            url = None
            if key != "sourceOrganization":
                continue
        if url or name:
            return OriginalHint("jsonld", name, url, f"{key}: {url or name}")
    return None


def canonical_hint(canonical: str | None, page_url: str | None) -> OriginalHint | None:
    if (
        canonical
        and page_url
        and re.match(r"https?://", canonical)
        and not same_site(canonical, page_url)
    ):
        return OriginalHint("canonical", None, canonical, None)
    return None


def foreign_link(links: Iterable[str], page_url: str | None) -> str | None:
    """The first link to another site among a paragraph's links."""
    for href in links:
        absolute = urljoin(page_url or "", href)
        if re.match(r"https?://", absolute) and not same_site(absolute, page_url):
            return absolute
    return None


def merge(hints: Sequence[OriginalHint]) -> OriginalHint | None:
    """One hint: the strongest evidence, with outlet, URL and sentence filled from weaker ones."""
    if not hints:
        return None
    ranked = sorted(hints, key=lambda h: EVIDENCE_ORDER.index(h.evidence))
    if all(h.evidence == "bio" for h in ranked):
        return None  # a bio alone says where the author writes, not that this is a copy
    top = ranked[0]
    best = OriginalHint(top.evidence, top.outlet, top.url, top.text)
    for h in ranked[1:]:
        best.outlet = best.outlet or h.outlet
        best.url = best.url or h.url
        best.text = best.text or h.text
    return best


_NAME = r"((?:[A-Z][\w'’\-]+\s+){1,3}[A-Z][\w'’\-]+)"
_AUTHOR_PATTERNS = [
    re.compile(p)
    for p in (
        r"\b(?i:said|says|writes|wrote|argues|argued|notes|warns|according to|schreibt|sagt|meint|"
        r"argumentiert|warnt)\s+" + _NAME,
        r"\b(?i:op-?ed|opinion piece|column|commentary|essay|piece|article|gastbeitrag|kommentar|"
        r"beitrag|kolumne)\s+(?i:by|von)\s+" + _NAME,
        r"^\W*" + _NAME + r",?\s+(?i:writing|writes|wrote|argues|says|said|is|was|schreibt|"
        r"argumentiert|meint|ist|war)\b",
        r"^\W*([A-Z][\w'’\-]{2,}),?\s+(?i:writing|writes|argues|schreibt|argumentiert)\b",
    )
]


def author_in(text: str, *, exclude: Sequence[str] = ()) -> str | None:
    """The author a standfirst or bio names ("..., said Jane Doe, in an op-ed to ...")."""
    for pattern in _AUTHOR_PATTERNS:
        for m in pattern.finditer(text):
            name = m.group(1).strip()
            if not any(normalize(name) == normalize(x) for x in exclude if x):
                return name
    return None
