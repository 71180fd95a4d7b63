"""Typed records the assistant hands to the CLI and the UI."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# What an answer says when the documents do not answer (the UI and the history recognise it by this text).
NOT_IN_DOCUMENTS = "The indexed documents do not contain an answer to this question."
NOT_IN_SELECTED = "The selected documents do not contain an answer to this question."


# How an answer came about; the JSON's `resolution` says which, so a user can see why an answer looks as it does.
RESOLUTIONS = {
    "written": "the model's answer, checked against the passages",
    "quoted": "the evidence sentences themselves (no model)",
    "quoted-instead": "the model's reply did not give what was asked; the evidence sentences that do are quoted",
    "declined-off-topic": "nothing retrieved comes close to the question; the model was not asked",
    "declined-by-model": "the model read the passages and said they do not answer",
    "declined-unsupported": "nothing the model wrote is supported by the passages",
    "declined-not-answered": "no passage gives what the question asks for (a number, a name, a date...)",
}
Resolution = Literal["written", "quoted", "quoted-instead", "declined-off-topic", "declined-by-model",
                     "declined-unsupported", "declined-not-answered"]


class Citation(BaseModel):
    n: int = Field(description="the [n] marker in the answer (the passage's number)")
    source: str = Field(description="the document's path as given when indexed")
    quote: str = Field(description="exactly text[start:end] of the document's extracted text")
    start: int
    end: int
    score: float = Field(description="how well the quote supports what cites it (evidence score before the "
                                     "answer is written)")
    page: int | None = Field(None, description="the PDF page or slide the quote is on (1-based); null for a "
                                               "document without pages")
    status: Literal["current", "moved", "changed", "removed"] | None = Field(
        None, description="set when a saved conversation is reopened: the quote is still at its place, was found "
                          "again elsewhere in its document (offsets updated), is no longer in its changed document, "
                          "or its document was removed")

    @property
    def page_label(self) -> str | None:
        """'p. 3', 'slide 2', or None."""
        if self.page is None:
            return None
        return f"{'slide' if self.source.lower().endswith('.pptx') else 'p.'} {self.page}"

    @property
    def place(self) -> str:
        """Where the quote is, for people: 'report.pdf, p. 3', 'deck.pptx, slide 2', 'notes.txt'."""
        return f"{self.source}, {self.page_label}" if self.page is not None else self.source


class AnswerSentence(BaseModel):
    text: str = Field(description="the sentence as shown in the answer, markers included")
    citations: list[int] = Field(description="the [n] it cites after checking")
    supported: bool = Field(description="false: no passage supports it (shown flagged, never silently)")


class Answer(BaseModel):
    question: str
    answer: str
    abstained: bool
    citations: list[Citation] = []
    sentences: list[AnswerSentence] = Field([], description="the answer's factual sentences with the checker's "
                                                            "verdict; empty for extractive answers")
    writer: str = Field("extractive", description="what wrote the answer: 'extractive' or the model")
    evidence_score: float | None = Field(None, description="score of the best quote; under the abstention "
                                                               "threshold the answer abstains")
    standalone_question: str | None = Field(None, description="the follow-up rewritten for retrieval")
    scope: list[str] = Field([], description="the documents (sources) the question was limited to; empty: all")
    resolution: Resolution = Field("quoted", description="how the answer came about: " + "; ".join(
        f"{name}: {meaning}" for name, meaning in RESOLUTIONS.items()))
    timings: dict[str, float] = {}
    signature: str | None = Field(None, description="the server's signature of this answer (HMAC with a secret "
                                                    "kept in its home): feedback is taken only on answers it gave")

    @property
    def unsupported(self) -> list[str]:
        return [s.text for s in self.sentences if not s.supported]


class Scope(BaseModel):
    """Documents a question is limited to (`ask --source`, the chat's picker, `sources` in /ask)."""

    sources: list[str]
    version_ids: list[str]


class Message(BaseModel):
    """One turn of a conversation, as `--history FILE` holds them."""

    role: str
    content: str


class WaitingEvent(BaseModel):
    """The model is busy with other questions: this one waits in line (repeated while it waits)."""

    kind: Literal["waiting"] = "waiting"
    ahead: int = Field(description="questions waiting before this one (besides those being answered)")
    estimate_s: float | None = Field(None, description="seconds until the model starts on it; None: not known yet")


class SourcesEvent(BaseModel):
    """Retrieval is done: the numbered passages the answer may cite (before the answer is written)."""

    kind: Literal["sources"] = "sources"
    citations: list[Citation]
    standalone_question: str | None = None


class FoundEvent(BaseModel):
    """Before the model reads: the best evidence sentences (what the extractive answer would quote), shown as the
    passages found while the model's checked answer is on its way (it replaces them), and how long the model's
    reading is expected to take."""

    kind: Literal["found"] = "found"
    citations: list[Citation]
    passages: int = Field(description="passages the model now reads")
    estimate_s: float | None = Field(None, description="seconds until its first words, from the last answers; "
                                                       "None: not known yet")


def reading_text(found: FoundEvent) -> str:
    """'The model is reading 9 passages (about 8 s)…', for the page and the terminal alike."""
    about = f" (about {max(1, round(found.estimate_s))} s)" if found.estimate_s is not None else ""
    return f"The model is reading {found.passages} passage{'s' * (found.passages != 1)}{about}…"


class TokenEvent(BaseModel):
    kind: Literal["token"] = "token"
    text: str


class AnswerEvent(BaseModel):
    """The checked answer: markers validated, quotes chosen, unsupported sentences flagged."""

    kind: Literal["answer"] = "answer"
    answer: Answer


StreamEvent = WaitingEvent | SourcesEvent | FoundEvent | TokenEvent | AnswerEvent
