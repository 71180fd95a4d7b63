"""A running `assistant serve` that the terminal can ask instead of loading the model again: `serve` records
where it listens in the home (`serve.json`), and `assistant ask` / `chat` send their questions there (its
/v1 API, plain HTTP on loopback) when it answers with the same settings, so a question costs seconds less than
a model load. Anything else (another writer or model, a login, a scope or top-k the API does not take, a
server gone) answers in-process as before."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from pydantic import BaseModel, ValidationError

from assistant.records import Answer, Message
from assistant.settings import Settings

RECORD = "serve.json"


class ServerRecord(BaseModel):
    url: str  # http://127.0.0.1:PORT/
    pid: int
    collection: str
    llm: str
    model: str
    login: bool  # a server with a login is not asked (the terminal has no password to give)

    @classmethod
    def of(cls, settings: Settings, url: str, login: bool) -> "ServerRecord":
        return cls(url=url, pid=os.getpid(), collection=settings.collection, llm=settings.llm, model=settings.model,
                   login=login)

    def serves(self, settings: Settings) -> bool:
        """It would answer as this process would: same collection, writer and model, no login, still running."""
        return (not self.login and (self.collection, self.llm, self.model) ==
                (settings.collection, settings.llm, settings.model) and _alive(self.pid))


def record_server(settings: Settings, url: str, login: bool) -> Path:
    path = settings.home / RECORD
    staged = path.with_suffix(f".{os.getpid()}.tmp")
    staged.write_text(ServerRecord.of(settings, url, login).model_dump_json(), encoding="utf-8")
    os.replace(staged, path)  # whole or not at all
    return path


def forget_server(path: Path) -> None:
    """At the server's exit: its record goes, if it is still its own (another server may have started since)."""
    try:
        if ServerRecord.model_validate_json(path.read_text(encoding="utf-8")).pid == os.getpid():
            path.unlink()
    except (OSError, ValidationError):
        pass


def running_server(settings: Settings) -> ServerRecord | None:
    """The server recorded in this home, if it would answer as this process would."""
    try:
        record = ServerRecord.model_validate_json((settings.home / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValidationError):
        return None
    return record if record.serves(settings) else None


class ServerUnreachable(Exception):
    pass


def ask_server(record: ServerRecord, question: str, history: list[Message], timeout: float = 600) -> Answer:
    """The server's checked answer (the same object `ask --json` prints); ValueError for a question it refused or
    could not answer (its message says why), ServerUnreachable when it does not answer at all."""
    messages = [m.model_dump() for m in history] + [{"role": "user", "content": question}]
    request = urllib.request.Request(f"{record.url}v1/chat/completions", data=json.dumps({"messages": messages}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return Answer.model_validate(json.loads(reply.read())["answer"])
    except urllib.error.HTTPError as error:
        if error.code in (400, 503):  # a question it refused, or what it could not reach (Chroma down...): said
            raise ValueError(json.loads(error.read())["error"]["message"]) from None
        raise ServerUnreachable(f"HTTP {error.code}") from None
    except (OSError, ValueError, KeyError) as exc:
        raise ServerUnreachable(str(exc)) from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
