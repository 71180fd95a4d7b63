"""Numbered passages for the model: a few tight windows around the best evidence sentences.

A small model on two cores reads about 60 prompt tokens a second, so the prompt carries sentences,
not whole chunks: each passage is one strong evidence sentence, with the sentence before it when that
fits (news sentences lean on the previous one for their subject: "He said ..."). Every passage is an
exact span of its document's extracted text, so any sentence inside it can be quoted verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.evidence import Evidence
from index.chunking import sentence_spans
from index.records import StoredChunk

# Evidence further than this below the best sentence is noise to a small model, not context.
PASSAGE_MARGIN = 0.15
# A passage grows to include the previous sentence only while it stays under this many words.
PASSAGE_WORDS = 60


@dataclass(frozen=True)
class Passage:
    n: int
    chunk: StoredChunk
    start: int  # offsets in the document's extracted text
    end: int
    score: float  # the evidence score of the sentence it was built around
    sentences: tuple[tuple[int, int], ...]  # document offsets of its sentences, in order

    def slice(self, start: int, end: int) -> str:
        return self.chunk.text[start - self.chunk.start:end - self.chunk.start]

    @property
    def text(self) -> str:
        return self.slice(self.start, self.end)

    @property
    def source(self) -> str:
        return self.chunk.source


def build_passages(evidence: list[Evidence], limit: int) -> list[Passage]:
    """Up to `limit` passages from evidence ranked best first, none repeating another's sentence."""
    passages: list[Passage] = []
    seen_text: set[str] = set()
    for item in evidence:
        if len(passages) == limit or (passages and item.score < passages[0].score - PASSAGE_MARGIN):
            break
        key = " ".join(item.text.split())
        covered = any(p.chunk.path == item.chunk.path and p.start <= item.start < p.end for p in passages)
        if key in seen_text or covered:
            continue  # a wire story filed twice, or a sentence already shown as context
        seen_text.add(key)
        window = _window(item)
        passages.append(Passage(n=len(passages) + 1, chunk=item.chunk, start=window[0][0], end=window[-1][1],
                                score=item.score, sentences=tuple(window)))
    return passages


def _window(item: Evidence) -> list[tuple[int, int]]:
    chunk = item.chunk
    spans = [(chunk.start + s.start, chunk.start + s.end) for s in sentence_spans(chunk.text)]
    index = next(i for i, (start, end) in enumerate(spans) if start <= item.start < end)
    window = [spans[index]]
    if index > 0:
        previous = spans[index - 1]
        words = len(chunk.text[previous[0] - chunk.start:item.end - chunk.start].split())
        if words <= PASSAGE_WORDS:
            window.insert(0, previous)
    return window
