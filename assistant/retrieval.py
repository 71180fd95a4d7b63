"""Hybrid retrieval: BM25 keyword search and dense embedding search, fused.

BM25 finds the rare exact words (names, part numbers, codes) a small embedder blurs; the embedder finds
paraphrases BM25 cannot. Every returned chunk carries its dense cosine in `score` (the evidence scorer
needs it, BM25-only hits included) and its ranking score in `fused`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Literal

import numpy as np

from index.embedder import Embedder
from index.keyword_index import KeywordIndex
from index.records import StoredChunk
from index.store import ChunkStore

Mode = Literal["hybrid", "dense", "bm25"]


class HybridRetriever:
    """Dense and BM25 candidates, fused by a convex combination of their min-max normalised scores.

    On SciFact this beats reciprocal rank fusion (nDCG@10 0.734 against 0.716,
    docs/retrieval-benchmark.md): scores keep how far ahead a clear winner is, ranks do not.
    """

    def __init__(self, store: ChunkStore, keyword_index: KeywordIndex, embedder: Embedder, mode: Mode = "hybrid",
                 candidates: int = 40, dense_weight: float = 0.5, check_index: Callable[[], None] = lambda: None):
        self.check_index = check_index  # raises when the index cannot be searched with this embedder
        self.store = store
        self.keyword_index = keyword_index
        self.embedder = embedder
        self.mode = mode
        self.candidates = candidates  # per retriever, before fusion
        self.dense_weight = dense_weight

    def retrieve(self, query: str, top_k: int,
                 version_ids: list[str] | None = None) -> tuple[np.ndarray, list[StoredChunk]]:
        """The best chunks for the query; with version_ids, from those document versions only (both searches)."""
        self.check_index()
        query_vector = self.embedder.embed_remembered([query])[0]  # the answerer may embed it again
        if self.mode == "dense":
            return query_vector, [replace(c, fused=c.score) for c in self._dense(query_vector, top_k, version_ids)]
        if self.mode == "bm25":
            keyword = self.keyword_index.search(query, top_k, version_ids)
            bm25 = dict(keyword)
            chunks = self.store.get_chunks([cid for cid, _ in keyword], query_vector)
            return query_vector, [replace(c, fused=bm25[c.chunk_id]) for c in chunks]
        depth = max(self.candidates, top_k)
        dense = self._dense(query_vector, depth, version_ids)
        keyword = self.keyword_index.search(query, depth, version_ids)
        known = {c.chunk_id for c in dense}
        # BM25-only hits are fetched with their cosine, so both scores are known for every dense hit and
        # every BM25 hit's meaning counts too.
        pool = dense + self.store.get_chunks([cid for cid, _ in keyword if cid not in known], query_vector)
        fused = self.fuse(dense, keyword, pool)
        ranked = sorted((replace(c, fused=fused[c.chunk_id]) for c in pool), key=lambda c: -c.fused)
        return query_vector, ranked[:top_k]

    def _dense(self, query_vector: np.ndarray, top_k: int, version_ids: list[str] | None) -> list[StoredChunk]:
        """Dense hits of live versions only: no half-written document while an index run is going on."""
        hits = self.store.search(query_vector, top_k, version_ids)
        live = self.keyword_index.live([c.chunk_id for c in hits])
        return [c for c in hits if c.chunk_id in live]

    def fuse(self, dense: list[StoredChunk], keyword: list[tuple[str, float]],
             pool: list[StoredChunk]) -> dict[str, float]:
        """Fused score of every pooled chunk, by chunk id. A chunk BM25 did not return scores 0 there:
        BM25 is never negative, and what it missed matched few query terms."""
        bm25 = dict(keyword)
        cosine = _min_max(np.array([c.score for c in pool]))
        keyword_score = _min_max(np.array([bm25.get(c.chunk_id, 0.0) for c in pool]))
        mixed = self.dense_weight * cosine + (1 - self.dense_weight) * keyword_score
        return {c.chunk_id: float(score) for c, score in zip(pool, mixed)}


def _min_max(values: np.ndarray) -> np.ndarray:
    """Scaled to [0, 1]. All equal: each is the best there is (1), unless it is nothing (0, e.g. no BM25 hit);
    zeros here made a one-chunk index decline every question (its only document scored 0 of the best)."""
    if len(values) == 0 or values.max() == values.min():
        return np.where(values > 0, 1.0, 0.0)
    return (values - values.min()) / (values.max() - values.min())
