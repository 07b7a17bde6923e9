"""Syndication set end to end: crawl a local mirror of its outlets, then score ``opeds works``.

    .venv/bin/python bench/syndication_crawl.py [--corpus DIR] [--out FILE.md] [--keep DIR]

Every page of the set is served under its own URL by :class:`opeds.testing.web.LoopbackWeb` on
127.0.0.1, reached through ``http_proxy``/``https_proxy`` (https is terminated by the mirror). Each
outlet of the mirror also serves a sitemap listing its pages in the set (the only thing the mirror
adds); one source lists those sitemaps. The night is run with the real CLI (``opeds crawl``), and
``opeds works --json`` is scored against truth.jsonl with :func:`bench.syndication.score_works`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.syndication import DEFAULT_CORPUS, read_jsonl, score_works  # noqa: E402
from opeds.testing.web import LoopbackWeb, Page  # noqa: E402

SITEMAP_PATH = "/opeds-mirror-sitemap.xml"
NIGHT = "2025-01-15"


def mirror(corpus: Path) -> tuple[dict[str, Page], list[str], list[str]]:
    """Pages by URL, the per-outlet sitemap URLs, and the outlets' host names."""
    pages: dict[str, Page] = {}
    by_origin: dict[str, list[str]] = defaultdict(list)
    for row in read_jsonl(corpus / "truth.jsonl"):
        url = row["url"]
        pages[url] = Page((corpus / row["file"]).read_bytes())
        parts = urlsplit(url)
        by_origin[f"{parts.scheme}://{parts.netloc}"].append(url)
    sitemaps = []
    for origin, urls in sorted(by_origin.items()):
        locs = "".join(f"<url><loc>{escape(u)}</loc></url>" for u in urls)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
        )
        pages[origin + SITEMAP_PATH] = Page(
            body.encode(), headers=[("Content-Type", "application/xml")]
        )
        sitemaps.append(origin + SITEMAP_PATH)
    hosts = sorted({urlsplit(o).hostname or "" for o in by_origin})
    return pages, sitemaps, hosts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--out", type=Path, help="write the results table (markdown) here")
    ap.add_argument("--keep", type=Path, help="keep the archive in this folder")
    args = ap.parse_args(argv)
    truth = args.corpus / "truth.jsonl"
    if not truth.exists():
        print(f"no syndication corpus at {args.corpus}", file=sys.stderr)
        return 2
    pages, sitemaps, hosts = mirror(args.corpus)
    opeds = str(Path(sys.executable).with_name("opeds"))
    with tempfile.TemporaryDirectory(prefix="opeds-synd-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        archive = work / "archive"
        sources = work / "sources.toml"
        sources.write_text(
            '[[source]]\nname = "mirror"\n'
            f"sitemaps = {json.dumps(sitemaps)}\nallowed_domains = {json.dumps(hosts)}\n"
            "crawl_delay = 0.0\n"
        )
        with LoopbackWeb(pages) as web:
            env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
            env["http_proxy"] = env["https_proxy"] = web.proxy_url
            t = time.perf_counter()
            subprocess.run(
                [
                    opeds,
                    "crawl",
                    "--sources",
                    str(sources),
                    "--archive",
                    str(archive),
                    "--night",
                    NIGHT,
                    "--log",
                    str(work / "crawl.log"),
                    "--json",
                ],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            seconds = time.perf_counter() - t
            fetched = len(web.requests)
        out = subprocess.run(
            [opeds, "works", "--archive", str(archive), "--json"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        works = [json.loads(line) for line in out.splitlines()]
    s = score_works(works, truth)
    lines = [
        f"Syndication set crawled end to end: {s['pages']} pages on {len(hosts)} outlets served by "
        f"a local mirror through http(s)_proxy; {fetched} requests received by the mirror; night "
        f"(crawl, extract, cluster, store, index) {seconds:.0f} s.",
        "",
        "| metric | opeds (crawl + `opeds works --json`) | goal |",
        "|---|---|---|",
        f"| pairwise precision | {s['precision']:.3f} | >= 0.98 |",
        f"| pairwise recall | {s['recall']:.3f} | >= 0.95 |",
        f"| originals identified | {s['originals']:.3f} | >= 0.90 |",
        f"| predicted pairs / true pairs | {s['pairs_predicted']} / {s['pairs_true']} | |",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
