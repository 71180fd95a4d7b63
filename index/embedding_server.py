"""Embedding on a server: any OpenAI-compatible `/v1/embeddings` endpoint (vLLM, Infinity, TEI, Ollama, a
llama.cpp server) embeds documents and questions instead of the in-process model."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from index.embedder import Embedder

if TYPE_CHECKING:
    import httpx

_HINT = ("is the embedding server running and serving that model? check --embedder-url / ASSISTANT_EMBEDDER_URL "
         "and --embedder-model / ASSISTANT_EMBEDDER_MODEL")
_NOT_FOUND_HINT = ("check --embedder-url / ASSISTANT_EMBEDDER_URL, the base URL to which /embeddings is added "
                   "(e.g. http://host:7997/v1), and that the server serves --embedder-model")
_RETRY_STATUS = {429, 500, 502, 503, 504}  # busy or restarting: worth another try; 4xx otherwise will not change
_BACKOFF = (0.5, 1.0, 2.0)  # seconds before each retry: rides out a restart without hiding a dead server for long


class EmbeddingServerError(RuntimeError):
    """The embeddings server could not be reached or gave an unusable answer; the message says what to do."""


class ServerEmbedder(Embedder):
    """Vectors from `POST {url}/embeddings`, `batch_size` texts per request, `concurrency` requests at a time
    (a server batches across requests, so a GPU stays busy while the next batch is on the wire). Chunking still
    uses a local tokenizer (`tokenizer_path`), which should be the served model's."""

    def __init__(self, url: str, model: str, api_key: str | None = None, tokenizer_path: str | None = None,
                 batch_size: int = 64, concurrency: int = 4, timeout: float = 120.0):
        super().__init__(tokenizer_path, batch_size=batch_size)
        # The base URL as given, like OpenAI clients: "http://host:7997/v1" -> ".../v1/embeddings".
        self.url = url.rstrip("/") + "/embeddings"
        self.model_name = model
        # The model is what decides the vectors; the URL is left out so a moved server forces no re-embedding.
        self.identity = f"{model} via embeddings server"
        self.concurrency = concurrency
        self.timeout = timeout
        # Connecting fails fast; reading waits for the work (a big batch on a busy CPU server takes seconds).
        import httpx  # here: the CLI imports this module for its error class on every command

        self._client = httpx.Client(headers={"Authorization": f"Bearer {api_key}"} if api_key else None,
                                    timeout=httpx.Timeout(timeout, connect=5.0))
        self._dimension: int | None = None

    def load(self) -> None:
        """One tiny request, so a wrong URL or a stopped server is reported before any work starts."""
        self._encode(["ping"])

    def _encode(self, texts: list[str]) -> np.ndarray:
        batches = [texts[i:i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        if len(batches) == 1:
            return self._request(batches[0])
        with ThreadPoolExecutor(min(self.concurrency, len(batches))) as pool:
            return np.concatenate(list(pool.map(self._request, batches)))

    def _request(self, texts: list[str]) -> np.ndarray:
        response = self._post({"model": self.model_name, "input": texts})
        try:
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            if len({len(item["embedding"]) for item in data}) > 1:
                raise self._error("returned vectors of differing lengths")
            vectors = np.asarray([item["embedding"] for item in data], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise self._error(f"answered with something other than an embeddings list: {response.text[:200]!r}") \
                from exc
        if len(vectors) != len(texts):
            raise self._error(f"returned {len(vectors)} vectors for {len(texts)} texts")
        if not vectors.shape[1]:
            raise self._error("returned empty vectors")
        if self._dimension is None:
            self._dimension = vectors.shape[1]
        elif vectors.shape[1] != self._dimension:
            raise self._error(f"returned {vectors.shape[1]}-dimensional vectors after {self._dimension}-dimensional "
                              "ones (has the model behind it changed?)")
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def _post(self, body: dict) -> httpx.Response:
        import httpx

        for wait in (*_BACKOFF, None):
            try:
                response = self._client.post(self.url, json=body)
            except httpx.ReadTimeout as exc:
                # Not retried: the server got the work and is slow, so asking again would only add to its load.
                raise self._error(f"no answer within {self.timeout:g} s") from exc
            except httpx.TransportError as exc:
                if wait is None:
                    unreachable = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
                    raise self._error(f"{'could not be reached' if unreachable else 'dropped the request'} "
                                      f"({exc or type(exc).__name__})") from exc
            else:
                if response.status_code not in _RETRY_STATUS or wait is None:
                    break
            time.sleep(wait)
        if response.is_error:
            # 404: a path the server does not have, or (vLLM, Ollama) a model it does not serve.
            hint = _NOT_FOUND_HINT if response.status_code == 404 else _HINT
            raise self._error(f"answered HTTP {response.status_code}: {_server_message(response)}", hint)
        return response

    def _error(self, what: str, hint: str = _HINT) -> EmbeddingServerError:
        return EmbeddingServerError(f"embeddings server at {self.url} {what}; {hint}")


def _server_message(response: httpx.Response) -> str:
    """The reason the server gave: OpenAI's error.message, FastAPI's detail, TEI's error, else the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        reason = error.get("message") if isinstance(error, dict) else error or body.get("detail")
        if reason:
            return str(reason)[:300]
    return str(body)[:200]
