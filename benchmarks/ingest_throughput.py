"""Ingestion throughput: the whole `assistant index` pipeline against the bare embedder.

Pipeline: Indexer.sync on a fresh home (walk, hash, extract, chunk, embed, write to Chroma, manifest
commits), chunks embedded per second of the whole run, model load included.
Baseline, in the same process on the same (distinct) chunk texts, in the same 256-chunk batches the
pipeline embeds: the embedder alone (`Embedder.embed`), the ceiling for this CPU. The ratio pipeline / baseline says how close indexing gets to that ceiling.
A no-change re-run of the sync is timed too (everything skipped by content hash).
Each run indexes with every embedder precision asked for (default: the int8 ONNX one and the fp32 torch
one), one after the other on fresh homes, so their ratio comes from the same run on the same machine state.

    .venv/bin/python benchmarks/ingest_throughput.py                   # all 2,225 BBC articles, 1 run
    .venv/bin/python benchmarks/ingest_throughput.py --limit 300 --runs 3
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from assistant.services import Services  # noqa: E402
from assistant.settings import load_settings  # noqa: E402
from index.chunking import Chunker  # noqa: E402
from index.loaders import extract_text  # noqa: E402


def corpus_folder(data: Path, limit: int | None, scratch: Path) -> Path:
    if not limit:
        return data
    files = sorted(data.rglob("*.txt"))[:limit]
    folder = scratch / f"bbc-{limit}"
    folder.mkdir()
    for i, path in enumerate(files):
        os.symlink(path, folder / f"{i:05d}-{path.name}")
    return folder


def one_run(folder: Path, scratch: Path, run: int, precision: str) -> dict:
    settings = load_settings(home=str(scratch / f"home-{run}-{precision}"), embedder_precision=precision)
    services = Services(settings)
    report = services.indexer.sync([str(folder)], progress=False)
    started = time.perf_counter()
    again = services.indexer.sync([str(folder)], progress=False)
    rerun_s = time.perf_counter() - started
    assert again.chunks_embedded == 0 and len(again.unchanged) == len(report.added)

    # Baseline: the same chunk texts through the (already loaded) embedder alone.
    embedder = services.embedder
    chunker = Chunker(embedder.word_pieces, min(settings.chunk_tokens, embedder.max_tokens),
                      settings.chunk_overlap_tokens)
    texts = list({c.text: None for path in sorted(folder.rglob("*.txt"))
                  for c in chunker.chunk(extract_text(str(path), path.read_bytes()))})
    assert not report.skipped, report.skipped
    started = time.perf_counter()
    for first in range(0, len(texts), settings.embed_batch):
        embedder.embed(texts[first:first + settings.embed_batch])
    baseline_s = time.perf_counter() - started
    return {"docs": len(report.added), "chunks": report.chunks_embedded, "pipeline_s": report.seconds,
            "pipeline_cps": report.chunks_per_second, "baseline_cps": len(texts) / baseline_s,
            "ratio": report.chunks_per_second / (len(texts) / baseline_s), "rerun_s": rerun_s,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "bbc")
    parser.add_argument("--limit", type=int, default=None, help="first N files only")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--precision", nargs="+", default=["int8", "fp32"], choices=["int8", "fp32"])
    args = parser.parse_args()

    runs: dict[str, list[dict]] = {precision: [] for precision in args.precision}
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        folder = corpus_folder(args.data, args.limit, scratch)
        for i in range(args.runs):
            # Alternate which goes first: the machine is shared, and the first run may warm file caches.
            for precision in args.precision[::-1] if i % 2 else args.precision:
                runs[precision].append(one_run(folder, scratch, i, precision))
                print(f"  run {i + 1} {precision}: {runs[precision][-1]}", flush=True)
    first = runs[args.precision[0]]
    print(f"BBC ingestion, {first[0]['docs']} files, {args.runs} run(s), medians; {os.cpu_count()} cores")
    print("| embedder | chunks | pipeline s | pipeline chunks/s | embedder alone chunks/s | ratio "
          "| no-change re-run s | peak RSS GB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for precision, results in runs.items():
        med = {key: statistics.median(r[key] for r in results) for key in results[0]}
        print(f"| {precision} | {int(med['chunks'])} | {med['pipeline_s']:.1f} | {med['pipeline_cps']:.1f} | "
              f"{med['baseline_cps']:.1f} | {med['ratio']:.2f} | {med['rerun_s']:.1f} | {med['peak_rss_gb']:.2f} |")
    if len(runs) == 2:
        a, b = args.precision
        speedups = [x["pipeline_cps"] / y["pipeline_cps"] for x, y in zip(runs[a], runs[b])]
        print(f"\npipeline chunks/s {a} / {b}, per run: {', '.join(f'{r:.2f}' for r in speedups)}; "
              f"median {statistics.median(speedups):.2f}")


if __name__ == "__main__":
    main()
