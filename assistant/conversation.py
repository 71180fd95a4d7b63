"""Follow-up questions: turning "Who directed it?" into a question retrieval can answer alone."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from assistant.records import Message

# Words that point back into the conversation instead of naming their subject.
_BACK_REFERENCE = re.compile(
    r"\b(it|its|it's|they|them|their|theirs|he|him|his|she|her|hers|this|those|these|"
    r"the same|the other|both|either|neither|which one)\b", re.IGNORECASE)
_CONTINUATION = re.compile(r"^\s*(and|but|also|so|what about|how about)\b", re.IGNORECASE)
# "Why?", "When exactly?": too short to stand alone.
_TOO_SHORT_WORDS = 3


class HistoryError(ValueError):
    pass


def load_history(path: str | Path) -> list[Message]:
    """Read a JSON list of {"role", "content"} messages, with a message a user can act on if it is wrong."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        return TypeAdapter(list[Message]).validate_python(raw)
    except OSError as exc:
        raise HistoryError(f"cannot read history file {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise HistoryError(f"history file {path} is not JSON: {exc}") from None
    except ValidationError:
        raise HistoryError(f"history file {path} must hold a JSON list of "
                           '{"role": "user"|"assistant", "content": "..."} objects') from None


def standalone_question(question: str, history: list[Message]) -> str | None:
    """Without a language model: a short question that refers back gets the previous question prefixed.

    Returns None when the question already stands alone (or there is nothing to refer back to).
    """
    earlier = [m.content.strip() for m in history if m.role == "user" and m.content.strip()]
    if not earlier:
        return None
    words = len(question.split())
    if words <= _TOO_SHORT_WORDS or (words <= 12 and (_BACK_REFERENCE.search(question)
                                                      or _CONTINUATION.match(question))):
        return f"{earlier[-1]} {question.strip()}"
    return None
