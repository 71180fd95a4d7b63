"""The OpenAI-compatible API on a real launched server, driven by the `openai` package itself."""

from __future__ import annotations

import urllib.error
import urllib.request

import openai
import pytest

from assistant.openai_api import ApiError, check_key
from tests.test_ui import ORRIN, free_port, launch_on


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedder):
    launched = launch_on(tmp_path_factory.mktemp("openai"), embedder, llm="none")
    launched.client = openai.OpenAI(base_url=f"{launched.url.rstrip('/')}/v1", api_key="unused-on-loopback")
    yield launched
    launched.app.close()


def test_a_cited_answer_with_its_sources_and_citation_objects(server):
    reply = server.client.chat.completions.create(
        model="cited-assistant", messages=[{"role": "user", "content": "When did Mount Orrin last erupt?"}])
    content = reply.choices[0].message.content
    answer, sources = content.split("\n\nSources:\n")
    assert "[1]" in answer and f'volcano.md: "{ORRIN}"' in sources.splitlines()[0]
    citation = reply.model_extra["citations"][0]
    assert citation["quote"] == ORRIN and citation["n"] == 1 and citation["source"].endswith("volcano.md")
    assert reply.model_extra["answer"]["abstained"] is False
    assert [m.id for m in server.client.models.list()] == ["cited-assistant"]


def test_streamed_reply_equals_the_whole_one_and_a_follow_up_uses_the_history(server):
    question = [{"role": "system", "content": "ignored"}, {"role": "user", "content": "When did Mount Orrin last erupt?"}]
    whole = server.client.chat.completions.create(model="cited-assistant", messages=question)
    chunks = list(server.client.chat.completions.create(model="cited-assistant", messages=question, stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].model_extra["citations"][0]["quote"] == ORRIN

    follow_up = question + [{"role": "assistant", "content": whole.choices[0].message.content},
                            {"role": "user", "content": "How tall is it?"}]
    reply = server.client.chat.completions.create(model="cited-assistant", messages=follow_up)
    assert reply.model_extra["citations"][0]["quote"] == "The summit stands 3,120 metres above sea level."
    with pytest.raises(openai.BadRequestError, match="the last message must be the user's question"):
        server.client.chat.completions.create(model="cited-assistant", messages=follow_up[:-1])


def test_off_loopback_a_request_needs_a_key(tmp_path, embedder):
    from ui.app import launch

    served = launch_on(tmp_path, embedder, llm="none")  # builds and indexes the home; its own server is not used
    served.app.close()
    port = free_port()
    app, _ = launch(served.services, "0.0.0.0", port, None, block=False, api_keys=["s3cret"])
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError, match="missing or wrong API key"):
            client.models.list()
        with pytest.raises(urllib.error.HTTPError) as refused:  # no Authorization header at all
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=30)
        assert refused.value.code == 401
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="s3cret")
        assert client.chat.completions.create(model="x", messages=[{"role": "user", "content": "When did Mount Orrin "
                                              "last erupt?"}]).model_extra["citations"][0]["quote"] == ORRIN
    finally:
        app.close()
    with pytest.raises(ApiError, match="no API key: start it with --api-key"):
        check_key(None, [], loopback=False)
    check_key(None, [], loopback=True)  # on loopback without keys: open, as the page is
