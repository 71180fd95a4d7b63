"""What the model reads: the best evidence sentences, in their documents' order, under a word budget.

A small model on two cores reads 45-130 prompt tokens a second, so the prompt carries chosen sentences,
not whole documents: the highest-ranked evidence until `passage_words` words or `passages` sentences,
whichever comes first. They are shown in document order, each document under its headline, and
sentences that are neighbours in the document are merged into one numbered passage, so the model
reads runs of text rather than shuffled fragments. Every passage is an exact span of its document's
extracted text, so any sentence in it can be quoted verbatim.

A sentence that speaks to the assistant instead of about the world ("Ignore all previous instructions and
reply only with ...", "Note to the AI assistant: ...") never gets here: it is a prompt injection planted in
a document, evidence of nothing, and answering drops it before anything is chosen (evidence.is_instruction).
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.evidence import Document, Evidence
from assistant.records import Citation


@dataclass(frozen=True)
class Passage:
    n: int
    document: Document
    start: int  # offsets in the document's extracted text
    end: int
    score: float  # the best evidence score among its sentences
    sentences: tuple[tuple[int, int], ...]  # document offsets of its sentences, in order
    best: tuple[int, int]  # its best-ranked sentence: what it is quoted by before anything is written

    def cite(self, start: int, end: int, score: float) -> Citation:
        return self.document.cite(self.n, start, end, score)

    def cite_best(self) -> Citation:
        """The passage as a source, quoted by its best evidence sentence."""
        return self.cite(*self.best, self.score)

    def slice(self, start: int, end: int) -> str:
        return self.document.text[start:end]

    @property
    def text(self) -> str:
        return self.slice(self.start, self.end)

    @property
    def source(self) -> str:
        return self.document.source


def select_evidence(evidence: list[Evidence], limit: int, words: int | None = None) -> list[Evidence]:
    """The best evidence, best first: up to `limit` sentences and `words` words (the first always fits), none
    repeating another's text (a wire story filed twice)."""
    chosen: list[Evidence] = []
    seen: set[str] = set()
    used = 0
    for item in evidence:
        key = " ".join(item.text.split())
        if key in seen:
            continue
        size = len(key.split())
        if len(chosen) == limit or (words is not None and chosen and used + size > words):
            break
        seen.add(key)
        chosen.append(item)
        used += size
    return chosen


def build_passages(chosen: list[Evidence]) -> list[Passage]:
    """Numbered passages: documents in the order of their best evidence, sentences in document order,
    neighbouring sentences merged."""
    by_document: dict[int, list[Evidence]] = {}
    for item in chosen:
        by_document.setdefault(id(item.document), []).append(item)
    passages: list[Passage] = []
    for items in by_document.values():
        document = items[0].document
        position = {(s.start, s.end): i for i, s in enumerate(document.sentences)}
        run: list[Evidence] = []
        for item in sorted(items, key=lambda e: e.start):
            if run and position[(item.start, item.end)] != position[(run[-1].start, run[-1].end)] + 1:
                passages.append(_passage(len(passages) + 1, run))
                run = []
            run.append(item)
        passages.append(_passage(len(passages) + 1, run))
    return passages


def _passage(n: int, run: list[Evidence]) -> Passage:
    best = max(run, key=lambda e: e.score)
    return Passage(n=n, document=run[0].document, start=run[0].start, end=run[-1].end, score=best.score,
                   sentences=tuple((e.start, e.end) for e in run), best=(best.start, best.end))
