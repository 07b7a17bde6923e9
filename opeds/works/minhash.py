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
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from datasketch import LeanMinHash, MinHash, MinHashLSH
from datasketch.minhash import _fmix
from sqlalchemy import (
    Table,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Connection

from opeds.errors import OpedsError
from opeds.storage.catalog.db import minhash_bands, minhash_docs

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
_PAD = b" " * 15
_BYTE_OFFSETS = np.arange(8, dtype=np.intp)
_HIGH_HALF = 1 if sys.byteorder == "little" else 0
"""Index of the high half of a 64-bit value seen as two 32-bit ones."""


def normalise_bytes(text: str) -> bytes:
    """ASCII case-folded UTF-8 with ASCII punctuation as spaces (the per-text part of shingling;
    :func:`shingle_batch` then blanks Unicode punctuation and folds Latin-1 capitals)."""
    return text.encode("utf-8", "replace").translate(_TABLE)


def _fold_unicode(a: npt.NDArray[np.uint8]) -> None:
    """In place: General Punctuation (curly quotes, dashes, ellipsis...) and Latin-1 punctuation
    become spaces, Latin-1 capitals become small letters. ``a`` ends with at least 8 spaces."""
    # lead bytes C2, C3 and E2 (and E3, dropped below) are the bytes b with b & 0xDE == 0xC2;
    # they are rare, so look for them 8 bytes at a time
    lead_like = np.bitwise_and(a, np.uint8(0xDE)) == 0xC2
    hot = np.flatnonzero(lead_like[: a.size // 8 * 8].view(np.uint64) != 0)
    if not hot.size:
        return
    p = (hot[:, None] * 8 + _BYTE_OFFSETS).ravel()
    p = p[lead_like[p]]
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


GROUP_BYTES = 1 << 19
"""Text (UTF-8 bytes) shingled in one vectorised pass: large batches go in groups of about this
size, so that the pass's arrays stay in the CPU cache."""
GROUP_SHINGLES = 1 << 17
"""Shingles sketched in one vectorised pass (same reason)."""


def _groups(sizes: Iterable[int], target: int) -> list[tuple[int, int]]:
    """Consecutive ranges ``(lo, hi)`` of items, each of total size about ``target``."""
    bounds, total, i = [0], 0, 0
    for i, size in enumerate(sizes, 1):
        total += size
        if total >= target:
            bounds.append(i)
            total = 0
    if len(bounds) == 1 or bounds[-1] != i:
        bounds.append(i)
    return list(itertools.pairwise(bounds))


def shingle_batch(texts: Sequence[str]) -> ShingleBatch:
    """Shingle ids of many texts at once (vectorised over the whole batch)."""
    parts = list(map(normalise_bytes, texts))
    groups = [_shingle_parts(parts[lo:hi]) for lo, hi in _groups(map(len, parts), GROUP_BYTES)]
    if len(groups) == 1:
        return groups[0]
    offsets = [np.zeros(1, dtype=np.int64)]
    done = 0
    for g in groups:
        offsets.append(g.offsets[1:] + done)
        done += g.ids.size
    ids = np.concatenate([g.ids for g in groups])
    return ShingleBatch(ids=ids, offsets=np.concatenate(offsets))


def _shingle_parts(parts: Sequence[bytes]) -> ShingleBatch:
    """:func:`shingle_batch` of texts already through :func:`normalise_bytes`."""
    n = len(parts)
    # text i starts at byte doc_start[i] of " " + " ".join(parts) + padding
    doc_start = np.ones(n + 1, dtype=np.int64)
    if n:
        np.cumsum(np.fromiter(map(len, parts), np.int64, count=n), out=doc_start[1:])
        doc_start[1:] += np.arange(2, n + 2)
    buf = bytearray(b" ").join([b"", *parts, _PAD])
    a = np.frombuffer(buf, dtype=np.uint8)
    if not buf.isascii():
        _fold_unicode(a)
    sp = a == 32
    # the buffer starts and ends with spaces: word starts and ends alternate in ``edges``
    change = np.empty(a.size, dtype=bool)
    change[0] = False
    np.not_equal(sp[1:], sp[:-1], out=change[1:])
    del sp
    edges = np.flatnonzero(change)
    del change
    words = _word_ids(a, edges)
    first_word = np.searchsorted(edges[0::2], doc_start)
    return _shingles(words, first_word)


def _word_ids(a: npt.NDArray[np.uint8], edges: IntArray) -> U32:
    """32-bit ids of words (``a[edges[2i]:edges[2i + 1]]``) from their first and last 8 bytes
    and their length."""
    if edges.size == 0:
        return np.zeros(0, dtype=np.uint32)
    view: U64 = np.ndarray(shape=(a.size - 8,), dtype="<u8", buffer=a, strides=(1,))
    starts, ends = edges[0::2], edges[1::2]
    length = ends - starts
    head = view[starts]
    head &= _MASKS.take(length, mode="clip")  # a word of 8 bytes or more keeps all 8
    long = np.flatnonzero(length > 8)
    lbits = length.view(np.uint64)
    lbits <<= np.uint64(56)
    head ^= lbits
    head *= _HEAD_MULT
    if long.size:
        head[long] += view[ends[long] - 8] * _TAIL_MULT
    # the id is the high half of each 64-bit value
    return np.ascontiguousarray(head.view(np.uint32)[_HIGH_HALF::2])


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
        acc = np.multiply(words[:m], _SHINGLE_MULTS[0])
        tmp = np.empty_like(acc)
        for j in range(1, k):
            acc += np.multiply(words[j : j + m], _SHINGLE_MULTS[j], out=tmp)
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
    return _cuts(np.flatnonzero((ids & np.uint32(CHUNK_MOD - 1)) == 0), offsets)


def _cuts(marks: IntArray, offsets: I64) -> IntArray:
    """:func:`_chunk_starts` from the positions of the shingles whose id is 0 modulo
    ``CHUNK_MOD`` (sorted)."""
    if offsets[-1] == 0:
        return np.zeros(0, dtype=np.intp)
    text_starts, text_ends = offsets[:-1], offsets[1:]
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
    # forced cuts lie strictly inside their stretch: no position occurs twice
    cuts = np.sort(np.concatenate([bounds, forced]))
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


def _band_keys(minhashes: U32) -> I64:
    """Vectorised :func:`band_key` of every band of every chunk; ``minhashes`` holds one row per
    permutation and one column per chunk. Returns one row per chunk, one column per band."""
    b, r = lsh_params()
    n = minhashes.shape[1]
    vals = minhashes[: b * r].reshape(b, r, n).astype(np.uint64)
    if r % 2:
        vals = np.concatenate([vals, np.zeros((b, 1, n), dtype=np.uint64)], axis=1)
    words = (vals[:, 0::2] << np.uint64(32)) | vals[:, 1::2]
    acc = np.full((b, n), 4 * r, dtype=np.uint64)
    for j in range(words.shape[1]):
        acc = _fmix(acc ^ words[:, j], 64)
    return np.ascontiguousarray(acc.T).view(np.int64)


assert CHUNK_MOD % SAMPLE_MOD == 0, "chunk marks are found among the sampled shingles"


def _sampled(
    ids: U32, starts: IntArray, where: IntArray, sample: U32
) -> tuple[U32, IntArray, IntArray]:
    """The shingles that feed each chunk's MinHash, from the positions ``where`` of the shingles
    whose id is 0 modulo ``SAMPLE_MOD`` and their ids ``sample`` (a chunk that has none takes all
    its shingles): ``(values, first, count)``, chunk ``i`` having
    ``values[first[i]:first[i] + count[i]]``."""
    first = np.searchsorted(where, starts)
    count = np.diff(first, append=where.size)
    empty = np.flatnonzero(count == 0)
    if empty.size:
        # such a chunk (short, rare) takes all its shingles, appended after the sample
        ends = np.append(starts[1:], ids.size)
        extra = [ids[starts[c] : ends[c]] for c in empty.tolist()]
        count[empty] = [e.size for e in extra]
        first[empty] = sample.size + np.cumsum(count[empty]) - count[empty]
        sample = np.concatenate([sample, *extra])
    return sample, first, count


MINHASH_BLOCK = 8192
"""Padded sampled shingles per vectorised MinHash step (NUM_PERM x MINHASH_BLOCK values)."""
_SLOTS = np.arange(4 * CHUNK_MAX, dtype=np.intp)[:, None]


@lru_cache(maxsize=1)
def _permutations() -> tuple[U32, U32]:
    """The ``a`` and ``b`` of the affine32 permutations, shaped for :func:`_chunk_minhashes`."""
    a, b = _minhash_template().permutations
    return a[:, None], np.repeat(b[:, None], MINHASH_BLOCK, axis=1)


def _chunk_minhashes(values: U32, starts: IntArray, lens: IntArray) -> U32:
    """``MinHash.update_batch`` of every chunk (``values[starts[i]:starts[i] + lens[i]]``, never
    empty), vectorised: one row per permutation, one column per chunk.

    Chunks are grouped by length rounded up to a power of two ``L`` (8 at least): a group is a
    table of ``L`` hash values per chunk (a shorter chunk repeats its last value, which leaves
    its minimum as it is), permuted at once and reduced to its minima.
    """
    a, b = _permutations()
    out = np.empty((NUM_PERM, starts.size), dtype=np.uint32)
    hv = _fmix(values, 32)
    # a chunk of up to 8 shingles takes 8 slots: fewer, larger groups
    level = np.maximum(np.frexp(lens - 1)[1], 3)
    order = np.argsort(level, kind="stable")
    edges = np.searchsorted(level[order], np.arange(int(level.max(initial=0)) + 2)).tolist()
    work = np.empty(NUM_PERM * max(MINHASH_BLOCK, 1 << (len(edges) - 2)), dtype=np.uint32)
    for e, (lo, hi) in enumerate(itertools.pairwise(edges)):
        size = 1 << e
        slots = _SLOTS[:size] if size <= _SLOTS.shape[0] else np.arange(size)[:, None]
        step = max(1, MINHASH_BLOCK // size)
        for i in range(lo, hi, step):
            cols = order[i : min(i + step, hi)]
            at = np.minimum(slots, lens[cols] - 1)
            at += starts[cols]
            n = at.size
            phv = work[: NUM_PERM * n].reshape(NUM_PERM, n)
            np.multiply(a, hv[at].reshape(1, n), out=phv)
            phv += b[:, :n] if n <= b.shape[1] else b[:, :1]
            out[:, cols] = np.minimum.reduce(phv.reshape(NUM_PERM, size, cols.size), axis=1)
    return out


def sketch_batch(batch: ShingleBatch) -> list[Sketch]:
    """Chunk MinHashes and band keys of every text of a shingle batch."""
    groups = _groups(np.diff(batch.offsets).tolist(), GROUP_SHINGLES)
    if len(groups) == 1:
        return _sketch_group(batch)
    out: list[Sketch] = []
    for lo, hi in groups:
        start, end = int(batch.offsets[lo]), int(batch.offsets[hi])
        out += _sketch_group(ShingleBatch(batch.ids[start:end], batch.offsets[lo : hi + 1] - start))
    return out


def _sketch_group(batch: ShingleBatch) -> list[Sketch]:
    """:func:`sketch_batch` in one vectorised pass."""
    bands = lsh_params()[0]
    ids = batch.ids
    if ids.size == 0:
        return [Sketch(0, np.zeros((0, bands), dtype=np.int64)) for _ in range(len(batch))]
    # the sample first: chunk marks (ids 0 modulo CHUNK_MOD) are sampled shingles too
    where = np.flatnonzero(np.bitwise_and(ids, np.uint32(SAMPLE_MOD - 1)) == 0)
    sample = ids[where]
    starts = _cuts(where[np.bitwise_and(sample, np.uint32(CHUNK_MOD - 1)) == 0], batch.offsets)
    keys = _band_keys(_chunk_minhashes(*_sampled(ids, starts, where, sample)))
    bounds = np.searchsorted(starts, batch.offsets).tolist()
    lengths = np.diff(batch.offsets).tolist()
    return [Sketch(lengths[i], keys[bounds[i] : bounds[i + 1]]) for i in range(len(batch))]


def sketch_texts(texts: Sequence[str]) -> list[Sketch]:
    """Sketches of many texts (the fast path: one vectorised pass per group of texts)."""
    parts = list(map(normalise_bytes, texts))
    out: list[Sketch] = []
    for lo, hi in _groups(map(len, parts), GROUP_BYTES):
        out += _sketch_group(_shingle_parts(parts[lo:hi]))
    return out


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
