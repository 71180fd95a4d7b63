"""The citation checker: what a model wrote is checked against the passages, never trusted.

For every sentence of the model's answer:
- markers that point to no passage are dropped;
- each cited passage must support the sentence (meaning and words, and every number, name and link in
  the sentence must occur in the passage); a citation to a passage that does not support it moves to
  the passage that does, if any;
- a sentence with no citation gets one when a passage supports it;
- a sentence no passage supports is flagged unsupported.
Quotes are chosen here, from the source: for each cited passage, the sentence(s) that best support the
answer sentences citing it, as exact offsets into the document. If the model says the documents do
not answer, or nothing it wrote is supported, the answer abstains. A reply that is only markers ("[1]")
becomes the best evidence sentence of the passage it points to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from assistant.answer_types import anchors, says, stems
from assistant.passages import Passage
from assistant.records import AnswerSentence, Citation, Resolution
from index.chunking import sentence_spans
from index.embedder import Embedder

# A claim is supported by a source sentence when 0.5 * cosine + 0.5 * share of the claim's content
# words found in it reaches this (calibrated on crafted claims, see tests/test_citations.py).
SUPPORT_MIN = 0.5
_MARKER = re.compile(r"\s*\[(?:(?:passage|source|doc(?:ument)?)\s*)?(\d+(?:\s*,\s*\d+)*)\]", re.IGNORECASE)
_ABSTAIN = re.compile(
    r"\b(not (?:in|found in|mentioned in|provided in|stated in|given in|covered (?:by|in)) the (?:documents|passages|"
    r"text|context|sources)|(?:documents|passages|text|context|sources) (?:do|does) not (?:say|mention|contain|"
    r"provide|state|specify|include|answer)|no (?:information|mention)|(?:i )?(?:do not|don't) know|cannot "
    r"(?:answer|be answered|be determined|determine)|there is no (?:information|mention)|"
    # "A replacement has yet to be named": the passages say the thing asked for is not known.
    r"(?:has|have) yet to be (?:named|announced|decided|revealed|disclosed|confirmed|set)|"
    r"(?:was|were|is|are|has|have)(?: been)? not (?:been )?(?:disclosed|revealed|named|announced|made public))\b",
    re.IGNORECASE)
# Words that frame an answer without stating anything ("According to the passages, ...").
_FRAMING = frozenset(stems("according passage passages document documents text context source sources based "
                           "answer question provided information mentioned states stated say says"))
# A link: a scheme or www, or a domain with a path ("evil.example/claim"). A model told by a planted
# instruction to "add a link" makes one up; only a link the source itself gives may stand.
_LINK = re.compile(r"(?:https?://|www\.)[^\s<>\"'\])]+|\b[\w-]+(?:\.[\w-]+)+/[^\s<>\"'\])]*", re.IGNORECASE)


@dataclass
class CheckedAnswer:
    text: str
    abstained: bool
    citations: list[Citation]
    sentences: list[AnswerSentence]
    resolution: Resolution = "written"
    # (document path, start, end) of the sentence each claim came closest to, supported or not: what the model
    # drew on, which may answer even when what it wrote does not hold up.
    drew_on: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def supported_text(self) -> str:
        return " ".join(strip_markers(s.text) for s in self.sentences if s.supported)


@dataclass
class _Sentence:
    claim: str  # the sentence without markers
    end_punct: str
    markers: list[int]
    separator: str  # white space that followed it in the reply (keeps paragraphs and lists)
    factual: bool = True
    cited: tuple[int, ...] = ()
    supported: bool = False


def check_answer(reply: str, passages: list[Passage], embedder: Embedder, question: str) -> CheckedAnswer:
    by_n = {p.n: p for p in passages}
    sentences = _split(reply)
    for s in sentences:
        s.markers = [n for n in s.markers if n in by_n]
        s.factual = bool(set(stems(s.claim)) - _FRAMING) and not _ABSTAIN.search(s.claim)
    factual = [s for s in sentences if s.factual]
    if not factual:
        pointed = [n for n in _marker_numbers(reply) if n in by_n]
        if pointed and not any(_ABSTAIN.search(s.claim) for s in sentences):
            return _quote_passage(by_n[pointed[0]])  # a bare "[1]": the model pointed, the passage speaks
        return CheckedAnswer(text="", abstained=True, citations=[], sentences=[], resolution="declined-by-model")

    candidates = [(p, start, end) for p in passages for start, end in p.sentences]
    if not candidates:  # no passage was given: nothing the model wrote can be supported
        return _unsupported(factual, drew_on=[])
    vectors = embedder.embed_remembered([s.claim for s in factual] + [p.slice(start, end) for p, start, end in candidates])
    claim_vectors, source_vectors = vectors[:len(factual)], vectors[len(factual):]
    chosen: dict[int, list[tuple[int, int]]] = {}
    best_support: dict[int, float] = {}
    drew_on = []
    for s, claim_vector in zip(factual, claim_vectors):
        support, closest = _support(s.claim, claim_vector, candidates, source_vectors, question)
        drew_on.append((closest[0].document.path, closest[1], closest[2]))
        backing = [n for n in s.markers if support[n][0] >= SUPPORT_MIN]
        if not backing:
            best = max(support, key=lambda n: support[n][0])
            backing = [best] if support[best][0] >= SUPPORT_MIN else []
        s.cited, s.supported = tuple(dict.fromkeys(backing)), bool(backing)
        for n in s.cited:
            chosen.setdefault(n, []).append(support[n][1:])
            best_support[n] = max(best_support.get(n, 0.0), support[n][0])

    if not any(s.supported for s in factual):
        return _unsupported(factual, drew_on)
    citations = []
    for n in sorted(chosen):
        start, end = min(a for a, _ in chosen[n]), max(b for _, b in chosen[n])
        citations.append(by_n[n].cite(start, end, round(best_support[n], 4)))
    text = "".join(_render(s) + s.separator for s in sentences).strip()
    return CheckedAnswer(text=text, abstained=False, citations=citations,
                         sentences=[AnswerSentence(text=_render(s), citations=list(s.cited), supported=s.supported)
                                    for s in factual], drew_on=drew_on)


def _support(claim: str, claim_vector: np.ndarray, candidates: list[tuple[Passage, int, int]],
             source_vectors: np.ndarray, question: str) -> tuple[dict[int, tuple[float, int, int]],
                                                                  tuple[Passage, int, int]]:
    """Best supporting sentence of each passage for the claim (n -> (score, start, end)), and the sentence the
    claim is closest to in words and meaning, whatever its names and numbers say (what the model drew on).

    An answer restates its question and adds the answer ("The march will take place at Tweedbank"); only
    what it adds needs the source, so word coverage counts the claim's words that are not the question's.
    Every name, date, quoted title, number and link it pins down must be in the supporting sentence or a
    neighbour (or the question, or the document's headline): a near-miss figure, an invented name or a made-up
    link makes the claim unsupported however close the rest of the words."""
    question_terms = set(stems(question))
    terms = set(stems(claim)) - question_terms or set(stems(claim))
    pinned = {a for a in anchors(claim) | links(claim) if not says(question, a)}
    best: dict[int, tuple[float, int, int]] = {}
    closest, closest_score = candidates[0], -1.0
    cosines = source_vectors @ claim_vector
    for (passage, start, end), cosine in zip(candidates, cosines):
        span = _stating(passage, (start, end), pinned)
        # Words may come from the neighbour that states part of the claim ("71 ... and died of Alzheimer's").
        stated = set(stems(passage.slice(*(span or (start, end)))))
        score = 0.5 * float(cosine) + 0.5 * (len(terms & stated) / len(terms) if terms else 0.0)
        if score > closest_score:
            closest, closest_score = (passage, start, end), score
        if span is None:
            score, span = 0.0, (start, end)  # a figure or a name the sentence does not give is invented
        if score > best.get(passage.n, (-1.0,))[0]:
            best[passage.n] = (score, *span)
    return best, closest


def _stating(passage: Passage, sentence: tuple[int, int], pinned: set[str]) -> tuple[int, int] | None:
    """The sentence, widened to a neighbour that states what the sentence lacks of `pinned` (the claim's names,
    dates, titles and numbers); None when neither the sentence, its neighbours nor the headline state them all.
    A number from elsewhere in a long passage does not back a claim about this sentence's fact."""
    index = passage.sentences.index(sentence)
    neighbours = [passage.sentences[i] for i in (index - 1, index + 1) if 0 <= i < len(passage.sentences)]
    start, end = sentence
    for anchor in pinned:
        if says(passage.slice(*sentence), anchor) or says(passage.document.heading, anchor):
            continue
        holder = next((n for n in neighbours if says(passage.slice(*n), anchor)), None)
        if holder is None:
            return None
        start, end = min(start, holder[0]), max(end, holder[1])
    return start, end


def links(text: str) -> set[str]:
    """The links a text gives, lower-cased as `says` compares them, without the sentence's closing punctuation."""
    return {m.group().rstrip(".,;:!?").lower() for m in _LINK.finditer(text)}


def _unsupported(factual: list[_Sentence], drew_on: list[tuple[str, int, int]]) -> CheckedAnswer:
    """Nothing the model wrote is supported: the answer is withdrawn, its claims kept as flagged."""
    return CheckedAnswer(text="", abstained=True, citations=[],
                         sentences=[AnswerSentence(text=s.claim + s.end_punct, citations=[], supported=False)
                                    for s in factual], resolution="declined-unsupported", drew_on=drew_on)


def _quote_passage(passage: Passage) -> CheckedAnswer:
    citation = passage.cite_best()
    quote = citation.quote
    return CheckedAnswer(text=f"{quote} [{passage.n}]", abstained=False, citations=[citation],
                         sentences=[AnswerSentence(text=f"{quote} [{passage.n}]", citations=[passage.n],
                                                   supported=True)])


def _split(reply: str) -> list[_Sentence]:
    """The reply's sentences, each with the markers that belong to it.

    Models put markers before the full stop ("fell 5% [1].") or after it ("fell 5%. [1]"); a sentence
    that starts with markers hands them to the sentence before.
    """
    out: list[_Sentence] = []
    spans = sentence_spans(reply)
    for i, span in enumerate(spans):
        raw = reply[span.start:span.end]
        following = reply[span.end:spans[i + 1].start] if i + 1 < len(spans) else ""
        markers = _marker_numbers(raw)
        leading = _MARKER.match(raw)
        if leading and out and not out[-1].markers:
            lead_text = raw[:leading.end()]
            while (more := _MARKER.match(raw, len(lead_text))) is not None:
                lead_text = raw[:more.end()]
            moved = _marker_numbers(lead_text)
            out[-1].markers = moved
            markers = markers[len(moved):]
            raw = raw[len(lead_text):]
        claim = strip_markers(raw).strip()
        punct = claim[-1] if claim[-1:] in (".", "!", "?") else ""
        claim = claim[:-1].rstrip() if punct else claim
        if claim:
            out.append(_Sentence(claim=claim, end_punct=punct, markers=markers, separator=following or " "))
        elif out:
            out[-1].markers += markers
    return out


def strip_markers(text: str) -> str:
    return _MARKER.sub("", text)


def _marker_numbers(text: str) -> list[int]:
    return [int(n) for m in _MARKER.finditer(text) for n in re.split(r"\s*,\s*", m.group(1))]


def _render(s: _Sentence) -> str:
    markers = "".join(f"[{n}]" for n in s.cited)
    return f"{s.claim} {markers}{s.end_punct}" if markers else f"{s.claim}{s.end_punct}"
