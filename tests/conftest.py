from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """``../shared/corpus``: real pages and WARCs with ground truth; skip when absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"real-world corpus not found at {CORPUS} (it sits beside the project in CI)")
    return CORPUS


PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_schema() -> Iterator[str]:
    """A catalog URL on a throwaway schema of PostgreSQL at 127.0.0.1:5432; skip when absent."""
    try:
        admin = create_engine(PG_URL)
        with admin.connect() as c:
            c.execute(text("select 1"))
    except Exception as exc:  # any driver or connection failure means: no PostgreSQL here
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}")
    schema = "t_" + uuid.uuid4().hex[:12]
    with admin.begin() as c:
        c.execute(text(f"create schema {schema}"))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as c:
            c.execute(text(f"drop schema {schema} cascade"))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty catalog database: a SQLite file, or a schema of its own in PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    else:
        yield from postgres_schema()
