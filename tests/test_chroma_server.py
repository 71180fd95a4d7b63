"""The same code against a real `chroma run` server process instead of the embedded store."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import build_good_corpus
from tests.test_cli import run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    port = free_port()
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    server = subprocess.Popen([chroma, "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("chroma server did not start")
            time.sleep(0.2)
    yield url
    server.terminate()
    server.wait(timeout=30)


def test_index_sync_and_ask_against_a_chroma_server(chroma_server, tmp_path):
    import chromadb
    from chromadb.config import Settings

    corpus = build_good_corpus(tmp_path / "docs")
    home = tmp_path / "home"
    first = run(home, "--chroma-url", chroma_server, "index", str(corpus), "--json")
    assert first.returncode == 0, first.stderr
    written = json.loads(first.stdout)["chunks_written"]

    host, port = chroma_server.rsplit(":", 1)
    client = chromadb.HttpClient(host="127.0.0.1", port=int(port), settings=Settings(anonymized_telemetry=False))
    collection = client.get_collection("documents")
    assert collection.count() == written

    (corpus / "harbor.txt").rename(corpus / "port.txt")
    second = json.loads(run(home, "--chroma-url", chroma_server, "index", str(corpus), "--json").stdout)
    assert [Path(new).name for _, new in second["renamed"]] == ["port.txt"] and second["chunks_embedded"] == 0
    sources = {meta["source"] for meta in collection.get(include=["metadatas"])["metadatas"]}
    assert str(corpus / "port.txt") in sources and str(corpus / "harbor.txt") not in sources
    assert collection.count() == written

    answer = json.loads(run(home, "--chroma-url", chroma_server, "ask",
                            "How many containers did the Port of Veltria handle in 2023?", "--json").stdout)
    assert answer["citations"][0]["source"] == str(corpus / "port.txt")
    assert answer["citations"][0]["quote"] == "The Port of Veltria handled 4.2 million containers in 2023."
    # The embedded store of the same home was never touched.
    assert not (home / "chroma").exists()
