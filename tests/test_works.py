"""Works as the CLI shows them: exact JSON shape, every article in exactly one work, text form."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from opeds.errors import NotFound
from opeds.storage.catalog.db import Catalog
from opeds.works.clustering import cluster_articles, work_id_for
from opeds.works.listing import format_work_text, get_work, list_works
from tests.test_clustering import T0, add_article, body, catalog, paragraphs

__all__ = ["catalog"]  # a fixture shared with the clustering tests (catalog_url: conftest)

WORK_KEYS = {"work", "title", "authors", "original", "original_reason", "members"}
MEMBER_KEYS = {"url", "outlet", "role", "published", "captured"}


def _setup(catalog: Catalog) -> dict[str, int]:
    paras = paragraphs(101, count=8)
    ids = {
        "original": add_article(
            catalog,
            "https://www.dailyplanet.com/o",
            body(paras),
            title="Planet rivers",
            published="2025-03-01",
            authors=["Jane Roe"],
        ),
        "copy": add_article(
            catalog,
            "https://www.gazette.co.uk/c",
            body([*paras, "This article first appeared in the Daily Planet."]),
            title="Opinion: Planet rivers",
            published="2025-03-02",
            captured_at=T0 + timedelta(minutes=5),
        ),
        "single": add_article(
            catalog,
            "https://www.herald.example/s",
            body(paragraphs(102)),
            title="Alone",
        ),
    }
    cluster_articles(catalog, list(ids.values()), night="2025-03-02")
    return ids


def test_works_json_shape_and_membership(catalog: Catalog) -> None:
    _setup(catalog)
    loose = add_article(catalog, "https://www.herald.example/later", body(paragraphs(103)))
    listed = list(list_works(catalog))
    assert len(listed) == 3
    for work in listed:
        assert set(work) == WORK_KEYS
        assert work["work"].startswith("w-")
        assert all(set(m) == MEMBER_KEYS for m in work["members"])
        assert [m["role"] for m in work["members"]].count("original") == 1
        assert work["members"][0]["role"] == "original"
        assert work["original"] == work["members"][0]["url"]
        json.dumps(work)  # plain JSON types only
    urls = [m["url"] for w in listed for m in w["members"]]
    assert len(urls) == len(set(urls)) == 4  # every article in exactly one work
    pair = next(w for w in listed if len(w["members"]) == 2)
    assert pair["title"] == "Planet rivers" and pair["authors"] == ["Jane Roe"]
    assert pair["original"] == "https://www.dailyplanet.com/o"
    assert pair["members"][1] == {
        "url": "https://www.gazette.co.uk/c",
        "outlet": "www.gazette.co.uk",
        "role": "copy",
        "published": "2025-03-02",
        "captured": "2025-03-01T02:05:00Z",
    }
    assert "Daily Planet" in pair["original_reason"]
    single = next(w for w in listed if w["title"] == "Alone")
    assert single["original_reason"] == "only known copy" and len(single["members"]) == 1
    pending = next(w for w in listed if w["original_reason"] == "not clustered yet")
    assert pending["work"] == work_id_for("https://www.herald.example/later")
    assert pending["members"][0]["role"] == "original"
    cluster_articles(catalog, [loose], night="2025-03-03")
    assert get_work(catalog, pending["work"])["original_reason"] == "only known copy"


def test_get_work_and_text(catalog: Catalog) -> None:
    _setup(catalog)
    listed = {w["work"]: w for w in list_works(catalog)}
    for wid, work in listed.items():
        assert get_work(catalog, wid) == work
    with pytest.raises(NotFound, match="w-0000000000"):
        get_work(catalog, "w-0000000000")
    pair = next(w for w in listed.values() if len(w["members"]) == 2)
    text = format_work_text(pair)
    lines = text.splitlines()
    assert lines[0] == f"{pair['work']}  Planet rivers"
    assert lines[1] == "  by Jane Roe"
    assert lines[2] == "  original: https://www.dailyplanet.com/o"
    assert lines[3].startswith("  why: copy at www.gazette.co.uk credits")
    assert lines[4] == "  2 members:"
    assert lines[5].split()[:3] == ["original", "2025-03-01", "www.dailyplanet.com"]
    assert lines[6].split()[:3] == ["copy", "2025-03-02", "www.gazette.co.uk"]
