"""Extractive answers: the retrieved sentences that best answer the question, each quoted and cited.

Quotes are evidence sentences (assistant/evidence.py): exact spans of the stored chunk text, which is
itself an exact slice of the document's extracted text, so `quote == text[start:end]` holds by
construction.
"""

from __future__ import annotations

import time

import numpy as np

from assistant.conversation import standalone_question
from assistant.evidence import Evidence, rank_evidence
from assistant.records import Answer, Citation, Message
from index.embedder import Embedder
from index.records import StoredChunk
from index.store import ChunkStore

NOT_IN_DOCUMENTS = "The indexed documents do not contain an answer to this question."
# Quotes after the best one must score within this margin of it, or they add noise, not support.
_QUOTE_MARGIN = 0.1


class Retriever:
    def __init__(self, store: ChunkStore, embedder: Embedder):
        self.store = store
        self.embedder = embedder

    def retrieve(self, query: str, top_k: int) -> tuple[np.ndarray, list[StoredChunk]]:
        query_vector = self.embedder.embed_one(query)
        return query_vector, self.store.search(query_vector, top_k)


class ExtractiveAnswerer:
    def __init__(self, retriever: Retriever, embedder: Embedder, top_k: int, max_quotes: int,
                 abstain_below: float):
        self.retriever = retriever
        self.embedder = embedder
        self.top_k = top_k
        self.max_quotes = max_quotes
        self.abstain_below = abstain_below

    def ask(self, question: str, history: list[Message] | None = None, top_k: int | None = None) -> Answer:
        started = time.perf_counter()
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        rewritten = standalone_question(question, history or [])
        query = rewritten or question
        query_vector, chunks = self.retriever.retrieve(query, top_k or self.top_k)
        retrieved = time.perf_counter()
        if rewritten:
            # Retrieval needs the context; the quote must answer what was asked now, so rank
            # sentences against both.
            query_vector = query_vector + self.embedder.embed_one(question)
            query_vector /= np.linalg.norm(query_vector)
        answer = Answer(question=question, answer=NOT_IN_DOCUMENTS, abstained=True, standalone_question=rewritten)
        # Keywords come from what is asked now; the rewrite already steered retrieval to the right place.
        evidence = rank_evidence(question, query_vector, chunks, self.embedder)
        if evidence:
            answer.evidence_score = evidence[0].score
        if evidence and evidence[0].score >= self.abstain_below:
            chosen = _distinct_quotes(evidence, evidence[0].score - _QUOTE_MARGIN, self.max_quotes)
            answer.citations = [Citation(n=n, source=e.chunk.source, quote=e.text, start=e.start, end=e.end,
                                         score=e.score) for n, e in enumerate(chosen, start=1)]
            answer.answer = " ".join(f"{c.quote} [{c.n}]" for c in answer.citations)
            answer.abstained = False
        finished = time.perf_counter()
        answer.timings = {"retrieve_s": round(retrieved - started, 4), "answer_s": round(finished - retrieved, 4),
                          "total_s": round(finished - started, 4)}
        return answer


def _distinct_quotes(evidence: list[Evidence], floor: float, limit: int) -> list[Evidence]:
    """The best evidence above floor, each sentence once: a wire story filed twice is one quote, not two."""
    chosen: dict[str, Evidence] = {}
    for item in evidence:
        if item.score < floor or len(chosen) == limit:
            break
        chosen.setdefault(" ".join(item.text.split()), item)
    return list(chosen.values())
