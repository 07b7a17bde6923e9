"""Capture overhead: a bare Scrapy spider against an ``opeds crawl`` night, same mirror, same run.

    .venv/bin/python bench/capture_overhead.py [--pages 5000] [--hosts 8] [--out FILE.md]
        [--keep DIR] [--crawl-only ROUNDS]

A local mirror (:class:`opeds.testing.web.LoopbackWeb` on 127.0.0.1, reached through ``http_proxy``)
serves ``--pages`` pages built from the corpus's real pages (aeb, readability, trafilatura-cache,
syndication: about 750 distinct pages), each served several times under distinct URLs
``http://mirror-H.example/p/I.html`` on ``--hosts`` fake hosts. Every copy ends with a one-line
HTML comment naming its URL, so no two payloads are identical (a real night rarely sees the same
bytes twice; identical ones would be archived as short revisit records). Each host serves a
sitemap of its pages (``lastmod`` = the night) and a robots.txt allowing everything.

1. bare: a Scrapy ``SitemapSpider`` that reads the same sitemaps and fetches every page, doing
   nothing with them, in its own child process (``AsyncCrawlerProcess``). Scrapy's default
   download handler and settings, except ``ROBOTSTXT_OBEY=True``, ``DOWNLOAD_DELAY=0`` and the
   concurrency opeds uses: ``CONCURRENT_REQUESTS``, ``CONCURRENT_REQUESTS_PER_DOMAIN`` and
   ``CONCURRENT_ITEMS`` from :func:`opeds.crawler.capture.process.scrapy_settings`, and the same
   ``DOWNLOAD_SLOTS`` (one request at a time per host, as ``opeds.crawler.capture.process`` gives
   every host of a source).
2. opeds: ``opeds crawl --sources FILE --archive DIR --night 2026-11-28 --log LOG --json`` (the
   real CLI): WARC capture (in the crawl's writer process) and catalog during the crawl, then
   extraction, clustering, metadata records, sealing, indexes and WACZ.
3. bare again. The faster of the two bare runs is the baseline, so neither a slow first run
   (cold caches) nor a slow second one (the machine busy) flatters opeds.

The crawl phase of both is Scrapy's own ``elapsed_time_seconds`` (engine start to close, from the
stats each log dumps at the end); pages/s is article pages fetched over it. The whole night is
the CLI's wall time. Peak RSS is ``/usr/bin/time -f %M`` of each child: the largest single
process of that child's tree (for opeds, the CLI, its ``opeds.crawler.capture.process`` child or
that one's WARC writer).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opeds.crawler.capture.process import scrapy_settings  # noqa: E402
from opeds.settings import Settings  # noqa: E402
from opeds.testing.web import LoopbackWeb, Page  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
NIGHT = "2026-11-28"
RSS_GOAL_MB = 500
RATIO_GOAL = 0.85

BARE_SPIDER = r"""
import json, sys, time
from scrapy.crawler import AsyncCrawlerProcess
from scrapy.spiders import SitemapSpider

cfg = json.loads(sys.argv[1])


class BareSpider(SitemapSpider):
    name = "bare"
    sitemap_urls = cfg["sitemaps"]
    allowed_domains = cfg["hosts"]

    def parse(self, response):
        self.crawler.stats.inc_value("bench/pages")


process = AsyncCrawlerProcess(cfg["settings"])
process.crawl(BareSpider)
t = time.perf_counter()
process.start()
print(json.dumps({"crawl_seconds": time.perf_counter() - t}))
"""


# -- the mirror ---------------------------------------------------------------------------------
def corpus_pages(corpus: Path) -> list[bytes]:
    """The distinct real pages of the corpus, in a fixed order."""
    ex = corpus / "extraction"
    pages = [gzip.decompress(p.read_bytes()) for p in sorted((ex / "aeb" / "html").glob("*.gz"))]
    pages += [p.read_bytes() for p in sorted((ex / "readability").glob("*/source.html"))]
    pages += [p.read_bytes() for p in sorted((ex / "trafilatura-cache").glob("*.html"))]
    pages += [p.read_bytes() for p in sorted((corpus / "syndication" / "pages").glob("*.html"))]
    return pages


@dataclass
class Mirror:
    pages: dict[str, Page]
    sitemaps: list[str]
    hosts: list[str]
    article_urls: int
    distinct: int
    html_bytes: int


def build_mirror(corpus: Path, n_pages: int, n_hosts: int) -> Mirror:
    real = corpus_pages(corpus)
    hosts = [f"mirror-{h}.example" for h in range(n_hosts)]
    pages: dict[str, Page] = {}
    per_host: dict[str, list[str]] = {h: [] for h in hosts}
    html_bytes = 0
    for i in range(n_pages):
        host = hosts[i % n_hosts]
        url = f"http://{host}/p/{i}.html"
        body = real[i % len(real)] + f"\n<!-- mirror copy: {url} -->\n".encode()
        html_bytes += len(body)
        pages[url] = Page(body)
        per_host[host].append(url)
    sitemaps = []
    for host, urls in per_host.items():
        locs = "".join(f"<url><loc>{escape(u)}</loc><lastmod>{NIGHT}</lastmod></url>" for u in urls)
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
        )
        sitemap = f"http://{host}/sitemap.xml"
        pages[sitemap] = Page(xml.encode(), headers=[("Content-Type", "application/xml")])
        robots = f"User-agent: *\nAllow: /\nSitemap: {sitemap}\n"
        pages[f"http://{host}/robots.txt"] = Page(
            robots.encode(), headers=[("Content-Type", "text/plain")]
        )
        sitemaps.append(sitemap)
    return Mirror(pages, sitemaps, hosts, n_pages, len(real), html_bytes)


class LogDrain:
    """Empties the mirror's request/response log every second: it keeps every byte it sends."""

    def __init__(self, web: LoopbackWeb) -> None:
        self.web = web
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(1.0):
            self.web.clear_log()

    def __enter__(self) -> LogDrain:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


# -- children -----------------------------------------------------------------------------------
@dataclass
class ChildRun:
    wall: float
    max_rss_mb: float
    returncode: int
    stdout: str


TIME = Path("/usr/bin/time")


def run_child(cmd: Sequence[str], env: dict[str, str], stdout: Path, stderr: Path) -> ChildRun:
    """Run ``cmd``: its wall time and the peak RSS of its tree's largest process.

    Linux keeps a process's RSS high-water mark across ``exec``, so a child forked from this
    (large: it holds the mirror) process would report this process's size. ``/usr/bin/time``
    is small when it forks the measured command, so its ``%M`` is the command's own peak.
    """
    rss_file = stdout.with_suffix(".rss")
    full = [str(TIME), "-f", "%M", "-o", str(rss_file), *cmd] if TIME.exists() else list(cmd)
    with stdout.open("wb") as out, stderr.open("wb") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(full, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
    kb = usage.ru_maxrss
    if TIME.exists():
        kb = int(rss_file.read_text().split()[-1])
    return ChildRun(wall, kb / 1024, proc.returncode, stdout.read_text())


_STAT = r"'{key}':\s*([0-9.]+)"


def scrapy_stats(log: str) -> list[dict[str, float]]:
    """Numeric values of the stats each spider dumped at its end (one dict per spider)."""
    out = []
    for dump in log.split("Dumping Scrapy stats:")[1:]:
        block = dump.split("\n}", 1)[0]
        stats = {}
        for key in (
            "elapsed_time_seconds",
            "downloader/request_count",
            "downloader/response_count",
            "downloader/response_bytes",
            "bench/pages",
            "opeds/responses",
            "opeds/revisits",
            "memusage/max",
        ):
            m = re.search(_STAT.format(key=re.escape(key)), block)
            if m:
                stats[key] = float(m.group(1))
        out.append(stats)
    return out


def log_timeline(log: str) -> list[str]:
    """The timestamped Scrapy milestone lines of a crawl log (engine, stats, closing)."""
    keep = ("Spider opened", "Crawled ", "Closing spider", "Spider closed", "Scrapy 2.")
    lines = [ln for ln in log.splitlines() if any(k in ln for k in keep) and ln[:2] == "20"]
    stats_lines = [ln for ln in lines if "Crawled " in ln]
    return [ln for ln in lines if ln not in stats_lines] + stats_lines


def child_env(proxy_url: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if "proxy" not in k.lower() and not k.startswith("OPEDS_")
    }
    env["http_proxy"] = env["https_proxy"] = proxy_url
    env["PYTHONUNBUFFERED"] = "1"
    env["OPEDS_MAX_PAGES_PER_SOURCE"] = "0"  # every page of the mirror
    return env


# -- main ---------------------------------------------------------------------------------------
def bare_settings(hosts: Sequence[str]) -> dict[str, Any]:
    night = scrapy_settings(Settings(), NIGHT, {})
    return {
        "ROBOTSTXT_OBEY": True,
        "DOWNLOAD_DELAY": 0.0,
        "CONCURRENT_REQUESTS": night["CONCURRENT_REQUESTS"],
        "CONCURRENT_REQUESTS_PER_DOMAIN": night["CONCURRENT_REQUESTS_PER_DOMAIN"],
        "CONCURRENT_ITEMS": night["CONCURRENT_ITEMS"],
        "DOWNLOAD_SLOTS": {h: {"delay": 0.0, "concurrency": 1} for h in hosts},
        "LOG_LEVEL": night["LOG_LEVEL"],
        "LOGSTATS_INTERVAL": night["LOGSTATS_INTERVAL"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--pages", type=int, default=5000, help="article pages served (default 5000)")
    ap.add_argument("--hosts", type=int, default=8, help="fake hosts (default 8)")
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--out", type=Path, help="write the results table (markdown) here")
    ap.add_argument("--keep", type=Path, help="keep the archive and logs in this folder")
    ap.add_argument(
        "--crawl-only",
        type=int,
        metavar="ROUNDS",
        help="compare crawl phases only (no extraction etc. after the crawl), in ROUNDS rounds of "
        "bare spider then opeds crawl process",
    )
    args = ap.parse_args(argv)
    if not (args.corpus / "extraction").is_dir():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        return 2
    command = "bench/capture_overhead.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    mirror = build_mirror(args.corpus, args.pages, args.hosts)
    opeds = str(Path(sys.executable).with_name("opeds"))
    load_before = os.getloadavg()
    tmp = tempfile.mkdtemp(prefix="opeds-overhead-")
    work = args.keep or Path(tmp)
    work.mkdir(parents=True, exist_ok=True)
    try:
        sources = work / "sources.toml"
        sources.write_text(
            '[[source]]\nname = "mirror"\n'
            f"sitemaps = {json.dumps(mirror.sitemaps)}\n"
            f"allowed_domains = {json.dumps(mirror.hosts)}\ncrawl_delay = 0.0\n"
        )
        archive = work / "archive"
        if archive.exists():
            shutil.rmtree(archive)
        cfg = {
            "sitemaps": mirror.sitemaps,
            "hosts": mirror.hosts,
            "settings": bare_settings(mirror.hosts),
        }
        bare_cmd = [sys.executable, "-c", BARE_SPIDER, json.dumps(cfg)]
        opeds_cmd = [
            opeds,
            "crawl",
            "--sources",
            str(sources),
            "--archive",
            str(archive),
            "--night",
            NIGHT,
            "--log",
            str(work / "opeds-crawl.log"),
            "--json",
        ]
        if args.crawl_only:
            text = crawl_rounds(args, command, mirror, bare_cmd, work)
            print(text)
            if args.out:
                args.out.write_text(text + "\n")
            return 0
        with LoopbackWeb(mirror.pages) as web, LogDrain(web):
            env = child_env(web.proxy_url)
            print(f"bare spider: {len(mirror.pages)} URLs on {args.hosts} hosts", file=sys.stderr)
            bare1 = run_child(bare_cmd, env, work / "bare1.out", work / "bare1.log")
            print(f"  {bare1.wall:.1f} s, rc {bare1.returncode}", file=sys.stderr)
            print("opeds crawl (whole night) ...", file=sys.stderr)
            night = run_child(opeds_cmd, env, work / "opeds.out", work / "opeds.err")
            print(f"  {night.wall:.1f} s, rc {night.returncode}", file=sys.stderr)
            print("bare spider again", file=sys.stderr)
            bare2 = run_child(bare_cmd, env, work / "bare2.out", work / "bare2.log")
            print(f"  {bare2.wall:.1f} s, rc {bare2.returncode}", file=sys.stderr)
        load_after = os.getloadavg()
        opeds_log = (work / "opeds-crawl.log").read_text()
        bares = []
        for run, log in ((bare1, "bare1.log"), (bare2, "bare2.log")):
            (stats,) = scrapy_stats((work / log).read_text()) or [{}]
            bares.append((run, stats))
        # the faster bare run is the baseline: the comparison never flatters opeds
        bare, bare_stats = max(bares, key=lambda b: pages_per_second(b[1]))
        other_rate = pages_per_second(min(bares, key=lambda b: pages_per_second(b[1]))[1])
        (opeds_stats,) = scrapy_stats(opeds_log) or [{}]
        report: dict[str, Any] = {}
        if night.stdout.strip():
            try:
                report = json.loads(night.stdout)
            except json.JSONDecodeError:
                report = {}
        text = render(
            args,
            command,
            mirror,
            bare,
            night,
            bare_stats,
            other_rate,
            opeds_stats,
            report,
            opeds_log,
            (load_before, load_after),
        )
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0 if bare1.returncode == bare2.returncode == night.returncode == 0 else 1


def crawl_rounds(
    args: argparse.Namespace, command: str, mirror: Mirror, bare_cmd: list[str], work: Path
) -> str:
    """Rounds of bare spider then ``opeds.crawler.capture.process`` (the crawl of ``opeds crawl``,
    nothing after it): crawl-phase pages/s of each, side by side."""
    from opeds.crawler.capture.process import run_crawl
    from opeds.crawler.sources.config import Source

    rows: list[tuple[float, float]] = []
    load_before = os.getloadavg()
    with LoopbackWeb(mirror.pages) as web, LogDrain(web):
        env = child_env(web.proxy_url)
        for r in range(args.crawl_only):
            bare = run_child(bare_cmd, env, work / f"bare-{r}.out", work / f"bare-{r}.log")
            if bare.returncode != 0:
                raise SystemExit(f"bare spider failed: see {work / f'bare-{r}.log'}")
            (b_stats,) = scrapy_stats((work / f"bare-{r}.log").read_text()) or [{}]
            archive = work / f"archive-{r}"
            settings = Settings(
                archive=str(archive),
                state_dir=str(work / f"state-{r}"),
                crawl_delay=0.0,
                max_pages_per_source=0,
            )
            source = Source.from_dict(
                {"name": "mirror", "sitemaps": mirror.sitemaps, "allowed_domains": mirror.hosts}
            )
            log = work / f"crawl-{r}.log"
            run_crawl(settings, [source], NIGHT, warcinfo={}, env=env, log_path=log)
            (o_stats,) = scrapy_stats(log.read_text()) or [{}]
            o_pages = o_stats.get("downloader/response_count", 0) - 2 * len(mirror.hosts)
            o_rate = o_pages / o_stats.get("elapsed_time_seconds", float("inf"))
            rows.append((pages_per_second(b_stats), o_rate))
            print(
                f"round {r + 1}: bare {rows[-1][0]:.0f}, opeds {o_rate:.0f} pages/s",
                file=sys.stderr,
            )
            shutil.rmtree(archive, ignore_errors=True)
    load_after = os.getloadavg()
    bare_median = statistics.median(b for b, _ in rows)
    opeds_median = statistics.median(o for _, o in rows)
    ratio = opeds_median / bare_median
    ok = "yes" if ratio >= RATIO_GOAL else "**no**"
    lines = [
        "# Capture overhead, crawl phase only: bare Scrapy spider vs opeds's crawl process",
        "",
        f"Generated by `bench/capture_overhead.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after. "
        f"Command: `.venv/bin/python {command}`",
        "",
        f"{mirror.article_urls} article pages on {len(mirror.hosts)} hosts, as in the full bench; "
        "each round runs the bare spider, then `opeds.crawler.capture.process` (WARC capture in "
        "its writer process, catalog) on a fresh archive.",
        "",
        "| round | bare pages/s | opeds pages/s | opeds / bare |",
        "|---|---|---|---|",
        *(f"| {i + 1} | {b:.1f} | {o:.1f} | {o / b:.2f} |" for i, (b, o) in enumerate(rows)),
        f"| median | {bare_median:.1f} | {opeds_median:.1f} | {ratio:.2f} "
        f"(goal >= {RATIO_GOAL}: {ok}) |",
    ]
    return "\n".join(lines)


def pages_per_second(stats: dict[str, float]) -> float:
    return stats.get("bench/pages", 0) / stats.get("elapsed_time_seconds", float("inf"))


def mem(stats: dict[str, float]) -> str:
    v = stats.get("memusage/max")
    return "?" if v is None else f"{v / 2**20:.0f} MB"


def render(
    args: argparse.Namespace,
    command: str,
    mirror: Mirror,
    bare: ChildRun,
    night: ChildRun,
    bare_stats: dict[str, float],
    other_bare_rate: float,
    opeds_stats: dict[str, float],
    report: dict[str, Any],
    opeds_log: str,
    loads: tuple[tuple[float, float, float], tuple[float, float, float]],
) -> str:
    n = mirror.article_urls
    b_sec = bare_stats.get("elapsed_time_seconds", float("nan"))
    o_sec = opeds_stats.get("elapsed_time_seconds", float("nan"))
    b_pages = int(bare_stats.get("bench/pages", 0))
    o_resp = int(opeds_stats.get("downloader/response_count", 0))
    o_pages = o_resp - 2 * len(mirror.hosts)  # robots.txt and sitemap per host
    b_rate = b_pages / b_sec
    o_rate = o_pages / o_sec
    ratio = o_rate / b_rate
    after_crawl = night.wall - o_sec
    la = " / ".join(f"{x:.2f}" for x in loads[0])
    lb = " / ".join(f"{x:.2f}" for x in loads[1])
    ok = "yes" if ratio >= RATIO_GOAL else "**no**"
    rss_ok = "yes" if night.max_rss_mb <= RSS_GOAL_MB else "**no**"
    lines = [
        "# Capture overhead: bare Scrapy spider vs `opeds crawl`, same mirror, same run",
        "",
        f"Generated by `bench/capture_overhead.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        f"Machine: {os.cpu_count()} CPUs (nproc), {platform.machine()}, CPython "
        f"{platform.python_version()}, Scrapy {version('scrapy')}, warcio {version('warcio')}; "
        f"load average (1/5/15 min) {la} before, {lb} after.",
        "",
        f"Command: `.venv/bin/python {command}`",
        "",
        f"Mirror: {n} article pages ({mirror.html_bytes / 1e6:.0f} MB of HTML) built from "
        f"{mirror.distinct} distinct real corpus pages, each served under several URLs on "
        f"{len(mirror.hosts)} hosts (`http://mirror-H.example/p/I.html`, every copy made unique "
        "by a trailing HTML comment), plus a sitemap and a robots.txt per host, served by "
        "`opeds.testing.web.LoopbackWeb` on 127.0.0.1 through `http_proxy`. The bare spider ran "
        "before and after opeds, against the same server; the faster of its two runs is the "
        f"baseline (the other: {other_bare_rate:.1f} pages/s). Concurrency for both: "
        "`CONCURRENT_REQUESTS` 16, `CONCURRENT_REQUESTS_PER_DOMAIN` 2 and, as "
        "`opeds.crawler.capture.process` sets for every host of a source, one request at a time "
        "per host (`DOWNLOAD_SLOTS`), "
        f"so {len(mirror.hosts)} requests in flight; `DOWNLOAD_DELAY` 0, robots.txt obeyed.",
        "",
        "| | bare Scrapy spider | opeds crawl | goal |",
        "|---|---|---|---|",
        f"| article pages fetched | {b_pages} | {o_pages} | {n} |",
        f"| crawl phase (Scrapy `elapsed_time_seconds`) | {b_sec:.1f} s | {o_sec:.1f} s | |",
        f"| crawl pages/s | {b_rate:.1f} | {o_rate:.1f} | |",
        f"| opeds / bare pages/s | | {ratio:.2f} | >= {RATIO_GOAL} ({ok}) |",
        f"| child process wall time | {bare.wall:.1f} s | {night.wall:.1f} s (whole night) | |",
        f"| night after the crawl (extract, cluster, metadata, seal, index, WACZ; wall "
        f"minus crawl phase) | | {after_crawl:.1f} s | |",
        f"| peak RSS (largest process of the child's tree) | {bare.max_rss_mb:.0f} MB | "
        f"{night.max_rss_mb:.0f} MB | opeds <= {RSS_GOAL_MB} MB ({rss_ok}) |",
        f"| crawl process peak RSS (Scrapy `memusage/max`) | {mem(bare_stats)} | "
        f"{mem(opeds_stats)} | |",
        f"| exit code | {bare.returncode} | {night.returncode} | 0 |",
    ]
    counts = {
        k: report[k]
        for k in sorted(report)
        if isinstance(report.get(k), int | float) and not isinstance(report.get(k), bool)
    }
    if counts:
        lines += ["", "opeds night report (`--json`, numeric fields): `" + json.dumps(counts) + "`"]
    lines += ["", "opeds crawl log milestones:", "", "```", *log_timeline(opeds_log), "```"]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
