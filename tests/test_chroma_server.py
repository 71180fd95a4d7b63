"""The same code against a real `chroma run` server process instead of the embedded store."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import build_good_corpus
from tests.test_cli import run


def test_index_sync_and_ask_against_a_chroma_server(chroma_server, tmp_path):
    import chromadb
    from chromadb.config import Settings

    url = chroma_server.url
    corpus = build_good_corpus(tmp_path / "docs")
    home = tmp_path / "home"
    first = run(home, "--chroma-url", url, "index", str(corpus), "--json")
    assert first.returncode == 0, first.stderr
    written = json.loads(first.stdout)["chunks_written"]

    client = chromadb.HttpClient(host="127.0.0.1", port=chroma_server.port,
                                 settings=Settings(anonymized_telemetry=False))
    collection = client.get_collection("documents")
    assert collection.count() == written

    (corpus / "harbor.txt").rename(corpus / "port.txt")
    second = json.loads(run(home, "--chroma-url", url, "index", str(corpus), "--json").stdout)
    assert [Path(new).name for _, new in second["renamed"]] == ["port.txt"] and second["chunks_embedded"] == 0
    sources = {meta["source"] for meta in collection.get(include=["metadatas"])["metadatas"]}
    assert str(corpus / "port.txt") in sources and str(corpus / "harbor.txt") not in sources
    assert collection.count() == written

    answer = json.loads(run(home, "--chroma-url", url, "ask",
                            "How many containers did the Port of Veltria handle in 2023?", "--json").stdout)
    assert answer["citations"][0]["source"] == str(corpus / "port.txt")
    assert answer["citations"][0]["quote"] == "The Port of Veltria handled 4.2 million containers in 2023."
    # The embedded store of the same home was never touched.
    assert not (home / "chroma").exists()
