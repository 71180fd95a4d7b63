"""Chat models behind one small interface: stream the reply to a list of chat messages.

Backends: `local` (a GGUF model in-process through llama.cpp's own server code, via xllamacpp's
prebuilt wheel: no 10-minute compile), `openai` (any OpenAI-compatible endpoint, through llama-index's
OpenAILike), `transformers` (a local Hugging Face model folder). `build_chat_model` is the one place
that chooses, from settings.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from pathlib import Path
from typing import Iterator, Protocol

from assistant.models import resolve_model
from assistant.settings import Settings


class LLMError(RuntimeError):
    """The model could not be loaded or reached; the message says what to do."""


class ChatModel(Protocol):
    description: str
    reuses_prompt_prefix: bool  # a repeated prompt prefix is served from cache (llama.cpp, vLLM servers)

    def stream(self, messages: list[dict], max_tokens: int) -> Iterator[str]:
        """Yield the reply's text piece by piece (greedy decoding: answers must be reproducible)."""


def build_chat_model(settings: Settings) -> ChatModel | None:
    if settings.llm == "none":
        return None
    if settings.llm == "local":
        return LlamaCppChat(resolve_model(settings.model, settings.home), settings.llm_context, settings.llm_threads)
    if settings.llm == "openai":
        if not settings.llm_url:
            raise LLMError("the openai backend needs the server's address: --llm-url http://host:port/v1 "
                           "(env ASSISTANT_LLM_URL)")
        return OpenAICompatibleChat(settings.llm_url, settings.llm_model, settings.api_key())
    return TransformersChat(Path(settings.model))


def _threaded(produce) -> Iterator[str]:
    """Turn a producer that calls `emit(text) -> bool stop` into an iterator; closing it stops the producer."""
    pieces: queue.Queue = queue.Queue()
    done = object()
    stop = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            produce(lambda text: pieces.put(text) or stop.is_set())
        except BaseException as exc:  # re-raised in the consumer
            failure.append(exc)
        finally:
            pieces.put(done)

    threading.Thread(target=run, daemon=True).start()
    try:
        while (piece := pieces.get()) is not done:
            yield piece
    finally:
        stop.set()
    if failure:
        raise failure[0]


class LlamaCppChat:
    def __init__(self, gguf: Path, context: int, threads: int | None):
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(gguf)
        params.n_ctx = context  # shared by the slots
        # Two slots, each keeping its KV cache between requests: one holds the answer prompt's fixed prefix
        # (instructions and examples), the other the follow-up rewriting prompt; llama.cpp routes each
        # request to the slot sharing the longest prefix, so neither evicts the other.
        params.n_parallel = 2
        params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads or os.cpu_count() or 2
        params.sampling.temp = 0.0
        params.sampling.top_k = 1
        params.verbosity = -1  # llama.cpp logs every slot event otherwise
        params.ui = False
        params.endpoint_metrics = False
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:
            raise LLMError(f"llama.cpp could not load {gguf}: {exc}") from exc
        self.description = f"local:{gguf.name}"
        self.reuses_prompt_prefix = True

    def stream(self, messages: list[dict], max_tokens: int) -> Iterator[str]:
        request = {"messages": messages, "stream": True, "max_tokens": max_tokens, "temperature": 0.0,
                   "cache_prompt": True}

        def produce(emit) -> None:
            def on_chunk(chunk) -> bool:
                if isinstance(chunk, (str, bytes)):
                    chunk = json.loads(chunk)
                if "error" in chunk:
                    raise LLMError(f"llama.cpp: {chunk['error']}")
                for choice in chunk.get("choices", []):
                    text = (choice.get("delta") or {}).get("content")
                    if text and emit(text):
                        return True
                return False

            self._server.handle_chat_completions(request, on_chunk)

        return _threaded(produce)


class OpenAICompatibleChat:
    def __init__(self, url: str, model: str, api_key: str | None):
        from llama_index.llms.openai_like import OpenAILike

        self._llm = OpenAILike(model=model, api_base=url, api_key=api_key or "not-needed", is_chat_model=True,
                               temperature=0.0, timeout=120, max_retries=1)
        self.description = f"openai:{model}@{url}"
        self.reuses_prompt_prefix = True  # llama.cpp, vLLM and Ollama servers all cache prompt prefixes

    def stream(self, messages: list[dict], max_tokens: int) -> Iterator[str]:
        from llama_index.core.llms import ChatMessage

        chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
        try:
            for response in self._llm.stream_chat(chat, max_tokens=max_tokens):
                if response.delta:
                    yield response.delta
        except Exception as exc:
            if type(exc).__module__.startswith(("openai", "httpx")):
                raise LLMError(f"the model server at {self._llm.api_base} failed: {exc} "
                               "(is it running, and is --llm-model a model it serves?)") from exc
            raise


class TransformersChat:
    def __init__(self, folder: Path):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not (folder / "config.json").is_file():
            raise LLMError(f"{folder} is not a Hugging Face model folder (no config.json); "
                           "--model must point at one for the transformers backend")
        self._tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self._model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
        self._model.eval()
        self.description = f"transformers:{folder.name}"
        self.reuses_prompt_prefix = False

    def stream(self, messages: list[dict], max_tokens: int) -> Iterator[str]:
        from transformers import TextStreamer

        encoded = self._tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                      return_dict=True)
        # Only what every causal model takes (a BERT-style tokenizer adds token_type_ids, which they refuse).
        inputs = {key: encoded[key] for key in ("input_ids", "attention_mask") if key in encoded}

        class Stopped(Exception):
            pass

        def produce(emit) -> None:
            class EmitStreamer(TextStreamer):
                def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
                    if text and emit(text):
                        raise Stopped  # the reader went away: stop generating

            streamer = EmitStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
            try:
                self._model.generate(**inputs, max_new_tokens=max_tokens, do_sample=False, streamer=streamer,
                                     pad_token_id=self._tokenizer.pad_token_id or self._tokenizer.eos_token_id)
            except Stopped:
                pass

        return _threaded(produce)
