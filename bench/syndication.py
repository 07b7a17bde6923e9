"""Syndication quality bench: cluster the corpus's syndication set and score it against truth.

    .venv/bin/python bench/syndication.py [--corpus ../shared/corpus/syndication] [--out FILE.md]

Each page is extracted directly (``opeds.extraction.article.extract_article`` when it exists,
else trafilatura for the body and metadata and lxml for rel=canonical), inserted into a fresh SQLite
catalog and clustered with :func:`opeds.works.clustering.cluster_articles`; the works are read back
with :func:`opeds.works.listing.list_works`. The baseline, in the same run: trafilatura bodies,
datasketch ``MinHashLSH(threshold=0.5)`` (128 permutations) over word 5-shingles of the lower-cased
body (every page joined with all its LSH neighbours, no verification) and the earliest published
date (trafilatura's) as the original.

Scores (:func:`score_works`, reusable on a works JSONL from a crawl):

* pairwise precision: of all pairs of pages put in one work, the share that truth.jsonl puts in
  one work; pairwise recall: of all pairs truth puts in one work, the share put in one work.
  Every page is in exactly one cluster (singletons are clusters of one, and give no pairs);
  pages missing from the works count as singletons.
* originals: of the works in truth.jsonl, the share whose copies' cluster names the true
  original. The cluster judged is the one holding most of the work's pages (ties: the one with
  the original); a work whose original is split from its copies therefore counts as wrong.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opeds.storage.catalog.db import Article, Capture, Catalog  # noqa: E402
from opeds.works.clustering import cluster_articles, norm_url  # noqa: E402
from opeds.works.listing import list_works  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "syndication"
CAPTURED = datetime(2025, 1, 15, 3, 0, tzinfo=UTC)


# -- scoring ------------------------------------------------------------------------------------
def _key(url: str) -> str:
    return norm_url(url)


def score_works(works: Iterable[dict[str, Any]], truth_path: str | Path) -> dict[str, Any]:
    """Pairwise precision and recall and original accuracy of works against truth.jsonl."""
    truth = [json.loads(line) for line in Path(truth_path).read_text().splitlines() if line]
    pages = {_key(t["url"]): t for t in truth}
    cluster_of: dict[str, int] = {}
    original_of: dict[int, str] = {}
    for n, work in enumerate(works):
        original_of[n] = _key(work["original"])
        for m in work["members"]:
            k = _key(m["url"])
            if k in pages and k not in cluster_of:
                cluster_of[k] = n
    next_id = len(original_of)
    for k in pages:
        if k not in cluster_of:
            cluster_of[k] = next_id
            original_of[next_id] = k
            next_id += 1
    true_pairs, pred_pairs = set(), set()
    for a, b in itertools.combinations(sorted(pages), 2):
        wa, wb = pages[a]["work"], pages[b]["work"]
        if wa is not None and wa == wb:
            true_pairs.add((a, b))
        if cluster_of[a] == cluster_of[b]:
            pred_pairs.add((a, b))
    tp = len(true_pairs & pred_pairs)
    by_work: dict[str, list[str]] = {}
    for k, t in pages.items():
        if t["work"] is not None:
            by_work.setdefault(t["work"], []).append(k)
    right = 0
    for work_pages in by_work.values():
        original = next(k for k in work_pages if pages[k]["role"] == "original")
        votes = Counter(cluster_of[k] for k in work_pages)
        top = max(votes.values())
        tied = [c for c, v in votes.items() if v == top]
        cluster = cluster_of[original] if cluster_of[original] in tied else min(tied)
        right += original_of[cluster] == original
    return {
        "pages": len(pages),
        "works": len(by_work),
        "precision": tp / len(pred_pairs) if pred_pairs else 1.0,
        "recall": tp / len(true_pairs) if true_pairs else 1.0,
        "originals": right / len(by_work) if by_work else 1.0,
        "pairs_true": len(true_pairs),
        "pairs_predicted": len(pred_pairs),
    }


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    with open(path) as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


# -- extraction -----------------------------------------------------------------------------------
@dataclass
class Page:
    url: str
    outlet: str
    title: str | None
    authors: list[str]
    published: str | None
    body: str
    canonical: str | None
    hint: dict[str, Any] | None
    trafilatura_body: str
    trafilatura_date: str | None


def _canonical(html: str) -> str | None:
    from lxml import html as lhtml

    try:
        doc = lhtml.fromstring(html)
    except Exception:
        return None
    for link in doc.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            return str(link.get("href")).strip()
    return None


def extract_pages(corpus: Path, extractor: str = "auto") -> tuple[list[Page], str]:
    import trafilatura

    extract: Any = None
    if extractor == "auto":
        try:
            from opeds.extraction.article import extract_article as extract
        except ImportError:
            extract = None
    pages = []
    for t in read_jsonl(corpus / "truth.jsonl"):
        html = (corpus / t["file"]).read_text(encoding="utf-8")
        url = t["url"]
        tbody = trafilatura.extract(html, url=url, include_comments=False) or ""
        meta = trafilatura.extract_metadata(html, default_url=url)
        tdate = meta.date if meta else None
        if extract is not None:
            art = extract(html, url)
            hint = art.original.to_json() if art.original is not None else None
            pages.append(
                Page(
                    url,
                    urlsplit(url).hostname or "",
                    art.title,
                    list(art.authors or []),
                    art.published,
                    art.body or "",
                    art.canonical,
                    hint,
                    tbody,
                    tdate,
                )
            )
        else:
            authors = (
                [a.strip() for a in (meta.author or "").split(";") if a.strip()] if meta else []
            )
            pages.append(
                Page(
                    url,
                    urlsplit(url).hostname or "",
                    meta.title if meta else None,
                    authors,
                    tdate,
                    tbody,
                    _canonical(html),
                    None,
                    tbody,
                    tdate,
                )
            )
    return pages, "extract_article" if extract is not None else "trafilatura"


# -- the two systems ------------------------------------------------------------------------------
def run_opeds(pages: list[Page], workdir: Path) -> tuple[list[dict[str, Any]], float]:
    catalog = Catalog(f"sqlite:///{workdir / 'catalog.sqlite'}")
    ids = []
    for n, p in enumerate(pages):
        cap = Capture(
            night="2025-01-15",
            source="bench",
            kind="article",
            url=p.url,
            canonical_url=p.url,
            captured_at=CAPTURED,
            status=200,
            record_type="response",
            record_id=f"<urn:bench:{n}>",
            warc_key="bench.warc.gz",
            offset=n,
            length=1,
        )
        cap_id = catalog.add_capture(cap)
        art = Article(
            capture_id=cap_id,
            night="2025-01-15",
            source="bench",
            url=p.url,
            canonical_url=p.url,
            outlet=p.outlet,
            captured_at=CAPTURED,
            title=p.title,
            authors=p.authors,
            published=p.published,
            page_canonical=p.canonical,
            original_hint=p.hint,
            body=p.body,
        )
        ids.append(catalog.add_article(art))
    t = time.perf_counter()
    cluster_articles(catalog, ids, night="2025-01-15")
    elapsed = time.perf_counter() - t
    works = list(list_works(catalog))
    catalog.close()
    return works, elapsed


def run_baseline(pages: list[Page]) -> list[dict[str, Any]]:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    hashes = []
    for n, p in enumerate(pages):
        words = re.findall(r"\w+", p.trafilatura_body.lower())
        shingles = {" ".join(words[i : i + 5]).encode() for i in range(max(1, len(words) - 4))}
        m = MinHash(num_perm=128)
        m.update_batch(shingles)
        hashes.append(m)
        lsh.insert(n, m)
    parent = list(range(len(pages)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for n, m in enumerate(hashes):
        for other in lsh.query(m):
            parent[find(int(other))] = find(n)
    groups: dict[int, list[int]] = {}
    for n in range(len(pages)):
        groups.setdefault(find(n), []).append(n)
    works = []
    for members in groups.values():
        dated = [(pages[n].trafilatura_date or "9999", n) for n in members]
        first = min(dated)[1]
        works.append(
            {
                "original": pages[first].url,
                "members": [{"url": pages[n].url} for n in members],
            }
        )
    return works


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--out", type=Path, help="write the results table (markdown) here")
    ap.add_argument("--works", type=Path, help="write opeds' works (first extractor) as JSONL")
    ap.add_argument(
        "--extractor",
        choices=("auto", "trafilatura", "both"),
        default="both",
        help="auto: opeds.extraction.article.extract_article when present; trafilatura: its "
        "bodies and metadata as they are; both: one column each",
    )
    args = ap.parse_args(argv)
    truth = args.corpus / "truth.jsonl"
    if not truth.exists():
        print(f"no syndication corpus at {args.corpus}", file=sys.stderr)
        return 2
    runs: list[tuple[str, dict[str, Any], float, float]] = []
    base: dict[str, Any] = {}
    for choice in ("auto", "trafilatura") if args.extractor == "both" else (args.extractor,):
        t = time.perf_counter()
        pages, extractor = extract_pages(args.corpus, choice)
        t_extract = time.perf_counter() - t
        with tempfile.TemporaryDirectory() as tmp:
            works, t_cluster = run_opeds(pages, Path(tmp))
        if args.works and not runs:
            with open(args.works, "w") as fh:
                for w in works:
                    fh.write(json.dumps(w, ensure_ascii=False) + "\n")
        runs.append((extractor, score_works(works, truth), t_extract, t_cluster))
        if not base:
            base = score_works(run_baseline(pages), truth)
        if args.extractor == "both" and extractor == "trafilatura":
            break
    first = runs[0][1]
    metrics = [
        ("pairwise precision", "precision", ">= 0.98"),
        ("pairwise recall", "recall", ">= 0.95"),
        ("originals identified", "originals", ">= 0.90"),
    ]
    heads = " | ".join(f"opeds, {name} bodies" for name, *_ in runs)
    lines = [
        f"Syndication set: {first['pages']} pages, {first['works']} works, "
        f"{first['pairs_true']} true pairs. "
        + "; ".join(
            f"{name}: extraction {te:.0f} s, clustering {tc:.1f} s" for name, _, te, tc in runs
        )
        + ".",
        "",
        f"| metric | baseline (trafilatura + MinHashLSH 0.5 + earliest date) | {heads} | goal |",
        "|---|---|" + "---|" * len(runs) + "---|",
        *(
            f"| {label} | {base[key]:.3f} | "
            + " | ".join(f"{r[key]:.3f}" for _, r, _, _ in runs)
            + f" | {goal} |"
            for label, key, goal in metrics
        ),
        f"| predicted pairs | {base['pairs_predicted']} | "
        + " | ".join(str(r["pairs_predicted"]) for _, r, _, _ in runs)
        + " | |",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
