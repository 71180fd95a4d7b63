"""The int8 embedder against the fp32 one on BEIR SciFact: nDCG@10 of dense and hybrid retrieval, and the
speed of re-embedding the whole index (the path a user takes when the default changes under an old index).

The fp32 index is built (or reused) under HOME, as benchmarks/scifact_retrieval.py lays it out; its index is
copied to HOME-int8 and re-embedded there by the product's own re-embedding (index/reembed.py), so both rank
the very same chunks. Same process, same claims.

    .venv/bin/python benchmarks/embedder_precision.py --home /tmp/scifact-home
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from assistant.retrieval import HybridRetriever  # noqa: E402
from assistant.services import Services  # noqa: E402
from assistant.settings import load_settings  # noqa: E402
from benchmarks.scifact_retrieval import DEFAULT_DATA, _EmbeddedClaims, evaluate, index_corpus, load_claims  # noqa: E402
from index.keyword_index import KeywordIndex  # noqa: E402


def scores(services: Services, claims: dict[str, str], qrels) -> dict:
    services.embedder.embed_one("warm up")
    embedded = _EmbeddedClaims(services.embedder, list(claims.values()))
    keyword = KeywordIndex(services.manifest.path)
    row = {"claim_ms": 1000 * statistics.median(embedded.latencies)}
    for mode in ("dense", "hybrid"):
        row[mode], _ = evaluate(HybridRetriever(services.store, keyword, embedded, mode), claims, qrels)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--home", type=Path, required=True, help="fp32 work folder (reused when it holds one)")
    args = parser.parse_args()
    claims, qrels = load_claims(args.data)
    fp32 = index_corpus(args.data, args.home, precision="fp32")
    results = {"fp32": scores(fp32, claims, qrels)}

    int8_home = args.home.with_name(args.home.name + "-int8")  # its own copy of the index, same documents
    shutil.rmtree(int8_home, ignore_errors=True)
    shutil.copytree(args.home / "home", int8_home)
    int8 = Services(load_settings(home=str(int8_home), embedder_precision="int8"))
    started = time.perf_counter()
    report = int8.indexer.sync([str(args.home / "scifact-corpus")], progress=True)
    reembed_s = time.perf_counter() - started
    assert report.reembedded and not (report.added or report.updated or report.removed), report.summary()
    results["int8"] = scores(int8, claims, qrels)

    print(f"SciFact test: {len(claims)} claims, {int8.store.count()} chunks; nDCG@10 at document level "
          f"(benchmarks/scifact_retrieval.py). int8 vectors by re-embedding the fp32 index in place: "
          f"{report.reembedded} chunk texts in {reembed_s:.0f} s ({report.reembedded / reembed_s:.1f} chunks/s, "
          "the run's whole wall time).\n")
    print("| embedder | dense nDCG@10 | hybrid nDCG@10 | median ms to embed a claim |\n| --- | --- | --- | --- |")
    for name, row in results.items():
        print(f"| {name} | {row['dense']:.3f} | {row['hybrid']:.3f} | {row['claim_ms']:.0f} |")
    print(f"| int8 - fp32 | {results['int8']['dense'] - results['fp32']['dense']:+.3f} | "
          f"{results['int8']['hybrid'] - results['fp32']['hybrid']:+.3f} | |")


if __name__ == "__main__":
    main()
