"""What a new user meets first: `make run` with their own folder and port, a server that says what it is loading
and where it is (and nothing about share links), and a terminal chat that treats /commands and Ctrl-C as such."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from tests.conftest import build_good_corpus
from tests.test_cli import ASSISTANT
from tests.test_ui import client, free_port

REPO = Path(__file__).resolve().parent.parent


def wait_for(url: str, process: subprocess.Popen, log: Path, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def test_make_run_indexes_the_given_folder_and_serves_on_the_given_port(tmp_path):
    corpus, port, log = build_good_corpus(tmp_path / "my docs"), free_port(), tmp_path / "run.log"
    # As from a user's shell, not as a sub-make of `make test` (which would print "Entering directory" first).
    env = {key: value for key, value in os.environ.items() if key not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    with open(log, "w") as out:
        process = subprocess.Popen(["make", "run", f"PORT={port}", f"DOCS={corpus}"], cwd=REPO, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   env={**env, "ASSISTANT_HOME": str(tmp_path / "home")})
    try:
        wait_for(f"http://127.0.0.1:{port}/", process, log)
        for _ in range(20):  # the ready line follows the port's first answer by a moment
            if "ready:" in log.read_text():
                break
            time.sleep(0.5)
        printed = log.read_text()
        assert printed.splitlines()[0] == (f"make run: index {corpus}, then serve the web chat at "
                                           f"http://127.0.0.1:{port} (change them with DOCS=folder PORT=8000 HOST=...)")
        assert f"ready: the web chat at http://127.0.0.1:{port}/ and the OpenAI-compatible API at " in printed
        assert "share" not in printed and "Running on" not in printed
        sources = {d["source"] for d in client(f"http://127.0.0.1:{port}/").predict(api_name="/documents")}
        assert sources == {str(corpus / name) for name in os.listdir(corpus)}
    finally:
        stop(process)


def test_serve_says_which_model_it_loads_before_it_is_ready(tmp_path):
    build_good_corpus(tmp_path / "docs")
    subprocess.run([ASSISTANT, "--home", str(tmp_path / "home"), "index", str(tmp_path / "docs")], check=True,
                   capture_output=True)
    port, log = free_port(), tmp_path / "serve.log"
    with open(log, "w") as out:
        process = subprocess.Popen([ASSISTANT, "--home", str(tmp_path / "home"), "--llm", "local", "--model", "small",
                                    "serve", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/", process, log)
        time.sleep(1)
        lines = log.read_text().splitlines()
        loading = next(i for i, line in enumerate(lines) if line.startswith("loading the answer model (local: small)"))
        loaded = next(i for i, line in enumerate(lines) if line.startswith("the answer model is ready ("))
        ready = next(i for i, line in enumerate(lines) if line.startswith("ready: the web chat at "))
        assert loading < loaded < ready
    finally:
        stop(process)


def test_terminal_chat_commands_and_refusals_never_reach_the_model(tmp_path):
    build_good_corpus(tmp_path / "docs")
    home = str(tmp_path / "home")
    subprocess.run([ASSISTANT, "--home", home, "index", str(tmp_path / "docs")], check=True, capture_output=True)
    done = subprocess.run([ASSISTANT, "--home", home, "--no-llm", "chat"], capture_output=True, text=True, timeout=120,
                          input="/foo\n" + "x" * 5000 + "\nWhen did Mount Orrin last erupt?\n/quit\n")
    assert done.returncode == 0, done.stderr
    assert "unknown command /foo; the commands are /new and /quit" in done.stdout
    assert "Error: the question is 5,000 characters long" in done.stderr
    assert done.stdout.count("sources:") == 1  # only the real question was searched


def test_ctrl_c_at_the_chat_prompt_leaves_quietly(tmp_path):
    home = str(tmp_path / "home")
    process = subprocess.Popen([ASSISTANT, "--home", home, "--no-llm", "chat"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen, prompt = [], threading.Event()

    def read() -> None:
        while chunk := process.stdout.read(1):
            seen.append(chunk)
            if "you> " in "".join(seen[-5:]):
                prompt.set()

    threading.Thread(target=read, daemon=True).start()
    assert prompt.wait(120), "".join(seen)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    time.sleep(0.2)
    assert "index is consistent" not in "".join(seen)


def test_sources_are_listed_once_per_document_with_their_pages_and_uploads_by_name(tmp_path):
    from assistant.records import Citation
    from assistant.sources import source_lines
    from ui.html_view import pending_html

    uploads = tmp_path / "home" / "documents"
    spec = str(uploads / "spec.pdf")

    def cited(n: int, source: str, page: int | None) -> Citation:
        return Citation(n=n, source=source, quote="q", start=0, end=1, score=0.5, page=page)

    citations = [cited(1, spec, 4), cited(2, "docs/notes.txt", None), cited(3, spec, 3), cited(4, spec, 4),
                 cited(5, "deck.pptx", 2)]
    def name(source: str) -> str:  # as Library.display_name names uploads
        return os.path.basename(source) if source.startswith(str(uploads)) else source

    assert [line.text() for line in source_lines(citations, name)] == [
        "[1, 3, 4] spec.pdf: p. 3, 4", "[2] docs/notes.txt", "[5] deck.pptx: slide 2"]
    shown = pending_html(0, "q?", citations, "", name=name)
    assert shown.count("<li>") == 3 and str(uploads) not in shown


def test_an_upload_is_named_by_its_file_name_in_the_chat(tmp_path):
    from assistant.services import Services
    from assistant.library import Library
    from assistant.settings import load_settings

    services = Services(load_settings(home=str(tmp_path / "home"), llm="none"))
    library = Library(services)
    assert library.display_name(str(tmp_path / "home" / "documents" / "spec.pdf")) == "spec.pdf"
    assert library.display_name("docs/spec.pdf") == "docs/spec.pdf"
