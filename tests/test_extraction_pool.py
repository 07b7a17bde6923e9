"""Extraction in worker processes: same articles as in-process, in order, broken pages failed."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crawler.extract import ExtractedArticle
from opeds.extraction_pool import ExtractionFailure, PageInput, default_workers, extract_pages

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
