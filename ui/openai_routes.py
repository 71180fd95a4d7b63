"""`/v1/chat/completions` and `/v1/models` on the web app's server: HTTP plumbing only; the protocol is
assistant/openai_api.py and the answers are the same Answerer's."""

from __future__ import annotations

import json

from fastapi import Request
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute

from assistant import openai_api
from assistant.openai_api import ApiError, ChatRequest
from assistant.services import Services


def openai_routes(services: Services, keys: list[str], loopback: bool) -> list[APIRoute]:
    """The API's routes, for the web app's server to have from its start: added once it runs, a client that
    saw the page answer could still get 404 from /v1 for a moment."""
    def refused(error: ApiError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status)

    # Plain (not async) handlers: FastAPI runs them in its thread pool, so a long answer blocks no other request.
    def list_models(request: Request):
        try:
            openai_api.check_key(request.headers.get("authorization"), keys, loopback)
        except ApiError as error:
            return refused(error)
        return openai_api.models()

    def chat_completions(request: Request, body: dict):
        try:
            openai_api.check_key(request.headers.get("authorization"), keys, loopback)
            chat = ChatRequest.parse(body)
            question, history = chat.question_and_history()
            if not chat.stream:
                return openai_api.completion(services.answerer.ask(question, history))
            events = services.answerer.stream(question, history)
        except ApiError as error:
            return refused(error)
        except ValueError as error:  # e.g. the index cannot be searched with this embedder
            return refused(ApiError(400, str(error)))
        return StreamingResponse(_server_sent(openai_api.completion_chunks(events)), media_type="text/event-stream")

    return [APIRoute("/v1/models", list_models, methods=["GET"]),
            APIRoute("/v1/chat/completions", chat_completions, methods=["POST"])]


def _server_sent(chunks):
    """Chunks as server-sent events, ended as OpenAI ends them; a failure after the headers went out can only
    be told in the stream itself (OpenAI clients raise it)."""
    try:
        for chunk in chunks:
            yield f"data: {json.dumps(chunk)}\n\n"
    except Exception as exc:
        yield f"data: {json.dumps(ApiError(500, str(exc), 'server_error').body())}\n\n"
        return
    yield "data: [DONE]\n\n"
