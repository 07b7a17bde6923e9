"""Syndication dedup: cluster article copies into works and name each work's original.

A night's articles are shingled and sketched (:mod:`opeds.works.minhash`), their LSH band keys are
looked up in the catalog's index in bulk, and each candidate pair is *verified* on the full
shingle sets: the share of the smaller text found in the other (containment, so excerpts and
copies with dropped or added paragraphs join) and a minimum number of shared shingles. Pages of
one site share chrome (bios, disclaimers, related links) that an extractor may leave in the body,
so two articles of the same site must agree much more to be one work.

Verified pairs are joined transitively; a group that touches existing works joins (or merges)
them, so a copy archived weeks later lands in the earlier work. Then every touched work's
original is chosen again, strongest evidence first (see :func:`choose_original`).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import tldextract
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

from opeds.errors import NotFound
from opeds.storage.catalog.db import Catalog, articles, as_utc, works
from opeds.works.minhash import (
    U32,
    MinHashIndex,
    Sketch,
    shared_keys,
    shingle_batch,
    sketch_batch,
)

QUERY_CHUNK = 5000
TEXT_CHUNK = 500
"""Articles whose bodies are read and shingled at a time: a night's bodies are never all in
memory at once, only their shingle sets."""
WORK_CHUNK = 200
"""Works whose members are read at a time when their originals are chosen."""


@dataclass(frozen=True)
class ClusterConfig:
    """Verification thresholds; the defaults suit op-ed bodies of a few hundred words or more."""

    min_shared: int = 25
    """Shingles two texts must share (all of the smaller one's, if it has fewer)."""
    min_containment: float = 0.4
    """Share of the smaller text's shingles found in the other, for different sites."""
    same_site_containment: float = 0.8
    """The same for two articles of one site, whose bodies may share page chrome."""
    max_candidates: int = 24
    """LSH candidates verified per article, those sharing most band keys first."""
    per_key: int = 64
    """Postings read per band key (see :meth:`MinHashIndex.candidates`)."""


@dataclass
class ClusterResult:
    """What one :func:`cluster_articles` run did.

    Counts are of the articles given to the run: ``joined`` went into a work that existed
    before the run, ``singletons`` are alone in their work, ``unchanged`` had been clustered
    by an earlier run. ``new_works`` counts works created by the run with two or more members,
    ``merged`` existing works folded into another one because a new copy linked them.
    """

    night: str
    new_works: int = 0
    joined: int = 0
    singletons: int = 0
    merged: int = 0
    unchanged: int = 0
    assignments: dict[int, str] = field(default_factory=dict)
    """Article id -> work id, for every article given."""

    def counts(self) -> dict[str, int]:
        return {
            "new_works": self.new_works,
            "joined": self.joined,
            "singletons": self.singletons,
            "merged": self.merged,
            "unchanged": self.unchanged,
            "articles": len(self.assignments),
        }


# -- sites and outlet names ---------------------------------------------------------------------
_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
_GENERIC_LABELS = frozenset(
    [
        "www",
        "www1",
        "www2",
        "m",
        "mobile",
        "amp",
        "english",
        "en",
        "edition",
        "news",
        "blog",
        "blogs",
        "web",
        "online",
        "international",
        "intl",
        "beta",
        "home",
        "static",
        "www-origin",
    ]
)
_GENERIC_SUFFIXES = (
    "news",
    "online",
    "daily",
    "magazine",
    "mag",
    "media",
    "tv",
    "blog",
    "digital",
    "web",
    "hq",
    "live",
    "today",
    "network",
    "group",
    "com",
)
_PARTICLES = frozenset(
    [
        "the",
        "a",
        "an",
        "al",
        "el",
        "der",
        "die",
        "das",
        "le",
        "la",
        "les",
        "il",
        "lo",
        "de",
        "du",
        "des",
        "of",
        "and",
        "und",
        "et",
        "y",
    ]
)
_WORD = re.compile(r"[^\W_]+")
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_URL = re.compile(r"(?:https?://)?(?:[\w-]+\.)+[a-z]{2,}(?:/[^\s\"'<>)\]]*)?", re.IGNORECASE)


def fold(text: str) -> str:
    """Lower case ASCII letters for a name: accents dropped, ``ß`` as ``ss``."""
    if text.isascii():
        return text.lower()
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text.casefold()))


@lru_cache(maxsize=4096)
def site_of(host_or_url: str) -> str:
    """The registrable domain of a host or URL (``english.aawsat.com`` -> ``aawsat.com``)."""
    host = urlsplit(host_or_url).hostname if "/" in host_or_url else host_or_url
    host = (host or host_or_url).lower().strip(".")
    ext = _TLD(host)
    return ext.top_domain_under_public_suffix or host


@lru_cache(maxsize=4096)
def site_labels(host: str) -> tuple[str, ...]:
    """Name-like labels of a host: its registrable label first, then distinctive subdomains."""
    ext = _TLD(host.lower())
    labels = [ext.domain, *reversed(ext.subdomain.split("."))]
    out: list[str] = []
    for label in labels:
        label = fold(label).replace("-", "").replace("_", "")
        if len(label) >= 2 and label not in _GENERIC_LABELS and label not in out:
            out.append(label)
    return tuple(out)


Token = tuple[str, bool]
"""A word folded to lower case, and whether it was written with a capital."""


_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


@lru_cache(maxsize=65536)
def tokens(text: str) -> tuple[Token, ...]:
    """Words of a text for name matching; camel-case words split ("WordPress": word, press)."""
    out: list[Token] = []
    plain = text.isascii()
    for word in _WORD.findall(text):
        if word.islower() or word.isupper() or word[1:].islower():
            out.append((word.lower() if plain else fold(word), word[0].isupper()))
            continue
        for part in _CAMEL.split(word):
            if part:
                out.append((part.lower() if plain else fold(part), part[0].isupper()))
    return tuple(out)


def _plain_words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def _spell(label: str, toks: Sequence[Token], i: int, p: int) -> int:
    """Index after the last token if ``toks[i:]`` spells ``label[p:]`` (0 if not).

    Each token gives the next letters either whole or, when capitalised, by a prefix (initials:
    "New York Times" spells ``nytimes``); particles ("al", "the") may be skipped inside a name.
    """
    if p == len(label):
        return i
    if i >= len(toks):
        return 0
    word, cap = toks[i]
    if label.startswith(word, p):
        end = _spell(label, toks, i + 1, p + len(word))
        if end:
            return end
    if cap and word not in _PARTICLES:
        for n in range(len(word) - 1, 0, -1):
            if label.startswith(word[:n], p):
                end = _spell(label, toks, i + 1, p + n)
                if end:
                    return end
    if p > 0 and word in _PARTICLES:
        return _spell(label, toks, i + 1, p)
    return 0


@dataclass(frozen=True)
class Mention:
    strength: int  # 2: the name spells the site's label; 1: it spells a distinctive prefix
    phrase: str


_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


def find_mention(toks: Sequence[Token], labels: Sequence[str], raw: str = "") -> Mention | None:
    """:func:`name_mention`, also trying German umlauts spelled out (``Süddeutsche``,
    ``sueddeutsche``)."""
    found = name_mention(toks, labels, raw)
    if (found is None or found.strength < 2) and raw and raw != raw.translate(_UMLAUTS):
        spelled = raw.translate(_UMLAUTS)
        again = name_mention(tokens(spelled), labels, spelled)
        if again is not None and (found is None or again.strength > found.strength):
            return again
    return found


def name_mention(toks: Sequence[Token], labels: Sequence[str], raw: str = "") -> Mention | None:
    """Does a run of tokens name a site with these labels? Strong when the tokens spell a label
    (``The Guardian`` / ``theguardian``, ``Asharq al-Awsat`` / ``aawsat``, ``NYT``), or a label
    less a generic suffix (``CBS`` / ``cbsnews``); weak when capitalised words spell a long
    prefix of it (``Beachbody`` / ``beachbodyondemand``)."""
    best: Mention | None = None
    for i, (word, _cap) in enumerate(toks):
        for label in labels:
            if not label or word[:1] != label[:1]:
                continue
            end = _spell(label, toks, i, 0)
            if not end:
                for suffix in _GENERIC_SUFFIXES:
                    if label.endswith(suffix) and len(label) - len(suffix) >= 3:
                        end = _spell(label[: -len(suffix)], toks, i, 0)
                        if end:
                            break
            if end:
                return Mention(2, _phrase(toks, i, end, raw))
            if best is None:
                j, spelled = i, ""
                while j < len(toks) and toks[j][1] and label.startswith(spelled + toks[j][0]):
                    spelled += toks[j][0]
                    j += 1
                if len(spelled) >= 5 and len(spelled) * 2 >= len(label):
                    best = Mention(1, _phrase(toks, i, j, raw))
    return best


def _phrase(toks: Sequence[Token], i: int, end: int, raw: str) -> str:
    words = [w for w, _ in toks[i:end]]
    if raw:
        m = re.search(r"\W*".join(re.escape(w) for w in words), fold(raw))
        if m and len(fold(raw)) == len(raw):
            return raw[m.start() : m.end()]
    return " ".join(words)


def norm_url(url: str | None) -> str:
    """A URL for comparison: no scheme, ``www.``, query, fragment or trailing slash; lower case."""
    if not url:
        return ""
    url = url.strip()
    if "//" not in url:
        url = "//" + url
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    host = host[4:] if host.startswith("www.") else host
    path = parts.path.rstrip("/")
    return f"{host}{path}"


# -- members and the choice of the original -----------------------------------------------------
@dataclass
class Member:
    """One article of a work, with what the choice of its original looks at."""

    id: int
    url: str
    canonical_url: str
    outlet: str
    captured_at: datetime
    night: str = ""
    """The night of the capture: captures are ordered by night first (a backfilled night is
    earlier than a later night archived before it), then by time."""
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    page_canonical: str | None = None
    original_hint: dict[str, Any] | None = None
    body: str | None = None
    site_name: str | None = None
    work_id: str | None = None
    role: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> Member:
        d = row._mapping
        return cls(
            id=int(d["id"]),
            url=d["url"],
            canonical_url=d["canonical_url"],
            outlet=d["outlet"],
            captured_at=as_utc(d["captured_at"]) or d["captured_at"],
            night=d.get("night") or "",
            title=d.get("title"),
            authors=json.loads(d["authors"]) if d.get("authors") else [],
            published=d.get("published"),
            page_canonical=d.get("page_canonical"),
            original_hint=json.loads(d["original_hint"]) if d.get("original_hint") else None,
            body=d.get("body"),
            site_name=d.get("site_name"),
            work_id=d.get("work_id"),
            role=d.get("role"),
        )

    @property
    def site(self) -> str:
        return site_of(self.outlet)

    def labels(self) -> tuple[str, ...]:
        labels = list(site_labels(self.outlet))
        if self.site_name:
            name = "".join(w for w, _ in tokens(self.site_name) if w not in ("the",))
            if len(name) >= 3 and name not in labels:
                labels.append(name)
        return tuple(labels)

    def urls(self) -> set[str]:
        return {u for u in (norm_url(self.url), norm_url(self.canonical_url)) if u}


@dataclass(frozen=True)
class Evidence:
    source: int  # the member whose page says so
    target: int  # the member it points at
    level: int  # 3 explicit attribution, 2 canonical, 1 weak attribution
    reason: str


_LEVEL_WEIGHT = {3: 100, 2: 10, 1: 1}
MAX_LINE_SCAN = 50
"""Works with more members than this are judged on hints, canonicals and dates only (reading
every line of every member against every other member grows with the square of the size)."""


def published_key(published: str | None) -> tuple[str, str] | None:
    """(day, time) of a published date string, in UTC when it has an offset; time is "" when
    only the day is known."""
    if not published:
        return None
    text = published.strip()
    m = re.match(r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?))?", text)
    if not m:
        return None
    if not m.group(2):
        return m.group(1), ""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return m.group(1), m.group(2)
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%d"), dt.strftime("%H:%M:%S")


class _Texts:
    """Lines and shingles of the members of one work, for attribution checks."""

    def __init__(self, members: Sequence[Member]):
        self.lines: dict[int, list[str]] = {}
        self.full: dict[int, str] = {}
        self.flat: dict[int, str] = {}
        self.sets: dict[int, U32] = {}
        self.line_ids: dict[tuple[int, int], U32] = {}
        texts: list[str] = []
        owners: list[tuple[int, int | None]] = []  # (member, None) for a whole text, else a line
        for m in members:
            lines = [ln.strip() for ln in (m.body or "").splitlines() if ln.strip()]
            self.lines[m.id] = lines
            self.full[m.id] = "\n".join([m.title or "", *lines])
            texts.append(self.full[m.id])
            owners.append((m.id, None))
            for idx, line in [(-1, m.title or ""), *enumerate(lines)]:
                texts.append(line)
                owners.append((m.id, idx))
        batch = shingle_batch(texts)
        for pos, (mid, at) in enumerate(owners):
            if at is None:
                self.sets[mid] = batch.set_of(pos)
            else:
                self.line_ids[(mid, at)] = batch.of(pos)

    def added_lines(self, member: Member, members: Sequence[Member]) -> int:
        """Body lines of ``member`` that no other member of another site carries: what a
        republisher adds (standfirst, bio, disclaimer, tags) and an original lacks."""
        others = [y for y in members if y.id != member.id and y.site != member.site]
        return sum(
            1
            for idx, line in enumerate(self.lines[member.id])
            if not any(self.carries(y.id, member.id, idx, line) for y in others)
        )

    def carries(self, member: int, source: int, idx: int, line: str) -> bool:
        """Does ``member``'s text hold line ``idx`` of ``source`` (most of it), too?"""
        ids = self.line_ids[(source, idx)]
        if ids.size < 4:  # fewer than 8 words: look for the words themselves
            words = " ".join(_plain_words(line))
            if not words:
                return True
            if member not in self.flat:
                self.flat[member] = " " + " ".join(_plain_words(self.full[member])) + " "
            return f" {words} " in self.flat[member]
        held = self.sets[member]
        if held.size == 0:
            return False
        at = np.minimum(np.searchsorted(held, ids), held.size - 1)
        return bool(np.count_nonzero(held[at] == ids) * 2 >= ids.size)


def _where(index: int, count: int) -> str:
    if index < 0:
        return "headline"
    if index < 3:
        return "top of the text"
    if index >= count - 4:
        return "end of the text"
    return "text"


def _snippet(line: str, limit: int = 120) -> str:
    line = " ".join(line.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _name_key(name: str) -> tuple[str, ...]:
    words = tuple(w for w, _ in tokens(name))
    return words[1:] if words[:1] == ("the",) and len(words) > 1 else words


def _contains(words: Sequence[str], part: Sequence[str]) -> bool:
    n = len(part)
    return n > 0 and any(tuple(words[i : i + n]) == tuple(part) for i in range(len(words) - n + 1))


def _aliases(
    members: Sequence[Member], by_url: Mapping[str, Member], texts: _Texts | None = None
) -> dict[int, set[tuple[str, ...]]]:
    """Names the work itself gives its members: a page's site name, the outlet name of a hint
    whose URL is a member, the names a page pointing its canonical at a member adds."""
    out: dict[int, set[tuple[str, ...]]] = defaultdict(set)
    for m in members:
        if m.site_name and _name_key(m.site_name):
            out[m.id].add(_name_key(m.site_name))
    for x in members:
        hint = x.original_hint or {}
        target = by_url.get(norm_url(hint.get("url")))
        name = hint.get("outlet")
        if target is not None and target.site != x.site and isinstance(name, str) and name:
            key = _name_key(name)
            if key:
                out[target.id].add(key)
    # a page whose rel=canonical points at a member and that names an outlet in a line of its
    # own names that member ("Source: Wikimedia Foundation" on a copy of a Wikipedia page)
    if texts is not None:
        for x in members:
            target = by_url.get(norm_url(x.page_canonical))
            if target is None or target.site == x.site or not x.page_canonical:
                continue
            rest = [y for y in members if y.site not in (x.site, target.site)]
            for idx, line in enumerate(texts.lines[x.id]):
                if texts.carries(target.id, x.id, idx, line):
                    continue
                for _y, mention in _named(line, rest, {}):
                    if mention.strength == 2 and _name_key(mention.phrase):
                        out[target.id].add(_name_key(mention.phrase))
    return out


def _named(
    text: str, others: Sequence[Member], aliases: Mapping[int, set[tuple[str, ...]]]
) -> list[tuple[Member, Mention]]:
    """The members a text names: by a name the work gives them if any, else by their sites."""
    toks = tokens(text)
    words = [w for w, _ in toks]
    known = [
        (y, Mention(2, " ".join(alias)))
        for y in others
        for alias in sorted(aliases.get(y.id, ()))
        if _contains(words, alias)
    ]
    if known:
        return list({y.id: (y, m) for y, m in known}.values())
    found = []
    for y in others:
        mention = find_mention(toks, y.labels(), text)
        if mention:
            found.append((y, mention))
    return found


def collect_evidence(members: Sequence[Member]) -> list[Evidence]:
    """Every statement of one member that another member is the original."""
    out: list[Evidence] = []
    by_url: dict[str, Member] = {}
    for m in members:
        for u in m.urls():
            by_url.setdefault(u, m)
    texts = _Texts(members)
    aliases = _aliases(members, by_url, texts)
    for x in members:
        others = [y for y in members if y.id != x.id and y.site != x.site]
        if not others:
            continue
        # 1. the extractor's hint: a URL, else an outlet name
        hint = x.original_hint or {}
        kind = str(hint.get("evidence") or "attribution")
        target = by_url.get(norm_url(hint.get("url")))
        name = hint.get("outlet")
        if target is not None and target.id != x.id and target.site != x.site:
            level = 2 if kind in ("canonical", "jsonld") else 3
            what = (
                "has rel=canonical pointing here"
                if kind == "canonical"
                else "points here in its JSON-LD"
                if kind == "jsonld"
                else f"says it appeared first in {name.strip()} ({kind})"
                if isinstance(name, str) and name.strip()
                else f"says it appeared first at {target.outlet} ({kind})"
            )
            out.append(Evidence(x.id, target.id, level, f"copy at {x.outlet} {what}"))
        elif isinstance(name, str) and name.strip():
            for y, mention in _named(name, others, aliases):
                out.append(
                    Evidence(
                        x.id,
                        y.id,
                        3 if mention.strength == 2 else 1,
                        f"copy at {x.outlet} says it appeared first in {name.strip()} ({kind})",
                    )
                )
        # 2. the page's own rel=canonical pointing at another member
        if x.page_canonical and norm_url(x.page_canonical) not in x.urls():
            target = by_url.get(norm_url(x.page_canonical))
            if target is not None and target.id != x.id and target.site != x.site:
                out.append(
                    Evidence(
                        x.id, target.id, 2, f"copy at {x.outlet} has rel=canonical pointing here"
                    )
                )
        # 3. lines of the copy that name another member (outlet or URL) and that member lacks
        if len(members) > MAX_LINE_SCAN:
            continue
        lines = texts.lines[x.id]
        for idx, line in [(-1, x.title or ""), *enumerate(lines)]:
            lacking = [y for y in others if not texts.carries(y.id, x.id, idx, line)]
            if not line or not lacking:
                continue
            named: dict[int, tuple[int, str]] = {}
            for u in (norm_url(t) for t in _URL.findall(line)):
                linked = by_url.get(u)
                if linked is not None and linked in lacking:
                    named[linked.id] = (2, linked.outlet)
            for y, mention in _named(line, lacking, aliases):
                if y.id not in named:
                    named[y.id] = (mention.strength, mention.phrase)
            for yid, (strength, phrase) in named.items():
                out.append(
                    Evidence(
                        x.id,
                        yid,
                        3 if strength == 2 else 1,
                        f"copy at {x.outlet} credits {phrase} ({_where(idx, len(lines))}:"
                        f' "{_snippet(line)}")',
                    )
                )
    return out


def choose_original(members: Sequence[Member]) -> tuple[Member, str]:
    """The original of a work and why, strongest evidence first: a copy naming another member's
    outlet or URL as its source (the extractor's hint, or a line of the copy that the named
    member does not carry), a cross-site rel=canonical pointing at a member, the earliest
    published date, the earliest capture."""
    if len(members) == 1:
        return members[0], "only known copy"
    evidence = collect_evidence(members)
    score: Counter[int] = Counter()
    seen: set[tuple[int, int, int]] = set()
    for e in evidence:
        if (e.source, e.target, e.level) in seen:
            continue
        seen.add((e.source, e.target, e.level))
        score[e.target] += _LEVEL_WEIGHT[e.level]
        score[e.source] -= _LEVEL_WEIGHT[e.level]
    by_id = {m.id: m for m in members}
    if score and max(score.values()) > 0:
        top = max(score.values())
        best = min((by_id[i] for i, s in score.items() if s == top), key=_age_key)
        backing = sorted(
            (e for e in evidence if e.target == best.id),
            key=lambda e: (-e.level, e.source),
        )
        reason = backing[0].reason
        sources = {e.source for e in backing if e.level == backing[0].level}
        if len(sources) > 1:
            more = len(sources) - 1
            reason += f"; {more} more {'copy agrees' if more == 1 else 'copies agree'}"
        return best, reason
    dated = [(published_key(m.published), m) for m in members]
    known = [(k, m) for k, m in dated if k is not None]
    if known:
        day = min(k[0] for k, _ in known)
        first = [(k, m) for k, m in known if k[0] == day]
        if len(first) > 1 and all(k[1] for k, _ in first):
            t = min(k[1] for k, _ in first)
            first = [(k, m) for k, m in first if k[1] == t]
        when = day if len(first) == 1 or not first[0][0][1] else f"{day} {first[0][0][1]}"
        if len(first) == 1:
            return first[0][1], f"earliest published date ({when}) of {len(members)} copies"
        tied = [m for _, m in first]
        texts = _Texts(members)
        added = {m.id: texts.added_lines(m, members) for m in tied}
        fewest = min(added.values())
        best = min((m for m in tied if added[m.id] == fewest), key=_age_key)
        if sum(1 for m in tied if added[m.id] == fewest) == 1:
            return best, (
                f"earliest published date ({when}), shared by {len(tied)} copies; the others"
                " add lines it does not have"
            )
        return best, (
            f"earliest published date ({when}), shared by {len(tied)} copies; captured first"
        )
    best = min(members, key=_age_key)
    return best, (
        f"captured first (night {best.night}, {best.captured_at:%Y-%m-%d %H:%M} UTC); no"
        " attribution, canonical or published date"
    )


def _age_key(m: Member) -> tuple[str, datetime, int]:
    return (m.night, m.captured_at, m.id)


def _naming_key(m: Member) -> tuple[str, str, int]:
    """The member a new work is named after: of its earliest night, the first canonical URL.
    Not the first captured: the same nights archived again (another machine, another order of
    the crawl) give the same work ids."""
    return (m.night, m.canonical_url, m.id)


# -- verification -------------------------------------------------------------------------------
def same_work(a: U32, b: U32, same_site: bool, config: ClusterConfig) -> bool:
    """Verify an LSH candidate pair on the full shingle sets (sorted, distinct ids)."""
    small = min(a.size, b.size)
    if small == 0:
        return False
    shared = int(np.intersect1d(a, b, assume_unique=True).size)
    if shared < min(config.min_shared, small):
        return False
    need = config.same_site_containment if same_site else config.min_containment
    return shared >= need * small


def work_id_for(canonical_url: str, salt: str = "") -> str:
    """Stable short id of a work, from its first member's canonical URL (:func:`_naming_key`)."""
    return "w-" + hashlib.sha1((canonical_url + salt).encode("utf-8")).hexdigest()[:10]


# -- the clustering run -------------------------------------------------------------------------
class _Union:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _select_in(conn: Connection, column: Any, values: Sequence[Any], *cols: Any) -> list[Any]:
    rows: list[Any] = []
    table = column.table
    for i in range(0, len(values), QUERY_CHUNK):
        q = select(*(cols or (table,))).where(column.in_(list(values[i : i + QUERY_CHUNK])))
        rows.extend(conn.execute(q))
    return rows


_NO_BODY = tuple(c for c in articles.c if c.name != "body")
"""Every column of an article but its body."""


def _shingle_bodies(
    conn: Connection, ids: Sequence[int], sets: dict[int, U32], sketches: dict[int, Sketch] | None
) -> None:
    """Shingle sets (and sketches, when given a dict for them) of articles, read
    :data:`TEXT_CHUNK` bodies at a time."""
    for i in range(0, len(ids), TEXT_CHUNK):
        chunk = ids[i : i + TEXT_CHUNK]
        bodies = dict(_select_in(conn, articles.c.id, chunk, articles.c.id, articles.c.body))
        batch = shingle_batch([bodies[aid] or "" for aid in chunk])
        del bodies
        if sketches is not None:
            sketches.update(zip(chunk, sketch_batch(batch), strict=True))
        for j, aid in enumerate(chunk):
            sets[aid] = batch.set_of(j)


def cluster_articles(
    catalog: Catalog,
    article_ids: Iterable[int],
    *,
    night: str,
    config: ClusterConfig = ClusterConfig(),
) -> ClusterResult:
    """Assign every given article to exactly one work, new or existing, and persist it all
    (index rows, works, ``articles.work_id`` and ``role``) in one transaction.

    Idempotent: articles that already belong to a work are left as they are.
    """
    ids = sorted(set(article_ids))
    result = ClusterResult(night=night)
    if not ids:
        return result
    index = MinHashIndex()
    with catalog.engine.begin() as conn:
        rows = {
            m.id: m for m in map(Member.from_row, _select_in(conn, articles.c.id, ids, *_NO_BODY))
        }
        missing = [i for i in ids if i not in rows]
        if missing:
            raise NotFound(f"articles not in the catalog: {missing[:10]}")
        indexed = index.indexed(conn, ids)
        todo = [rows[i] for i in ids if rows[i].work_id is None]
        for m in rows.values():
            if m.work_id is not None:
                result.unchanged += 1
                result.assignments[m.id] = m.work_id
        to_index = [m for m in rows.values() if m.id not in indexed]
        if not todo and not to_index:
            return result
        need = {m.id: m for m in [*todo, *to_index]}
        sketches: dict[int, Sketch] = {}
        sets: dict[int, U32] = {}
        _shingle_bodies(conn, sorted(need), sets, sketches)
        hits = index.candidates(conn, {m.id: sketches[m.id] for m in todo}, per_key=config.per_key)
        for aid, found in shared_keys(sketches, per_key=config.per_key).items():
            if aid in hits:
                for other, n in found.items():
                    hits[aid][other] = hits[aid].get(other, 0) + n
        adding = sorted(m.id for m in to_index)
        for i in range(0, len(adding), TEXT_CHUNK):
            index.add(conn, {aid: sketches[aid] for aid in adding[i : i + TEXT_CHUNK]})
        del sketches
        if todo:
            _cluster(conn, todo, hits, sets, night, config, result)
    return result


def _cluster(
    conn: Connection,
    todo: list[Member],
    hits: Mapping[int, Mapping[int, int]],
    sets: dict[int, U32],
    night: str,
    config: ClusterConfig,
    result: ClusterResult,
) -> None:
    todo_ids = {m.id for m in todo}
    wanted: dict[int, list[int]] = {}
    for aid, found in hits.items():
        ranked = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))
        wanted[aid] = [c for c, _ in ranked[: config.max_candidates]]
    outside = sorted({c for cs in wanted.values() for c in cs} - todo_ids)
    known: dict[int, Member] = {}
    if outside:
        cols = (articles.c.id, articles.c.outlet, articles.c.work_id)
        for row in _select_in(conn, articles.c.id, outside, *cols):
            if row.work_id is not None:
                known[int(row.id)] = Member(
                    id=int(row.id),
                    url="",
                    canonical_url="",
                    outlet=row.outlet,
                    captured_at=datetime.min,
                    work_id=row.work_id,
                )
        _shingle_bodies(conn, sorted(known), sets, None)
    members = {m.id: m for m in todo} | known
    uf = _Union()
    for m in todo:
        uf.find(f"a{m.id}")
    checked: set[tuple[int, int]] = set()
    for aid, cands in wanted.items():
        for c in cands:
            if c not in members:
                continue
            pair = (min(aid, c), max(aid, c))
            if pair in checked:
                continue
            checked.add(pair)
            a, b = members[aid], members[c]
            if not same_work(sets[aid], sets[c], a.site == b.site, config):
                continue
            uf.union(f"a{aid}", f"w{b.work_id}" if c not in todo_ids else f"a{c}")
    groups: dict[str, list[Member]] = defaultdict(list)
    existing: dict[str, set[str]] = defaultdict(set)
    for node in list(uf.parent):
        root = uf.find(node)
        if node.startswith("a"):
            groups[root].append(members[int(node[1:])])
        else:
            existing[root].add(node[1:])
    _apply(conn, groups, existing, night, result)


def _apply(
    conn: Connection,
    groups: Mapping[str, list[Member]],
    existing: Mapping[str, set[str]],
    night: str,
    result: ClusterResult,
) -> None:
    old_ids = sorted({w for ws in existing.values() for w in ws})
    old = {
        r.id: r for r in _select_in(conn, works.c.id, old_ids, works.c.id, works.c.created_night)
    }
    wanted = {
        work_id_for(min(new, key=_naming_key).canonical_url)
        for root, new in groups.items()
        if not existing.get(root)
    }
    in_use = set(_select_in(conn, works.c.id, sorted(wanted), works.c.id))
    free = wanted - {r.id for r in in_use}
    taken: set[str] = set()
    new_rows: list[dict[str, Any]] = []
    moves: list[dict[str, Any]] = []
    touched: set[str] = set()
    for root, new in sorted(groups.items(), key=lambda kv: min(m.id for m in kv[1])):
        have = sorted(existing.get(root, ()), key=lambda w: (old[w].created_night or "", w))
        if have:
            target = have[0]
            for loser in have[1:]:
                conn.execute(
                    update(articles).where(articles.c.work_id == loser).values(work_id=target)
                )
                conn.execute(delete(works).where(works.c.id == loser))
                result.merged += 1
            result.joined += len(new)
        else:
            first = min(new, key=_naming_key)
            target = _fresh_id(conn, first.canonical_url, taken, free)
            new_rows.append({"id": target, "created_night": night})
            if len(new) > 1:
                result.new_works += 1
            else:
                result.singletons += 1
        taken.add(target)
        touched.add(target)
        for m in new:
            moves.append({"b_id": m.id, "b_work": target})
            result.assignments[m.id] = target
    if new_rows:
        conn.execute(insert(works), new_rows)
    if moves:
        conn.execute(
            update(articles)
            .where(articles.c.id == bindparam("b_id"))
            .values(work_id=bindparam("b_work")),
            moves,
        )
    _settle_originals(conn, sorted(touched))


def _fresh_id(conn: Connection, canonical_url: str, taken: set[str], free: set[str]) -> str:
    """The work id for a new work first seen at this URL; salted if another work has it."""
    salt = ""
    for n in range(1000):
        wid = work_id_for(canonical_url, salt)
        if wid not in taken and (
            wid in free or conn.execute(select(works.c.id).where(works.c.id == wid)).first() is None
        ):
            return wid
        salt = f"#{n + 1}"
    raise RuntimeError(f"no free work id for {canonical_url}")


def _settle_originals(conn: Connection, work_ids: Sequence[str]) -> None:
    """Choose (again) the original of each work, and write roles and the works rows
    (:data:`WORK_CHUNK` works at a time)."""
    for i in range(0, len(work_ids), WORK_CHUNK):
        _settle_chunk(conn, work_ids[i : i + WORK_CHUNK])


def _settle_chunk(conn: Connection, work_ids: Sequence[str]) -> None:
    by_work: dict[str, list[Member]] = defaultdict(list)
    for row in _select_in(conn, articles.c.work_id, list(work_ids)):
        m = Member.from_row(row)
        by_work[m.work_id or ""].append(m)
    roles: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for wid in work_ids:
        members = sorted(by_work[wid], key=lambda m: m.id)
        original, reason = choose_original(members)
        for m in members:
            role = "original" if m.id == original.id else "copy"
            if m.role != role:
                roles.append({"b_id": m.id, "b_role": role})
        title = original.title or next((m.title for m in members if m.title), None)
        rows.append({"b_wid": wid, "b_title": title, "b_orig": original.id, "b_why": reason})
    if rows:
        conn.execute(
            update(works)
            .where(works.c.id == bindparam("b_wid"))
            .values(
                title=bindparam("b_title"),
                original_article=bindparam("b_orig"),
                original_reason=bindparam("b_why"),
            ),
            rows,
        )
    if roles:
        conn.execute(
            update(articles)
            .where(articles.c.id == bindparam("b_id"))
            .values(role=bindparam("b_role")),
            roles,
        )
