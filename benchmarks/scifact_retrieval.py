"""Retrieval quality on BEIR SciFact: nDCG@10 of BM25, dense and hybrid retrieval, and their latency.

The 5,183 abstracts are written as one file each (`<doc id>.txt` holding `title\\n\\ntext`) and indexed by
the product's own indexer (chunked, embedded, BM25 postings), so what is measured is what users get.
Each of the 300 test claims is run through `HybridRetriever.retrieve`; a document ranks where its best
chunk ranks, and nDCG@10 is computed at document level against qrels/test.tsv. Latency is the median
wall time of one `retrieve` call; the query embedding, the same for every mode, is timed apart.

    .venv/bin/python benchmarks/scifact_retrieval.py --home /tmp/scifact-home

Indexing takes several minutes on 2 cores; with `--home` a second run reuses the index (the sync finds
every file unchanged).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from assistant.retrieval import HybridRetriever  # noqa: E402
from assistant.services import Services  # noqa: E402
from assistant.settings import load_settings  # noqa: E402
from index.keyword_index import KeywordIndex  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "scifact"
# Chunks retrieved per claim: enough to rank at least 10 distinct abstracts.
TOP_K = 40


def load_claims(data: Path) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """Test claims by id, and their relevant abstracts (doc id -> grade)."""
    qrels: dict[str, dict[str, int]] = {}
    for line in (data / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        qid, doc, grade = line.split("\t")
        qrels.setdefault(qid, {})[doc] = int(grade)
    claims = {}
    for line in (data / "queries.jsonl").read_text().splitlines():
        q = json.loads(line)
        if q["_id"] in qrels:
            claims[q["_id"]] = q["text"]
    return claims, qrels


def index_corpus(data: Path, home: Path, precision: str = "int8") -> Services:
    folder = home / "scifact-corpus"
    folder.mkdir(parents=True, exist_ok=True)
    for line in (data / "corpus.jsonl").read_text().splitlines():
        doc = json.loads(line)
        path = folder / f"{doc['_id']}.txt"
        if not path.exists():
            path.write_text(f"{doc['title']}\n\n{doc['text']}\n", encoding="utf-8")
    services = Services(load_settings(home=str(home / "home"), embedder_precision=precision))
    started = time.perf_counter()
    report = services.indexer.sync([str(folder)], progress=True)
    print(f"indexed: {report.summary().splitlines()[0]}; {report.chunks_written} chunks written "
          f"in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return services


def ndcg_at_10(ranked: list[str], relevant: dict[str, int]) -> float:
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:10]))
    ideal = sum(grade / math.log2(i + 2) for i, grade in enumerate(sorted(relevant.values(), reverse=True)[:10]))
    return dcg / ideal


def evaluate(retriever: HybridRetriever, claims: dict[str, str], qrels) -> tuple[float, float]:
    """(mean nDCG@10, median milliseconds of one retrieve call)."""
    scores, latencies = [], []
    for qid, claim in claims.items():
        started = time.perf_counter()
        _, chunks = retriever.retrieve(claim, TOP_K)
        latencies.append(time.perf_counter() - started)
        ranked = list(dict.fromkeys(Path(c.source).stem for c in chunks))
        scores.append(ndcg_at_10(ranked, qrels[qid]))
    return statistics.mean(scores), 1000 * statistics.median(latencies)


class _EmbeddedClaims:
    """The claims' vectors, embedded once: every mode embeds the query the same way, so latency is
    reported for retrieval proper and for the query embedding apart."""

    def __init__(self, embedder, claims: list[str]):
        self.vectors, self.latencies = {}, []
        for claim in claims:
            started = time.perf_counter()
            self.vectors[claim] = embedder.embed_one(claim)
            self.latencies.append(time.perf_counter() - started)

    def embed_one(self, text: str):
        return self.vectors[text]


class ReciprocalRankFusion(HybridRetriever):
    """The comparison: plain reciprocal rank fusion (k=60) of the same two candidate lists."""

    def fuse(self, dense, keyword, pool):
        ranks = [{c.chunk_id: rank for rank, c in enumerate(dense, start=1)},
                 {cid: rank for rank, (cid, _) in enumerate(keyword, start=1)}]
        return {c.chunk_id: sum(1 / (60 + r[c.chunk_id]) for r in ranks if c.chunk_id in r) for c in pool}


def variants(keyword: KeywordIndex, db_path: Path) -> list[tuple[str, type, str, KeywordIndex, dict]]:
    """(label, retriever class, mode, keyword index, options); the first three are the product's defaults."""
    rows = [(f"bm25 (k1={keyword.k1}, b={keyword.b})", HybridRetriever, "bm25", keyword, {}),
            ("dense", HybridRetriever, "dense", keyword, {}),
            ("hybrid: convex min-max, dense weight 0.5, 40 candidates", HybridRetriever, "hybrid", keyword, {})]
    rows += [(f"bm25 (k1={k1})", HybridRetriever, "bm25", KeywordIndex(db_path, k1=k1), {}) for k1 in (0.9, 1.5)]
    rows += [(f"hybrid: convex min-max, dense weight {w}, 40 candidates", HybridRetriever, "hybrid", keyword,
              {"dense_weight": w}) for w in (0.3, 0.4, 0.6, 0.7)]
    rows.append(("hybrid: convex min-max, dense weight 0.5, 100 candidates", HybridRetriever, "hybrid", keyword,
                 {"candidates": 100}))
    rows += [(f"hybrid: reciprocal rank fusion k=60, {n} candidates", ReciprocalRankFusion, "hybrid", keyword,
              {"candidates": n}) for n in (40, 100)]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--home", type=Path, help="reuse this folder's index (created when missing)")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="scifact-"))
    claims, qrels = load_claims(args.data)
    services = index_corpus(args.data, home)
    keyword = KeywordIndex(services.manifest.path)
    keyword.search("warm up the stemmer and the page cache", 1)
    services.embedder.embed_one("warm up")
    embedded = _EmbeddedClaims(services.embedder, list(claims.values()))

    rows = []
    for label, retriever, mode, index, options in variants(keyword, services.manifest.path):
        ndcg, latency = evaluate(retriever(services.store, index, embedded, mode, **options), claims, qrels)
        rows.append((label, ndcg, latency))
        print(rows[-1], file=sys.stderr)

    print(f"SciFact test: {len(claims)} claims, {services.store.count()} chunks of 5,183 abstracts. nDCG@10 at "
          f"document level (a document ranks where its best chunk ranks; {TOP_K} chunks retrieved). Latency: "
          f"median of one retrieve() call with the query already embedded; embedding a claim adds a median "
          f"{1000 * statistics.median(embedded.latencies):.0f} ms to every mode.\n")
    print("| retrieval | nDCG@10 | median retrieve ms |\n| --- | --- | --- |")
    for label, ndcg, latency in rows:
        print(f"| {label} | {ndcg:.3f} | {latency:.0f} |")


if __name__ == "__main__":
    main()
