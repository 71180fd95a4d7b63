"""Requests that must not cost a user anything, against a real `assistant serve` (its log read for tracebacks)
and the CLI: removals that would match everything, questions too big or not valid Unicode, reads that would
create collections, forged feedback, credentials on /v1, and wrong types or malformed bodies said in one line."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import requests

from assistant.access import is_loopback
from tests.conftest import build_good_corpus
from tests.test_cli import ASSISTANT
from tests.test_ui import ORRIN, client, free_port, launch_on

QUESTION = "When did Mount Orrin last erupt?"


def assistant(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """The CLI run from cwd (the folder its relative paths and the home are in)."""
    return subprocess.run([ASSISTANT, "--home", "home", "--no-llm", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=300)


def indexed_folder(base: Path) -> Path:
    """base/docs indexed into base/home by `assistant index docs` run in base: sources are docs/..."""
    build_good_corpus(base / "docs")
    assert assistant(base, "index", "docs").returncode == 0
    return base


class Served:
    """`assistant serve` run in its folder, its output in a log file (a pipe nobody reads could fill and stall it)."""

    def __init__(self, base: Path, *options: str):
        self.base, self.port, self.log = base, free_port(), base / "serve.log"
        with open(self.log, "w") as log:
            self.process = subprocess.Popen([ASSISTANT, "--home", "home", "--no-llm", "serve", "--port",
                                             str(self.port), *options], cwd=base, stdout=log,
                                            stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}/"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(self.url, timeout=5)
                return
            except OSError:
                assert self.process.poll() is None and time.monotonic() < deadline, self.log.read_text()
                time.sleep(0.5)

    def v1(self, body: bytes | dict, **headers) -> requests.Response:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return requests.post(f"{self.url}v1/chat/completions", data=data, timeout=120,
                             headers={"Content-Type": "application/json", **headers})

    def stop(self) -> str:
        self.process.terminate()
        self.process.wait(timeout=30)
        return self.log.read_text()


def gradio_call(url: str, api: str, data: str) -> tuple[str, object]:
    """Call a Gradio API endpoint with a raw JSON list of all its arguments (anything a client could send, lone
    surrogates too, which gradio_client cannot encode); returns the event ("complete" or "error") and its data."""
    posted = requests.post(f"{url}gradio_api/call/{api}", data=('{"data": %s}' % data).encode(),
                           headers={"Content-Type": "application/json"}, timeout=60)
    assert posted.status_code == 200, posted.text
    events = requests.get(f"{url}gradio_api/call/{api}/{posted.json()['event_id']}", timeout=120).text
    event = data_line = None
    for line in events.splitlines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data_line = line[6:]
    return event, json.loads(data_line) if data_line not in (None, "null") else None


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under folder (hidden ones too) with its sha256."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base = indexed_folder(tmp_path_factory.mktemp("hostile"))
    server = Served(base)
    server.client = client(server.url)
    yield server
    log = server.stop()
    assert "Traceback" not in log, log  # every refusal below was one line, not a crash


# ----- 1. removals state their target --------------------------------------------------------------------


def test_remove_refuses_a_target_that_would_match_everything(served):
    listed = served.client.predict(api_name="/documents")
    files = snapshot(served.base / "docs")
    for target in ["", " ", ".", "/", "docs/..", "docs/../", ".."]:
        with pytest.raises(Exception, match="refusing to remove"):
            served.client.predict(target, api_name="/remove")
    for target in ["./docs", str(served.base / "docs"), "docs/../docs", "doc"]:  # not spelled as listed
        with pytest.raises(Exception, match="no indexed document matches"):
            served.client.predict(target, api_name="/remove")
    assert served.client.predict(api_name="/documents") == listed and snapshot(served.base / "docs") == files


def test_a_removal_is_logged_with_its_count_and_who_asked(served, tmp_path):
    (tmp_path / "memo.txt").write_text("The Orsk beacon flashes green every nine seconds.\n", encoding="utf-8")
    from gradio_client import handle_file

    added = served.client.predict([handle_file(tmp_path / "memo.txt")], api_name="/upload")["added"]
    assert served.client.predict(added[0], api_name="/remove") == added
    log = served.log.read_text()
    assert f"removed 1 document(s) (target {added[0]!r}, asked by 127.0.0.1): {added[0]}" in log


def test_cli_remove_refuses_empty_root_and_working_folder_and_confirms_all(tmp_path):
    base = indexed_folder(tmp_path)
    for target in ["", ".", "/", "docs/.."]:
        done = assistant(base, "remove", target)
        assert done.returncode == 1 and "refusing to remove" in done.stderr and "--all" in done.stderr
    assert len(json.loads(assistant(base, "docs", "--json").stdout)) == 5
    declined = assistant(base, "remove", "--all", stdin="n\n")
    assert declined.returncode == 1 and "remove all 5 indexed documents?" in declined.stdout
    assert len(json.loads(assistant(base, "docs", "--json").stdout)) == 5
    one = assistant(base, "remove", "docs/volcano.md")
    assert one.returncode == 0 and f"removing what is indexed at {base / 'docs' / 'volcano.md'}" in one.stdout
    assert "removed docs/volcano.md" in one.stdout and "removed 1 document(s)" in one.stderr  # the log line
    everything = assistant(base, "remove", "--all", "--yes")
    assert everything.returncode == 0 and "4 document(s) removed" in everything.stdout
    assert (base / "docs" / "harbor.txt").is_file()  # a folder's own files are never deleted


# ----- 6, 7. questions: valid Unicode, bounded ----------------------------------------------------------


def test_a_lone_surrogate_in_a_question_is_cleaned_not_a_500(served):
    body = ('{"messages": [{"role": "user", "content": "When did Mount Orrin last erupt? \\udcff"}]}').encode()
    reply = served.v1(body)
    assert reply.status_code == 200 and reply.json()["citations"][0]["quote"] == ORRIN
    event, data = gradio_call(served.url, "ask", '["When did Mount Orrin last erupt? \\udcff\\ud800", [], [], null]')
    assert event == "complete" and data[0]["citations"][0]["quote"] == ORRIN
    assert data[0]["question"].endswith("\ufffd\ufffd")


def test_a_question_over_the_limit_is_refused_quickly_at_every_door(served, tmp_path):
    huge = "volcano " * 250_000  # 2 MB
    started = time.monotonic()
    reply = served.v1({"messages": [{"role": "user", "content": huge}]})
    assert reply.status_code == 400 and "max_question_chars" in reply.json()["error"]["message"]
    assert time.monotonic() - started < 10  # refused before any search (the old server took 20 s)
    assert huge[:1000] not in reply.text  # the question is not echoed back
    with pytest.raises(Exception, match="at most 4,000 are read"):
        served.client.predict("x" * 4001, api_name="/ask")
    history = [{"role": "user", "content": "hi"}] * 51
    reply = served.v1({"messages": [*history, {"role": "user", "content": QUESTION}]})
    assert reply.status_code == 400 and "max_history_messages" in reply.json()["error"]["message"]
    done = assistant(served.base, "ask", "y" * 4001)
    assert done.returncode == 1 and "max_question_chars" in done.stderr and "Traceback" not in done.stderr


# ----- 8. reads never write ---------------------------------------------------------------------------


def test_reads_never_create_a_collection_only_an_upload_does(tmp_path, embedder):
    launched = launch_on(tmp_path, embedder)
    try:
        api = client(launched.url)
        before, names = snapshot(launched.home), launched.services.store.collection_names()
        for i in range(5):
            with pytest.raises(Exception, match=f"there is no collection 'new-{i}' \\(there are: documents\\)"):
                api.predict(f"new-{i}", api_name="/documents")
            with pytest.raises(Exception, match="there is no collection"):
                api.predict(QUESTION, [], [], f"asked-{i}", api_name="/ask")
        assert launched.services.store.collection_names() == names
        assert set(snapshot(launched.home)) == set(before)  # no new file (the index's own may be rewritten)
        (tmp_path / "memo.txt").write_text("The Orsk beacon flashes green every nine seconds.\n", encoding="utf-8")
        from gradio_client import handle_file

        api.predict([handle_file(tmp_path / "memo.txt")], "team", api_name="/upload")
        assert [d["source"].rsplit("/", 1)[-1] for d in api.predict("team", api_name="/documents")] == ["memo.txt"]
    finally:
        launched.app.close()


def test_cli_reads_of_an_unknown_collection_create_nothing(tmp_path):
    base = indexed_folder(tmp_path)
    before = snapshot(base / "home")
    for command in (["docs"], ["ask", QUESTION], ["remove", "docs/volcano.md"]):
        done = assistant(base, "--collection", "typo", *command)
        assert done.returncode == 1 and "there is no collection 'typo'" in done.stderr, done.stderr
    assert set(snapshot(base / "home")) == set(before)
    assert assistant(base, "--collection", "notes", "index", "docs").returncode == 0  # index starts one
    assert len(json.loads(assistant(base, "--collection", "notes", "docs", "--json").stdout)) == 5


# ----- 9. feedback only on answers this server gave ------------------------------------------------------


def test_feedback_is_taken_only_for_answers_this_server_gave(served, tmp_path):
    answer = served.client.predict(QUESTION, api_name="/ask")
    assert isinstance(served.client.predict(answer, "up", "right", [], api_name="/feedback"), int)
    forged = json.loads(json.dumps(answer))
    forged["citations"][0]["source"] = "/etc/passwd"
    made_up = {"question": "q", "answer": "a [1]", "abstained": False, "citations": [
        {"n": 1, "source": "/etc/passwd", "quote": "root:x:0:0", "start": 0, "end": 10, "score": 1.0}]}
    for fake in (forged, made_up):
        with pytest.raises(Exception, match="not an answer this server gave"):
            served.client.predict(fake, "up", "", [], api_name="/feedback")
    with pytest.raises(Exception, match="max_comment_chars"):
        served.client.predict(answer, "down", "c" * 1_000_000, [], api_name="/feedback")
    target = tmp_path / "set.json"
    assert assistant(served.base, "feedback", "--export", str(target)).returncode == 0
    exported = json.loads(target.read_text(encoding="utf-8"))
    assert [q["support"][0]["file"] for q in exported] == [answer["citations"][0]["source"]]


# ----- 10. credentials ----------------------------------------------------------------------------------


def test_with_a_login_v1_needs_the_login_or_a_key_even_on_loopback(tmp_path):
    server = Served(indexed_folder(tmp_path), "--auth", "reader:s3cret")
    try:
        ask = {"messages": [{"role": "user", "content": QUESTION}]}
        refused = server.v1(ask)
        assert refused.status_code == 401 and "this server has a login" in refused.json()["error"]["message"]
        basic = base64.b64encode(b"reader:s3cret").decode()
        assert server.v1(ask, Authorization=f"Basic {basic}").json()["citations"][0]["quote"] == ORRIN
        wrong = base64.b64encode(b"reader:guess").decode()
        statuses = [server.v1(ask, Authorization=f"Basic {wrong}").status_code for _ in range(5)]
        # Guessing through /v1 is throttled like the login page: with the request sent without credentials,
        # five misses (login_attempts), then the address waits, even with the right login.
        assert statuses == [401] * 4 + [429]
        assert server.v1(ask, Authorization=f"Basic {basic}").status_code == 429
    finally:
        assert "Traceback" not in server.stop()


def test_the_bearer_scheme_is_read_in_any_case(tmp_path):
    server = Served(indexed_folder(tmp_path), "--api-key", "k3y")
    try:
        ask = {"messages": [{"role": "user", "content": QUESTION}]}
        for scheme in ("Bearer", "bearer", "BEARER"):
            assert server.v1(ask, Authorization=f"{scheme} k3y").status_code == 200
        assert server.v1(ask, Authorization="Bearer nope").status_code == 401
    finally:
        server.stop()


def test_ipv4_mapped_loopback_is_loopback():
    assert is_loopback("::ffff:127.0.0.1") and is_loopback("::1") and not is_loopback("::ffff:10.0.0.1")


# ----- 11. messages a user can act on -------------------------------------------------------------------


def test_wrong_argument_types_are_one_line_errors(served):
    with pytest.raises(Exception, match=r"question: Input should be a valid string \(got int\)"):
        served.client.predict(5, api_name="/ask")
    with pytest.raises(Exception, match=r"sources: Input should be a valid list \(got str\)"):
        served.client.predict(QUESTION, [], "docs/volcano.md", api_name="/ask")
    with pytest.raises(Exception, match=r"collection: Input should be a valid string \(got list\)"):
        served.client.predict(["x"], api_name="/documents")
    with pytest.raises(Exception, match=r"answer: Input should be a valid dictionary \(got str\)"):
        served.client.predict("an answer", "up", api_name="/feedback")
    assert "Traceback" not in served.log.read_text() and "has no attribute" not in served.log.read_text()


def test_malformed_json_to_v1_is_an_openai_style_400(served):
    for body in (b"{not json", b"\xff\xfe", b"[1, 2]", b'"text"', b"{}"):
        reply = served.v1(body)
        assert reply.status_code == 400 and reply.json()["error"]["type"] == "invalid_request_error", body


def test_another_route_or_method_under_v1_is_an_openai_style_404(served):
    for method, path in [("GET", "v1/chat/completions"), ("POST", "v1/embeddings"), ("DELETE", "v1/models")]:
        reply = requests.request(method, f"{served.url}{path}", timeout=30, data=b"{}")
        assert reply.status_code == 404 and "POST /v1/chat/completions" in reply.json()["error"]["message"]


def test_a_binary_history_file_is_named_in_the_message(served):
    history = served.base / "history.bin"
    history.write_bytes(bytes(range(256)))
    done = assistant(served.base, "ask", QUESTION, "--history", str(history))
    assert done.returncode == 1 and f"history file {history} is not text" in done.stderr
