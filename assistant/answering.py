"""Extractive answers: the retrieved sentences that best answer the question, each quoted and cited.

Quotes are always cut from the stored chunk text by sentence spans, and chunk text is an exact slice
of the document's extracted text, so `quote == text[start:end]` holds by construction.
"""

from __future__ import annotations

import time

import numpy as np

from assistant.conversation import standalone_question
from assistant.records import Answer, Citation, Message
from index.chunking import sentence_spans
from index.embedder import Embedder
from index.records import StoredChunk
from index.store import ChunkStore

NOT_IN_DOCUMENTS = "The indexed documents do not contain an answer to this question."
# A sentence is ranked mostly by how well it matches the question, partly by how well its chunk does
# (a sentence alone often lacks the names its paragraph gives).
_SENTENCE_WEIGHT = 0.7
# Quotes after the best one must score within this margin of it, or they add noise, not support.
_QUOTE_MARGIN = 0.1
_MIN_QUOTE_WORDS = 4


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
        quotes = self._quotes(query_vector, chunks)
        if quotes:
            answer.evidence_score = quotes[0].score
        if quotes and quotes[0].score >= self.abstain_below:
            answer.citations = quotes
            answer.answer = " ".join(f"{c.quote} [{c.n}]" for c in quotes)
            answer.abstained = False
        finished = time.perf_counter()
        answer.timings = {"retrieve_s": round(retrieved - started, 4), "answer_s": round(finished - retrieved, 4),
                          "total_s": round(finished - started, 4)}
        return answer

    def _quotes(self, query_vector: np.ndarray, chunks: list[StoredChunk]) -> list[Citation]:
        """The best-matching sentences of the retrieved chunks, best first, as citations."""
        if not chunks:
            return []
        candidates: dict[tuple[str, int, int], tuple[StoredChunk, int, int]] = {}
        for chunk in chunks:
            for span in sentence_spans(chunk.text):
                start, end = chunk.start + span.start, chunk.start + span.end
                # Overlapping chunks hold the same sentence; keep it once, with its best chunk.
                candidates.setdefault((chunk.path, start, end), (chunk, span.start, span.end))
        entries = list(candidates.values())
        # Headings and fragments ("Mount Orrin") match a question's words but answer nothing.
        informative = [e for e in entries if len(e[0].text[e[1]:e[2]].split()) >= _MIN_QUOTE_WORDS]
        entries = informative or entries
        vectors = self.embedder.embed([chunk.text[a:b] for chunk, a, b in entries])
        scores = _SENTENCE_WEIGHT * (vectors @ query_vector) + \
            (1 - _SENTENCE_WEIGHT) * np.array([chunk.score for chunk, _, _ in entries])
        order = np.argsort(-scores)
        best = scores[order[0]]
        chosen = [i for i in order if scores[i] >= best - _QUOTE_MARGIN][: self.max_quotes]
        return [Citation(n=n, source=entries[i][0].source, quote=entries[i][0].text[entries[i][1]:entries[i][2]],
                         start=entries[i][0].start + entries[i][1], end=entries[i][0].start + entries[i][2],
                         score=round(float(scores[i]), 4))
                for n, i in enumerate(chosen, start=1)]
