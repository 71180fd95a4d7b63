"""Embedding on a server: a real Infinity process on loopback serving the packaged MiniLM over /v1/embeddings."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from index.embedder import packaged_minilm_path
from index.embedding_server import EmbeddingServerError, ServerEmbedder
from tests.conftest import build_good_corpus, free_port
from tests.test_cli import run

# Its own venv (make embedserver, which make test runs): Infinity's pins must not move the project's.
INFINITY = Path(__file__).resolve().parents[1] / ".venv-embedserver" / "bin" / "infinity_emb"
MODEL = "all-MiniLM-L6-v2"
SENTENCES = ["The Port of Veltria handled 4.2 million containers in 2023.",
             "Mount Orrin last erupted in 1931, burying the village of Kesh under ash.",
             "Who conducts the orchestra?", "bread", "A rover crossed the crater floor at night."]

needs_server = pytest.mark.skipif(not INFINITY.exists(), reason="needs Infinity (make embedserver; make test "
                                                               "installs it)")


@pytest.fixture(scope="module")
def embedding_server(tmp_path_factory):
    work = tmp_path_factory.mktemp("infinity")
    log = work / "server.log"
    port = free_port()
    # Offline and quiet: no hub look-ups, no usage statistics; its cache folder goes in the temporary dir.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0",
           "INFINITY_HOME": str(work)}
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(INFINITY), "v2", "--model-id", packaged_minilm_path(), "--served-model-name", MODEL,
             "--engine", "torch", "--device", "cpu", "--no-model-warmup",  # warm-up costs ~20 s on 2 cores
             "--host", "127.0.0.1", "--port", str(port), "--url-prefix", "/v1"],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=work)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/models", timeout=1)  # answers once the model is loaded
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("infinity did not start:\n" + log.read_text()[-2000:])
            time.sleep(0.25)
    yield url, log
    server.terminate()
    server.wait(timeout=30)


@needs_server
def test_server_vectors_match_the_local_model(embedding_server):
    from sentence_transformers import SentenceTransformer

    url, _ = embedding_server
    # Two texts a request: three requests, sent side by side, must still come back in order.
    embedder = ServerEmbedder(url, MODEL, batch_size=2)
    embedder.load()
    remote = embedder.embed(SENTENCES)
    local = SentenceTransformer(packaged_minilm_path(), device="cpu").encode(SENTENCES, normalize_embeddings=True)
    assert remote.dtype == np.float32 and remote.shape == local.shape == (5, 384)
    assert np.allclose(np.linalg.norm(remote, axis=1), 1, atol=1e-5)
    assert all((remote * local).sum(axis=1) > 0.99)
    assert np.allclose(embedder.embed_one(SENTENCES[1]), remote[1], atol=1e-5)
    assert embedder.identity == f"{MODEL} via embeddings server"


@needs_server
def test_wrong_base_url_says_what_to_check(embedding_server):
    url, _ = embedding_server
    with pytest.raises(EmbeddingServerError, match=r"/embeddings answered HTTP 404: .*--embedder-url"):
        ServerEmbedder(url.removesuffix("/v1"), MODEL).load()


@pytest.fixture(scope="module")
def served_home(embedding_server, tmp_path_factory):
    """A home indexed through the server."""
    url, log = embedding_server
    base = tmp_path_factory.mktemp("served")
    corpus = build_good_corpus(base / "docs")
    before = log.read_text().count("POST /v1/embeddings")
    indexed = run(base / "home", "--embedder-url", url, "index", str(corpus), "--json")
    assert indexed.returncode == 0, indexed.stderr
    assert json.loads(indexed.stdout)["chunks_embedded"] > 0
    # The vectors came from the server, not from an embedder in the assistant's own process.
    assert log.read_text().count("POST /v1/embeddings") > before
    return base / "home", corpus


@needs_server
def test_index_and_ask_through_the_server(embedding_server, served_home):
    url, log = embedding_server
    home, corpus = served_home
    before = log.read_text().count("POST /v1/embeddings")
    answer = run(home, "--embedder-url", url, "--no-llm", "ask", "How many containers did the Port of Veltria "
                 "handle in 2023?", "--json")
    assert answer.returncode == 0, answer.stderr
    first = json.loads(answer.stdout)["citations"][0]
    assert first["source"] == str(corpus / "harbor.txt")
    assert first["quote"] == "The Port of Veltria handled 4.2 million containers in 2023."
    assert log.read_text().count("POST /v1/embeddings") > before


def assert_one_clear_line(result: subprocess.CompletedProcess, url: str) -> None:
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert f"{url}/embeddings could not be reached" in result.stderr and "--embedder-url" in result.stderr


def test_index_with_the_server_down_is_one_clear_line(tmp_path):
    down = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there: connection refused
    corpus = build_good_corpus(tmp_path / "docs")
    assert_one_clear_line(run(tmp_path / "home", "--embedder-url", down, "index", str(corpus), "--quiet"), down)


@needs_server
def test_ask_with_the_server_down_is_one_clear_line(served_home):
    home, _ = served_home
    down = f"http://127.0.0.1:{free_port()}/v1"  # the same model, moved: no re-embedding, but nobody answers
    assert_one_clear_line(run(home, "--embedder-url", down, "--no-llm", "ask", "When did Mount Orrin last erupt?"),
                          down)
