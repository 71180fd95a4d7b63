"""`/v1/chat/completions` and `/v1/models` on the web app's server: HTTP plumbing only; the protocol is
assistant/openai_api.py and the answers are the same Answerer's."""

from __future__ import annotations

import json

from fastapi import Request
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from assistant import openai_api
from assistant.openai_api import ApiError, ChatRequest
from assistant.llm import LLMError
from assistant.models import ModelError
from assistant.services import Services
from index.embedding_server import EmbeddingServerError
from index.store import StoreUnavailable


# What stops an answer on the server's side, with a message saying what to do (a 503, not a 500).
UNAVAILABLE = (StoreUnavailable, EmbeddingServerError, LLMError, ModelError)


def openai_routes(services: Services, keys: list[str], loopback: bool,
                  login: tuple[str, str] | None = None) -> list[APIRoute]:
    """The API's routes, for the web app's server to have from its start: added once it runs, a client that
    saw the page answer could still get 404 from /v1 for a moment. login: the web chat's (serve --auth), which
    /v1 then also requires (or a key) on every address."""
    def refused(error: ApiError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status)

    def list_models(request: Request):
        try:
            openai_api.check_key(request.headers.get("authorization"), keys, loopback, login)
        except ApiError as error:
            return refused(error)
        return openai_api.models()

    # The body is read here, not by FastAPI: a request that is not JSON is an OpenAI-style 400 saying so, not
    # FastAPI's 422. The answer runs in the thread pool, so a long one blocks no other request.
    async def chat_completions(request: Request):
        try:
            openai_api.check_key(request.headers.get("authorization"), keys, loopback, login)
            chat = ChatRequest.parse(_json(await request.body()))
            question, history = chat.question_and_history()
            if not chat.stream:
                return openai_api.completion(await run_in_threadpool(services.answerer.ask, question, history))
            events = await run_in_threadpool(services.answerer.stream, question, history)
        except ApiError as error:
            return refused(error)
        except UNAVAILABLE as error:  # the store, the embeddings or the model server is down: said, not a 500
            return refused(ApiError(503, str(error), "server_error"))
        except ValueError as error:  # a refused question (too long...), or an index this embedder cannot search
            return refused(ApiError(400, str(error)))
        return StreamingResponse(_server_sent(openai_api.completion_chunks(events)), media_type="text/event-stream")

    def unknown(request: Request):
        return refused(ApiError(404, f"{request.method} {request.url.path} is not a route of this server; it has "
                                     "POST /v1/chat/completions and GET /v1/models"))

    return [APIRoute("/v1/models", list_models, methods=["GET"]),
            APIRoute("/v1/chat/completions", chat_completions, methods=["POST"]),
            # Last: anything else under /v1 (another route, another method) is answered in OpenAI's shape too.
            APIRoute("/v1/{anything:path}", unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                     include_in_schema=False)]


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"the request body is not JSON ({exc}); send a chat completions request as JSON "
                            "with Content-Type: application/json") from None


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
