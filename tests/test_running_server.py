"""`assistant ask` and `chat` send their questions to an `assistant serve` running on the same home with the same
settings (no model to load), and answer in-process when there is none, it differs, or it is gone."""

from __future__ import annotations

import json
import subprocess
import time

from assistant.running_server import RECORD, ServerRecord
from tests.test_hostile_requests import QUESTION, Served, assistant, indexed_folder
from tests.test_ui import ORRIN


def test_the_terminal_asks_the_running_server_and_falls_back_when_it_is_gone(tmp_path):
    base = indexed_folder(tmp_path)
    server = Served(base)
    record_path = base / "home" / RECORD
    try:
        deadline = time.monotonic() + 30
        while not record_path.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        record = ServerRecord.model_validate_json(record_path.read_text())
        assert record.url == server.url and record.pid == server.process.pid and record.llm == "none"
        asked = assistant(base, "ask", QUESTION)
        assert asked.returncode == 0 and ORRIN in asked.stdout
        assert f"answered by the server running at {server.url}" in asked.stderr
        as_json = json.loads(assistant(base, "ask", QUESTION, "--json").stdout)
        assert as_json["citations"][0]["quote"] == ORRIN and as_json["signature"]
        chat = assistant(base, "chat", stdin=f"{QUESTION}\nHow tall is it?\n/quit\n")
        assert chat.returncode == 0 and chat.stderr.count("answered by the server running at") == 2
        assert "The summit stands 3,120 metres above sea level." in chat.stdout  # the history went along
        here = assistant(base, "ask", QUESTION, "--top-k", "3")  # what /v1 does not take: answered here
        assert here.returncode == 0 and "answered by the server" not in here.stderr and ORRIN in here.stdout
        refused = assistant(base, "ask", "x" * 5000)
        assert refused.returncode == 1 and "max_question_chars" in refused.stderr
    finally:
        server.stop()
    assert not record_path.exists()  # taken back when the server stopped
    alone = assistant(base, "ask", QUESTION)
    assert alone.returncode == 0 and "answered by the server" not in alone.stderr and ORRIN in alone.stdout


def test_a_record_left_by_a_killed_server_is_ignored(tmp_path):
    base = indexed_folder(tmp_path)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (base / "home" / RECORD).write_text(ServerRecord(url="http://127.0.0.1:9/", pid=dead.pid, collection="documents",
                                                     llm="none", model="default", login=False).model_dump_json())
    asked = assistant(base, "ask", QUESTION)
    assert asked.returncode == 0 and "server" not in asked.stderr and ORRIN in asked.stdout
