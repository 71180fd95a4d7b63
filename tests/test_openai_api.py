"""The OpenAI-compatible API of a running `assistant serve`, driven by the `openai` package itself."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest

from assistant.openai_api import ApiError, check_key
from tests.conftest import indexed_sample
from tests.test_cli import ASSISTANT
from tests.test_ui import ORRIN, free_port

QUESTION = [{"role": "system", "content": "ignored"}, {"role": "user", "content": "When did Mount Orrin last erupt?"}]


def serve(home: Path, *options: str) -> tuple[subprocess.Popen, int]:
    """`assistant --no-llm serve` on an indexed home, once it answers on its port."""
    port = free_port()
    process = subprocess.Popen([ASSISTANT, "--home", str(home), "--no-llm", "serve", "--port", str(port), *options],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
            return process, port
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
            time.sleep(0.5)


@pytest.fixture(scope="module")
def indexed_home(tmp_path_factory, embedder) -> Path:
    base = tmp_path_factory.mktemp("openai")
    indexed_sample(base, embedder)
    return base / "home"


@pytest.fixture(scope="module")
def client(indexed_home):
    process, port = serve(indexed_home)
    yield openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused-on-loopback")
    process.terminate()
    process.wait(timeout=30)


def test_a_cited_answer_with_its_sources_and_citation_objects(client):
    reply = client.chat.completions.create(model="cited-assistant", messages=QUESTION)
    answer, sources = reply.choices[0].message.content.split("\n\nSources:\n")
    assert "[1]" in answer and f'volcano.md: "{ORRIN}"' in sources.splitlines()[0]
    citation = reply.model_extra["citations"][0]
    assert citation["quote"] == ORRIN and citation["n"] == 1 and citation["source"].endswith("volcano.md")
    assert reply.model_extra["answer"]["abstained"] is False
    assert [m.id for m in client.models.list()] == ["cited-assistant"]


def test_streamed_reply_equals_the_whole_one_and_a_follow_up_uses_the_history(client):
    whole = client.chat.completions.create(model="cited-assistant", messages=QUESTION)
    chunks = list(client.chat.completions.create(model="cited-assistant", messages=QUESTION, stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].model_extra["citations"][0]["quote"] == ORRIN

    follow_up = QUESTION + [{"role": "assistant", "content": whole.choices[0].message.content},
                            {"role": "user", "content": "How tall is it?"}]
    reply = client.chat.completions.create(model="cited-assistant", messages=follow_up)
    assert reply.model_extra["citations"][0]["quote"] == "The summit stands 3,120 metres above sea level."
    with pytest.raises(openai.BadRequestError, match="the last message must be the user's question"):
        client.chat.completions.create(model="cited-assistant", messages=follow_up[:-1])


def test_off_loopback_a_request_needs_a_key(indexed_home):
    process, port = serve(indexed_home, "--host", "0.0.0.0", "--insecure", "--api-key", "s3cret")
    try:
        wrong = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError, match="missing or wrong API key"):
            wrong.models.list()
        with pytest.raises(urllib.error.HTTPError) as refused:  # no Authorization header at all
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=30)
        assert refused.value.code == 401
        right = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="s3cret")
        reply = right.chat.completions.create(model="cited-assistant", messages=QUESTION)
        assert reply.model_extra["citations"][0]["quote"] == ORRIN
    finally:
        process.terminate()
        process.wait(timeout=30)
    with pytest.raises(ApiError, match="no API key: start it with --api-key"):
        check_key(None, [], loopback=False)
    check_key(None, [], loopback=True)  # on loopback without keys: open, as the page is
