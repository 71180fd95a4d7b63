"""How the evidence-score weights were chosen (assistant/evidence.py).

All 411 SQuAD-sample passages are indexed; for each of the 242 answerable questions the top-5 chunks are
retrieved and every candidate sentence gets its three signals (sentence cosine, chunk cosine, keyword
coverage). For each weight mix on a grid we count how often the best-scored sentence contains a gold
answer: the share of extractive answers whose first quote really answers.

    .venv/bin/python benchmarks/evidence_weights.py
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from assistant import evidence  # noqa: E402
from assistant.services import Services  # noqa: E402
from assistant.settings import load_settings  # noqa: E402


def signals(services: Services, question: str, answers: list[str]) -> tuple[np.ndarray, ...]:
    query_vector, chunks = services.retriever.retrieve(question, 5)
    entries = evidence.candidate_sentences(chunks)
    holds = np.array([any(a.lower() in e.text.lower() for a in answers) for e in entries])
    return (*evidence.evidence_signals(question, query_vector, entries, services.embedder), holds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "squad2-sample")
    args = parser.parse_args()
    queries = json.loads((args.data / "queries.json").read_text())["queries"]
    truth = json.loads((args.data / "ground_truth.json").read_text())
    passages = sorted({q["context"] for q in queries})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp, "passages")
        folder.mkdir()
        for i, passage in enumerate(passages):
            (folder / f"p{i:04d}.txt").write_text(passage, encoding="utf-8")
        services = Services(load_settings(home=str(Path(tmp, "home")), llm="none"))
        services.indexer.sync([str(folder)], progress=False)
        rows = [signals(services, q["question"], truth[q["id"]]["answers"])
                for q in queries if not truth[q["id"]]["is_impossible"]]

    def first_quote_answers(ws: float, wc: float, wk: float) -> float:
        return float(np.mean([hold[np.argmax(ws * dense + wc * chunk + wk * cov)] for dense, chunk, cov, hold in rows]))

    grid = [(ws, wc, round(1 - ws - wc, 2)) for ws, wc in itertools.product(
        [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0], [0.0, 0.1, 0.2, 0.3]) if ws + wc <= 1 + 1e-9]
    results = sorted(((first_quote_answers(*w), w) for w in grid), reverse=True)
    current = (evidence.SENTENCE_WEIGHT, evidence.CHUNK_WEIGHT, evidence.KEYWORD_WEIGHT)
    print(f"{len(rows)} answerable questions; share whose best-scored sentence holds a gold answer\n")
    print("| sentence, chunk, keyword weights | first quote answers |\n| --- | --- |")
    for label, w in [("sentence cosine alone", (1.0, 0.0, 0.0)), ("no keywords", (0.7, 0.3, 0.0)),
                     ("in use", current)]:
        print(f"| {label} {w} | {first_quote_answers(*w):.1%} |")
    for score, w in results[:5]:
        print(f"| grid best {w} | {score:.1%} |")


if __name__ == "__main__":
    main()
