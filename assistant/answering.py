"""Answering: retrieve, decide whether the documents can answer, then quote them or let a model write.

One pipeline for every backend, as a stream of events: the sources as soon as retrieval is done, the
model's text as it comes, then the checked answer. Without a model (`llm = none`) the answer is the best
evidence sentences themselves. With one, the model sees a few numbered passages and its reply goes
through the citation checker (assistant/citations.py); the quotes are always chosen from the source by
the system, never written by the model.
"""

from __future__ import annotations

import time
from typing import Iterator, Protocol

import numpy as np

from assistant.citations import check_answer
from assistant.conversation import rewrite_question
from assistant.evidence import rank_evidence
from assistant.llm import ChatModel
from assistant.passages import Passage, build_passages
from assistant.records import (NOT_IN_DOCUMENTS, Answer, AnswerEvent, Citation, Message, SourcesEvent, StreamEvent,
                               TokenEvent)
from index.embedder import Embedder
from index.records import StoredChunk

# Extractive answers: quotes after the best one must score within this margin of it.
_QUOTE_MARGIN = 0.1
SYSTEM_PROMPT = (
    "You answer questions about documents, using only the numbered passages the user gives you. "
    "Answer in one to three short sentences. End every sentence with the number of the passage it comes "
    "from, like [1]. If the passages do not answer the question, write: The documents do not say.")
# Worked examples, shown before every question as earlier turns. Told only the rule, the 1.5B model
# declined a third of answerable SQuAD questions; with examples of both kinds it declines few, and still
# declines some unanswerable ones (README, "Answer quality"). They never change, so llama.cpp keeps them in
# its prompt cache: they cost time once per process, not per question. The facts are invented.
EXAMPLES = [
    ("[1] The Brenmoor city council approved a new tram line on Tuesday; building work is due to start in 2026.\n"
     "[2] The line will link the harbour district to the university.",
     "When will work on the Brenmoor tram line start?",
     "Building work on the Brenmoor tram line is due to start in 2026 [1]."),
    ("[1] Kestrel Foods reported a net profit of 12 million euros for 2023, up from 9 million a year earlier.\n"
     "[2] The company plans to open two new factories in Poland.",
     "What was Kestrel Foods' profit in 2021?",
     "The documents do not say."),
    ("[1] Police said the fire at the Orlan textile mill started shortly after midnight.\n"
     "[2] Three workers were treated for smoke inhalation, and the mill will stay shut until an inspection.",
     "How many workers were hurt in the mill fire?",
     "Three workers were treated for smoke inhalation after the fire at the Orlan textile mill [2]."),
]


class Retriever(Protocol):
    def retrieve(self, query: str, top_k: int) -> tuple[np.ndarray, list[StoredChunk]]: ...


class Answerer:
    def __init__(self, retriever: Retriever, embedder: Embedder, chat_model: ChatModel | None, top_k: int,
                 passages: int, max_quotes: int, abstain_below: float, max_answer_tokens: int):
        self.retriever = retriever
        self.embedder = embedder
        self.chat_model = chat_model
        self.top_k = top_k
        self.passages = passages
        self.max_quotes = max_quotes
        self.abstain_below = abstain_below
        self.max_answer_tokens = max_answer_tokens
        if chat_model is not None and chat_model.reuses_prompt_prefix:
            warm_up(chat_model)

    def ask(self, question: str, history: list[Message] | None = None, top_k: int | None = None) -> Answer:
        for event in self.stream(question, history, top_k):
            if isinstance(event, AnswerEvent):
                return event.answer
        raise AssertionError("the answer stream ended without an answer")

    def stream(self, question: str, history: list[Message] | None = None,
               top_k: int | None = None) -> Iterator[StreamEvent]:
        clock = _Clock()
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        rewritten = rewrite_question(question, history or [], self.chat_model)
        if history:
            clock.mark("rewrite_s")
        query = rewritten or question
        query_vector, chunks = self.retriever.retrieve(query, top_k or self.top_k)
        if rewritten and self.chat_model is None:
            # The rule-based rewrite glues the previous question on: right for retrieval, but the quote must
            # answer what is asked now, so sentences are ranked against both and keywords come from now.
            query_vector = query_vector + self.embedder.embed_one(question)
            query_vector /= np.linalg.norm(query_vector)
            query = question
        evidence = rank_evidence(query, query_vector, chunks, self.embedder)
        answer = Answer(question=question, answer=NOT_IN_DOCUMENTS, abstained=True, standalone_question=rewritten,
                        evidence_score=evidence[0].score if evidence else None,
                        writer=self.chat_model.description if self.chat_model else "extractive")
        if not evidence or evidence[0].score < self.abstain_below:
            # Nothing retrieved answers: say so without spending seconds on the model.
            clock.mark("sources_s")
            yield SourcesEvent(citations=[], standalone_question=rewritten)
            yield AnswerEvent(answer=clock.stamp(answer))
            return
        passages = build_passages(evidence, self.passages if self.chat_model else self.max_quotes)
        if self.chat_model is None:
            passages = [p for p in passages if p.score >= passages[0].score - _QUOTE_MARGIN]
        clock.mark("sources_s")
        yield SourcesEvent(citations=[_evidence_citation(p) for p in passages], standalone_question=rewritten)
        if self.chat_model is None:
            answer.citations = [_evidence_citation(p) for p in passages]
            answer.answer = " ".join(f"{c.quote} [{c.n}]" for c in answer.citations)
            answer.abstained = False
            yield TokenEvent(text=answer.answer)
            yield AnswerEvent(answer=clock.stamp(answer))
            return
        pieces = []
        for piece in self.chat_model.stream(answer_prompt(query, passages), self.max_answer_tokens):
            if not pieces:
                clock.mark("first_token_s")
            pieces.append(piece)
            yield TokenEvent(text=piece)
        clock.mark("generate_s")
        checked = check_answer("".join(pieces), passages, self.embedder)
        answer.abstained = checked.abstained
        answer.answer = NOT_IN_DOCUMENTS if checked.abstained else checked.text
        answer.citations, answer.sentences = checked.citations, checked.sentences
        clock.mark("check_s")
        yield AnswerEvent(answer=clock.stamp(answer))


def answer_prompt(question: str, passages: list[Passage]) -> list[dict]:
    """Instructions and examples first (a fixed prefix llama.cpp reuses from its cache), then the passages."""
    numbered = "\n".join(f"[{p.n}] {' '.join(p.text.split())}" for p in passages)
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    for example_passages, example_question, example_answer in EXAMPLES:
        messages += [{"role": "user", "content": _question_turn(example_passages, example_question)},
                     {"role": "assistant", "content": example_answer}]
    return messages + [{"role": "user", "content": _question_turn(numbered, question)}]


def _question_turn(numbered_passages: str, question: str) -> str:
    return f"Passages:\n{numbered_passages}\n\nQuestion: {question}"


def warm_up(chat_model: ChatModel) -> None:
    """Run the fixed prompt prefix once, so the first question does not pay for it."""
    for _ in chat_model.stream(answer_prompt("", [])[:-1] + [{"role": "user", "content": "Ready?"}], max_tokens=1):
        pass


def _evidence_citation(passage: Passage) -> Citation:
    """The passage's evidence sentence as a quote: what retrieval found, before anything is written."""
    start, end = passage.sentences[-1]  # windows are (context sentence, evidence sentence)
    return Citation(n=passage.n, source=passage.source, quote=passage.slice(start, end), start=start, end=end,
                    score=passage.score)


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
