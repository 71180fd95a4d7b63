"""Chat models behind one small interface: stream the reply to a list of chat messages.

Backends: `local` (a GGUF model in-process through llama.cpp's own server code, via xllamacpp's
prebuilt wheel: no 10-minute compile), `openai` (any OpenAI-compatible endpoint, through llama-index's
OpenAILike), `transformers` (a local Hugging Face model folder). `build_chat_model` is the one place
that chooses, from settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import secrets
import threading
import urllib.error
import urllib.request
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

    def warm_up(self, prefix: list[dict]) -> None:
        """Get `prefix`, the fixed start of later prompts, into the prompt cache (when reuses_prompt_prefix)."""


def build_chat_model(settings: Settings) -> ChatModel | None:
    if settings.llm == "none":
        return None
    if settings.llm == "local":
        return LlamaCppChat(resolve_model(settings.model, settings.home), settings.llm_context, settings.llm_threads,
                            draft=settings.llm_draft,
                            prefix_folder=settings.home / "kv" if settings.llm_prefix_cache else None)
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


# The in-process server is on loopback: an http_proxy setting must not send its requests elsewhere.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _ready_turn(prefix: list[dict]) -> list[dict]:
    """The prefix as a request: a prompt must end with a user turn (the prefix ends with an answer)."""
    return prefix + [{"role": "user", "content": "Ready?"}]


# n-gram drafting (llm_draft = "ngram"): after the last NGRAM_SIZE tokens are found earlier in the prompt, the
# tokens that followed them there are proposed, at most DRAFT_MAX at a time, and checked in one batch.
# Chosen on the BBC answer prompts (benchmarks/speculative_decoding.py, docs/speculative-decoding.md).
NGRAM_SIZE = 3
DRAFT_MAX = 8


class LlamaCppChat:
    def __init__(self, gguf: Path, context: int, threads: int | None, draft: str = "none",
                 prefix_folder: Path | None = None):
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
        if draft == "ngram":
            # Answers copy their passages' sentences: drafts taken from the prompt are often right, and a
            # wrong one costs only its share of a batched check (greedy output stays the same).
            params.speculative.types = [xllamacpp.common_speculative_type.COMMON_SPECULATIVE_TYPE_NGRAM_SIMPLE]
            params.speculative.ngram_simple.size_n = NGRAM_SIZE
            params.speculative.ngram_simple.size_m = params.speculative.draft.n_max = DRAFT_MAX
        # The in-process server also listens on a loopback port: a random key keeps other local users out
        # (its slot actions write files), and GET /slots, which would show them the prompts, is off.
        self._key = secrets.token_urlsafe(24)
        params.api_keys = [self._key]
        params.endpoint_slots = False
        self._prefix_folder = prefix_folder
        if prefix_folder is not None:
            prefix_folder.mkdir(parents=True, exist_ok=True)
            params.slot_save_path = f"{prefix_folder}{os.sep}"  # llama.cpp appends the file name as is
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:
            raise LLMError(f"llama.cpp could not load {gguf}: {exc}") from exc
        # Saved KV states are valid only for this model file and this llama.cpp build.
        stat = gguf.stat()
        self._state_key = f"{gguf.name}\0{stat.st_size}\0{stat.st_mtime_ns}\0{xllamacpp.__version__}"
        self._stem = gguf.stem
        self.description = f"local:{gguf.name}"
        self.reuses_prompt_prefix = True
        self.timings: dict = {}  # llama.cpp's timings of the last reply: tokens, ms, draft tokens accepted

    def stream(self, messages: list[dict], max_tokens: int) -> Iterator[str]:
        return self._stream({"messages": messages, "max_tokens": max_tokens})

    def warm_up(self, prefix: list[dict]) -> None:
        """Slot 0 gets the prefix's KV state: from the file an earlier process saved for this model and prefix,
        else computed (and saved for the next process, with llm_prefix_cache)."""
        if self._prefix_folder is None:
            self._run(_ready_turn(prefix))
            return
        digest = hashlib.sha256(json.dumps([self._state_key, prefix]).encode()).hexdigest()[:16]
        name = f"{self._stem}-{digest}.bin"
        if (self._prefix_folder / name).is_file() and self._slot_action("restore", name):
            return
        self._run(_ready_turn(prefix))
        partial = f"{name}.{os.getpid()}.partial"  # renamed when whole: a killed save is never restored
        if self._slot_action("save", partial):
            os.replace(self._prefix_folder / partial, self._prefix_folder / name)
            for stale in self._prefix_folder.glob(f"{self._stem}-*.bin"):  # earlier prefixes of this model
                if stale.name != name:
                    stale.unlink(missing_ok=True)
        else:
            (self._prefix_folder / partial).unlink(missing_ok=True)  # whatever a failed save left

    def _run(self, messages: list[dict]) -> None:
        for _ in self._stream({"messages": messages, "max_tokens": 1, "id_slot": 0}):
            pass

    def _slot_action(self, action: str, filename: str) -> bool:
        """Save or restore slot 0's KV state (llama.cpp's /slots endpoint; the bindings have no call for it).
        A failure only costs computing the prefix, so it is logged, not raised."""
        request = urllib.request.Request(
            f"{self._server.listening_address}/slots/0?action={action}", json.dumps({"filename": filename}).encode(),
            {"Content-Type": "application/json", "Authorization": f"Bearer {self._key}"})
        try:
            with _NO_PROXY.open(request, timeout=60):
                return True
        except OSError as exc:
            detail = exc.read().decode(errors="replace") if isinstance(exc, urllib.error.HTTPError) else exc
            logging.getLogger(__name__).warning("llama.cpp could not %s the prompt prefix %s in %s: %s",
                                                action, filename, self._prefix_folder, detail)
            return False

    def _stream(self, request: dict) -> Iterator[str]:
        request = {**request, "stream": True, "temperature": 0.0, "cache_prompt": True}

        def produce(emit) -> None:
            def on_chunk(chunk) -> bool:
                if isinstance(chunk, (str, bytes)):
                    chunk = json.loads(chunk)
                if "error" in chunk:
                    raise LLMError(f"llama.cpp: {chunk['error']}")
                if "timings" in chunk:
                    self.timings = chunk["timings"]
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

    def warm_up(self, prefix: list[dict]) -> None:
        for _ in self.stream(_ready_turn(prefix), max_tokens=1):
            pass

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
