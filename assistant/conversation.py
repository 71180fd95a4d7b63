"""Follow-up questions: turning "Who directed it?" into a question retrieval can answer alone."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from assistant.citations import strip_markers
from assistant.llm import ChatModel
from assistant.records import NOT_IN_DOCUMENTS, NOT_IN_SELECTED, Message

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
    except UnicodeDecodeError:
        raise HistoryError(f"history file {path} is not text (UTF-8): give a JSON file") from None
    except json.JSONDecodeError as exc:
        raise HistoryError(f"history file {path} is not JSON: {exc}") from None
    except ValidationError:
        raise HistoryError(f"history file {path} must hold a JSON list of "
                           '{"role": "user"|"assistant", "content": "..."} objects') from None


REWRITE_PROMPT = (
    "Rewrite the user's last question so that it can be understood without the conversation: replace "
    "pronouns and vague references with the names and things they refer to. Keep it short. Reply with the "
    "rewritten question only.")
# What the model sees of the conversation: recent turns, answers shortened (they are long and cited).
_TURNS = 3
_ANSWER_WORDS = 40


def rewrite_question(question: str, history: list[Message], chat_model: ChatModel | None) -> str | None:
    """The question as it would be asked without the conversation, or None if there is no conversation.

    With a model, the model rewrites it (it resolves "it", "the company", "and profits?"); its reply is
    used only if it looks like one question, else the rule below serves.
    """
    if not any(m.role == "user" and m.content.strip() for m in history):
        return None
    if chat_model is not None:
        reply = "".join(chat_model.stream(_rewrite_messages(question, history), max_tokens=64))
        candidate = reply.strip().splitlines()[0].strip().strip('"“”') if reply.strip() else ""
        if candidate.lower().startswith(("rewritten question:", "question:")):
            candidate = candidate.split(":", 1)[1].strip()
        if 2 <= len(candidate.split()) <= 3 * len(question.split()) + 20:
            return candidate if candidate != question else None
    return standalone_question(question, history)


def _rewrite_messages(question: str, history: list[Message]) -> list[dict]:
    lines = []
    for message in history[-2 * _TURNS:]:
        if message.content.strip() in (NOT_IN_DOCUMENTS, NOT_IN_SELECTED):
            continue  # says nothing about what "it" refers to, and small models copy it
        text = " ".join(strip_markers(message.content).split())
        if message.role != "user":
            words = text.split()
            text = " ".join(words[:_ANSWER_WORDS]) + (" ..." if len(words) > _ANSWER_WORDS else "")
        lines.append(f"{'User' if message.role == 'user' else 'Assistant'}: {text}")
    conversation = "\n".join(lines)
    return [{"role": "system", "content": REWRITE_PROMPT},
            {"role": "user", "content": f"Conversation:\n{conversation}\n\nLast question: {question}\n\n"
                                        "Rewritten question:"}]


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
