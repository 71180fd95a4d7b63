"""Faults under real processes (issue 12): a SIGKILLed `assistant serve` (mid-upload, mid-answer) and a `chroma
run` server killed under a running `assistant index` and under a running serve.

After every fault the same checks: the store holds exactly what a clean index of the same files holds (chunk by
chunk per document, no duplicate ids, BM25 postings only for live versions, via tests/store_census.py in a fresh
process), no answer cites a document whose write was cut short, errors reach the user as one line saying what to
do, and answers resume, in a serve process that kept running through a Chroma restart too; a run that failed
leaves no reader thread or extraction worker behind in the long-running process.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from gradio_client import handle_file
from gradio_client.utils import Status

from assistant.services import Services
from assistant.settings import load_settings
from index.store import StoreUnavailable
from index.sync import version_id
from tests.conftest import build_good_corpus, free_port
from tests.test_cli import ASSISTANT
from tests.test_crash_safety import manifest_state
from tests.test_ui import FERRY, ORRIN, client

OFFLINE = {"HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "ANONYMIZED_TELEMETRY": "False"}
# Invented towns: each article's fact can be asked about by a name no other article holds.
TOWNS = ("Ardmoor Belcastel Corwick Dunvale Eskerby Farrowgate Glenmire Harrowfield Islecombe Jarnholt Kestrelby "
         "Lowmarsh Marrowdene Northwyke Oakhallow Pennmoor Quillby Ravensworth Saltcombe Thornbury Umberleigh "
         "Varrowby Westmire Yarrowfield").split()
FILLER = ("harbour council budget rainfall museum railway orchard turbine library festival drought tariff ferry "
          "vineyard").split()


def fact(i: int) -> str:
    return f"The town of {TOWNS[i]} built {100 + 7 * i} wooden footbridges in {1950 + i}."


def question(i: int) -> str:
    return f"How many wooden footbridges did the town of {TOWNS[i]} build?"


def write_article(path: Path, i: int, filler_sentences: int) -> None:
    rng = random.Random(i)
    filler = [f"In {TOWNS[i]} the {rng.choice(FILLER)} report for {rng.randint(1990, 2024)} noted "
              f"{rng.randint(2, 99)} new {rng.choice(FILLER)} projects." for _ in range(filler_sentences)]
    path.write_text(f"# {TOWNS[i]} news\n\n{fact(i)} " + " ".join(filler) + "\n", encoding="utf-8")


def environment(**settings) -> dict:
    """The environment of every process a test starts: offline, extractive unless told, these settings."""
    return {**os.environ, **OFFLINE, "ASSISTANT_LLM": "none",
            **{f"ASSISTANT_{key.upper()}": str(value) for key, value in settings.items()}}


def census(home: Path, env: dict) -> dict:
    """What the home's store and manifest hold, read by a fresh process (tests/store_census.py)."""
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("store_census.py")), str(home)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_consistent(got: dict) -> None:
    """Store, manifest and keyword postings agree chunk for chunk: no orphan, no duplicate, no half document."""
    assert got["ids_unique"], "duplicate chunk ids in the store"
    assert got["store"] == got["manifest"] == got["postings"], got
    assert got["stray_postings"] == 0


def clean_index(base: Path, embedder, folder: Path, **settings) -> dict:
    """The census of the same files indexed from scratch into a fresh embedded home, in one run."""
    services = Services(load_settings(home=str(base), llm="none", **settings))
    services.embedder = embedder
    services.indexer.sync([str(folder)], progress=False)
    return census(base, environment())


class Serve:
    """A real `assistant serve` in its own process group, its output in a log file; always killed at teardown."""

    def __init__(self, home: Path, log: Path, env: dict, *options: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = log
        with open(log, "w") as out:
            self.process = subprocess.Popen([ASSISTANT, "--home", str(home), *options, "serve", "--port",
                                             str(self.port)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def client(self, limit: float = 240):
        deadline = time.monotonic() + limit
        while True:
            try:
                return client(self.url)
            except Exception:
                assert self.process.poll() is None, f"serve exited: {self.log.read_text()[-3000:]}"
                assert time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.5)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def serves():
    """Starts `assistant serve` processes (serves(home, log, env, *options)); kills every one at teardown."""
    started: list[Serve] = []

    def start(*args) -> Serve:
        started.append(Serve(*args))
        return started[-1]

    yield start
    for serve in started:
        serve.kill()


def kill_when(process: subprocess.Popen, home: Path, condition, kill, limit: float = 120) -> tuple[int, int] | None:
    """Call kill() as soon as condition(live documents, journalled versions) holds in home's manifest; the state
    then, or None when the process ended first."""
    deadline = time.monotonic() + limit
    while process.poll() is None and time.monotonic() < deadline:
        state = manifest_state(home)
        if condition(*state):
            kill()
            return state
        time.sleep(0.002)
    return None


def journalled_sources(home: Path, files: list[Path]) -> list[str]:
    """Which of these files have a version in the manifest's journal: written (or being written) but not live."""
    with sqlite3.connect(f"file:{next(home.glob('manifest-*.sqlite'))}?mode=ro", uri=True) as db:
        journal = {row[0] for row in db.execute("SELECT version_id FROM journal")}
    return [str(f) for f in files
            if version_id(str(f), str(f), hashlib.sha256(f.read_bytes()).hexdigest()) in journal]


def kill_mid_answer(browser, asked: str, timings: dict, kill):
    """Ask again and kill() while the model writes the answer; returns the request cut short. Asked again, the
    prompt is in the model's cache: it writes right after retrieval, for as long as it wrote the first time, so
    half that is mid-answer. The load of a shared machine varies: when the answer still beat the kill, the next
    try kills sooner."""
    delay = 0.2 + (timings["total_s"] - timings["first_token_s"]) / 2
    for _ in range(4):
        job = browser.submit(asked, api_name="/ask")
        while job.status().code != Status.PROCESSING and not job.done():
            time.sleep(0.01)
        time.sleep(delay)
        if not job.done():
            kill()
            return job
        delay /= 2
    pytest.fail(f"every answer finished before the kill (timings of the first: {timings})")


def one_line(message: str) -> str:
    message = message.strip()
    assert "\n" not in message and "Traceback" not in message, message
    return message


def assert_cites(answer: dict, source: str, quote: str) -> None:
    assert not answer["abstained"] and answer["citations"], answer
    cited = answer["citations"][0]
    assert cited["source"] == source and cited["quote"] == quote, answer
    text = Path(source).read_text(encoding="utf-8")
    assert text[cited["start"]:cited["end"]] == quote


# ----- a killed `assistant serve` -------------------------------------------------------------------------------


def test_serve_killed_mid_upload_then_restarted_holds_all_of_the_upload_or_none(tmp_path, serves, embedder):
    """SIGKILL of `assistant serve` while an upload of 20 articles is written: the restarted serve holds all of the
    upload or none of it (its start removes what the killed write left behind), and the same upload again gives
    exactly a clean index of those files."""
    articles, home = tmp_path / "articles", tmp_path / "home"
    articles.mkdir()
    for i in range(20):
        write_article(articles / f"{TOWNS[i].lower()}.md", i, filler_sentences=3)
    files = sorted(articles.iterdir())
    small_batches = {"chunk_tokens": 64, "chunk_overlap_tokens": 8, "embed_batch": 16}  # several write batches
    env = environment(**small_batches)

    first = serves(home, tmp_path / "serve-1.log", env)
    job = first.client().submit([handle_file(f) for f in files], api_name="/upload")
    # The 20 articles are written in several batches, each journalled and written to Chroma; an upload makes them
    # all live in one final commit. Kill once the first batch is journalled, before that commit.
    at_kill = kill_when(first.process, home, lambda docs, journal: journal > 8 or docs > 0, first.kill)
    assert at_kill is not None and at_kill[0] < len(files), f"the upload finished before the kill: {at_kill}"
    assert at_kill[1] > 8, f"killed before a second batch was written: {at_kill}"
    with pytest.raises(Exception):
        job.result(timeout=30)  # the request died with the server

    second = serves(home, tmp_path / "serve-2.log", env)
    browser = second.client()
    restarted = census(home, env)
    assert_consistent(restarted)
    copies = {str(home / "documents" / f.name) for f in files}
    assert set(restarted["manifest"]) in (set(), copies), "part of the upload is live"
    assert {doc["source"] for doc in browser.predict(api_name="/documents")} == set(restarted["manifest"])
    # Killed mid-write: the restart removed what the killed write had put in Chroma.
    assert "recovered: removed the partial chunks of an interrupted run" in second.log.read_text()

    # The user retries the same upload: exactly what a clean index of those files holds.
    report = browser.predict([handle_file(f) for f in files], api_name="/upload")
    assert report["skipped"] == [] and set(report["added"]) | set(report["unchanged"]) == copies
    assert_cites(browser.predict(question(7), api_name="/ask"), str(home / "documents" / files[7].name), fact(7))
    second.kill()
    got, want = census(home, env), clean_index(tmp_path / "clean", embedder, home / "documents", **small_batches)
    assert_consistent(got)
    assert got["manifest"] == want["manifest"] and len(got["manifest"]) == 20


def test_serve_killed_while_the_model_answers_then_restarted_answers_again(tmp_path, serves, embedder):
    """SIGKILL of `assistant serve` (the 0.5B model in-process) while it writes an /ask answer: the restarted serve
    answers the question again with its cited quote, and the index is exactly as it was."""
    home = tmp_path / "home"
    corpus = build_good_corpus(tmp_path / "docs")
    services = Services(load_settings(home=str(home), llm="none"))
    services.embedder = embedder
    services.indexer.sync([str(corpus)], progress=False)
    env = environment()
    before = census(home, env)
    asked = "When did Mount Orrin last erupt?"

    first = serves(home, tmp_path / "serve-1.log", env, "--llm", "local", "--model", "small")
    browser = first.client()
    warm = browser.predict(asked, api_name="/ask")
    assert_cites(warm, str(corpus / "volcano.md"), ORRIN)
    job = kill_mid_answer(browser, asked, warm["timings"], first.kill)
    with pytest.raises(Exception):
        job.result(timeout=30)  # the request died with the server

    second = serves(home, tmp_path / "serve-2.log", env, "--llm", "local", "--model", "small")
    again = second.client().predict(asked, api_name="/ask")
    assert_cites(again, str(corpus / "volcano.md"), ORRIN)
    assert "1931" in again["answer"] and again["writer"].startswith("local:")
    assert census(home, env) == before


# ----- a killed Chroma server -----------------------------------------------------------------------------------


def test_chroma_killed_mid_index_and_under_a_running_serve(tmp_path, chroma_server, serves, embedder):
    """Chroma dies while `assistant index` writes; with it down, the CLI and the running serve (/ask, /upload) each
    say so in one line; restarted on the same data and port, the serve answers again without a restart, answers
    never cite a document whose write was cut short, the next `assistant index` converges to a clean index, and
    the refused upload goes through when tried again."""
    corpus, home = tmp_path / "corpus", tmp_path / "home"
    corpus.mkdir()
    for i in range(len(TOWNS)):
        write_article(corpus / f"{TOWNS[i].lower()}.txt", i, filler_sentences=14)
    files = sorted(corpus.iterdir())
    number = {str(corpus / f"{town.lower()}.txt"): i for i, town in enumerate(TOWNS)}
    small_batches = {"chunk_tokens": 64, "chunk_overlap_tokens": 8, "embed_batch": 16}  # many commits per run
    env = environment(chroma_url=chroma_server.url, **small_batches)

    serve = serves(home, tmp_path / "serve.log", env)
    browser = serve.client()
    indexing = subprocess.Popen([ASSISTANT, "--home", str(home), "index", "--quiet", str(corpus)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        # Killed while a batch is being written: journalled, on its way to Chroma, not yet live.
        at_kill = kill_when(indexing, home, lambda docs, journal: docs >= 3 and journal > 0, chroma_server.kill)
        out, err = indexing.communicate(timeout=120)
    finally:
        if indexing.poll() is None:
            os.killpg(indexing.pid, signal.SIGKILL)
    assert at_kill is not None, f"indexing finished before Chroma was killed: {err}"
    assert indexing.returncode == 1, (out, err)
    message = one_line(err)
    assert chroma_server.url in message and "chroma run" in message and "assistant index" in message
    interrupted = journalled_sources(home, files)
    assert interrupted, "no write was cut short"

    # Chroma down: the CLI and the running serve each say which server failed and what to do, in one line.
    asked = subprocess.run([ASSISTANT, "--home", str(home), "ask", question(0)], env=env, capture_output=True,
                           text=True, timeout=120)
    assert asked.returncode == 1 and "chroma run" in one_line(asked.stderr), asked.stderr
    with pytest.raises(Exception) as refused:
        browser.predict(question(0), api_name="/ask")
    assert chroma_server.url in one_line(str(refused.value)) and "chroma run" in str(refused.value)
    (tmp_path / "ferry.md").write_text(f"# Ferries\n\n{FERRY}\n", encoding="utf-8")
    with pytest.raises(Exception) as refused:
        browser.predict([handle_file(tmp_path / "ferry.md")], api_name="/upload")
    assert chroma_server.url in one_line(str(refused.value)) and "chroma run" in str(refused.value)
    live = {doc["source"] for doc in browser.predict(api_name="/documents")}
    assert live and not live & set(interrupted) and live <= set(number)

    # Chroma back on the same data and port: the same serve answers, and only from live documents.
    chroma_server.start()
    first_live = min(live, key=number.get)
    assert_cites(browser.predict(question(number[first_live]), api_name="/ask"), first_live, fact(number[first_live]))
    for source in interrupted:
        answer = browser.predict(question(number[source]), api_name="/ask")
        assert {c["source"] for c in answer["citations"]} <= live, answer

    finished = subprocess.run([ASSISTANT, "--home", str(home), "index", "--quiet", str(corpus)], env=env,
                              capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert "removed the partial chunks of an interrupted run" in finished.stdout
    got = census(home, env)
    assert_consistent(got)
    assert got["manifest"] == clean_index(tmp_path / "clean", embedder, corpus, **small_batches)["manifest"]
    # The documents whose write was cut short are answered from now, by the serve that never restarted, and the
    # upload it refused goes through when tried again.
    assert_cites(browser.predict(question(number[interrupted[0]]), api_name="/ask"), interrupted[0],
                 fact(number[interrupted[0]]))
    copy = str(home / "documents" / "ferry.md")
    assert browser.predict([handle_file(tmp_path / "ferry.md")], api_name="/upload")["added"] == [copy]
    assert_cites(browser.predict("How many passengers does the Saltmere ferry carry?", api_name="/ask"), copy, FERRY)


def extraction_workers() -> list[int]:
    """This process's extraction worker processes (index/extraction.py) still alive."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and b"index.extraction" in command:
            found.append(int(stat.parent.name))
    return found


def readers_left() -> list:
    """Indexing runs' file readers (index/sync.py) and extraction worker processes still alive."""
    return [t for t in threading.enumerate() if t.name == "index-reader"] + extraction_workers()


def test_a_write_cut_short_by_chroma_leaves_no_thread_or_worker_behind(tmp_path, chroma_server, embedder):
    """A server process runs many indexing runs: one that fails because Chroma died must not leave its file
    reader blocked on a full buffer, nor its extraction worker process, alive for the rest of the server's life."""
    notes, home = tmp_path / "notes", tmp_path / "home"
    notes.mkdir()
    for i in range(200):  # more files than the reader runs ahead of the embedder (64)
        (notes / f"note{i:03d}.txt").write_text(f"Note {i} records {13 * i} crates at the quay.\n", encoding="utf-8")
    services = Services(load_settings(home=str(home), chroma_url=chroma_server.url, embed_batch=16, llm="none"))
    services.embedder = embedder

    def kill_chroma_once_written() -> None:
        while manifest_state(home)[0] < 16:
            time.sleep(0.005)
        chroma_server.kill()

    assert not readers_left()
    threading.Thread(target=kill_chroma_once_written, daemon=True).start()
    with pytest.raises(StoreUnavailable, match="stopped answering"):
        services.indexer.sync([str(notes)], progress=False)
    deadline = time.monotonic() + 10
    while readers_left() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not readers_left()
