"""Evidence: the sentences of the retrieved chunks, scored by how well each answers the question.

A sentence's score mixes three signals, each in [0, 1]-ish ranges:
- its embedding's cosine with the question (meaning, paraphrase);
- its chunk's cosine with the question (a sentence alone often lacks the names its paragraph gives);
- keyword coverage: the IDF-weighted share of the question's content words it contains (names,
  numbers and rare words, which a small embedder blurs).
Every sentence is an exact span of its document's extracted text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from index.chunking import sentence_spans
from index.embedder import Embedder
from index.keyword_index import content_words
from index.records import StoredChunk

# Chosen on the SQuAD sample (first quote holds the gold answer: dense alone 66.5 %, this mix 82.2 %).
SENTENCE_WEIGHT, CHUNK_WEIGHT, KEYWORD_WEIGHT = 0.4, 0.2, 0.4
# Headings and fragments ("Mount Orrin") match a question's words but answer nothing.
MIN_SENTENCE_WORDS = 4


@dataclass(frozen=True)
class Evidence:
    chunk: StoredChunk
    start: int  # offsets in the document's extracted text
    end: int
    score: float

    @property
    def text(self) -> str:
        return self.chunk.text[self.start - self.chunk.start:self.end - self.chunk.start]


def candidate_sentences(chunks: list[StoredChunk]) -> list[Evidence]:
    """The informative sentences of the chunks, once each, unscored."""
    spans: dict[tuple[str, int, int], StoredChunk] = {}
    for chunk in chunks:
        for span in sentence_spans(chunk.text):
            # Overlapping chunks hold the same sentence; keep it once, with its best chunk.
            spans.setdefault((chunk.path, chunk.start + span.start, chunk.start + span.end), chunk)
    entries = [Evidence(chunk, start, end, 0.0) for (_, start, end), chunk in spans.items()]
    informative = [e for e in entries if len(e.text.split()) >= MIN_SENTENCE_WORDS]
    return informative or entries


def evidence_signals(question: str, query_vector: np.ndarray,
                     entries: list[Evidence], embedder: Embedder) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sentence cosine, chunk cosine, keyword coverage) of each candidate."""
    texts = [e.text for e in entries]
    return (embedder.embed(texts) @ query_vector, np.array([e.chunk.score for e in entries]),
            keyword_coverage(question, texts))


def rank_evidence(question: str, query_vector: np.ndarray, chunks: list[StoredChunk],
                  embedder: Embedder) -> list[Evidence]:
    """All informative sentences of the chunks, best first."""
    entries = candidate_sentences(chunks)
    if not entries:
        return []
    sentence, chunk, coverage = evidence_signals(question, query_vector, entries, embedder)
    scores = SENTENCE_WEIGHT * sentence + CHUNK_WEIGHT * chunk
    if coverage.any():
        scores = scores + KEYWORD_WEIGHT * coverage
    else:
        # None of the question's words occurs anywhere ("How tall is it?" against "stands 3,120
        # metres"): keywords say nothing, so meaning alone decides, on the same scale.
        scores = scores / (SENTENCE_WEIGHT + CHUNK_WEIGHT)
    ranked = sorted(zip(scores, entries), key=lambda pair: -pair[0])
    return [replace(e, score=round(float(score), 4)) for score, e in ranked]


def keyword_coverage(question: str, texts: list[str]) -> np.ndarray:
    """IDF-weighted share of the question's content words found in each text (0 when it has none)."""
    terms = set(stems(question))
    if not terms:
        return np.zeros(len(texts))
    text_terms = [set(stems(text)) for text in texts]
    idf = {t: math.log(1 + (len(texts) + 1) / (1 + sum(t in tt for tt in text_terms))) for t in terms}
    total = sum(idf.values())
    return np.array([sum(idf[t] for t in terms & tt) / total for tt in text_terms])


def stems(text: str) -> list[str]:
    """Content words cut to 5 letters: 'Armenian' meets 'Armenia', 'wounded' meets 'wounds'."""
    return [word[:5] for word in content_words(text)]
