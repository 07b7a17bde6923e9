"""Clustering speed bench: signature throughput, and one night clustered against a big catalog.

    .venv/bin/python bench/clustering_speed.py [--existing 1000000] [--night 10000] [--out FILE.md]
    .venv/bin/python bench/clustering_speed.py --skip-night [--baseline REV]   # signatures only

1. Signatures: documents per second of :func:`opeds.works.minhash.sketch_texts` (text -> shingles
   -> chunk MinHashes -> LSH band keys) on one core, for real article bodies (the corpus's
   extraction ground truth, repeated) and for synthetic op-eds; beside it, datasketch used the
   plain way (one ``MinHash(num_perm=128)`` per text, ``update_batch`` over its word 5-shingles)
   and, with ``--baseline REV``, ``sketch_texts`` as it was at that git revision, timed in turns
   with the working tree's.
2. A night: a SQLite catalog under /tmp holding ``--existing`` articles' LSH rows (random band
   keys, as many per article as real op-eds get, written in bulk straight into the index
   tables), of which 2,000 are real catalog articles with bodies and works; then ``--night`` new
   articles (10% copies of catalog articles, 15% new works of three, the rest unrelated) are
   clustered with :func:`opeds.works.clustering.cluster_articles`, timed, and the result checked.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import MetaData

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opeds.storage.catalog.db import Catalog, articles, captures  # noqa: E402
from opeds.works.clustering import cluster_articles  # noqa: E402
from opeds.works.minhash import SCHEME, lsh_params, sketch_texts  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
SYLLABLES = (
    "ba be bi bo bu da de di do du fa fe fi fo ka ke ki ko la le li lo lu ma me mi mo mu na ne "
    "ni no nu pa pe pi po ra re ri ro ru sa se si so ta te ti to tu va ve vi vo za ze str tr ch "
    "sh th an en in on er ar or al el il ol ing ion ent ers est"
)
FUNCTION_WORDS = (
    "the of and to a in that is was he for it with as his on be at by i this had not are but "
    "from or have an they which one you were her all she there would their we him been has "
    "when who will more no if out so said what up its about into than them can only other"
)


# -- synthetic op-eds ---------------------------------------------------------------------------
class Writer:
    """Deterministic op-ed-like text: Zipf-distributed pseudo-words, sentences, paragraphs,
    curly quotes and dashes now and then."""

    def __init__(self, seed: int = 1, vocabulary: int = 30_000):
        self.rng = np.random.default_rng(seed)
        words: set[str] = set()
        syllables = SYLLABLES.split()
        r = random.Random(seed)
        while len(words) < vocabulary:
            words.add("".join(r.choice(syllables) for _ in range(r.randint(1, 4))))
        self.words = np.array(FUNCTION_WORDS.split() + sorted(words))
        ranks = np.arange(1, len(self.words) + 1)
        p = 1.0 / ranks**1.05
        self.p = p / p.sum()

    def paragraphs(self, n_words: int) -> list[str]:
        idx = self.rng.choice(len(self.words), size=n_words, p=self.p)
        ws = self.words[idx].tolist()
        out, para, sentence = [], [], []
        for w in ws:
            sentence.append(w)
            if len(sentence) >= 6 and self.rng.random() < 0.08:
                s = " ".join(sentence)
                if self.rng.random() < 0.1:
                    s = f"“{s}”"
                elif self.rng.random() < 0.05:
                    s = s.replace(" ", " — ", 1)
                para.append(s[0].upper() + s[1:] + ".")
                sentence = []
                if len(para) >= 3 and self.rng.random() < 0.3:
                    out.append(" ".join(para))
                    para = []
        if sentence:
            para.append(" ".join(sentence) + ".")
        if para:
            out.append(" ".join(para))
        return out

    def article(self) -> list[str]:
        return self.paragraphs(int(self.rng.integers(500, 1100)))


def outlet(n: int) -> tuple[str, str]:
    """(host, name) of synthetic outlet n."""
    a = ["northern", "daily", "civic", "harbour", "valley", "metro", "capital", "river"]
    b = ["ledger", "courier", "gazette", "review", "sentinel", "tribune", "observer", "post"]
    first, second = a[n % len(a)], b[(n // len(a)) % len(b)]
    return f"www.{first}{second}{n}.com", f"The {first.title()} {second.title()} {n}"


def edited_copy(paras: list[str], source_name: str, rng: random.Random) -> list[str]:
    out = list(paras[1:]) if rng.random() < 0.5 else list(paras)
    if rng.random() < 0.5:
        out.insert(0, f"A guest column, first published by {source_name}.")
    else:
        out.append(f"This article originally appeared in {source_name}.")
    if rng.random() < 0.3:
        out.insert(len(out) // 2, "Read also: the city council and the harbour budget")
    out.append("The views expressed in this column are the author's own.")
    return out


# -- 1. signatures ------------------------------------------------------------------------------
def corpus_bodies() -> list[str]:
    truth = CORPUS / "extraction" / "aeb" / "ground-truth.json"
    if not truth.exists():
        return []
    data = json.loads(truth.read_text())
    return [v["articleBody"] for v in data.values() if v.get("articleBody")]


def cpu_rate(fn: Callable[[Sequence[str]], Any], docs: Sequence[str], batch: int) -> float:
    """Documents per CPU second (best of three passes)."""
    return cpu_rates([fn], docs, batch)[0]


def cpu_rates(
    fns: Sequence[Callable[[Sequence[str]], Any]], docs: Sequence[str], batch: int
) -> list[float]:
    """Documents per CPU second of each function, best of three passes; the functions take
    turns, so that a busy machine slows them alike."""
    best = [float("inf")] * len(fns)
    for _ in range(3):
        for j, fn in enumerate(fns):
            gc.collect()
            t = time.process_time()
            for i in range(0, len(docs), batch):
                fn(docs[i : i + batch])
            best[j] = min(best[j], time.process_time() - t)
    return [len(docs) / b for b in best]


def baseline_sketch_texts(rev: str) -> Callable[[Sequence[str]], Any]:
    """``sketch_texts`` of ``opeds/works/minhash.py`` as it is at git revision ``rev`` (its tables
    go on a metadata of their own), to compare with the working tree in the same run."""
    source = subprocess.run(
        ["git", "show", f"{rev}:opeds/works/minhash.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    stand_in = types.ModuleType("opeds.storage.catalog.db")
    stand_in.metadata = MetaData()  # type: ignore[attr-defined]
    module = types.ModuleType(f"minhash_at_{rev}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    catalog_module = sys.modules["opeds.storage.catalog.db"]
    sys.modules["opeds.storage.catalog.db"] = stand_in
    try:
        exec(compile(source, f"{rev}:opeds/works/minhash.py", "exec"), module.__dict__)
    finally:
        sys.modules["opeds.storage.catalog.db"] = catalog_module
    fn: Callable[[Sequence[str]], Any] = module.sketch_texts
    return fn


def datasketch_plain(docs: Sequence[str]) -> None:
    from datasketch import MinHash

    for d in docs:
        w = d.lower().split()
        m = MinHash(num_perm=128)
        m.update_batch([" ".join(w[i : i + 5]).encode() for i in range(max(1, len(w) - 4))])


def bench_signatures(
    n: int, baseline: str | None = None
) -> list[tuple[str, float, float, float, float]]:
    """(documents, words per document, datasketch plain, sketch_texts, sketch_texts at
    ``baseline`` or 0) in documents per CPU second."""
    rows = []
    writer = Writer(seed=7)
    synthetic = [body for body in ("\n".join(writer.article()) for _ in range(2000))]
    sets = [("synthetic op-eds", synthetic)]
    real = corpus_bodies()
    if real:
        sets.insert(0, ("real article bodies (aeb ground truth)", real))
    fns = [sketch_texts] + ([baseline_sketch_texts(baseline)] if baseline else [])
    for name, base in sets:
        docs = (base * (n // len(base) + 1))[:n]
        words = sum(len(d.split()) for d in base) / len(base)
        rates = cpu_rates(fns, docs, 500)
        plain = cpu_rate(datasketch_plain, docs[: max(500, n // 20)], 100)
        rows.append((name, words, plain, rates[0], rates[1] if baseline else 0.0))
    return rows


# -- 2. a night against a big catalog -----------------------------------------------------------
def build_lsh_rows(db: Path, first_id: int, count: int, rows_per_doc: float, seed: int) -> int:
    """Index rows of ``count`` unrelated articles, written in bulk in key order."""
    bands = lsh_params()[0]
    rng = np.random.default_rng(seed)
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-262144")
    chunks = np.maximum(1, rng.poisson(rows_per_doc / bands, size=count))
    con.executemany(
        "INSERT INTO minhash_docs (article_id, scheme, shingles, chunks) VALUES (?, ?, ?, ?)",
        ((first_id + i, SCHEME, int(c) * 80, int(c)) for i, c in enumerate(chunks.tolist())),
    )
    total = int(chunks.sum()) * bands
    slices = max(1, total // 1_000_000)
    edges = np.linspace(-(2**63), 2**63 - 1, slices + 1, dtype=np.float64)
    for s in range(slices):
        # one million rows at a time, in key order; owners and bands at random
        n = total // slices + (1 if s < total % slices else 0)
        lo, hi = int(edges[s]), int(edges[s + 1])
        keys = np.sort(rng.integers(lo, hi, size=n, dtype=np.int64))
        band = rng.integers(0, bands, size=n)
        owner = rng.integers(first_id, first_id + count, size=n)
        con.executemany(
            "INSERT OR IGNORE INTO minhash_bands (key, band, article_id) VALUES (?, ?, ?)",
            zip(keys.tolist(), band.tolist(), owner.tolist(), strict=True),
        )
    con.commit()
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    return total


def insert_articles(catalog: Catalog, docs: list[dict[str, Any]], night: str) -> list[int]:
    """Captures and articles in bulk; returns the article ids."""
    with catalog.engine.begin() as c:
        start = (
            c.execute(
                captures.select()
                .with_only_columns(captures.c.id)
                .order_by(captures.c.id.desc())
                .limit(1)
            ).scalar()
            or 0
        ) + 1
        caps, arts = [], []
        for n, d in enumerate(docs):
            cid = start + n
            caps.append(
                {
                    "id": cid,
                    "night": night,
                    "source": "bench",
                    "kind": "article",
                    "url": d["url"],
                    "canonical_url": d["url"],
                    "captured_at": d["captured_at"],
                    "status": 200,
                    "record_type": "response",
                    "record_id": f"<urn:bench:{cid}>",
                    "warc_key": "bench.warc.gz",
                    "offset": cid,
                    "length": 1,
                }
            )
            arts.append(
                {
                    "id": cid,
                    "capture_id": cid,
                    "night": night,
                    "source": "bench",
                    "url": d["url"],
                    "canonical_url": d["url"],
                    "outlet": d["outlet"],
                    "title": d["title"],
                    "authors": "[]",
                    "published": d["published"],
                    "body": d["body"],
                    "captured_at": d["captured_at"],
                }
            )
        c.execute(captures.insert(), caps)
        c.execute(articles.insert(), arts)
    return [a["id"] for a in arts]


def bench_night(existing: int, night_size: int, workdir: Path) -> dict[str, Any]:
    rng = random.Random(3)
    writer = Writer(seed=11)
    n_targets = min(2000, existing)
    # the night: 10% copies of catalog articles, 15% new works of three, the rest unrelated
    n_copies, n_triples = night_size // 10, (night_size * 15 // 100) // 3
    n_unique = night_size - n_copies - 3 * n_triples
    targets = [writer.article() for _ in range(n_targets)]
    t0 = datetime(2025, 1, 1, 2, tzinfo=UTC)
    t1 = datetime(2025, 2, 1, 2, tzinfo=UTC)

    def doc(paras: list[str], k: int, when: datetime, tag: str) -> dict[str, Any]:
        host, _ = outlet(k)
        return {
            "url": f"https://{host}/{tag}",
            "outlet": host,
            "title": paras[0][:60],
            "published": when.strftime("%Y-%m-%d"),
            "body": "\n".join(paras),
            "captured_at": when,
        }

    night: list[dict[str, Any]] = []
    for i in range(n_copies):
        src = i % n_targets
        k = 500 + rng.randrange(400)
        night.append(doc(edited_copy(targets[src], outlet(src % 300)[1], rng), k, t1, f"c{i}"))
    for i in range(n_triples):
        paras = writer.article()
        k0 = 1000 + i % 300
        night.append(doc(paras, k0, t1, f"t{i}o"))
        for j in (1, 2):
            night.append(doc(edited_copy(paras, outlet(k0)[1], rng), k0 + 300 * j, t1, f"t{i}c{j}"))
    night += [doc(writer.article(), 2000 + i % 500, t1, f"u{i}") for i in range(n_unique)]
    rng.shuffle(night)
    sample = sketch_texts([d["body"] for d in night[:1000]])
    rows_per_doc = float(np.mean([s.keys.size for s in sample]))

    db = workdir / "catalog.sqlite"
    Catalog(f"sqlite:///{db}").close()
    t = time.perf_counter()
    synthetic = existing - n_targets
    rows = build_lsh_rows(db, 10_000_000, synthetic, rows_per_doc, seed=5)
    catalog = Catalog(f"sqlite:///{db}")
    target_docs = [doc(p, i % 300, t0, f"p{i}") for i, p in enumerate(targets)]
    ids = insert_articles(catalog, target_docs, "2025-01-01")
    cluster_articles(catalog, ids, night="2025-01-01")
    build = time.perf_counter() - t
    night_ids = insert_articles(catalog, night, "2025-02-01")
    gc.collect()
    t, c = time.perf_counter(), time.process_time()
    result = cluster_articles(catalog, night_ids, night="2025-02-01")
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    catalog.close()
    return {
        "existing": existing,
        "real_existing": n_targets,
        "lsh_rows": rows + int(rows_per_doc * n_targets),
        "rows_per_doc": rows_per_doc,
        "build_s": build,
        "db_mb": db.stat().st_size / 2**20,
        "night": night_size,
        "wall_s": wall,
        "cpu_s": cpu,
        "expected": {"joined": n_copies, "new_works": n_triples, "singletons": n_unique},
        "got": result.counts(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--existing", type=int, default=1_000_000)
    ap.add_argument("--night", type=int, default=10_000)
    ap.add_argument("--docs", type=int, default=20_000, help="documents for the signature runs")
    ap.add_argument("--out", type=Path, help="write the results (markdown) here")
    ap.add_argument("--skip-signatures", action="store_true")
    ap.add_argument("--skip-night", action="store_true", help="signatures only")
    ap.add_argument(
        "--baseline",
        metavar="REV",
        help="also time sketch_texts of opeds/works/minhash.py at this git revision, in turns",
    )
    args = ap.parse_args(argv)
    command = " ".join(["bench/clustering_speed.py", *(sys.argv[1:] if argv is None else argv)])
    lines = [
        f"Command: `.venv/bin/python {command}`",
        "",
        f"Machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; "
        "one process, one core.",
        "",
    ]
    if not args.skip_signatures:
        sig = bench_signatures(args.docs, args.baseline)
        base = ""
        if args.baseline:
            rev = subprocess.run(
                ["git", "rev-parse", "--short", args.baseline],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            base = f" sketch_texts at {rev} | speed-up |"
        lines += [
            f"### Signatures ({args.docs} documents, CPU time, best of 3)",
            "",
            "| documents | words/doc | datasketch, one MinHash(128) per text | opeds sketch_texts |"
            f" opeds per word |{base} goal |",
            "|---|---|---|---|---|" + ("---|---|" if args.baseline else "") + "---|",
            *(
                f"| {name} | {words:.0f} | {plain:,.0f} docs/s | {ours:,.0f} docs/s |"
                f" {1e9 / (ours * words):.0f} ns |"
                + (f" {old:,.0f} docs/s | x{ours / old:.2f} |" if args.baseline else "")
                + " >= 20,000 docs/s |"
                for name, words, plain, ours, old in sig
            ),
            "",
        ]
        print("\n".join(lines), flush=True)
    if args.skip_night:
        if args.out:
            args.out.write_text("\n".join(lines))
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="opeds-speed-", dir="/tmp"))
    try:
        r = bench_night(args.existing, args.night, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    night_lines = [
        f"### One night: {r['night']:,} new articles against {r['existing']:,} in the catalog",
        "",
        f"Catalog: SQLite, {r['lsh_rows']:,} LSH rows ({r['rows_per_doc']:.0f} per article), "
        f"{r['db_mb']:,.0f} MiB, built in {r['build_s']:.0f} s; {r['real_existing']:,} of the "
        "articles are real catalog rows with bodies and works.",
        "",
        "| measure | value | goal |",
        "|---|---|---|",
        f"| cluster_articles wall time | {r['wall_s']:.1f} s | <= 60 s |",
        f"| cluster_articles CPU time | {r['cpu_s']:.1f} s | |",
        f"| peak RSS of the process | {r['peak_rss_mb']:,.0f} MiB | |",
        *(f"| {k} | {r['got'][k]:,} (expected {v:,}) | |" for k, v in r["expected"].items()),
    ]
    print("\n".join(night_lines))
    if args.out:
        args.out.write_text("\n".join(lines + night_lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
