"""Builds every component from settings, in one place; the CLI and the UI share these services."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from assistant.records import Scope
from assistant.settings import Settings, SettingsError
from index.embedder import Embedder, build_embedder
from index.manifest import DocumentTexts, Manifest

# Each component imports its modules when first built: a command pays only for what it uses.
if TYPE_CHECKING:
    from assistant.answering import Answerer
    from assistant.conversations import ConversationStore
    from assistant.feedback import FeedbackLog
    from assistant.llm import ChatModel
    from assistant.retrieval import HybridRetriever
    from assistant.signing import AnswerSigner
    from assistant.waiting_line import WaitingLine
    from index.store import ChunkStore
    from index.sync import Indexer


def quiet_offline_environment() -> None:
    """No model hub, no telemetry: everything this program loads is already on disk."""
    for key, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
                       "ANONYMIZED_TELEMETRY": "False", "GRADIO_ANALYTICS_ENABLED": "False",
                       "TOKENIZERS_PARALLELISM": "false"}.items():
        os.environ.setdefault(key, value)


def derived_models_dir() -> Path:
    """Files made from installed models (the int8 embedder): the same for every home, so made once per user."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cited-assistant"


_CHAT_MODEL = ("llm", "model", "llm_url", "llm_model", "llm_api_key", "llm_context", "llm_threads", "llm_draft",
               "llm_prefix_cache", "home")
# What each component is built from: a variant of the settings that leaves these alone shares the component.
_BUILT_FROM = {
    "embedder": ("embedder_path", "embedder_precision", "embedder_url", "embedder_model", "embedder_api_key"),
    "store": ("home", "chroma_url", "collection"),
    "manifest": ("home", "chroma_url", "collection"),
    "document_texts": ("home", "chroma_url", "collection"),
    "retriever": ("home", "chroma_url", "collection", "embedder_path", "embedder_precision", "embedder_url",
                  "embedder_model", "retrieval"),
    "chat_model": _CHAT_MODEL,
    "model_line": _CHAT_MODEL + ("llm_slots",),
}


class Services:
    def __init__(self, settings: Settings):
        quiet_offline_environment()
        self.settings = settings

    def variant(self, **overrides) -> "Services":
        """Services with some settings changed (values as typed: "6", "none"), sharing every component those
        settings do not touch: the index, the embedder, a loaded model (seconds to load, memory to hold)."""
        try:
            settings = Settings.model_validate({**self.settings.model_dump(), **overrides})
        except ValidationError as exc:
            raise SettingsError(f"invalid settings {overrides}: "
                                + "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())) from None
        variant = Services(settings)
        for component, keys in _BUILT_FROM.items():
            if all(getattr(settings, key) == getattr(self.settings, key) for key in keys):
                setattr(variant, component, getattr(self, component))
        return variant

    @cached_property
    def embedder(self) -> Embedder:
        s = self.settings
        api_key = s.embedder_api_key.get_secret_value() if s.embedder_api_key else None
        return build_embedder(s.embedder_path, s.embedder_precision, derived_models_dir(), url=s.embedder_url,
                              server_model=s.embedder_model, api_key=api_key)

    @cached_property
    def store(self) -> ChunkStore:
        from index.store import ChunkStore

        return ChunkStore(self.settings.collection, persist_dir=self.settings.home / "chroma",
                          url=self.settings.chroma_url)

    @property
    def manifest_path(self) -> Path:
        """The manifest of this Chroma location and collection: it exists once the collection was written to."""
        return self.settings.home / f"manifest-{self.settings.store_key}.sqlite"

    @cached_property
    def manifest(self) -> Manifest:
        return Manifest(self.manifest_path)

    @cached_property
    def document_texts(self) -> DocumentTexts:
        return DocumentTexts(self.manifest.path)

    @cached_property
    def retriever(self) -> HybridRetriever:
        from assistant.retrieval import HybridRetriever
        from index.keyword_index import KeywordIndex
        from index.reembed import check_embedder

        # The BM25 postings live in the manifest's database, so they follow its crash-safe protocol.
        return HybridRetriever(self.store, KeywordIndex(self.manifest.path), self.embedder,
                               mode=self.settings.retrieval,
                               check_index=lambda: check_embedder(self.manifest, self.embedder))

    @cached_property
    def chat_model(self) -> ChatModel | None:
        """Loaded on first use: listing documents or indexing never pays for a model."""
        from assistant.llm import build_chat_model

        if self.settings.llm == "local":
            # The embedder and llama.cpp each keep their own thread pool; on two cores the pools fight, and
            # generation fell from 22.6 to 17.9 tokens/s right after an embedding (measured with torch).
            # What the embedder does per question is small, so next to an in-process model it gets one thread.
            self.embedder.share_cores()
        return build_chat_model(self.settings)

    @cached_property
    def model_line(self) -> WaitingLine:
        """Where questions wait for the chat model: one per model, shared by every collection using it."""
        from assistant.waiting_line import WaitingLine

        slots = self.settings.llm_slots or (4 if self.settings.llm == "openai" else 1)
        return WaitingLine(slots)

    @cached_property
    def indexer(self) -> Indexer:
        from index.sync import Indexer

        s = self.settings
        return Indexer(lambda: self.store, self.manifest, lambda: self.embedder, lock_path=s.home / "index.lock",
                       chunk_tokens=s.chunk_tokens, overlap_tokens=s.chunk_overlap_tokens,
                       max_file_bytes=int(s.max_file_mb * 1e6), embed_batch=s.embed_batch,
                       extract_seconds=s.extract_seconds, extract_memory_mb=s.extract_memory_mb,
                       store_folder=None if s.chroma_url else s.home / "chroma")

    @cached_property
    def conversations(self) -> ConversationStore:
        from assistant.conversations import ConversationStore

        return ConversationStore(self.settings.home / "conversations.sqlite")

    @cached_property
    def feedback(self) -> FeedbackLog:
        from assistant.feedback import FeedbackLog

        return FeedbackLog(self.settings.home / "feedback.sqlite", self.signer, self.settings.max_comment_chars,
                           self.settings.input_limits())

    @cached_property
    def signer(self) -> AnswerSigner:
        from assistant.signing import AnswerSigner

        return AnswerSigner(self.settings.home)

    def scope(self, paths: list[str] | None) -> Scope | None:
        """The documents a question is limited to, given as files or folders (as indexed); None: all of them."""
        if not paths:
            return None
        rows = {}
        for path in paths:
            found = self.indexer.matching(path)
            if not found:
                raise ValueError(f"{path}: no indexed document is this file or under this folder; "
                                 "`assistant docs` lists them")
            rows.update((row.version_id, row) for row in found)
        return Scope(sources=sorted(row.source for row in rows.values()), version_ids=sorted(rows))

    @cached_property
    def answerer(self) -> Answerer:
        from assistant.answering import Answerer

        s = self.settings
        return Answerer(self.retriever, self.document_texts.get, self.embedder.precise, self.chat_model, top_k=s.top_k,
                        passages=s.passages, passage_words=s.passage_words, max_quotes=s.max_quotes,
                        abstain_below=s.abstain_below, max_answer_tokens=s.max_answer_tokens, line=self.model_line,
                        limits=s.input_limits(), sign=self.signer.sign)
