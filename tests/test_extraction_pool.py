"""Extraction in worker processes: same articles as in-process, in order, broken pages failed."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from opeds.extraction import pool as extraction_pool
from opeds.extraction.article import ExtractedArticle
from opeds.extraction.pool import (
    ATTEMPTS,
    ExtractionFailure,
    PageInput,
    default_workers,
    extract_pages,
)

FIXTURES = Path(__file__).parent / "fixtures" / "extract"


def pages(corpus: Path | None = None) -> list[PageInput]:
    """The seed pages, and with ``corpus`` ten real pages of its readability set besides."""
    files = sorted(FIXTURES.glob("*.html"))
    assert files, FIXTURES
    if corpus is not None:
        real = sorted((corpus / "extraction" / "readability").glob("*/source.html"))[:10]
        assert len(real) == 10, corpus
        files += real
    return [
        PageInput(p.read_bytes(), f"https://example.org/{i}/{p.parent.name}/{p.name}")
        for i, p in enumerate(files)
    ]


def tasks(items: list[PageInput]) -> list[tuple[int, Callable[[], PageInput]]]:
    def loader(page: PageInput) -> Callable[[], PageInput]:
        return lambda: page

    return [(i, loader(p)) for i, p in enumerate(items)]


def as_dicts(results: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    out = []
    for tag, outcome in results:
        assert isinstance(outcome, ExtractedArticle), outcome
        out.append((tag, outcome.to_json()))
    return out


@pytest.fixture(params=["seed", pytest.param("corpus", marks=pytest.mark.corpus)])
def page_set(request: pytest.FixtureRequest) -> list[PageInput]:
    if request.param == "corpus":
        return pages(request.getfixturevalue("corpus_dir"))
    return pages()


def test_workers_give_the_same_articles_in_the_same_order(page_set: list[PageInput]) -> None:
    items = page_set
    inline = list(extract_pages(tasks(items), workers=0))
    pooled = list(extract_pages(tasks(items), workers=2, tasks_per_worker=2))
    assert [t for t, _ in pooled] == list(range(len(items)))
    assert as_dicts(pooled) == as_dicts(inline)
    assert any(o.body for _, o in inline if isinstance(o, ExtractedArticle))


class _Crash(bytes):
    """Page bytes that end the process unpickling them, as a crash in lxml would."""

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return os._exit, (3,)


def test_a_page_that_cannot_be_loaded_or_kills_its_worker_fails_alone() -> None:
    first, second = pages()[:2]

    def unreadable() -> PageInput:
        raise OSError("record truncated")

    work: list[tuple[str, Callable[[], PageInput]]] = [
        ("a", lambda: first),
        ("unreadable", unreadable),
        ("b", lambda: second),
        ("crash", lambda: PageInput(_Crash(b"<html></html>"), "https://example.org/crash")),
        ("c", lambda: first),
    ]
    out = dict(extract_pages(work, workers=2))
    assert list(out) == ["a", "unreadable", "b", "crash", "c"]
    assert out["unreadable"] == ExtractionFailure("OSError: record truncated", "record truncated")
    crash = out["crash"]
    assert isinstance(crash, ExtractionFailure)
    assert crash.reason.startswith("ExtractionWorkerDied:") and "exit code 3" in crash.reason
    for tag in "abc":
        assert isinstance(out[tag], ExtractedArticle)


def test_what_workers_log_is_logged_here(caplog: pytest.LogCaptureFixture) -> None:
    page = pages()[0]
    with caplog.at_level("DEBUG"):
        out = list(extract_pages([(0, lambda: page)], workers=1))
    assert isinstance(out[0][1], ExtractedArticle) and out[0][1].body
    from_worker = [r for r in caplog.records if r.process != os.getpid()]
    assert any(r.name.startswith("trafilatura") for r in from_worker)


def test_a_handful_of_pages_is_extracted_in_process() -> None:
    assert default_workers(1) == 0
    assert default_workers(1000) >= 1


class _Hang(bytes):
    """Page bytes whose unpickling never ends (as an extractor stuck on a page would)."""

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        import time

        return time.sleep, (3600,)


def test_a_page_that_hangs_its_worker_is_killed_and_fails_after_its_tries() -> None:
    first = pages()[0]
    work: list[tuple[str, Callable[[], PageInput]]] = [
        ("hang", lambda: PageInput(_Hang(b"<html></html>"), "https://example.org/hang")),
        ("a", lambda: first),
    ]
    out = dict(extract_pages(work, workers=2, page_timeout=2))
    hang = out["hang"]
    assert isinstance(hang, ExtractionFailure)
    assert hang.reason.startswith("ExtractionTimedOut:") and f"{ATTEMPTS} tries" in hang.reason
    assert isinstance(out["a"], ExtractedArticle)


def test_workers_that_cannot_start_give_each_page_a_bounded_number_of_tries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Workers that die before reading a page (here: their module cannot be imported), with pages
    larger than a socket buffer, so that sends fail too: every page ends, failed, naming why."""
    monkeypatch.setattr(extraction_pool, "WORKER_MODULE", "opeds.no_such_worker")
    started: list[int] = []
    real = extraction_pool.worker_command

    def counting(fd: int, level: int) -> list[str]:
        started.append(fd)
        return real(fd, level)

    monkeypatch.setattr(extraction_pool, "worker_command", counting)
    big = b"<html><body>" + b"<p>" + b"x" * 400_000 + b"</p></body></html>"
    work = [(i, (lambda i=i: PageInput(big, f"https://example.org/{i}"))) for i in range(6)]
    out = list(extract_pages(work, workers=2))
    assert [t for t, _ in out] == list(range(6))
    for _, outcome in out:
        assert isinstance(outcome, ExtractionFailure)
        assert "No module named" in outcome.reason and f"{ATTEMPTS} tries" in outcome.reason
    assert len(started) <= ATTEMPTS * 6


HOST_SCRIPT = """
import sys
if __name__ != "__main__":
    raise SystemExit("the host's main module was imported again: " + __name__)
from pathlib import Path
from opeds.extraction.pool import PageInput, extract_pages
html = Path(sys.argv[1]).read_bytes()
work = [(i, (lambda: PageInput(html, f"https://example.org/{i}"))) for i in range(10)]
kinds = [type(o).__name__ for _, o in extract_pages(work, workers=2)]
print(" ".join(kinds))
"""


@pytest.mark.parametrize("how", ["script", "python -c"])
def test_the_pool_works_in_any_host_process(tmp_path: Path, how: str) -> None:
    """Workers neither re-import the host's ``__main__`` nor read what its environment points
    at (an Airflow task runner forbids its database), nor import from the working folder."""
    import subprocess
    import sys

    page = tmp_path / "page.html"
    page.write_bytes(pages()[0].html)
    cwd = tmp_path / "cwd"
    for shadow in ("opeds", "crawler"):  # a folder named like the package, where the host runs
        (cwd / shadow).mkdir(parents=True)
        (cwd / shadow / "__init__.py").write_text("raise ImportError('shadowed')\n")
    script = tmp_path / "host.py"
    script.write_text(HOST_SCRIPT)
    cmd = [sys.executable, "-P", str(script)] if how == "script" else [sys.executable, "-P", "-c"]
    if how != "script":
        cmd.append(HOST_SCRIPT.replace('if __name__ != "__main__"', "if False"))
    env = dict(os.environ, AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="airflow-db-not-allowed:///")
    done = subprocess.run(
        [*cmd, str(page)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["ExtractedArticle"] * 10, done.stderr[-2000:]
