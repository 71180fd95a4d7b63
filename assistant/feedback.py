"""Thumbs up or down on answers, with an optional comment, kept in the home's feedback.sqlite, and exported as
a question set `assistant eval` reads: what users judged becomes a regression test on their own documents.

Export rules (what each judgement says about the right behaviour):
- up on an answer: answerable; its quotes are the accepted answers and their files the support, so a later
  answer is right when it finds one of those sentences in the same file;
- up on a decline, or down on an answer: not answerable from the documents (a wrong answer should have been
  a decline: that is the product's promise);
- down on a decline: the user says the documents do answer, but not with what; such entries cannot be scored
  until someone adds the answer and its file, so they are counted and left out.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from assistant.citations import strip_markers
from assistant.home_db import open_home_db
from assistant.inputs import InputError, InputLimits, checked_history, clean_text
from assistant.records import Answer, Message
from assistant.signing import AnswerSigner

Rating = Literal["up", "down"]


class Feedback(BaseModel):
    id: int
    at: str
    user: str | None
    rating: Rating
    comment: str
    history: list[Message]
    answer: Answer


class ExportReport(BaseModel):
    written: int
    left_out: int  # down-rated declines: nobody said what the answer is (and answers without citations)


class FeedbackLog:
    def __init__(self, path: Path, signer: AnswerSigner | None = None, max_comment_chars: int = 2000,
                 limits: InputLimits = InputLimits()):
        """signer: what recognises this server's answers (None: every answer is taken, e.g. for reading)."""
        self.signer, self.max_comment_chars, self.limits = signer, max_comment_chars, limits
        self._db, self._lock = open_home_db(path, "feedback")  # its table: index/migrations/versions/feedback_*

    def record(self, answer: Answer, rating: Rating, comment: str = "", history: list[Message] | None = None,
               user: str | None = None, given_here: bool = False) -> int:
        """Keep a rating. given_here: the answer comes from the server's own state (the web chat's), not from a
        client; otherwise it must carry this server's signature, unchanged (InputError if not)."""
        if rating not in ("up", "down"):
            raise InputError(f"rating must be 'up' or 'down', not {rating!r}")
        if not given_here and self.signer is not None and not self.signer.verify(answer):
            raise InputError("this is not an answer this server gave, or it was changed: rate an answer exactly as "
                             "/ask (or `assistant ask --json`) returned it")
        comment = clean_text(comment).strip()
        if len(comment) > self.max_comment_chars:
            raise InputError(f"the comment is {len(comment):,} characters long; at most {self.max_comment_chars:,} "
                             "are kept (setting max_comment_chars)")
        history = checked_history(history, self.limits)
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO feedback (at, user, rating, comment, history, answer) VALUES (?, ?, ?, ?, ?, ?)",
                (datetime.now(timezone.utc).isoformat(timespec="seconds"), user, rating, comment,
                 json.dumps([m.model_dump() for m in history or []]), answer.model_dump_json()))
        return int(cursor.lastrowid)

    def entries(self) -> list[Feedback]:
        with self._lock:
            rows = self._db.execute("SELECT id, at, user, rating, comment, history, answer FROM feedback "
                                    "ORDER BY id").fetchall()
        return [Feedback(id=i, at=at, user=user, rating=rating, comment=comment, history=json.loads(history),
                         answer=Answer.model_validate_json(answer)) for i, at, user, rating, comment, history, answer
                in rows]

    def export(self, target: Path) -> ExportReport:
        questions, left_out = [], 0
        for entry in self.entries():
            answer = entry.answer
            answerable = entry.rating == "up" and not answer.abstained
            if (entry.rating == "down" and answer.abstained) or (answerable and not answer.citations):
                left_out += 1
                continue
            question = {"id": f"feedback-{entry.id}", "question": answer.question,
                        "history": [m.model_dump() for m in entry.history], "answerable": answerable,
                        "kind": "follow-up" if entry.history else ("factoid" if answerable else "unanswerable"),
                        "rating": entry.rating, "comment": entry.comment,
                        "answer_then": strip_markers(answer.answer)}
            if answerable:
                question["answers"] = list(dict.fromkeys(c.quote for c in answer.citations))
                question["support"] = [{"file": c.source, "quote": c.quote} for c in answer.citations]
            questions.append(question)
        target.write_text(json.dumps(questions, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return ExportReport(written=len(questions), left_out=left_out)
