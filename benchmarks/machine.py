"""The machine a benchmark ran on, for its report: the CPU and the flags llama.cpp's and onnxruntime's speed
depend on (figures from machines with and without AVX-512 VNNI differ)."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_line() -> str:
    """'<model>, 2 cores (avx2: yes, avx512f: yes, avx512_vnni: no)', from /proc/cpuinfo."""
    model, flags = "?", set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name") and model == "?":
            model = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())
    marks = ", ".join(f"{flag}: {'yes' if flag in flags else 'no'}" for flag in ("avx2", "avx512f", "avx512_vnni"))
    return f"{model}, {os.cpu_count()} cores ({marks})"
