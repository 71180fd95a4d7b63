"""A command loads only what it needs: a run of `index` with nothing changed opens neither the store nor the
embedder's model and reports what the full run would; anything that may need work still takes the full run."""

from __future__ import annotations

import os
import subprocess
import sys

from assistant.services import Services
from assistant.settings import load_settings
from index.keyword_index import _stop_words
from tests.conftest import build_good_corpus

HEAVY = ("torch", "transformers", "sentence_transformers", "onnxruntime", "tokenizers", "chromadb", "llama_index.core",
         "nltk", "gradio", "xllamacpp")


def loaded_heavy_modules(*args: str) -> list[str]:
    """The heavy packages a fresh process has imported when it ends, running `assistant ARGS` (or nothing)."""
    code = ("import atexit, sys\n"
            f"atexit.register(lambda: print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr))\n"
            "from assistant.cli import main\n"
            + ("main()" if args else ""))
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "ASSISTANT_LLM": "none"})
    assert done.returncode == 0, done.stderr
    return eval(done.stderr.strip().splitlines()[-1])


def fresh(services: Services) -> Services:
    """A new process's services on the same home (nothing opened yet), sharing the loaded embedder."""
    again = Services(services.settings)
    again.embedder = services.embedder
    return again


def without_seconds(report) -> dict:
    return report.model_dump(exclude={"seconds", "chunks_per_second"})


def test_nothing_changed_reports_as_the_full_run_without_opening_the_store(make_services, good_corpus):
    services = make_services()
    services.indexer.sync([str(good_corpus)], progress=False)
    quick = fresh(services)
    report = quick.indexer.sync([str(good_corpus)], progress=False)
    assert "store" not in quick.indexer.__dict__  # that no model loads either: test_commands_import_only_...
    full = fresh(services).indexer._sync([str(good_corpus)], rebuild=False, progress=False)
    assert without_seconds(report) == without_seconds(full)
    assert len(report.unchanged) == 5 and report.summary().startswith("added 0, updated 0, renamed 0, unchanged 5")


def test_a_change_takes_the_full_run(make_services, good_corpus):
    services = make_services()
    services.indexer.sync([str(good_corpus)], progress=False)
    with open(good_corpus / "harbor.txt", "a", encoding="utf-8") as out:
        out.write("The harbour master retired in December.\n")
    changed = fresh(services)
    report = changed.indexer.sync([str(good_corpus)], progress=False)
    assert report.updated == [str(good_corpus / "harbor.txt")] and report.chunks_embedded > 0
    (good_corpus / "volcano.md").unlink()
    report = fresh(services).indexer.sync([str(good_corpus)], progress=False)
    assert report.removed == [str(good_corpus / "volcano.md")]


def test_an_interrupted_run_takes_the_full_run(make_services, good_corpus):
    services = make_services()
    services.indexer.sync([str(good_corpus)], progress=False)
    services.manifest._db.execute("INSERT INTO journal VALUES ('left-by-a-killed-run')")
    recovering = fresh(services)
    report = recovering.indexer.sync([str(good_corpus)], progress=False)
    assert report.recovered and "store" in recovering.indexer.__dict__
    assert services.manifest.journalled() == []


def test_a_chroma_server_is_always_checked(make_services, good_corpus, tmp_path):
    """Others can change a server's collection: only the full run's count check would see it."""
    services = make_services()
    services.indexer.sync([str(good_corpus)], progress=False)
    server = Services(load_settings(home=str(tmp_path / "home"), chroma_url="http://127.0.0.1:9"))
    assert server.indexer._nothing_changed([str(good_corpus)]) is None


def test_stop_words_are_nltks_english_list():
    from llama_index.core.utils import globals_helper

    assert _stop_words() == frozenset(globals_helper.stopwords)


def test_commands_import_only_what_they_use(tmp_path):
    assert loaded_heavy_modules() == []  # `import assistant.cli`: every command's start
    corpus = build_good_corpus(tmp_path / "docs")
    home = str(tmp_path / "home")
    loaded_heavy_modules("--home", home, "index", "--quiet", str(corpus))
    assert loaded_heavy_modules("--home", home, "index", "--quiet", str(corpus)) == []  # nothing changed
    assert loaded_heavy_modules("--home", home, "docs") == []
    assert not {"torch", "llama_index.core", "gradio", "xllamacpp"} & set(
        loaded_heavy_modules("--home", home, "--no-llm", "ask", "When did Mount Orrin last erupt?"))


def test_the_stemmer_loads_without_scipy_and_leaves_it_importable():
    code = ("import sys\n"
            "from index.keyword_index import terms\n"
            "print(terms('Vaccines were vaccinated'))\n"
            "assert 'scipy' not in sys.modules and 'sklearn' not in sys.modules\n"
            "import scipy.stats, sklearn\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['vaccin', 'vaccin']"
