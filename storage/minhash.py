"""Persistent MinHash-LSH index of article text, kept in the catalog.

Text becomes *shingles*: the body is case-folded, quotes, dashes and other punctuation become
spaces, and every run of five words is one shingle with a 32-bit id. The shingle sequence is cut
into *chunks* at content-defined points (shingles whose id is 0 modulo ``CHUNK_MOD``, unless the
previous such point is closer than ``CHUNK_MIN``), so a copy with an added standfirst, a dropped
paragraph or an inserted "Read also" line still shares most chunks, unchanged, with its original:
LSH on chunks finds excerpts and edited copies that whole-document Jaccard would rank too low.

Each chunk gets a datasketch :class:`~datasketch.MinHash` (scheme ``affine32``) of its sampled
shingles (ids that are 0 modulo ``SAMPLE_MOD``; all of them when a chunk has none), and the band
keys that a datasketch :class:`~datasketch.MinHashLSH` with the same parameters uses (its ``b``,
``r`` and ``_H``, with :func:`band_key` folding a band's bytes to 64 bits). The keys are rows
``(key, band, article_id)`` of ``minhash_bands``; a query looks up all keys of a night's articles
in bulk. :func:`sketch_texts` computes what datasketch computes, vectorised over a batch of texts;
:func:`sketch_text_reference` goes through datasketch's own objects one chunk at a time, and the
tests check that both agree bit for bit.

Limitations: scripts written without spaces (Chinese, Japanese, Thai) are one "word" per run of
text, so they shingle poorly; only ASCII and Latin-1 letters are case-folded (copies keep the case
of the text they copy, so this rarely matters); NFKC compatibility forms are not unified.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from datasketch import LeanMinHash, MinHash, MinHashLSH
from datasketch.minhash import _fmix
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    SmallInteger,
    String,
    Table,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Connection

from opeds.errors import OpedsError
from storage.catalog import metadata

SHINGLE_WORDS = 5
"""Words per shingle."""
CHUNK_MOD = 64
"""A shingle whose id is 0 modulo this may start a chunk (one in 64 on average)."""
CHUNK_MIN = 24
"""...unless the previous candidate start is fewer than this many shingles before it."""
CHUNK_MAX = 128
"""Longest chunk: longer stretches between marks are cut (see :func:`_chunk_starts`)."""
SAMPLE_MOD = 4
"""Shingles whose id is 0 modulo this feed the chunk MinHash (a consistent sample)."""
NUM_PERM = 16
"""MinHash permutations per chunk."""
LSH_THRESHOLD = 0.6
"""Chunk Jaccard threshold handed to datasketch's parameter optimiser (gives 4 bands x 4 rows)."""
SEED = 1
SCHEME = (
    f"w{SHINGLE_WORDS}-c{CHUNK_MOD}.{CHUNK_MIN}.{CHUNK_MAX}-s{SAMPLE_MOD}-p{NUM_PERM}-t{LSH_THRESHOLD}"
    f"-r{SEED}-v1"
)
"""Recorded with every indexed article: sketches of different schemes cannot be compared."""

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
IntArray = npt.NDArray[np.intp]

minhash_docs = Table(
    "minhash_docs",
    metadata,
    Column("article_id", Integer, primary_key=True, autoincrement=False),
    Column("scheme", String(64), nullable=False),
    Column("shingles", Integer, nullable=False),
    Column("chunks", Integer, nullable=False),
)

minhash_bands = Table(
    "minhash_bands",
    metadata,
    Column("key", BigInteger, primary_key=True, autoincrement=False),
    Column("band", SmallInteger, primary_key=True, autoincrement=False),
    Column("article_id", Integer, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)


class IndexSchemeError(OpedsError):
    """The catalog's MinHash index was built with other shingling or LSH parameters."""


# -- text -> shingle ids ----------------------------------------------------------------------
def _byte_table() -> bytes:
    out = bytearray(range(256))
    for b in range(128):
        ch = chr(b)
        if "A" <= ch <= "Z":
            out[b] = b + 32
        elif not ch.isalnum():
            out[b] = 32
    return bytes(out)


_TABLE = _byte_table()
_MASKS = np.array([(1 << (8 * i)) - 1 for i in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_HEAD_MULT = np.uint64(0x9E3779B97F4A7C15)
_TAIL_MULT = np.uint64(0xC2B2AE3D27D4EB4F)
_SHINGLE_MULTS = np.array(
    [0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1, 0xD3A2646D, 0xFD7046C5, 0xB55A4F09],
    dtype=np.uint32,
)[:SHINGLE_WORDS]


def normalise_bytes(text: str) -> bytes:
    """ASCII case-folded UTF-8 with ASCII punctuation as spaces (the per-text part of shingling;
    :func:`shingle_batch` then blanks Unicode punctuation and folds Latin-1 capitals)."""
    return text.encode("utf-8", "replace").translate(_TABLE)


def _fold_unicode(a: npt.NDArray[np.uint8]) -> None:
    """In place: General Punctuation (curly quotes, dashes, ellipsis...) and Latin-1 punctuation
    become spaces, Latin-1 capitals become small letters. ``a`` ends with at least 8 spaces."""
    p = np.flatnonzero(a >= 0xC2)
    if not p.size:
        return
    lead, nxt = a[p], a[p + 1]
    punct = p[(lead == 0xE2) & ((nxt == 0x80) | (nxt == 0x81))]
    a[punct] = a[punct + 1] = a[punct + 2] = 32
    latin = p[(lead == 0xC2) & (nxt >= 0xA0)]
    a[latin] = a[latin + 1] = 32
    upper = p[(lead == 0xC3) & (nxt >= 0x80) & (nxt <= 0x9E) & (nxt != 0x97)]
    a[upper + 1] += 32


@dataclass(frozen=True)
class ShingleBatch:
    """Shingle ids of a batch of texts: text ``i`` has ``ids[offsets[i]:offsets[i + 1]]``."""

    ids: U32
    offsets: I64

    def of(self, i: int) -> U32:
        return self.ids[self.offsets[i] : self.offsets[i + 1]]

    def set_of(self, i: int) -> U32:
        """The distinct shingle ids of text ``i``, sorted."""
        ids = np.sort(self.of(i))
        if ids.size < 2:
            return ids
        return ids[np.concatenate(([True], ids[1:] != ids[:-1]))]

    def __len__(self) -> int:
        return len(self.offsets) - 1


def shingle_batch(texts: Sequence[str]) -> ShingleBatch:
    """Shingle ids of many texts at once (vectorised over the whole batch)."""
    n = len(texts)
    parts = [normalise_bytes(t) for t in texts]
    # text i starts at byte doc_start[i] of " " + " ".join(parts) + padding
    doc_start = np.ones(n + 1, dtype=np.int64)
    if n:
        np.cumsum(np.fromiter((len(p) + 1 for p in parts), np.int64, count=n), out=doc_start[1:])
        doc_start[1:] += 1
    buf = bytearray(b" ")
    buf += b" ".join(parts)
    buf += b" " * 16
    a = np.frombuffer(buf, dtype=np.uint8)
    if not buf.isascii():
        _fold_unicode(a)
    sp = a == 32
    # the buffer starts and ends with spaces: space/non-space transitions alternate
    edges = np.flatnonzero(sp[:-1] != sp[1:]) + 1
    starts, ends = edges[0::2], edges[1::2]
    words = _word_ids(a, starts, ends)
    first_word = np.searchsorted(starts, doc_start)
    return _shingles(words, first_word)


def _word_ids(a: npt.NDArray[np.uint8], starts: IntArray, ends: IntArray) -> U32:
    """32-bit ids of words from their first and last 8 bytes and their length."""
    if starts.size == 0:
        return np.zeros(0, dtype=np.uint32)
    view: U64 = np.ndarray(shape=(a.size - 8,), dtype="<u8", buffer=a, strides=(1,))
    length = ends - starts
    head = view[starts]
    head &= _MASKS[np.minimum(length, 8)]
    head ^= length.astype(np.uint64) << np.uint64(56)
    head *= _HEAD_MULT
    long = np.flatnonzero(length > 8)
    if long.size:
        head[long] += view[ends[long] - 8] * _TAIL_MULT
    head >>= np.uint64(32)
    return head.astype(np.uint32)


def _shingles(words: U32, first_word: IntArray) -> ShingleBatch:
    """Shingles of consecutive words that belong to one text; a text of fewer words than a
    shingle is one shingle of all its words."""
    k = SHINGLE_WORDS
    n_docs = first_word.size - 1
    counts = np.diff(first_word)
    nw = words.size
    per_doc = np.maximum(counts - (k - 1), 0)
    if nw >= k:
        m = nw - k + 1
        acc = words[:m] * _SHINGLE_MULTS[0]
        for j in range(1, k):
            acc += words[j : j + m] * _SHINGLE_MULTS[j]
        # a shingle starting in the last k-1 words of a text would run into the next one
        cross = (first_word[1:, None] - np.arange(1, k)[None, :]).ravel()
        cross = cross[(cross >= 0) & (cross < m)]
        if cross.size:
            keep = np.ones(m, dtype=bool)
            keep[cross] = False
            acc = acc[keep]
        ids: U32 = acc
    else:
        ids = np.zeros(0, dtype=np.uint32)
    short = np.flatnonzero((counts > 0) & (counts < k))
    if short.size:
        pieces: list[U32] = []
        pos = np.concatenate([[0], np.cumsum(per_doc)])
        prev = 0
        for d in short.tolist():
            w = words[first_word[d] : first_word[d + 1]]
            one = (w * _SHINGLE_MULTS[: w.size]).sum(dtype=np.uint32)
            pieces += [ids[prev : pos[d]], np.array([one], dtype=np.uint32)]
            prev = int(pos[d])
        pieces.append(ids[prev:])
        ids = np.concatenate(pieces)
        per_doc[short] = 1
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(per_doc, out=offsets[1:])
    return ShingleBatch(ids=ids, offsets=offsets)


def shingle_set(text: str) -> U32:
    """The distinct shingle ids of one text, sorted."""
    return shingle_batch([text]).set_of(0)


# -- shingles -> chunks -> MinHash -> band keys -------------------------------------------------
@dataclass(frozen=True)
class Sketch:
    """What the index holds of one text: its band keys, one row per chunk, one column per band."""

    shingles: int
    keys: I64

    @property
    def chunks(self) -> int:
        return int(self.keys.shape[0])


def chunk_starts(ids: U32) -> IntArray:
    """Positions where the chunks of one text's shingle sequence begin (0 first)."""
    return _chunk_starts(ids, np.array([0, ids.size], dtype=np.int64))


def _chunk_starts(ids: U32, offsets: I64) -> IntArray:
    """Chunk starts of every text of a batch, as sorted positions in ``ids``.

    *Marks* are shingles whose id is 0 modulo ``CHUNK_MOD``, less those closer than
    ``CHUNK_MIN`` to the previous mark of the same text. Chunks start at the marks and at each
    text's first shingle; a stretch longer than ``CHUNK_MAX`` is cut every ``CHUNK_MAX`` shingles
    counted back from the mark that ends it (forward from the last mark at a text's end), so two
    texts sharing a mark cut the stretch before it alike. A piece shorter than ``CHUNK_MIN``
    at a text's start joins the chunk after it. Only a text's own shingles decide, so a text
    chunks the same way in any batch.
    """
    if ids.size == 0:
        return np.zeros(0, dtype=np.intp)
    text_starts, text_ends = offsets[:-1], offsets[1:]
    marks = np.flatnonzero((ids & np.uint32(CHUNK_MOD - 1)) == 0)
    mark_text = np.searchsorted(offsets, marks, side="right") - 1
    if marks.size:
        keep = np.ones(marks.size, dtype=bool)
        keep[1:] = (mark_text[1:] != mark_text[:-1]) | (np.diff(marks) >= CHUNK_MIN)
        marks, mark_text = marks[keep], mark_text[keep]
    texts = np.flatnonzero(text_ends > text_starts)
    # positions are global, so sorting them sorts by text too
    bounds, first = np.unique(np.concatenate([text_starts[texts], marks]), return_index=True)
    owner = np.concatenate([texts, mark_text])[first]
    last = np.append(owner[1:] != owner[:-1], True)
    nxt = np.append(bounds[1:], 0)
    nxt[last] = text_ends[owner[last]]
    count = np.maximum((nxt - bounds - CHUNK_MIN) // CHUNK_MAX, 0)
    stretch = np.repeat(np.arange(bounds.size), count)
    k = np.arange(stretch.size) - np.repeat(np.cumsum(count) - count, count) + 1
    forced = np.where(last[stretch], bounds[stretch] + k * CHUNK_MAX, nxt[stretch] - k * CHUNK_MAX)
    cuts = np.union1d(bounds, forced)
    # a piece shorter than CHUNK_MIN at a text's start joins the next chunk
    cut_text = np.searchsorted(offsets, cuts, side="right") - 1
    after_start = np.zeros(cuts.size, dtype=bool)
    after_start[1:] = (cut_text[1:] == cut_text[:-1]) & (cuts[:-1] == text_starts[cut_text[:-1]])
    short = after_start & (cuts - text_starts[cut_text] < CHUNK_MIN)
    return cuts[~short].astype(np.intp)


def band_key(band: bytes) -> bytes:
    """datasketch ``MinHashLSH`` hash function: a band's big-endian bytes folded to 8 bytes."""
    padded = band + b"\0" * (-len(band) % 8)
    words = np.frombuffer(padded, dtype=">u8").astype(np.uint64)
    acc = np.array([len(band)], dtype=np.uint64)
    for w in words:
        acc = _fmix(acc ^ w, 64)
    return bytes(acc.astype(">u8").tobytes())


@lru_cache(maxsize=1)
def _lsh_template() -> MinHashLSH:
    return MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM, hashfunc=band_key)


@lru_cache(maxsize=1)
def _minhash_template() -> MinHash:
    return MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=int, scheme="affine32")


def lsh_params() -> tuple[int, int]:
    """(bands, rows per band), as datasketch's optimiser chooses them for the threshold."""
    lsh = _lsh_template()
    return int(lsh.b), int(lsh.r)


def _band_keys(sketches: U32) -> I64:
    """Vectorised :func:`band_key` of every band of every row of ``sketches`` (n x NUM_PERM)."""
    b, r = lsh_params()
    n = sketches.shape[0]
    vals = sketches[:, : b * r].reshape(n, b, r).astype(np.uint64)
    if r % 2:
        vals = np.concatenate([vals, np.zeros((n, b, 1), dtype=np.uint64)], axis=2)
    words = (vals[:, :, 0::2] << np.uint64(32)) | vals[:, :, 1::2]
    acc = np.full((n, b), 4 * r, dtype=np.uint64)
    for j in range(words.shape[2]):
        acc = _fmix(acc ^ words[:, :, j], 64)
    return acc.view(np.int64)


def _sampled(ids: U32, starts: IntArray) -> tuple[U32, IntArray]:
    """The shingles that feed each chunk's MinHash, and where each chunk begins among them."""
    take = (ids & np.uint32(SAMPLE_MOD - 1)) == 0
    where = np.flatnonzero(take)
    ends = np.append(starts[1:], ids.size)
    empty = np.flatnonzero(np.searchsorted(where, starts) == np.searchsorted(where, ends))
    if empty.size:
        for c in empty.tolist():
            take[starts[c] : ends[c]] = True
        where = np.flatnonzero(take)
    return ids[where], np.searchsorted(where, starts)


MINHASH_BLOCK = 8192
"""Shingles per vectorised MinHash step (keeps the n x NUM_PERM block in cache)."""


def _chunk_minhashes(ids: U32, starts: IntArray) -> U32:
    """``MinHash.update_batch`` of every chunk (``ids[starts[i]:starts[i+1]]``), vectorised."""
    a, b = _minhash_template().permutations
    out = np.empty((starts.size, NUM_PERM), dtype=np.uint32)
    ends = np.append(starts[1:], ids.size)
    done = 0
    while done < starts.size:
        lo = int(starts[done])
        stop = max(int(np.searchsorted(ends, lo + MINHASH_BLOCK, side="right")), done + 1)
        hi = int(ends[stop - 1])
        hv = _fmix(ids[lo:hi], 32)
        phv = np.multiply.outer(hv, a)
        phv += b
        out[done:stop] = np.minimum.reduceat(phv, starts[done:stop] - lo, axis=0)
        done = stop
    return out


def sketch_batch(batch: ShingleBatch) -> list[Sketch]:
    """Chunk MinHashes and band keys of every text of a shingle batch."""
    bands = lsh_params()[0]
    if batch.ids.size == 0:
        return [Sketch(0, np.zeros((0, bands), dtype=np.int64)) for _ in range(len(batch))]
    starts = _chunk_starts(batch.ids, batch.offsets)
    sample, sample_starts = _sampled(batch.ids, starts)
    keys = _band_keys(_chunk_minhashes(sample, sample_starts))
    bounds = np.searchsorted(starts, batch.offsets).tolist()
    lengths = np.diff(batch.offsets).tolist()
    return [Sketch(lengths[i], keys[bounds[i] : bounds[i + 1]]) for i in range(len(batch))]


def sketch_texts(texts: Sequence[str]) -> list[Sketch]:
    """Sketches of many texts (the fast path: one vectorised pass per batch)."""
    return sketch_batch(shingle_batch(texts))


def sketch_text_reference(text: str) -> tuple[list[LeanMinHash], I64]:
    """The same sketch through datasketch's objects, chunk by chunk: for tests and audits."""
    ids = shingle_batch([text]).of(0)
    lsh = _lsh_template()
    minhashes: list[LeanMinHash] = []
    rows = []
    bounds = [*chunk_starts(ids).tolist(), int(ids.size)]
    for s, e in itertools.pairwise(bounds):
        chunk = ids[s:e]
        sample = chunk[(chunk % SAMPLE_MOD) == 0]
        m = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=int, scheme="affine32")
        m.update_batch((sample if sample.size else chunk).tolist())
        minhashes.append(LeanMinHash(m))
        rows.append(
            [
                int.from_bytes(lsh._H(m.hashvalues[lo:hi]), "big", signed=True)
                for lo, hi in lsh.hashranges
            ]
        )
    keys = np.array(rows, dtype=np.int64).reshape(len(rows), lsh.b)
    return minhashes, keys


# -- the persistent index -----------------------------------------------------------------------
QUERY_CHUNK = 5000


class MinHashIndex:
    """Band rows of article sketches in the catalog; every method works on a caller's connection
    so that indexing and clustering commit together. A night looks up its articles' keys
    (:meth:`candidates`, plus :func:`shared_keys` among themselves) before it adds them."""

    def __init__(self, scheme: str = SCHEME):
        self.scheme = scheme
        self.bands = lsh_params()[0]

    def indexed(self, conn: Connection, article_ids: Iterable[int]) -> dict[int, int]:
        """``{article_id: shingles}`` of the given articles that are already indexed."""
        ids = sorted(set(article_ids))
        out: dict[int, int] = {}
        for i in range(0, len(ids), QUERY_CHUNK):
            q = select(minhash_docs.c.article_id, minhash_docs.c.scheme, minhash_docs.c.shingles)
            q = q.where(minhash_docs.c.article_id.in_(ids[i : i + QUERY_CHUNK]))
            for aid, scheme, shingles in conn.execute(q):
                if scheme != self.scheme:
                    raise IndexSchemeError(
                        f"article {aid} was indexed with MinHash scheme {scheme!r}, this code uses"
                        f" {self.scheme!r}: rebuild the index (drop tables minhash_docs and"
                        " minhash_bands, then run cluster_articles over every article; works"
                        " stay as they are) before clustering new articles"
                    )
                out[int(aid)] = int(shingles)
        return out

    def add(self, conn: Connection, sketches: Mapping[int, Sketch]) -> int:
        """Index articles (not yet indexed). Returns the number of band rows written."""
        if not sketches:
            return 0
        docs = [(aid, self.scheme, s.shingles, s.chunks) for aid, s in sketches.items()]
        _insert_many(conn, minhash_docs, docs)
        keys, bands, owners = _postings(sketches)
        rows = np.unique(np.stack([keys, bands, owners], axis=1), axis=0)
        for i in range(0, len(rows), 100_000):
            _insert_many(conn, minhash_bands, rows[i : i + 100_000].tolist())
        return int(rows.shape[0])

    def candidates(
        self,
        conn: Connection,
        sketches: Mapping[int, Sketch],
        *,
        per_key: int = 64,
    ) -> dict[int, dict[int, int]]:
        """Indexed articles sharing band keys with each query: ``{query: {candidate: keys}}``.

        At most ``per_key`` postings (the earliest indexed articles) are read for one key, so a
        key that an outlet's page chrome puts into thousands of articles stays cheap. Queries
        are not matched with each other (see :func:`shared_keys`).
        """
        keys, bands, owners = _postings(sketches)
        hits: dict[int, dict[int, int]] = {aid: {} for aid in sketches}
        if keys.size == 0:
            return hits
        order = np.lexsort((bands, keys))
        keys, bands, owners = keys[order], bands[order], owners[order]
        distinct = np.unique(keys).tolist()
        rn = (
            func.row_number()
            .over(
                partition_by=(minhash_bands.c.key, minhash_bands.c.band),
                order_by=minhash_bands.c.article_id,
            )
            .label("rn")
        )
        found: list[tuple[int, int, int]] = []
        for i in range(0, len(distinct), QUERY_CHUNK):
            inner = (
                select(minhash_bands.c.key, minhash_bands.c.band, minhash_bands.c.article_id, rn)
                .where(minhash_bands.c.key.in_(distinct[i : i + QUERY_CHUNK]))
                .subquery()
            )
            q = select(inner.c.key, inner.c.band, inner.c.article_id).where(inner.c.rn <= per_key)
            found.extend((int(k), int(b), int(a)) for k, b, a in conn.execute(q))
        for key, band, other in found:
            lo = np.searchsorted(keys, key, side="left")
            hi = np.searchsorted(keys, key, side="right")
            for j in range(lo, hi):
                if bands[j] == band and owners[j] != other:
                    h = hits[int(owners[j])]
                    h[other] = h.get(other, 0) + 1
        return hits


def shared_keys(sketches: Mapping[int, Sketch], *, per_key: int = 64) -> dict[int, dict[int, int]]:
    """Pairs of the given sketches that share band keys, found in memory:
    ``{article: {other article: shared keys}}``. A key held by more than ``per_key`` articles
    pairs each of them with the ``per_key`` lowest ids only."""
    keys, bands, owners = _postings(sketches)
    hits: dict[int, dict[int, int]] = {aid: {} for aid in sketches}
    if keys.size == 0:
        return hits
    order = np.lexsort((owners, bands, keys))
    keys, bands, owners = keys[order], bands[order], owners[order]
    same = (keys[1:] == keys[:-1]) & (bands[1:] == bands[:-1])
    starts = np.flatnonzero(np.concatenate([[True], ~same]))
    sizes = np.diff(np.append(starts, keys.size))
    for start, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist(), strict=True):
        group = np.unique(owners[start : start + size]).tolist()
        head = group[:per_key]
        for a in group:
            h = hits[a]
            for b in head:
                if b != a:
                    h[b] = h.get(b, 0) + 1
    return hits


def _postings(sketches: Mapping[int, Sketch]) -> tuple[I64, I64, I64]:
    """(key, band, article) of every band key of every sketch, as three arrays."""
    bands = lsh_params()[0]
    items = [(aid, s.keys) for aid, s in sketches.items() if s.keys.size]
    if not items:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    keys = np.concatenate([k.ravel() for _, k in items])
    band = np.concatenate([np.tile(np.arange(bands, dtype=np.int64), k.shape[0]) for _, k in items])
    owner = np.concatenate([np.full(k.size, aid, dtype=np.int64) for aid, k in items])
    return keys, band, owner


def _insert_many(conn: Connection, table: Table, rows: Sequence[Sequence[Any]]) -> None:
    """INSERT rows (tuples in column order) through the driver's executemany: the index writes
    hundreds of thousands of rows a night, too many for per-row parameter processing."""
    if not rows:
        return
    style = conn.dialect.paramstyle
    marks = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(style)
    if marks is None:
        cols = [c.name for c in table.columns]
        conn.execute(insert(table), [dict(zip(cols, r, strict=True)) for r in rows])
        return
    names = ", ".join(conn.dialect.identifier_preparer.quote(c.name) for c in table.columns)
    holes = ", ".join([marks] * len(table.columns))
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({names}) VALUES ({holes})", [tuple(r) for r in rows]
    )
