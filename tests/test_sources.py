from __future__ import annotations

from pathlib import Path

import pytest

from opeds.crawler.sources.config import load_sources
from opeds.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "sources.toml"
    p.write_text(text)
    return p


def test_shipped_production_sources_validate() -> None:
    sf = load_sources(ROOT / "sources.toml")
    names = {s.name for s in sf.sources}
    assert {"asharq-al-awsat", "syrian-observer", "project-syndicate"} <= names
    for s in sf.sources:
        assert s.allowed_domains and (s.feeds or s.sitemaps or s.start_urls)


def test_demo_sources_validate() -> None:
    sf = load_sources(ROOT / "opeds" / "demo" / "sources.toml")
    assert len(sf.sources) >= 3


def test_valid_source_defaults_allowed_domains(tmp_path: Path) -> None:
    sf = load_sources(
        write(
            tmp_path,
            '[[source]]\nname = "a"\nfeeds = ["https://News.example/feed"]\ncrawl_delay = 2\n',
        )
    )
    (src,) = sf.sources
    assert src.allowed_domains == ("news.example",)
    assert src.crawl_delay == 2.0
    assert len(sf.sha256) == 64


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('[[source]]\nname = "Bad Name"\nfeeds = ["https://x.example/"]\n', "field 'name'"),
        ('[[source]]\nname = "a"\nfeeds = ["ftp://x.example/"]\n', "field 'feeds'"),
        ('[[source]]\nname = "a"\n', "at least one of feeds"),
        (
            '[[source]]\nname = "a"\nstart_urls = ["https://x.example/"]\n',
            "field 'article_pattern'",
        ),
        (
            '[[source]]\nname = "a"\nstart_urls = ["https://x.example/"]\narticle_pattern = "(("\n',
            "invalid regular expression",
        ),
        (
            '[[source]]\nname = "a"\nfeeds = ["https://x.example/"]\ncrawl_delay = -1\n',
            "crawl_delay",
        ),
        ('[[source]]\nname = "a"\nfeeds = ["https://x.example/"]\nfeed = 1\n', "unknown field"),
        (
            '[[source]]\nname = "a"\nfeeds = ["https://x.example/"]\n'
            '[[source]]\nname = "a"\nfeeds = ["https://y.example/"]\n',
            "duplicate source name",
        ),
        ("name = 1\n", "unknown top-level key"),
        ("[[source]\n", "invalid TOML"),
    ],
)
def test_errors_name_file_source_and_field(tmp_path: Path, body: str, needle: str) -> None:
    p = write(tmp_path, body)
    with pytest.raises(ConfigError) as e:
        load_sources(p)
    msg = str(e.value)
    assert str(p) in msg
    assert needle in msg


def test_error_names_the_source(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        '[[source]]\nname = "good"\nfeeds = ["https://x.example/"]\n'
        '[[source]]\nname = "second"\nfeeds = ["nope"]\n',
    )
    with pytest.raises(ConfigError, match=r"source #2 \('second'\): field 'feeds'"):
        load_sources(p)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sources file not found"):
        load_sources(tmp_path / "nope.toml")


def test_select_unknown_source(tmp_path: Path) -> None:
    sf = load_sources(write(tmp_path, '[[source]]\nname = "a"\nfeeds = ["https://x.example/"]\n'))
    assert [s.name for s in sf.select(None)] == ["a"]
    with pytest.raises(ConfigError, match="no source named b"):
        sf.select(["b"])
