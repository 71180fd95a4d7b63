"""The installed `assistant` command, run as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from index.lock import WriterLock
from tests.conftest import HOSTILE_REASONS, add_hostile_files, build_good_corpus

ASSISTANT = shutil.which("assistant") or str(Path(sys.executable).parent / "assistant")


def run(home: Path, *args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([ASSISTANT, "--home", str(home), *args], input=stdin, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


@pytest.fixture(scope="module")
def indexed_home(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    corpus = build_good_corpus(base / "docs")
    result = run(base / "home", "index", str(corpus), "--json")
    assert result.returncode == 0, result.stderr
    return base / "home", corpus, json.loads(result.stdout)


def test_index_reports_json(indexed_home):
    _, corpus, report = indexed_home
    assert sorted(report["added"]) == sorted(str(p) for p in corpus.iterdir())
    assert report["chunks_written"] == report["chunks_embedded"] > 0 and report["skipped"] == []


def test_docs_json_lists_documents(indexed_home):
    home, corpus, _ = indexed_home
    result = run(home, "docs", "--json")
    docs = json.loads(result.stdout)
    assert result.returncode == 0 and len(docs) == 5
    assert all(set(d) == {"source", "chunks", "sha256", "indexed_at"} for d in docs)
    assert {d["source"] for d in docs} == {str(p) for p in corpus.iterdir()}


def test_ask_json_has_checkable_quotes(indexed_home):
    home, corpus, _ = indexed_home
    result = run(home, "ask", "When did Mount Orrin last erupt?", "--json", "--top-k", "3")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert {"question", "answer", "abstained", "citations", "timings"} <= set(answer)
    assert answer["abstained"] is False and "[1]" in answer["answer"]
    first = answer["citations"][0]
    assert set(first) == {"n", "source", "quote", "start", "end", "score", "page", "status"}
    assert first["status"] is None  # set only when a saved conversation is reopened
    assert first["page"] is None  # a text file has no pages
    text = Path(first["source"]).read_text(encoding="utf-8")
    assert text[first["start"]:first["end"]] == first["quote"] == \
        "Mount Orrin last erupted in 1931, burying the village of Kesh under ash."


def test_ask_plain_text_and_abstention(indexed_home):
    home, _, _ = indexed_home
    answered = run(home, "ask", "How many containers did the Port of Veltria handle in 2023?")
    assert "[1]" in answered.stdout and "harbor.txt" in answered.stdout
    abstained = json.loads(run(home, "ask", "What is the boiling point of mercury?", "--json").stdout)
    assert abstained["abstained"] is True and abstained["citations"] == []


def test_ask_with_history_file(indexed_home, tmp_path):
    home, _, _ = indexed_home
    history = tmp_path / "history.json"
    history.write_text(json.dumps([{"role": "user", "content": "When did Mount Orrin last erupt?"},
                                   {"role": "assistant", "content": "In 1931 [1]."}]))
    answer = json.loads(run(home, "ask", "How tall is it?", "--history", str(history), "--json").stdout)
    assert answer["citations"][0]["quote"] == "The summit stands 3,120 metres above sea level."


@pytest.mark.parametrize("content,message", [("not json", "is not JSON"), ('{"role": "user"}', "JSON list")])
def test_bad_history_file_is_a_clear_error(indexed_home, tmp_path, content, message):
    home, _, _ = indexed_home
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = run(home, "ask", "Anything?", "--history", str(bad))
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr


def test_chat_loop_answers_and_follows_up(indexed_home):
    home, _, _ = indexed_home
    result = run(home, "chat", stdin="When did Mount Orrin last erupt?\nHow tall is it?\n/new\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "Mount Orrin last erupted in 1931, burying the village of Kesh under ash. [1]" in result.stdout
    assert "The summit stands 3,120 metres above sea level." in result.stdout
    assert "(new conversation)" in result.stdout


def test_skips_set_the_exit_code_and_strict_makes_them_errors(tmp_path):
    corpus = build_good_corpus(tmp_path / "docs")
    add_hostile_files(corpus)
    result = run(tmp_path / "home", "index", str(corpus), "--quiet", env={"ASSISTANT_MAX_FILE_MB": "1"})
    assert result.returncode == 3, result.stderr
    for name in HOSTILE_REASONS:
        assert any(line.startswith("skipped: ") and name in line for line in result.stdout.splitlines()), name
    assert "added 5" in result.stdout
    strict = run(tmp_path / "home", "index", str(corpus), "--strict", env={"ASSISTANT_MAX_FILE_MB": "1"})
    assert strict.returncode == 1 and "skipped (--strict)" in strict.stderr


def test_remove_and_unknown_path(tmp_path):
    corpus = build_good_corpus(tmp_path / "docs")
    home = tmp_path / "home"
    assert run(home, "index", str(corpus), "--quiet").returncode == 0
    removed = run(home, "remove", str(corpus / "rover.docx"))
    assert removed.returncode == 0 and "removed" in removed.stdout
    again = run(home, "remove", str(corpus / "rover.docx"))
    assert again.returncode == 1 and "no indexed document matches" in again.stderr
    assert len(json.loads(run(home, "docs", "--json").stdout)) == 4


def test_second_indexer_refuses_while_one_runs(tmp_path):
    corpus = build_good_corpus(tmp_path / "docs")
    home = tmp_path / "home"
    with WriterLock(home / "index.lock"):
        result = run(home, "index", str(corpus))
    assert result.returncode == 1 and "another indexing run" in result.stderr and "Traceback" not in result.stderr


def test_unreachable_chroma_server_is_a_clear_error(tmp_path):
    result = run(tmp_path / "home", "--chroma-url", "http://127.0.0.1:9", "docs")
    assert result.returncode == 1 and "cannot open the Chroma store at http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_setting_is_a_clear_error(tmp_path):
    result = run(tmp_path / "home", "docs", env={"ASSISTANT_TOP_K": "zero"})
    assert result.returncode == 1 and "top_k" in result.stderr and "Traceback" not in result.stderr


def test_empty_index_says_so_and_abstains(tmp_path):
    result = run(tmp_path / "home", "ask", "Anything?", "--json")
    assert result.returncode == 0 and "The index is empty" in result.stderr
    assert json.loads(result.stdout)["abstained"] is True


def test_missing_embedder_folder_is_a_clear_error(tmp_path):
    corpus = build_good_corpus(tmp_path / "docs")
    result = run(tmp_path / "home", "index", str(corpus), env={"ASSISTANT_EMBEDDER_PATH": str(tmp_path / "nope")})
    assert result.returncode == 1 and "is not a sentence-transformers model folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_llm_flag_beats_the_environment(indexed_home):
    home, _, _ = indexed_home
    result = run(home, "--no-llm", "ask", "When did Mount Orrin last erupt?", "--json", env={"ASSISTANT_LLM": "local"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["writer"] == "extractive"


def test_missing_gguf_file_is_a_clear_error(indexed_home, tmp_path):
    home, _, _ = indexed_home
    result = run(home, "--llm", "local", "--model", str(tmp_path / "nope.gguf"), "ask", "When did Mount Orrin erupt?")
    assert result.returncode == 1
    assert "neither a packaged model (default, small) nor an existing .gguf file" in result.stderr
    assert "Traceback" not in result.stderr


def test_openai_backend_without_url_is_a_clear_error(indexed_home):
    home, _, _ = indexed_home
    result = run(home, "--llm", "openai", "ask", "When did Mount Orrin erupt?")
    assert result.returncode == 1 and "--llm-url" in result.stderr and "Traceback" not in result.stderr
