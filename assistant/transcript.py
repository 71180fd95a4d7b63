"""A conversation as the answers it holds: the history a follow-up needs, and a Markdown export."""

from __future__ import annotations

from assistant.records import Answer, Message


def history_messages(answers: list[Answer]) -> list[Message]:
    """The conversation so far, as the answerer takes it for follow-up questions."""
    messages: list[Message] = []
    for answer in answers:
        messages += [Message(role="user", content=answer.question),
                     Message(role="assistant", content=answer.answer)]
    return messages


def conversation_markdown(answers: list[Answer]) -> str:
    """Every question and answer with its citations (source, character offsets, verbatim quote), so the
    downloaded file can be checked against the documents without the app."""
    parts = ["# Conversation\n"]
    for number, answer in enumerate(answers, 1):
        parts.append(f"## {number}. {_one_line(answer.question)}\n")
        if answer.standalone_question:
            parts.append(f"*Searched for: {_one_line(answer.standalone_question)}*\n")
        parts.append(answer.answer + "\n")
        unsupported = answer.unsupported
        if unsupported:
            parts.append("Not supported by the documents:\n")
            parts += [f"- ⚠ {_one_line(text)}" for text in unsupported]
            parts.append("")
        if answer.citations:
            parts.append("Citations:\n")
            parts += [f"- [{c.n}] `{c.source}`{', ' + c.page_label if c.page else ''}, characters {c.start}–{c.end}:\n"
                      f"  > {_one_line(c.quote)}"
                      for c in answer.citations]
            parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())
