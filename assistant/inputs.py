"""What a question may be, checked in one place for every door (terminal, web page, Gradio API, /v1): its text
cleaned of what cannot be encoded, and its size bounded, so one request cannot hold the server for seconds or
end in a 500 deep inside the tokenizer."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.records import Message

# C0 controls other than tab, newline and carriage return (and DEL): never part of a question, and some break
# the terminal or the tokenizer.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class InputError(ValueError):
    """A request the assistant refuses, said so the user can fix it."""


@dataclass(frozen=True)
class InputLimits:
    question_chars: int = 4000
    history_messages: int = 50
    history_chars: int = 50_000


def clean_text(text: str) -> str:
    """The text as valid Unicode: a lone surrogate (what a client's broken escape or a file name that is not
    UTF-8 leaves) becomes U+FFFD, a well-formed pair the character it spells; control characters go."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return _CONTROLS.sub("", text)


def checked_question(question: object, history: list[Message] | None,
                     limits: InputLimits) -> tuple[str, list[Message]]:
    """The question and its history, cleaned; InputError when empty, too long or not text."""
    if not isinstance(question, str):
        raise InputError(f"the question must be text, not {type(question).__name__}")
    question = clean_text(question).strip()
    if not question:
        raise InputError("the question is empty")
    if len(question) > limits.question_chars:
        raise InputError(f"the question is {len(question):,} characters long; at most {limits.question_chars:,} "
                         "are read (setting max_question_chars): ask about one thing at a time")
    return question, checked_history(history, limits)


def checked_history(history: list[Message] | None, limits: InputLimits) -> list[Message]:
    """A conversation's earlier messages, cleaned; InputError when there are too many or they hold too much."""
    history = list(history or [])
    if len(history) > limits.history_messages:
        raise InputError(f"the conversation has {len(history)} earlier messages; at most {limits.history_messages} "
                         "are taken (setting max_history_messages): start a new chat")
    history = [Message(role=m.role, content=clean_text(m.content)) for m in history]
    size = sum(len(m.content) for m in history)
    if size > limits.history_chars:
        raise InputError(f"the conversation's earlier messages hold {size:,} characters; at most "
                         f"{limits.history_chars:,} are taken (setting max_history_chars): start a new chat")
    return history
