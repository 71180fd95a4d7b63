"""Signatures on the answers this server gives (HMAC-SHA256 with a secret kept in the home, readable by its owner
only), so feedback is recorded only for an answer it gave, unchanged: a client cannot plant a made-up quote or
file as a liked answer in the exported test set."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from assistant.records import Answer

SECRET_FILE = "answer-signing.key"


class AnswerSigner:
    def __init__(self, home: Path):
        self._key = _secret(home / SECRET_FILE)

    def sign(self, answer: Answer) -> str:
        return hmac.new(self._key, _signed_part(answer), hashlib.sha256).hexdigest()

    def verify(self, answer: Answer) -> bool:
        return answer.signature is not None and hmac.compare_digest(answer.signature, self.sign(answer))


def _signed_part(answer: Answer) -> bytes:
    """What the answer says and cites; not its timings, nor a reopened conversation's citation status."""
    data = answer.model_dump(mode="json", exclude={"signature", "timings"})
    for citation in data["citations"]:
        citation.pop("status", None)
    return json.dumps(data, sort_keys=True, ensure_ascii=True, separators=(",", ":")).encode()


def _secret(path: Path) -> bytes:
    """The home's key, made on first use: written whole to a private file, then linked into place (two
    processes starting at once agree on the first one linked; a crash never leaves a partial key)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_hex(32).encode())
        try:
            os.link(staged, path)
        except FileExistsError:
            pass
        finally:
            os.remove(staged)
    return path.read_bytes()
