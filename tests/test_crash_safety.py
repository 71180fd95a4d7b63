"""SIGKILL a real `assistant index` process at several points; the next run must repair everything.

Each round changes the corpus (adds, edits, renames, deletes), starts indexing in a subprocess, kills
it with SIGKILL at a chosen moment (watched through the manifest database, so the kill lands mid-run),
runs `assistant index` again to completion, and then checks the store chunk by chunk against a
reference index of the same files built from scratch.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ENV = {**os.environ, "ASSISTANT_CHUNK_TOKENS": "64", "ASSISTANT_CHUNK_OVERLAP_TOKENS": "8",
       "ASSISTANT_EMBED_BATCH": "16"}
WORDS = ("harbour council budget rainfall museum railway vaccine election orchard bridge turbine library "
         "festival drought tariff glacier satellite factory ferry vineyard").split()


def write_document(path: Path, seed: int) -> None:
    rng = random.Random(seed)
    sentences = [f"Report {seed} says the {rng.choice(WORDS)} near {rng.choice(WORDS).title()}ville "
                 f"grew by {rng.randint(2, 99)} percent in {rng.randint(1990, 2024)}." for _ in range(18)]
    path.write_text(" ".join(sentences) + "\n", encoding="utf-8")


def assistant(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([shutil.which("assistant") or str(Path(sys.executable).parent / "assistant"),
                             "--home", str(home), *args], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def manifest_state(home: Path) -> tuple[int, int]:
    """(live documents, journalled versions), read without disturbing the writer (WAL readers)."""
    files = list(home.glob("manifest-*.sqlite"))
    if not files:
        return 0, 0
    try:
        with sqlite3.connect(f"file:{files[0]}?mode=ro", uri=True, timeout=1) as db:
            return (db.execute("SELECT COUNT(*) FROM documents").fetchone()[0],
                    db.execute("SELECT COUNT(*) FROM journal").fetchone()[0])
    except sqlite3.Error:
        return 0, 0


def kill_when(process: subprocess.Popen, home: Path, condition, limit: float = 120) -> str:
    deadline = time.monotonic() + limit
    while process.poll() is None and time.monotonic() < deadline:
        if condition(*manifest_state(home)):
            process.send_signal(signal.SIGKILL)
            process.wait()
            return "killed"
        time.sleep(0.002)
    process.wait()
    return "finished first"


def census(home: Path) -> dict:
    out = subprocess.run([sys.executable, str(Path(__file__).with_name("store_census.py")), str(home)],
                         env=ENV, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_sigkill_at_any_point_then_reindex_gives_exact_state(tmp_path):
    corpus, home, reference = tmp_path / "corpus", tmp_path / "home", tmp_path / "reference"
    corpus.mkdir()
    for i in range(40):
        write_document(corpus / f"doc{i:02d}.txt", i)

    def change_corpus(round_no: int) -> None:
        base = 100 * round_no
        for i in range(6):  # new documents
            write_document(corpus / f"new{base + i}.txt", base + i)
        existing = sorted(corpus.glob("*.txt"))
        for path in existing[:4]:  # edited documents
            write_document(path, base + 50 + existing.index(path))
        for path in existing[4:7]:  # renamed documents
            path.rename(corpus / f"renamed-{base}-{path.name}")
        for path in existing[7:9]:  # deleted documents
            path.unlink()

    rounds = [
        ("mid-write of a document (journal holds an uncommitted version)", lambda docs, journal: journal > 0, []),
        ("after a few documents were committed", lambda docs, journal: docs >= 5, []),
        ("late in the run", lambda docs, journal: docs >= 30, []),
        ("during --rebuild", lambda docs, journal: docs >= 3, ["--rebuild"]),
    ]
    outcomes = []
    for round_no, (moment, condition, extra) in enumerate(rounds):
        if round_no:
            change_corpus(round_no)
        before_docs, _ = manifest_state(home)
        if extra:  # the rebuild empties the manifest first; wait for that before counting
            condition = (lambda cond: lambda docs, journal: docs < before_docs and cond(docs, journal))(condition)
        outcomes.append((moment, kill_when(assistant(home, "index", "--quiet", str(corpus), *extra), home,
                                           condition)))
        finish = assistant(home, "index", "--quiet", str(corpus))
        out, err = finish.communicate(timeout=600)
        assert finish.returncode == 0, err

        shutil.rmtree(reference, ignore_errors=True)
        ref = assistant(reference, "index", "--quiet", str(corpus))
        ref.communicate(timeout=600)
        got, want = census(home), census(reference)
        assert got["ids_unique"]
        assert got["store"] == got["manifest"] == got["postings"] == want["manifest"], moment
        assert got["stray_postings"] == 0, moment
        assert set(got["manifest"]) == {str(p) for p in corpus.glob("*.txt")}

    # At least most kills must really have landed mid-run, or the test proves nothing.
    assert sum(result == "killed" for _, result in outcomes) >= 3, outcomes
