"""Random arguments of every type to every Gradio endpoint and random bodies to every /v1 route of a real
`assistant serve` (Hypothesis, bounded in examples): never a 500, never a traceback in the server's log, and
the documents and their files exactly as they were."""

from __future__ import annotations

import json

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_hostile_requests import Served, gradio_call, indexed_folder, snapshot

# Text with what clients get wrong: lone surrogates, controls, other scripts, long runs.
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=60) | \
    st.sampled_from(["", " ", ".", "/", "..", "docs/..", "./docs", "\udcff", "\x00", "x" * 5000])
SCALAR = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT
VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                     max_leaves=10)
# Each endpoint's number of arguments (gradio refuses another count before our code runs).
ENDPOINTS = {"ask": 4, "documents": 1, "feedback": 4, "remove": 2, "reindex": 1, "upload": 2}
# Arguments of the right types with random content, so calls also get past the type checks.
MESSAGES = st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant"]), "content": TEXT}),
                    max_size=3)
NAME = st.none() | TEXT | st.just("documents")
TYPED = {"ask": st.tuples(TEXT, MESSAGES, st.lists(TEXT, max_size=2), NAME), "documents": st.tuples(NAME),
         "feedback": st.tuples(st.dictionaries(TEXT, VALUE, max_size=3), st.sampled_from(["up", "down"]) | TEXT, TEXT,
                               MESSAGES),
         "remove": st.tuples(TEXT, NAME), "reindex": st.tuples(NAME), "upload": st.tuples(st.lists(TEXT), NAME)}
BOUNDED = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def _served(tmp_path_factory):
    base = indexed_folder(tmp_path_factory.mktemp("fuzz"))
    return Served(base), base


def test_random_arguments_to_every_endpoint_and_route_break_nothing(tmp_path_factory):
    server, base = _served(tmp_path_factory)
    before_docs, before_files = gradio_call(server.url, "documents", "[null]"), snapshot(base / "docs")
    try:
        for api, count in ENDPOINTS.items():
            @BOUNDED
            @given(st.lists(VALUE, min_size=count, max_size=count) | TYPED[api].map(list))
            def call(arguments):
                event, _ = gradio_call(server.url, api, json.dumps(arguments))
                assert event in ("complete", "error")
            call()

        @BOUNDED
        @given(VALUE | st.binary(max_size=200))
        def post(body):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            reply = requests.post(f"{server.url}v1/chat/completions", data=data, timeout=120,
                                  headers={"Content-Type": "application/json"})
            assert reply.status_code < 500, reply.text
            if reply.status_code >= 400:
                assert set(reply.json()["error"]) >= {"message", "type"}
        post()

        @BOUNDED
        @given(st.lists(st.fixed_dictionaries({"role": TEXT | st.sampled_from(["user", "assistant"]),
                                               "content": VALUE}), min_size=1, max_size=3))
        def chat(messages):
            reply = requests.post(f"{server.url}v1/chat/completions", json={"messages": messages}, timeout=120) \
                if _encodable(messages) else None
            assert reply is None or reply.status_code < 500, reply.text
        chat()

        @BOUNDED
        @given(st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=80))
        def models(authorization):
            reply = requests.get(f"{server.url}v1/models", headers={"Authorization": authorization}, timeout=30)
            # Loopback without keys: open, whatever is sent (a header HTTP forbids is uvicorn's 400).
            assert reply.status_code in (200, 400)
        models()

        assert gradio_call(server.url, "documents", "[null]") == before_docs
        assert snapshot(base / "docs") == before_files
    finally:
        log = server.stop()
    assert "Traceback" not in log and " 500 " not in log, log[-5000:]


def _encodable(value) -> bool:
    """requests sends JSON as UTF-8; a lone surrogate cannot be (gradio_call and the bytes above cover them)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False
