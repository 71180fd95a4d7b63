"""Evidence: the sentences of the best documents, ranked by how likely each is to answer the question.

Retrieval finds the right document well (the hybrid search puts it first for 74 of the 75 answerable
BBC dev questions); the hard part is the sentence inside it. A news question names its story ("In the
Monsanto Indonesia case, ...") and then asks for a detail; the sentence with the detail often shares
few words with the question, while the lead sentence, which repeats the story's names, shares many.
So each candidate sentence is scored on what the question *asks*, not on how much it resembles it:
- keyword coverage, with words weighted by their rarity inside the document: the names every sentence
  of the story repeats count little, the words of the ask ("paperwork", "university") count much;
- the cosine of the sentence with the ask: the question with the document's recurring words removed;
- whether it holds something of the asked type that the question does not say (assistant/answer_types.py);
- the relevance of its document (its best chunk's fused retrieval score).
Measured on the BBC dev set (benchmarks/evidence_recall.py, docs/evidence-recall.md): the sentence holding
the answer is among the 3 best for 59 of 70 questions, against 31 ranking on similarity to the question.

Every sentence also gets a `relevance`: how close it is to the question at all (sentence and chunk cosine,
keyword coverage). The best relevance decides whether the question is off-topic for the whole index.
Every sentence is an exact span of its document's extracted text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePath
from typing import Callable

import numpy as np

from assistant.answer_types import Ask, stems
from index.chunking import sentence_spans
from index.embedder import Embedder
from assistant.records import Citation
from index.records import Span, StoredChunk, page_at

# Relevance weights: what the abstention threshold was calibrated on.
SENTENCE_WEIGHT, CHUNK_WEIGHT, COVERAGE_WEIGHT = 0.4, 0.2, 0.4
# Headings and fragments ("Mount Orrin") match a question's words but answer nothing.
MIN_SENTENCE_WORDS = 4
# Documents whose sentences are candidates, best first; the best one is read whole (near its hits).
DOCUMENTS = 3
# Around each retrieved chunk of the best document, this many characters either side are candidates too:
# the answer is often a paragraph away from the words the search matched.
NEIGHBOURHOOD_CHARS = 2000
# Sentences embedded per question (the most promising by the cheap signals): each costs ~17 ms on one core.
SHORTLIST = 28
# A word in at least this share of a document's candidate sentences is the story's, not the question's ask.
RECURRING_SHARE = 0.25


# What injections say and news does not: told to drop what came before, addressed to the assistant, told what
# to answer to everything, told not to answer the user. A plain report ("Fans were asked to reply with their
# names") matches none of these.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget)\b[^.!?]{0,40}?\b(?:previous|prior|above|earlier|preceding|other|all)\b[^.!?]{0,20}?"
    r"\b(?:instructions?|prompts?|directions|rules|documents|passages|sources)\b"
    r"|\b(?:note|message|instructions?|reminder)s? (?:to|for) (?:the |any |all )?(?:AI|assistants?|chatbots?|"
    r"language models?|LLMs?)\b"
    r"|^\W*(?:system|assistant|chatbot)\s*[:,]"
    r"|\b(?:reply|respond|answer)\s+(?:only\s+with|(?:to\s+)?(?:every|all|any|each)\s+(?:questions?|messages?|"
    r"prompts?)\s+(?:only\s+)?with)\b"
    r"|\b(?:do not|don't|never)\s+(?:answer|cite|mention|quote)\b[^.!?]{0,30}\b(?:the user|passages?)\b",
    re.IGNORECASE)


def is_instruction(sentence: str) -> bool:
    """Does the sentence speak to the assistant (a prompt injection) rather than about the world?"""
    return _INSTRUCTION.search(sentence) is not None


@dataclass(frozen=True)
class RankWeights:
    """How the rank score mixes its signals (chosen with benchmarks/evidence_recall.py; docs/evidence-recall.md)."""

    keyword: float = 0.5
    ask: float = 0.5
    answer_type: float = 0.5
    document: float = 1.0


@dataclass(frozen=True)
class Document:
    """A retrieved document: its whole extracted text and the chunks retrieval found in it."""

    source: str
    path: str
    sha256: str
    text: str
    relevance: float  # its best chunk's fused retrieval score, as a share of the best document's
    chunks: tuple[StoredChunk, ...]

    def cite(self, n: int, start: int, end: int, score: float) -> Citation:
        """Citation [n] of text[start:end], with the page it is on (PDF pages, slides)."""
        return Citation(n=n, source=self.source, quote=self.text[start:end], start=start, end=end, score=score,
                        page=page_at(self.text, start))

    @cached_property
    def sentences(self) -> list[Span]:
        return sentence_spans(self.text)

    @cached_property
    def title(self) -> str | None:
        """The first line when it reads as a headline (short, no closing full stop), else None."""
        if not self.sentences:
            return None
        first = self.text[self.sentences[0].start:self.sentences[0].end]
        ends_line = self.text[self.sentences[0].end:self.sentences[0].end + 1] in ("\n", "")
        if ends_line and len(first.split()) <= 15 and not first.rstrip().endswith((".", "!", "?", ":")):
            return first
        return None

    @property
    def heading(self) -> str:
        """What the document is called: its headline, or its file name (also for a headline that is a planted
        instruction: the model reads the heading)."""
        title = self.title
        return title if title and not is_instruction(title) else PurePath(self.source).name

    def chunk_cosine(self, start: int) -> float:
        """Cosine of the retrieved chunk holding this offset; a little under the weakest one elsewhere."""
        holding = [c.score for c in self.chunks if c.start <= start < c.end]
        return max(holding) if holding else min(c.score for c in self.chunks) - 0.05


@dataclass(frozen=True)
class Evidence:
    document: Document
    start: int  # offsets in the document's extracted text
    end: int
    score: float  # how likely it answers (ranking)
    relevance: float  # how close it is to the question at all (abstention)
    offers: float  # holds what the question asks for (1), a number for a numeric ask (0.5), or not (0)

    @property
    def text(self) -> str:
        return self.document.text[self.start:self.end]


def gather_documents(chunks: list[StoredChunk], text_of: Callable[[str], str | None],
                     limit: int = DOCUMENTS) -> list[Document]:
    """The retrieved chunks grouped by document, best document first, each with its whole text."""
    grouped: dict[str, list[StoredChunk]] = {}
    for chunk in chunks:
        grouped.setdefault(chunk.path, []).append(chunk)
    documents = []
    best = max((c.fused for c in chunks), default=0.0)
    for group in sorted(grouped.values(), key=lambda g: -max(c.fused for c in g)):
        text = text_of(group[0].sha256)
        if text is None:
            continue  # removed since the search: nothing to quote
        documents.append(Document(source=group[0].source, path=group[0].path, sha256=group[0].sha256, text=text,
                                  relevance=max(c.fused for c in group) / best if best > 0 else 0.0,
                                  chunks=tuple(group)))
        if len(documents) == limit:
            break
    return documents


def rank_evidence(question: str, query_vector: np.ndarray, documents: list[Document], embedder: Embedder,
                  weights: RankWeights = RankWeights()) -> list[Evidence]:
    """Candidate sentences of the documents, most likely answer first."""
    ask = Ask.of(question)
    candidates = [(doc, span) for i, doc in enumerate(documents) for span in _candidate_spans(doc, first=i == 0)]
    if not candidates:
        return []
    coverage = np.zeros(len(candidates))
    for doc in documents:
        rows = [i for i, (d, _) in enumerate(candidates) if d is doc]
        coverage[rows] = keyword_coverage(question, [doc.text[s.start:s.end] for _, s in (candidates[i] for i in rows)])
    offers = np.array([ask.offers(doc.text[s.start:s.end]) for doc, s in candidates])
    chunk = np.array([doc.chunk_cosine(s.start) for doc, s in candidates])
    document = np.array([doc.relevance for doc, _ in candidates])
    cheap = weights.keyword * coverage + weights.answer_type * offers + weights.document * document
    shortlist = np.argsort(-cheap, kind="stable")[:SHORTLIST]
    texts = [candidates[i][0].text[candidates[i][1].start:candidates[i][1].end] for i in shortlist]
    vectors = embedder.embed_remembered(texts)
    asks = {id(doc): embedder.embed_one(ask_text(question, doc, [s for d, s in candidates if d is doc]))
            for doc in {id(candidates[i][0]): candidates[i][0] for i in shortlist}.values()}
    ranked = []
    for row, vector in zip(shortlist, vectors):
        doc, span = candidates[row]
        relevance = SENTENCE_WEIGHT * float(vector @ query_vector) + CHUNK_WEIGHT * chunk[row] \
            + COVERAGE_WEIGHT * coverage[row]
        score = cheap[row] + weights.ask * float(vector @ asks[id(doc)])
        ranked.append(Evidence(doc, span.start, span.end, round(float(score), 4), round(float(relevance), 4),
                               float(offers[row])))
    return sorted(ranked, key=lambda e: -e.score)


def _candidate_spans(doc: Document, first: bool) -> list[Span]:
    """The best document's sentences near its hits (all of a short document); elsewhere, the hits' own."""
    reach = NEIGHBOURHOOD_CHARS if first else 0
    windows = [(c.start - reach, c.end + reach) for c in doc.chunks]
    spans = [s for s in doc.sentences if any(a <= s.start and s.end <= b for a, b in windows)]
    if doc.title is not None and spans and spans[0] == doc.sentences[0]:
        spans = spans[1:]  # a headline names the story; the sentences under it say what happened
    informative = [s for s in spans if len(doc.text[s.start:s.end].split()) >= MIN_SENTENCE_WORDS]
    return informative or spans


def ask_text(question: str, doc: Document, spans: list[Span]) -> str:
    """The question without the words its document keeps repeating: what is asked, once the story is found.
    'In the Monsanto Indonesia case, how was the illicit payment labelled?' -> '... how was the illicit payment
    labelled?' for the Monsanto story."""
    sentence_stems = [set(stems(doc.text[s.start:s.end])) for s in spans]
    recurring = max(2.0, RECURRING_SHARE * len(spans))
    kept = [word for word in re.findall(r"[\w'’-]+|[^\w\s]", question)
            if not (word_stems := stems(word)) or sum(word_stems[0] in ss for ss in sentence_stems) < recurring]
    return " ".join(kept)


def keyword_coverage(question: str, texts: list[str]) -> np.ndarray:
    """IDF-weighted share of the question's content words found in each text (0 when it has none). The IDF is
    over these texts, so words that all of them share weigh little."""
    terms = set(stems(question))
    if not terms:
        return np.zeros(len(texts))
    text_terms = [set(stems(text)) for text in texts]
    idf = {t: math.log(1 + (len(texts) + 1) / (1 + sum(t in tt for tt in text_terms))) for t in terms}
    total = sum(idf.values())
    return np.array([sum(idf[t] for t in terms & tt) / total for tt in text_terms])
