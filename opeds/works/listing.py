"""Works as archivists see them: one op-ed, its original and every archived copy.

Every article is in exactly one work: clustering gives singletons a work of their own, and an
article not clustered yet is shown as a work of its own (with the id clustering would give it
if nothing joined it, and the reason "not clustered yet").
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import select

from opeds.errors import NotFound
from opeds.storage.catalog.db import Catalog, articles, as_utc, works
from opeds.works.clustering import work_id_for

_MEMBER_COLUMNS = (
    articles.c.id,
    articles.c.url,
    articles.c.canonical_url,
    articles.c.outlet,
    articles.c.title,
    articles.c.authors,
    articles.c.published,
    articles.c.captured_at,
    articles.c.role,
    articles.c.work_id,
)
_WORK_COLUMNS = (
    works.c.id.label("w_id"),
    works.c.title.label("w_title"),
    works.c.original_article.label("w_original"),
    works.c.original_reason.label("w_reason"),
)


def _work_dict(rows: Sequence[Any]) -> dict[str, Any]:
    """One work from its member rows (all with the same work id, or one unclustered article)."""
    head = rows[0]
    if head.w_id is None:
        wid, title, original_id, reason = (
            work_id_for(head.canonical_url),
            head.title,
            head.id,
            "not clustered yet",
        )
    else:
        wid, title, original_id, reason = head.w_id, head.w_title, head.w_original, head.w_reason
    original = next((r for r in rows if r.id == original_id), None)
    if original is None:
        original = next((r for r in rows if r.role == "original"), rows[0])
    ordered = [original, *sorted((r for r in rows if r is not original), key=_captured_key)]
    return {
        "work": wid,
        "title": title if title is not None else original.title,
        "authors": json.loads(original.authors) if original.authors else [],
        "original": original.url,
        "original_reason": reason,
        "members": [
            {
                "url": r.url,
                "outlet": r.outlet,
                "role": "original" if r is original else "copy",
                "published": r.published,
                "captured": _iso(r.captured_at),
            }
            for r in ordered
        ],
    }


def _captured_key(r: Any) -> tuple[str, int]:
    return (_iso(r.captured_at), int(r.id))


def _iso(dt: Any) -> str:
    value = as_utc(dt)
    return value.isoformat().replace("+00:00", "Z") if value else ""


def list_works(catalog: Catalog) -> Iterator[dict[str, Any]]:
    """Every work, streaming: clustered works by work id, then articles not clustered yet."""
    q = (
        select(*_MEMBER_COLUMNS, *_WORK_COLUMNS)
        .select_from(articles.outerjoin(works, works.c.id == articles.c.work_id))
        .where(articles.c.work_id.is_not(None))
        .order_by(articles.c.work_id, articles.c.id)
    )
    with catalog.connect() as conn:
        group: list[Any] = []
        for row in conn.execution_options(yield_per=2000).execute(q):
            if group and row.work_id != group[0].work_id:
                yield _work_dict(group)
                group = []
            group.append(row)
        if group:
            yield _work_dict(group)
    yield from _unclustered(catalog)


def get_work(catalog: Catalog, work_id: str) -> dict[str, Any]:
    """One work by id (raises :class:`NotFound`)."""
    q = (
        select(*_MEMBER_COLUMNS, *_WORK_COLUMNS)
        .select_from(articles.outerjoin(works, works.c.id == articles.c.work_id))
        .where(articles.c.work_id == work_id)
        .order_by(articles.c.id)
    )
    with catalog.connect() as conn:
        rows = list(conn.execute(q))
    if rows:
        return _work_dict(rows)
    for work in _unclustered(catalog):
        if work["work"] == work_id:
            return work
    raise NotFound(f"no work {work_id!r} in the catalog (`opeds works` lists them)")


def _unclustered(catalog: Catalog) -> Iterator[dict[str, Any]]:
    q = (
        select(*_MEMBER_COLUMNS, *_WORK_COLUMNS)
        .select_from(articles.outerjoin(works, works.c.id == articles.c.work_id))
        .where(articles.c.work_id.is_(None))
        .order_by(articles.c.id)
    )
    with catalog.connect() as conn:
        for r in conn.execute(q):
            yield _work_dict([r])


def format_work_text(work: dict[str, Any]) -> str:
    """A work as a few lines of text for a terminal."""
    members = work["members"]
    lines = [f"{work['work']}  {work.get('title') or '(untitled)'}"]
    if work.get("authors"):
        lines.append(f"  by {', '.join(work['authors'])}")
    lines.append(f"  original: {work['original']}")
    if work.get("original_reason"):
        lines.append(f"  why: {work['original_reason']}")
    lines.append(f"  {len(members)} {'member' if len(members) == 1 else 'members'}:")
    width = max(len(m["outlet"]) for m in members)
    for m in members:
        published = (m.get("published") or "")[:10] or "-"
        lines.append(
            f"    {m['role']:<8}  {published:<10}  {m['outlet']:<{width}}  {m['url']}"
            f"  (captured {m['captured'][:16].replace('T', ' ')})"
        )
    return "\n".join(lines)
