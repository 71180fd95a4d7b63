"""Answering: retrieve, decide whether the documents can answer, then quote them or let a model write.

One pipeline for every backend, as a stream of events: the sources as soon as retrieval is done, the
model's text as it comes, then the checked answer. Without a model (`llm = none`) the answer is the best
evidence sentences themselves. With one, the model sees a few numbered passages and its reply goes
through the citation checker (assistant/citations.py); the quotes are always chosen from the source by
the system, never written by the model.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from contextlib import nullcontext
from typing import Callable, Iterator, Protocol

import numpy as np

from assistant.answer_types import Ask, stems
from assistant.citations import CheckedAnswer, check_answer
from assistant.conversation import rewrite_question
from assistant.evidence import Evidence, ask_text, gather_documents, is_instruction, rank_evidence
from assistant.inputs import InputLimits, checked_question
from assistant.llm import ChatModel
from assistant.passages import Passage, build_passages, select_evidence
from assistant.records import (NOT_IN_DOCUMENTS, NOT_IN_SELECTED, Answer, AnswerEvent, Citation, FoundEvent, Message,
                               Resolution, Scope, SourcesEvent, StreamEvent, TokenEvent, WaitingEvent)
from assistant.waiting_line import WaitingLine
from index.embedder import Embedder
from index.records import StoredChunk

# Extractive answers: quotes after the best one must score within this margin of it.
_QUOTE_MARGIN = 0.3
# What is read comes from the best document and any retrieved about as strongly (this share of its fused
# score). Sentences of weaker documents only share words with the question; given to a small model they are
# distractors: on the hardest 28 dev questions, reading the best document alone answered 10 of 16 answerable
# ones (7 with the others' sentences mixed in) and declined 8 of 12 unanswerable ones (7).
_FOCUS = 0.9
# A model that declines on all the chosen sentences gets a second look at this many of the best.
_SECOND_LOOK = 3
# A question waiting for the model is told its place again this often (seconds).
_REPORT_EVERY_S = 1.0
DECLINE = "The documents do not say."
SYSTEM_PROMPT = (
    "You answer questions about documents, using only the numbered passages the user gives you. "
    "Answer in one to three short sentences. End every sentence with the number of the passage it comes "
    "from, like [1]. Answer exactly what is asked: a figure or a name about something else (another person, "
    "another year, a forecast instead of a result) is not the answer. Give the most specific answer the "
    "passages state: the town rather than its country, the person rather than their organisation. If the "
    f"passages do not answer the question, write: {DECLINE}")
# Worked examples, shown before every question as earlier turns. Told only the rule, the 1.5B model
# declined a third of answerable SQuAD questions; with examples of both kinds it declines few. The auction
# and parking ones teach what news questions over a large corpus need most: declining when only a near miss
# is there (an estimate for a final price), and picking the figure about the right subject among similar
# ones. The declines come first: with one last, the 0.5B model copied it even for "How many loaves..." in
# front of "sells 900 loaves". They never change, so llama.cpp keeps them in its prompt cache: they cost
# time once per process, not per question. The facts are invented.
EXAMPLES = [
    ('From "Brenmoor approves tram line":\n'
     "[1] The Brenmoor city council approved a new tram line on Tuesday; building work is due to start in 2026.\n"
     "[2] The line will link the harbour district to the university.",
     "When will work on the Brenmoor tram line start?",
     "Building work on the Brenmoor tram line is due to start in 2026 [1]."),
    ('From "Kestrel Foods profit rises":\n'
     "[1] Kestrel Foods reported a net profit of 12 million euros for 2023, up from 9 million a year earlier.\n"
     "[2] The company plans to open two new factories in Poland.",
     "What was Kestrel Foods' profit in 2021?",
     DECLINE),
    ('From "Hollin portrait goes to auction":\n'
     "[1] The portrait by Edith Hollin is expected to fetch up to $2m when it is sold in New York next month.\n"
     "[2] It was painted in 1921.",
     "How much did the Hollin portrait sell for?",
     DECLINE),
    ('From "Fire at Orlan mill":\n'
     "[1] Police said the fire at the Orlan textile mill started shortly after midnight.\n"
     "[2] Three workers were treated for smoke inhalation, and the mill will stay shut until an inspection.",
     "How many workers were hurt in the mill fire?",
     "Three workers were treated for smoke inhalation after the fire at the Orlan textile mill [2]."),
    ('From "Parking rules tightened":\n'
     "[1] Firms that ignore the new rules face fines of up to £5,000.\n"
     "[2] Drivers caught a second time will have to pay a fine of £200.",
     "How much will a driver caught twice be fined?",
     "A driver caught a second time will have to pay a fine of £200 [2]."),
]


class Retriever(Protocol):
    def retrieve(self, query: str, top_k: int,
                 version_ids: list[str] | None = None) -> tuple[np.ndarray, list[StoredChunk]]: ...


class Answerer:
    def __init__(self, retriever: Retriever, texts: Callable[[str], str | None], sentences: Embedder,
                 chat_model: ChatModel | None, top_k: int, passages: int, passage_words: int, max_quotes: int,
                 abstain_below: float, max_answer_tokens: int, line: WaitingLine | None = None,
                 limits: InputLimits = InputLimits(), sign: Callable[[Answer], str] | None = None):
        self.retriever = retriever
        self.texts = texts  # sha256 -> the document's extracted text
        self.sentences = sentences  # ranks sentences and checks claims (Embedder.precise)
        self.chat_model = chat_model
        self.top_k = top_k
        self.passages = passages
        self.passage_words = passage_words
        self.max_quotes = max_quotes
        self.abstain_below = abstain_below
        self.max_answer_tokens = max_answer_tokens
        self.line = line  # questions wait here for the model (None: no model, or nothing to share it with)
        self.limits = limits  # what a question and its history may be (assistant/inputs.py)
        self.sign = sign  # the server's signature on each answer: feedback is taken only on answers it gave
        self._reading = _Durations()  # how long the model took to read its passages, for the next estimate
        sentences.load()  # now: the first question's time is its own
        if chat_model is not None and chat_model.reuses_prompt_prefix:
            warm_up(chat_model)

    def ask(self, question: str, history: list[Message] | None = None, top_k: int | None = None,
            scope: Scope | None = None) -> Answer:
        for event in self.stream(question, history, top_k, scope):
            if isinstance(event, AnswerEvent):
                return event.answer
        raise AssertionError("the answer stream ended without an answer")

    def stream(self, question: str, history: list[Message] | None = None, top_k: int | None = None,
               scope: Scope | None = None) -> Iterator[StreamEvent]:
        """Sources, the answer as it is written, then the checked answer. With a scope, only those documents are
        searched, and a decline says the selected documents do not answer. While the model is busy with other
        questions, this one waits in line and says so (WaitingEvent); closing the stream leaves the line.

        The question is checked now, not when the stream is first read: a refused question (InputError) is an
        error its caller can still answer as one (a 400, a one-line message)."""
        question, history = checked_question(question, history, self.limits)
        return self._in_line(question, history, top_k, scope)

    def _in_line(self, question: str, history: list[Message], top_k: int | None,
                 scope: Scope | None) -> Iterator[StreamEvent]:
        clock = _Clock()
        with self.line.place() if self.line and self.chat_model else nullcontext() as place:
            timeout = 0.0
            while place is not None and not place.admitted(timeout):
                yield WaitingEvent(ahead=place.ahead, estimate_s=place.estimate_s())
                timeout = _REPORT_EVERY_S
            if place is not None:
                clock.mark("wait_s")
            for event in self._scoped(self._stream(question, history, top_k, scope, clock), scope):
                if isinstance(event, AnswerEvent):
                    checked = event
                    break  # the checked answer is given after leaving the line: the next question need not wait
                yield event
        if self.sign is not None:
            checked.answer.signature = self.sign(checked.answer)
        yield checked

    @staticmethod
    def _scoped(events: Iterator[StreamEvent], scope: Scope | None) -> Iterator[StreamEvent]:
        for event in events:
            if isinstance(event, AnswerEvent) and scope is not None:
                event.answer.scope = scope.sources
                if event.answer.answer == NOT_IN_DOCUMENTS:
                    event.answer.answer = NOT_IN_SELECTED
            yield event

    def _stream(self, question: str, history: list[Message] | None, top_k: int | None,
                scope: Scope | None, clock: "_Clock") -> Iterator[StreamEvent]:
        rewritten = rewrite_question(question, history or [], self.chat_model)
        if history:
            clock.mark("rewrite_s")
        query = rewritten or question
        _, chunks = self.retriever.retrieve(query, top_k or self.top_k, scope.version_ids if scope else None)
        # Sentences are ranked in the sentence embedder's space, which need not be the index's.
        query_vector = self.sentences.embed_remembered([query])[0]
        if rewritten and self.chat_model is None:
            # The rule-based rewrite glues the previous question on: right for retrieval, but the quote must
            # answer what is asked now, so sentences are ranked against both and keywords come from now.
            query_vector = query_vector + self.sentences.embed_one(question)
            query_vector /= np.linalg.norm(query_vector)
            query = question
        evidence = rank_evidence(query, query_vector, gather_documents(chunks, self.texts), self.sentences)
        # A sentence that speaks to the assistant is a planted instruction: evidence of nothing, never read or quoted.
        evidence = [e for e in evidence if not is_instruction(e.text)]
        relevance = max((e.relevance for e in evidence), default=None)
        answer = Answer(question=question, answer=NOT_IN_DOCUMENTS, abstained=True, standalone_question=rewritten,
                        evidence_score=relevance,
                        writer=self.chat_model.description if self.chat_model else "extractive")
        if relevance is None or relevance < self.abstain_below:
            # Nothing retrieved is about the question: say so without spending seconds on the model.
            yield from _declined(answer, "declined-off-topic", clock)
            return
        ask = Ask.of(query)
        # Focus on the best document left: one that was all instructions must not push the real story out of focus.
        best_document = max(e.document.relevance for e in evidence)
        evidence = [e for e in evidence if e.document.relevance >= _FOCUS * best_document]
        chosen = select_evidence(evidence, self.passages if self.chat_model else self.max_quotes, self.passage_words)
        if ask.specific and not any(e.offers == 1 for e in chosen):
            # Asked for a number, a date or a name, and what is read holds none that the question does not already
            # say: the topic is there, the answer is not.
            yield from _declined(answer, "declined-not-answered", clock)
            return
        if self.chat_model is None:
            answer.citations = quote_evidence(evidence, self.max_quotes)
            clock.mark("sources_s")
            yield SourcesEvent(citations=answer.citations, standalone_question=rewritten)
            answer.answer = " ".join(f"{c.quote} [{c.n}]" for c in answer.citations)
            answer.abstained, answer.resolution = False, "quoted"
            yield TokenEvent(text=answer.answer)
            yield AnswerEvent(answer=clock.stamp(answer))
            return
        passages = build_passages(chosen)
        clock.mark("sources_s")
        yield SourcesEvent(citations=[p.cite_best() for p in passages], standalone_question=rewritten)
        # Something to read within a second: the quotes the extractive answer would give, until the model's answer.
        yield FoundEvent(citations=quote_evidence(evidence, self.max_quotes), passages=len(passages),
                         estimate_s=self._reading.estimate())
        checked = yield from self._read(query, passages, clock)
        fallback = True
        if checked.resolution == "declined-by-model" and len(chosen) > _SECOND_LOOK \
                and "first_token_s" not in clock.timings:  # the decline was held back: nothing shown yet
            # A second look at only the best few sentences: among many, the small model misses an answer that is
            # there (3 of 4 such dev questions answered), and it still declines most that are not (4 of 6).
            second = yield from self._read(query, build_passages(chosen[:_SECOND_LOOK]), clock)
            checked, fallback = (second, False) if not second.abstained else (checked, fallback)
        self._settle(answer, checked, ask, chosen, fallback)
        clock.mark("check_s")
        yield AnswerEvent(answer=clock.stamp(answer))

    def _read(self, question: str, passages: list[Passage], clock: "_Clock") -> Iterator[StreamEvent]:
        """The model reads the passages and writes; its reply is streamed, then checked (the return value).

        A reply is held back while it could still be the bare decline the prompt asks for, so a decline that
        leads to a second look is never shown as the answer."""
        pieces: list[str] = []
        shown = 0
        for piece in self.chat_model.stream(answer_prompt(question, passages), self.max_answer_tokens):
            pieces.append(piece)
            text = "".join(pieces)
            if shown == 0 and DECLINE.startswith(text.strip()):
                continue
            if "first_token_s" not in clock.timings:
                clock.mark("first_token_s")
                self._reading.record(clock.timings["first_token_s"] - clock.timings["sources_s"])
            yield TokenEvent(text=text[shown:])
            shown = len(text)
        clock.mark("generate_s")
        return check_answer("".join(pieces), passages, self.sentences, question)

    def _settle(self, answer: Answer, checked: CheckedAnswer, ask: Ask, chosen: list[Evidence],
                fallback: bool) -> None:
        """What the user gets from a checked reply. A supported restatement of the question is not an answer,
        and neither is a claim the passages do not back as written: in both cases the evidence sentences that
        hold the asked kind of thing (those the model drew on, for an unsupported claim) and share a word with
        what is asked are quoted instead, if there are any; otherwise the documents do not answer. (A profit in
        yen is an amount, but not what a can of the drink costs.)"""
        answer.abstained, answer.resolution = checked.abstained, checked.resolution
        answer.answer = NOT_IN_DOCUMENTS if checked.abstained else checked.text
        answer.citations, answer.sentences = checked.citations, checked.sentences
        if checked.resolution == "declined-unsupported":
            pool = [e for e in chosen if (e.document.path, e.start, e.end) in checked.drew_on]
        elif not checked.abstained and not ask.answered_by(checked.supported_text):
            pool = chosen
        else:
            return
        instead = quote_evidence([e for e in pool if e.offers == 1 and _about_the_ask(ask.question, e)],
                                 self.max_quotes) if fallback else []
        if instead or not checked.abstained:
            answer.citations, answer.abstained = instead, not instead
            answer.answer = " ".join(f"{c.quote} [{c.n}]" for c in instead) or NOT_IN_DOCUMENTS
            answer.resolution = "quoted-instead" if instead else "declined-not-answered"


def answer_prompt(question: str, passages: list[Passage]) -> list[dict]:
    """Instructions and examples first (a fixed prefix llama.cpp reuses from its cache), then the passages,
    each document's under its headline (or file name), then the question."""
    lines, heading = [], None
    for p in passages:
        if p.document.path != heading:
            heading = p.document.path
            lines.append(f'From "{p.document.heading}":')
        lines.append(f"[{p.n}] {' '.join(p.text.split())}")
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    for example_passages, example_question, example_answer in EXAMPLES:
        messages += [{"role": "user", "content": _question_turn(example_passages, example_question)},
                     {"role": "assistant", "content": example_answer}]
    return messages + [{"role": "user", "content": _question_turn("\n".join(lines), question)}]


def _question_turn(numbered_passages: str, question: str) -> str:
    return f"Passages:\n{numbered_passages}\n\nQuestion: {question}"


def warm_up(chat_model: ChatModel) -> None:
    """Get the fixed prompt prefix into the model's cache, so the first question does not pay for it."""
    chat_model.warm_up(answer_prompt("", [])[:-1])


def _about_the_ask(question: str, evidence: Evidence) -> bool:
    """Does the sentence share a word with what the question asks (its words minus the story's recurring ones)?"""
    ask = set(stems(ask_text(question, evidence.document, evidence.document.sentences)))
    return bool(ask & set(stems(evidence.text)))


def _declined(answer: Answer, resolution: Resolution, clock: "_Clock") -> Iterator[StreamEvent]:
    """Decline before the model is asked: no sources to show, nothing to write."""
    answer.resolution = resolution
    clock.mark("sources_s")
    yield SourcesEvent(citations=[], standalone_question=answer.standalone_question)
    yield AnswerEvent(answer=clock.stamp(answer))


def quote_evidence(evidence: list[Evidence], limit: int) -> list[Citation]:
    """The extractive answer's quotes: the best evidence sentences, best first, while they stay close to the best."""
    chosen = select_evidence(evidence, limit)
    if not chosen:
        return []
    return [e.document.cite(n, e.start, e.end, e.score)
            for n, e in enumerate(chosen, start=1) if e.score >= chosen[0].score - _QUOTE_MARGIN]


class _Durations:
    """The last few durations of one step, for estimating the next: their median (None before the first)."""

    def __init__(self, keep: int = 9):
        self._last: deque[float] = deque(maxlen=keep)

    def record(self, seconds: float) -> None:
        self._last.append(seconds)

    def estimate(self) -> float | None:
        last = list(self._last)  # a copy: other questions' threads append meanwhile
        return round(statistics.median(last), 1) if last else None


class _Clock:
    """Seconds since the question arrived, at each milestone (sources known, first token, ...)."""

    def __init__(self):
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}

    def mark(self, name: str) -> None:
        self.timings[name] = round(time.perf_counter() - self.started, 4)

    def stamp(self, answer: Answer) -> Answer:
        answer.timings = {**self.timings, "total_s": round(time.perf_counter() - self.started, 4)}
        return answer
