"""Typed records the assistant hands to the CLI and the UI."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Citation(BaseModel):
    n: int = Field(description="the [n] marker in the answer")
    source: str = Field(description="the document's path as given when indexed")
    quote: str = Field(description="exactly text[start:end] of the document's extracted text")
    start: int
    end: int
    score: float


class Answer(BaseModel):
    question: str
    answer: str
    abstained: bool
    citations: list[Citation] = []
    evidence_score: float | None = Field(None, description="score of the best quote; under the abstention "
                                                               "threshold the answer abstains")
    standalone_question: str | None = Field(None, description="the follow-up rewritten for retrieval")
    timings: dict[str, float] = {}


class Message(BaseModel):
    """One turn of a conversation, as `--history FILE` holds them."""

    role: str
    content: str
