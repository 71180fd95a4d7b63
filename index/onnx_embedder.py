"""The default embedder: the model folder exported to ONNX once, its weights quantized to int8, run by onnxruntime.

Tokenization, truncation, mean pooling and normalisation follow sentence-transformers exactly, so only the
int8 arithmetic differs from the fp32 model (benchmarks/embedder_precision.py measures speed and retrieval
quality against it). The unquantized export is kept too: it ranks sentences at question time (`precise`).
Running needs onnxruntime, tokenizers and numpy: no torch import (seconds) per process. The export needs torch
and transformers, once per model folder; the files are kept in the user's cache (assistant.services).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path

import numpy as np

from index.embedder import Embedder

# Part of the cached file's name: a change to how the file is made must not reuse an old one.
# reduce_range keeps int8 products inside 16 bits on CPUs without VNNI (AVX2 saturates otherwise: measured
# cosine to fp32 0.95 without it, 0.99 with it); per-channel scales keep small output rows precise.
_RECIPE = "export-opset17+dynamic-int8-per-channel-reduce-range"


class OnnxEmbedder(Embedder):
    def __init__(self, model_path: str | None, cache_dir: Path, quantized: bool = True):
        super().__init__(model_path)
        self.model_path = model_path
        self.quantized = quantized
        self.identity = f"{self.name} {'int8' if quantized else 'fp32'}"
        self.cache_dir = cache_dir
        self.workers = os.cpu_count() or 1  # texts embedded at once, one core each

    @cached_property
    def precise(self) -> Embedder:
        """The unquantized twin: sentence ranking and claim checking tell apart sentences whose scores differ
        by less than int8 moves them (on the BBC dev set int8 ranking chose another sentence for 3 of 75
        answerable questions, each then wrong); they embed a few dozen sentences per question, so fp32 costs
        little there."""
        if not self.quantized:
            return self
        return OnnxEmbedder(self.model_path, self.cache_dir, quantized=False)

    @cached_property
    def model_file(self) -> Path:
        """The model file, made on first use. Named after the weights' size and time and the recipe."""
        weights = max(self.folder.glob("*.safetensors"), default=None) or self.folder / "pytorch_model.bin"
        stat = weights.stat()
        key = hashlib.sha1(f"{weights.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\0{_RECIPE}".encode())
        fp32, int8 = (self.cache_dir / f"{self.name}-{kind}-{key.hexdigest()[:12]}.onnx" for kind in ("fp32", "int8"))
        if not (fp32.is_file() and int8.is_file()):
            print(f"preparing the int8 embedder from {self.folder} (once, a few seconds)", file=sys.stderr)
            _export(self.folder, fp32, int8)
        return int8 if self.quantized else fp32

    @cached_property
    def _session(self):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        # One thread per run, and texts run side by side (see _encode): an operator split across cores waits
        # at a barrier for its slowest thread, dozens of times per text; on a busy machine that halved speed.
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.log_severity_level = 3  # its warnings about unused initializers are noise to a user
        return onnxruntime.InferenceSession(str(self.model_file), options, providers=["CPUExecutionProvider"])

    @cached_property
    def _input_names(self) -> set[str]:
        return {i.name for i in self._session.get_inputs()}

    @cached_property
    def _pooling(self) -> str:
        config = self.folder / "1_Pooling" / "config.json"
        settings = json.loads(config.read_text()) if config.is_file() else {"pooling_mode_mean_tokens": True}
        if settings.get("pooling_mode_mean_tokens"):
            return "mean"
        if settings.get("pooling_mode_cls_token"):
            return "cls"
        raise ValueError(f"{config}: only mean or CLS pooling runs in int8; set embedder_precision = \"fp32\"")

    def load(self) -> None:
        self._session, self._input_names, self._pooling, self._embedding_tokenizer  # before any worker thread

    def share_cores(self) -> None:
        self.workers = 1
        if self.quantized:
            self.precise.share_cores()

    def _encode(self, texts: list[str]) -> np.ndarray:
        # One text per run: int8 quantizes each run's activations with one scale for the whole batch, so a
        # text's vector would depend on the texts (and padding) beside it; alone it is always the same vector
        # (vectors are reused by text), and no padding makes it as fast as batches (measured: 14.2 vs 12.2/s).
        # Runs release the GIL, so `workers` threads keep that many cores busy (2.0x a 2-thread run, measured
        # with other work on the machine). Texts are stripped like sentence-transformers does.
        texts = [text.strip() for text in texts]
        self.load()
        if self.workers == 1 or len(texts) == 1:
            return np.stack([self._encode_one(text) for text in texts])
        with ThreadPoolExecutor(self.workers) as pool:
            return np.stack(list(pool.map(self._encode_one, texts)))

    def _encode_one(self, text: str) -> np.ndarray:
        encoding = self._embedding_tokenizer.encode(text)
        feeds = {"input_ids": encoding.ids, "attention_mask": encoding.attention_mask,
                 "token_type_ids": encoding.type_ids}
        hidden = self._session.run(None, {name: np.array([values], dtype=np.int64)
                                          for name, values in feeds.items() if name in self._input_names})[0][0]
        pooled = hidden[0] if self._pooling == "cls" else hidden.mean(axis=0)  # no padding: every token counts
        return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)

    @cached_property
    def _embedding_tokenizer(self):
        """The same tokenizer, truncating at the model's limit (with [CLS] and [SEP])."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(self.max_tokens + 2)
        return tokenizer


def _export(folder: Path, fp32_target: Path, int8_target: Path) -> None:
    """fp32 ONNX export of the transformer (pooling stays in numpy), then dynamic int8 quantization of its
    weights. Written under temporary names and renamed: a second process never reads half a file."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    names = ["input_ids", "attention_mask", "token_type_ids"]

    class LastHiddenState(torch.nn.Module):  # by keyword: transformers' forward takes more positional arguments
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.int64)
    logging.getLogger().setLevel(logging.ERROR)  # the quantizer's advice to pre-process: noise to a user
    int8_target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=int8_target.parent) as scratch:
        fp32, int8 = Path(scratch, "fp32.onnx"), Path(scratch, "int8.onnx")
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer warnings about Python control flow in the model
                torch.onnx.export(LastHiddenState(), (sample, sample, torch.zeros_like(sample)), str(fp32),
                                  input_names=names, output_names=["last_hidden_state"], opset_version=17,
                                  dynamic_axes={name: {0: "batch", 1: "tokens"} for name in
                                                [*names, "last_hidden_state"]}, dynamo=False)
        except Exception as exc:
            raise ValueError(f"cannot export {folder} to ONNX ({exc}); set embedder_precision = \"fp32\"") from exc
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
        os.replace(fp32, fp32_target)
        os.replace(int8, int8_target)
