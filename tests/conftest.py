from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """``../shared/corpus``: real pages and WARCs with ground truth; skip when absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"real-world corpus not found at {CORPUS} (it sits beside the project in CI)")
    return CORPUS
