"""Running a crawl: Scrapy in a child process, so any number of nights can run in one program.

:func:`run_crawl` writes a job file, starts ``python -m opeds.crawler.capture.process JOB`` and
reads back a result file. The child builds one Scrapy crawler per source (each with its own
politeness and WARC files) and runs them together; a Twisted reactor therefore never has to be
restarted in the caller (CLI, tests, Airflow workers).
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from opeds import __version__
from opeds.crawler.sources.config import Source
from opeds.errors import OpedsError
from opeds.interpreter import child_environment, python_command
from opeds.settings import Settings

logger = logging.getLogger(__name__)


class CrawlError(OpedsError):
    """The crawl process failed as a whole (not a single page: those are counted)."""


@dataclass
class SourceResult:
    source: str
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    finish_reason: str = ""


@dataclass
class CrawlResult:
    night: str
    sources: dict[str, SourceResult]

    def total(self, key: str) -> int:
        return sum(r.counts.get(key, 0) for r in self.sources.values())


def scrapy_settings(settings: Settings, night: str, warcinfo: Mapping[str, str]) -> dict[str, Any]:
    """The Scrapy settings of a night's crawl (shared by every source)."""
    return {
        "BOT_NAME": "opeds",
        "USER_AGENT": settings.user_agent.format(version=__version__),
        "ROBOTSTXT_OBEY": settings.obey_robots,
        "ROBOTSTXT_USER_AGENT": "opeds",
        "DOWNLOAD_HANDLERS": {
            "http": "opeds.crawler.capture.handler.ArchivingDownloadHandler",
            "https": "opeds.crawler.capture.handler.ArchivingDownloadHandler",
        },
        "EXTENSIONS": {
            "opeds.crawler.capture.extension.WarcCaptureExtension": 100,
            "scrapy.extensions.telnet.TelnetConsole": None,
            "scrapy.extensions.remote_control.RemoteControl": None,
        },
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "opeds.crawler.capture.retry.RetryAfterMiddleware": 550,
            "opeds.crawler.capture.resume.ArchivedTonightMiddleware": 960,
        },
        "OPEDS_BLOCK_PRIVATE_ADDRESSES": settings.block_private_addresses,
        "OPEDS_RETRY_AFTER_MAX": settings.retry_after_max,
        "CONCURRENT_REQUESTS": settings.concurrent_requests,
        # Scrapy starts this many tasks for every callback's output; the spider yields requests
        # (no items, no item pipelines), so a few are plenty and 100 per page are pure overhead
        "CONCURRENT_ITEMS": 4,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
        "DOWNLOAD_DELAY": settings.crawl_delay,
        "DOWNLOAD_TIMEOUT": settings.download_timeout,
        "DOWNLOAD_MAXSIZE": settings.max_page_bytes,
        "DOWNLOAD_WARNSIZE": max(settings.max_page_bytes // 2, 1),
        "COOKIES_ENABLED": False,
        "RETRY_TIMES": 2,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
        "REDIRECT_MAX_TIMES": 10,
        "LOG_LEVEL": "INFO",
        "LOGSTATS_INTERVAL": 30.0,
        "OPEDS_NIGHT": night,
        "OPEDS_SPOOL_DIR": str(settings.spool_path),
        # where sealed files are read back from when a night resumes (no credentials here)
        "OPEDS_ARCHIVE": settings.archive if settings.is_remote else "",
        "OPEDS_S3_ENDPOINT_URL": settings.s3_endpoint_url or "",
        "OPEDS_S3_REGION": settings.s3_region or "",
        "OPEDS_WARC_PREFIX": settings.warc_prefix,
        "OPEDS_WARC_MAX_BYTES": settings.warc_max_bytes,
        "OPEDS_GZIP_LEVEL": settings.gzip_level,
        "OPEDS_WARCINFO": dict(warcinfo),
    }


def _slots(sources: Sequence[Source], default_delay: float) -> dict[str, dict[str, Any]]:
    """Per-host politeness: each host of a source gets the source's delay, one at a time."""
    slots: dict[str, dict[str, Any]] = {}
    for src in sources:
        delay = default_delay if src.crawl_delay is None else src.crawl_delay
        hosts = set(src.allowed_domains)
        for u in (*src.feeds, *src.sitemaps, *src.start_urls):
            hosts.add((urlsplit(u).hostname or "").lower())
        for h in hosts:
            slots[h] = {"delay": delay, "concurrency": 1}
    return slots


def run_crawl(
    settings: Settings,
    sources: Sequence[Source],
    night: str,
    *,
    warcinfo: Mapping[str, str],
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    timeout: float | None = None,
) -> CrawlResult:
    """Crawl ``sources`` for ``night`` in a child process and return what happened per source."""
    job = {
        "settings": settings.public_dict(),
        "sources": [s.to_dict() for s in sources],
        "night": night,
        "warcinfo": dict(warcinfo),
    }
    with tempfile.TemporaryDirectory(prefix="opeds-crawl-") as tmp:
        job_path = Path(tmp) / "job.json"
        result_path = Path(tmp) / "result.json"
        job["result_path"] = str(result_path)
        job_path.write_text(json.dumps(job))
        child_env = child_environment(env)
        child_env.setdefault("PYTHONUNBUFFERED", "1")
        cmd = python_command("opeds.crawler.capture.process", str(job_path))
        try:
            if log_path:
                with open(log_path, "ab") as out:
                    proc = subprocess.run(
                        cmd, env=child_env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout
                    )
                returncode = proc.returncode
            else:
                returncode = _run_relaying_log(cmd, child_env, timeout)
        except subprocess.TimeoutExpired:
            raise CrawlError(f"crawl of night {night} did not finish within {timeout} s") from None
        if not result_path.exists():
            where = f" (log: {log_path})" if log_path else ""
            raise CrawlError(f"crawl process exited with code {returncode}{where}")
        data = json.loads(result_path.read_text())
    return CrawlResult(
        night=night,
        sources={name: SourceResult(**r) for name, r in data["sources"].items()},
    )


_LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[(?P<name>[^\]]+)\] "
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL): (?P<message>.*)$"
)
_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}
crawl_log = logging.getLogger("opeds.crawl")
"""The crawl process's log, line by line at its own level, when it goes to no file."""


def _run_relaying_log(cmd: Sequence[str], env: Mapping[str, str], timeout: float | None) -> int:
    """Run the crawl process, logging each line it writes at the line's own level (so a host
    that treats stderr as errors, such as Airflow's task runner, shows INFO as INFO)."""
    import threading

    proc = subprocess.Popen(
        cmd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None

    def relay() -> None:
        assert proc.stdout is not None
        level = logging.INFO
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            m = _LOG_LINE.match(line)
            if m:
                level = _LEVELS[m["level"]]
                crawl_log.log(level, "[%s] %s", m["name"], m["message"])
            elif line:  # a traceback's or a multi-line message's next line
                crawl_log.log(level, "%s", line)

    reader = threading.Thread(target=relay, name="opeds-crawl-log", daemon=True)
    reader.start()
    try:
        returncode = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    finally:
        reader.join(timeout=10)
    return returncode


def _run_job(job: dict[str, Any]) -> dict[str, Any]:
    from opeds.crawler.capture.writer_process import ArchiveProcess

    s = job["settings"]
    s["revisit_days"] = tuple(s["revisit_days"])
    settings = Settings(**s)
    sources = [Source.from_dict(d) for d in job["sources"]]
    night = job["night"]
    base = scrapy_settings(settings, night, job["warcinfo"])
    base["DOWNLOAD_SLOTS"] = _slots(sources, settings.crawl_delay)
    # the WARC writer starts while Scrapy sets up, so it is ready before the first request
    writer = ArchiveProcess.attach() if base.get("OPEDS_CAPTURE_ENABLED", True) else None

    from scrapy import signals
    from scrapy.crawler import AsyncCrawlerProcess

    from opeds.crawler.capture.spider import OpedSpider

    process = AsyncCrawlerProcess(base)
    results: dict[str, Any] = {}
    handlers = []  # Scrapy holds signal receivers weakly: keep them alive here

    for src in sources:
        crawler = process.create_crawler(OpedSpider)

        def stopped(_crawler: Any = crawler) -> None:
            # after every spider_closed handler: the capture's last counts are in by now
            spider = _crawler.spider
            if spider is None:
                return
            stats = _crawler.stats.get_stats() if _crawler.stats else {}
            counts = {
                k[len("opeds/") :]: int(v)
                for k, v in stats.items()
                if k.startswith("opeds/") and isinstance(v, int)
            }
            for k in ("downloader/request_count", "downloader/response_count"):
                counts[k.split("/")[1]] = int(stats.get(k, 0))
            for k, v in stats.items():
                if k.startswith("downloader/exception_type_count/"):
                    counts["exception/" + k.rsplit("/", 1)[-1].rsplit(".", 1)[-1]] = int(v)
            results[spider.source_name] = {
                "source": spider.source_name,
                "counts": counts,
                "failures": spider.failures,
                "finish_reason": str(stats.get("finish_reason", "")),
            }

        handlers.append(stopped)
        crawler.signals.connect(stopped, signal=signals.engine_stopped)
        process.crawl(
            crawler,
            source=src.to_dict(),
            night=night,
            catalog_url=settings.effective_catalog_url,
            sitemap_window_days=settings.sitemap_window_days,
            revisit_days=settings.revisit_days,
            max_pages=settings.max_pages_per_source,
        )
    try:
        process.start()
    finally:
        if writer is not None:
            writer.detach()
    return {"night": night, "sources": results}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m opeds.crawler.capture.process JOB.json", file=sys.stderr)
        return 2
    job = json.loads(Path(args[0]).read_text())
    result = _run_job(job)
    tmp = Path(job["result_path"] + ".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(job["result_path"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
