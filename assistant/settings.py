"""The one settings object. Precedence: defaults < config file < env ASSISTANT_* < CLI flags."""

from __future__ import annotations

import hashlib
import ipaddress
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from assistant.inputs import InputLimits

DEFAULT_CONFIG_FILE = "assistant.toml"
# Chosen per load (see load_settings); pydantic-settings builds its sources from the class.
_config_file: Path | None = None


class SettingsError(ValueError):
    pass


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="forbid")

    home: Path = Field(Path(".assistant"), description="index, caches and models live here")
    sources: list[str] = Field(["seeds"], description="folders/files `assistant index` syncs by default")
    chroma_url: str | None = Field(None, description="http://host:port of a Chroma server; unset = embedded")
    collection: str = Field("documents", description="Chroma collection name")
    embedder_path: str | None = Field(None, description="local sentence-transformers folder; unset = MiniLM")
    embedder_precision: Literal["int8", "fp32"] = Field(
        "int8", description="int8: the embedder exported to ONNX and quantized (faster, see README); fp32: torch")
    embedder_url: str | None = Field(None, description="base URL of an OpenAI-compatible /v1/embeddings server, "
                                                       "e.g. http://host:7997/v1; unset = embed in-process")
    embedder_model: str = Field("all-MiniLM-L6-v2", description="embedder_url: the model name the server knows")
    embedder_api_key: SecretStr | None = Field(None, description="embedder_url: API key (env "
                                                                 "ASSISTANT_EMBEDDER_API_KEY)")
    chunk_tokens: int = Field(200, ge=16, description="word pieces per chunk (capped at the embedder's max)")
    chunk_overlap_tokens: int = Field(32, ge=0, description="word pieces repeated between chunks")
    embed_batch: int = Field(256, ge=1, description="chunks embedded per step while indexing")
    max_file_mb: float = Field(50.0, gt=0, description="larger files are skipped")
    max_upload_files: int = Field(100, ge=1, description="files one upload may hold (web chat and /upload)")
    max_upload_mb: float = Field(500.0, gt=0, description="total size of one upload request, MB")
    max_question_chars: int = Field(4000, ge=1, description="longest question answered, in characters (every "
                                                           "door: terminal, web chat, API, /v1)")
    max_history_messages: int = Field(50, ge=0, description="earlier messages a question's conversation may hold")
    max_history_chars: int = Field(50_000, ge=0, description="characters a question's earlier messages may hold")
    max_comment_chars: int = Field(2000, ge=0, description="longest comment on a rated answer")
    trusted_proxies: list[str] = Field([], description="serve: addresses (or networks, 10.0.0.0/8) of reverse "
                                       "proxies whose X-Forwarded-For names the client; empty: the peer itself")
    login_attempts: int = Field(5, ge=1, description="serve --auth: wrong passwords from one client address "
                                                     "before it must wait")
    login_lockout_s: float = Field(60.0, gt=0, description="serve --auth: the first wait after too many wrong "
                                                           "passwords, seconds; doubles with each further miss")
    extract_seconds: float = Field(60.0, gt=0, description="a file whose reader makes no progress for this long "
                                                           "(an OCR'd page is progress), or takes 20 times this in "
                                                           "all, is skipped")
    extract_memory_mb: int = Field(2048, ge=256, description="memory a file's reader may use; over it the file "
                                                             "is skipped")
    retrieval: Literal["hybrid", "dense", "bm25"] = Field(
        "hybrid", description="hybrid = BM25 and dense fused (see README, SciFact nDCG@10)")
    top_k: int = Field(5, ge=1, le=50, description="chunks retrieved per question")
    max_quotes: int = Field(3, ge=1, le=10, description="quoted sentences in an extractive answer")
    llm: Literal["local", "openai", "transformers", "none"] = Field(
        "local", description="who writes answers: llama.cpp in-process, an OpenAI-compatible server, a Hugging "
                             "Face folder, or none (extractive quotes only)")
    model: str = Field("default", description="local: 'default' (1.5B), 'small' (0.5B) or a .gguf path; "
                                              "transformers: a model folder")
    llm_url: str | None = Field(None, description="openai: base URL, e.g. http://localhost:8080/v1")
    llm_model: str = Field("default", description="openai: the model name the server knows")
    llm_api_key: SecretStr | None = Field(None, description="openai: API key (env ASSISTANT_LLM_API_KEY, "
                                                            "else OPENAI_API_KEY)")
    llm_context: int = Field(4096, ge=512, description="local: context window in tokens, shared by two cache slots")
    llm_threads: int | None = Field(None, ge=1, description="local: CPU threads (unset = all cores)")
    llm_draft: Literal["ngram", "none"] = Field("none", description="local: speculative decoding; ngram drafts "
                                                                    "tokens copied from the prompt")
    llm_prefix_cache: bool = Field(True, description="local: save the answer prompt's fixed prefix (its KV state) "
                                                     "under home and restore it in a new process")
    llm_slots: int | None = Field(None, ge=1, le=64, description="answers the model writes at once; later "
                                  "questions wait in line and see their place (unset: 1 for local and "
                                  "transformers, 4 for openai: set it to the server's parallel slots)")
    max_answer_tokens: int = Field(256, ge=16, description="longest answer the model may write")
    passages: int = Field(10, ge=1, le=30, description="evidence sentences the model reads, at most")
    passage_words: int = Field(220, ge=20, le=2000, description="words of evidence the model reads, at most "
                                                                "(more: right more often, slower first token)")
    abstain_below: float = Field(0.29, description="evidence relevance under which the question is off-topic "
                                                     "and declined before any model runs (benchmarks/abstention.py)")
    watch_debounce_ms: int = Field(1000, ge=50, le=10_000, description="--watch: a burst of file changes is "
                                   "gathered for at most this long (ms) before one re-index runs")

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, proxies: list[str]) -> list[str]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8)") from None
        return proxies

    def input_limits(self) -> InputLimits:
        return InputLimits(self.max_question_chars, self.max_history_messages, self.max_history_chars)

    def api_key(self) -> str | None:
        if self.llm_api_key is not None:
            return self.llm_api_key.get_secret_value()
        return os.environ.get("OPENAI_API_KEY")

    @property
    def store_key(self) -> str:
        """Which store the manifest describes: one manifest per Chroma location and collection."""
        where = self.chroma_url or "embedded"
        return hashlib.sha1(f"{where}\0{self.collection}".encode()).hexdigest()[:12]

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if _config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=_config_file))
        return tuple(sources)


def load_settings(config_file: str | Path | None = None, **overrides) -> Settings:
    """Build settings; `overrides` are CLI flags (None means 'not given')."""
    path = config_file or os.environ.get("ASSISTANT_CONFIG")
    if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
        path = DEFAULT_CONFIG_FILE
    if path is not None and not Path(path).is_file():
        raise SettingsError(f"config file {path} does not exist")
    global _config_file
    _config_file = Path(path) if path else None
    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"invalid settings: {problems}") from None
    except ValueError as exc:  # a malformed TOML file
        raise SettingsError(f"cannot read config file {path}: {exc}") from None
