"""Saved conversations: every chat's answers (with their citations) in the home's conversations.sqlite, so a
reload or a restart loses nothing. Each belongs to the user who had it (None without a login) and only they
see it. A conversation is small (a few answers), so it is stored whole, as JSON, and replaced on each turn.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel

from assistant.home_db import open_home_db
from assistant.records import Answer

TITLE_CHARS = 80


class ConversationSummary(BaseModel):
    id: str
    collection: str | None = None  # the collection it searched; None: the default one
    title: str
    created: str
    updated: str
    turns: int


class Conversation(ConversationSummary):
    answers: list[Answer]


class ConversationNotFound(ValueError):
    pass


class ConversationStore:
    def __init__(self, path: Path):
        # Its table: index/migrations/versions/conversations_* (id, user, title, created, updated, turns, answers,
        # collection, in that order: save() inserts by position).
        self._db, self._lock = open_home_db(path, "conversations")

    def save(self, conversation_id: str | None, answers: list[Answer], user: str | None,
             collection: str | None = None) -> str:
        """Store the conversation's answers; a new one (id None) is titled by its first question."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        stored = json.dumps([a.model_dump(mode="json") for a in answers])
        with self._lock:
            if conversation_id is not None:
                self._owned(conversation_id, user)
                self._db.execute("UPDATE conversations SET updated = ?, turns = ?, answers = ? WHERE id = ?",
                                 (now, len(answers), stored, conversation_id))
                return conversation_id
            conversation_id = uuid.uuid4().hex[:12]
            title = _title(answers[0].question) if answers else "New conversation"
            self._db.execute("INSERT INTO conversations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (conversation_id, user, title, now, now, len(answers), stored, collection))
            return conversation_id

    def summaries(self, user: str | None) -> list[ConversationSummary]:
        """The user's conversations, the most recently continued first."""
        with self._lock:
            rows = self._db.execute("SELECT id, collection, title, created, updated, turns FROM conversations "
                                    "WHERE user IS ? ORDER BY updated DESC, created DESC", (user,)).fetchall()
        return [ConversationSummary(id=i, collection=k, title=t, created=c, updated=u, turns=n)
                for i, k, t, c, u, n in rows]

    def get(self, conversation_id: str, user: str | None) -> Conversation:
        with self._lock:
            row = self._owned(conversation_id, user)
        i, title, created, updated, turns, answers, collection = row
        return Conversation(id=i, collection=collection, title=title, created=created, updated=updated, turns=turns,
                            answers=[Answer.model_validate(a) for a in json.loads(answers)])

    def rename(self, conversation_id: str, user: str | None, title: str) -> None:
        title = _title(title)
        if not title:
            raise ValueError("a conversation's name cannot be empty")
        with self._lock:
            self._owned(conversation_id, user)
            self._db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))

    def delete(self, conversation_id: str, user: str | None) -> None:
        with self._lock:
            self._owned(conversation_id, user)
            self._db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def _owned(self, conversation_id: str, user: str | None) -> tuple:
        """The row, if this user has it: another user's conversation is as absent as a deleted one."""
        row = self._db.execute("SELECT id, title, created, updated, turns, answers, collection FROM conversations "
                               "WHERE id = ? AND user IS ?", (conversation_id, user)).fetchone()
        if row is None:
            raise ConversationNotFound(f"no conversation {conversation_id}: it was deleted, or is not yours")
        return row


def _title(text: str) -> str:
    """One line, at most TITLE_CHARS characters."""
    return " ".join(text.split())[:TITLE_CHARS]
