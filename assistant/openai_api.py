"""The OpenAI chat-completions protocol over the same answerer, so any OpenAI client or chat front-end can ask.

A request's `messages` are the conversation: the last user message is the question, the earlier user and
assistant turns its history (system messages are ignored: the answerer's instructions are fixed). The reply's
content is the checked answer with its [n] markers, then the numbered sources with their quotes; the full
citation objects (source, offsets, page, quote) ride along in the extra field `citations`, and the whole
answer object (as `assistant ask --json` prints it) in `answer`. A streamed reply sends that same content
once it is checked: what the model writes first may still be replaced by quotes or a decline.
"""

from __future__ import annotations

import base64
import hmac
import time
import uuid
from typing import Iterator

from pydantic import BaseModel, ConfigDict, ValidationError

from assistant.records import Answer, AnswerEvent, Message

MODEL_ID = "cited-assistant"
SOURCES_HEADING = "\n\nSources:\n"


class ApiError(Exception):
    """What the client did wrong, as an HTTP status and an OpenAI-style error message."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.kind = status, kind

    def body(self) -> dict:
        return {"error": {"message": str(self), "type": self.kind}}


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str
    content: str | list[dict] | None = None

    @property
    def text(self) -> str:
        """Plain text; a list of content parts (the newer format) keeps its text parts."""
        if isinstance(self.content, list):
            return "\n".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    """The fields of a chat-completions request this server reads; the others (temperature...) are ignored:
    answers are greedy and checked."""

    model_config = ConfigDict(extra="ignore")
    messages: list[_Message]
    stream: bool = False

    @classmethod
    def parse(cls, body: object) -> "ChatRequest":
        try:
            return cls.model_validate(body)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ApiError(400, f"not a chat completions request ({problems})") from None

    def question_and_history(self) -> tuple[str, list[Message]]:
        turns = [m for m in self.messages if m.role in ("user", "assistant")]
        if not turns or turns[-1].role != "user" or not turns[-1].text.strip():
            raise ApiError(400, "the last message must be the user's question")
        history = [Message(role=m.role, content=m.text.split(SOURCES_HEADING)[0] if m.role == "assistant" else m.text)
                   for m in turns[:-1]]  # an earlier reply's sources list is not part of what it said
        return turns[-1].text.strip(), history


def check_key(presented: str | None, keys: list[str], loopback: bool,
              login: tuple[str, str] | None = None) -> None:
    """Who may ask: with keys, a request presenting one (`Authorization: Bearer KEY`, the scheme in any case);
    with a login (serve --auth), a request presenting a key or the login (HTTP Basic), on every address; with
    neither, loopback only."""
    scheme, _, credentials = (presented or "").strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and any(hmac.compare_digest(credentials.encode(), key.encode()) for key in keys):
        return
    if scheme.lower() == "basic" and login is not None and _basic_matches(credentials, login):
        return
    if not keys and login is None:
        if loopback:
            return
        raise ApiError(401, "this server listens beyond this machine and has no API key: start it with "
                            "--api-key KEY (or ASSISTANT_API_KEY) and send `Authorization: Bearer KEY`",
                       "authentication_error")
    if login is None:
        raise ApiError(401, "missing or wrong API key: send `Authorization: Bearer KEY`", "authentication_error")
    raise ApiError(401, "missing or wrong credentials: this server has a login; send the web chat's login as HTTP "
                        "Basic auth, or `Authorization: Bearer KEY` with a key it was started with (--api-key)",
                   "authentication_error")


def _basic_matches(credentials: str, login: tuple[str, str]) -> bool:
    try:
        user, _, password = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    # Both compared, always: the time taken does not tell which one was wrong.
    same_user = hmac.compare_digest(user.encode(), login[0].encode())
    return hmac.compare_digest(password.encode(), login[1].encode()) and same_user


def reply_content(answer: Answer) -> str:
    """The checked answer, then each citation: '[n] source, p. 3: "quote"'."""
    if not answer.citations:
        return answer.answer
    return answer.answer + SOURCES_HEADING + "\n".join(f'[{c.n}] {c.place}: "{c.quote}"' for c in answer.citations)


def completion(answer: Answer) -> dict:
    return {**_envelope("chat.completion"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply_content(answer)},
                         "finish_reason": "stop"}],
            **_extras(answer)}


def completion_chunks(events: Iterator) -> Iterator[dict]:
    """The streamed form: the role, then the checked content, then the end (with the extras)."""
    envelope = _envelope("chat.completion.chunk")
    yield {**envelope, "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}
    for event in events:
        if isinstance(event, AnswerEvent):
            yield {**envelope, "choices": [{"index": 0, "delta": {"content": reply_content(event.answer)},
                                            "finish_reason": None}]}
            yield {**envelope, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                   **_extras(event.answer)}


def models() -> dict:
    return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "local"}]}


def _envelope(kind: str) -> dict:
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": kind, "created": int(time.time()), "model": MODEL_ID}


def _extras(answer: Answer) -> dict:
    return {"citations": [c.model_dump() for c in answer.citations], "answer": answer.model_dump()}
