"""Calibrate `abstain_below`, the evidence score under which an answer says "not in the documents".

Data: the SQuAD 2.0 sample (500 questions over 411 passages). The passages are split in two halves,
A and B, by a fixed seed; only A is indexed (as one .txt file per passage), then every question is asked
through the real answering service and its evidence score (best quote's score) recorded:
- answerable questions about A passages must be answered (the corpus holds the answer);
- every question about a B passage must abstain (the corpus does not hold it at all);
- SQuAD's unanswerable questions about A passages are reported apart: they are on-topic trick
  questions that a score cannot tell from answerable ones (the generation step handles those).
The rounds are run twice, with the roles of A and B swapped; per round the threshold maximising balanced
accuracy of the first two groups is shown. The recommended value pools both rounds and maximises balanced
accuracy subject to answering at least 90 % of the answerable in-corpus questions: wrongly refusing a
question the documents answer costs a user more than a weak quote, which shows its score. Also reported: how often the
first citation comes from the gold passage, and how often a quote contains a gold answer.

    .venv/bin/python benchmarks/abstention.py
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from assistant.services import Services  # noqa: E402
from assistant.settings import load_settings  # noqa: E402

THRESHOLDS = [t / 100 for t in range(0, 81)]
MIN_ANSWERED = 0.90


def load(data: Path) -> tuple[list[dict], list[str]]:
    queries = json.loads((data / "queries.json").read_text())["queries"]
    truth = json.loads((data / "ground_truth.json").read_text())
    passages = sorted({q["context"] for q in queries})
    for q in queries:
        q.update(truth[q["id"]], passage=passages.index(q["context"]))
    return queries, passages


def score_round(queries, passages, indexed: set[int], home: Path, embedder) -> list[dict]:
    folder = home / "passages"
    folder.mkdir(parents=True)
    for i in indexed:
        (folder / f"p{i:04d}.txt").write_text(passages[i], encoding="utf-8")
    # Never abstain (we want the scores) and no model: the threshold gates what reaches it.
    services = Services(load_settings(home=str(home / "home"), abstain_below=-1.0, llm="none"))
    services.embedder = embedder
    services.indexer.sync([str(folder)], progress=False)
    rows = []
    for q in queries:
        answer = services.answerer.ask(q["question"])
        group = ("off-corpus" if q["passage"] not in indexed
                 else "unanswerable" if q["is_impossible"] else "answerable")
        quotes = [c.quote.lower() for c in answer.citations]
        rows.append({"group": group, "score": answer.evidence_score or 0.0,
                     "gold_cited": bool(answer.citations) and
                     Path(answer.citations[0].source).stem == f"p{q['passage']:04d}",
                     "answer_quoted": any(a.lower() in quote for a in q["answers"] for quote in quotes)})
    return rows


def rates(rows: list[dict], threshold: float) -> dict:
    def share(group, predicate):
        members = [r for r in rows if r["group"] == group]
        return sum(predicate(r) for r in members) / max(1, len(members))
    answered = share("answerable", lambda r: r["score"] >= threshold)
    abstained = share("off-corpus", lambda r: r["score"] < threshold)
    return {"answered": answered, "abstained_off": abstained, "balanced": (answered + abstained) / 2,
            "abstained_trick": share("unanswerable", lambda r: r["score"] < threshold)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "squad2-sample")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    queries, passages = load(args.data)
    order = list(range(len(passages)))
    random.Random(args.seed).shuffle(order)
    halves = [set(order[: len(order) // 2]), set(order[len(order) // 2:])]
    from index.embedder import Embedder

    embedder = Embedder()
    lines = ["| indexed half | threshold | answered (answerable, in corpus) | abstained (off-corpus) | "
             "balanced accuracy | abstained (SQuAD unanswerable, in corpus) | first citation = gold passage | "
             "a quote holds the gold answer |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    pooled = []
    for name, indexed in zip("AB", halves):
        with tempfile.TemporaryDirectory() as tmp:
            rows = score_round(queries, passages, indexed, Path(tmp), embedder)
        pooled += rows
        best = max(THRESHOLDS, key=lambda t: (rates(rows, t)["balanced"], -t))
        r = rates(rows, best)
        answerable = [row for row in rows if row["group"] == "answerable"]
        lines.append(f"| {name} | {best:.2f} | {r['answered']:.1%} | {r['abstained_off']:.1%} | "
                     f"{r['balanced']:.1%} | {r['abstained_trick']:.1%} | "
                     f"{statistics.mean(x['gold_cited'] for x in answerable):.1%} | "
                     f"{statistics.mean(x['answer_quoted'] for x in answerable):.1%} |")
    recommended = max((t for t in THRESHOLDS if rates(pooled, t)["answered"] >= MIN_ANSWERED),
                      key=lambda t: (rates(pooled, t)["balanced"], -t))
    r = rates(pooled, recommended)
    lines.append(f"| both, pooled (answering ≥ {MIN_ANSWERED:.0%}) | {recommended:.2f} | {r['answered']:.1%} | "
                 f"{r['abstained_off']:.1%} | {r['balanced']:.1%} | {r['abstained_trick']:.1%} | | |")
    print(f"Abstention calibration on the SQuAD 2.0 sample ({len(queries)} questions, {len(passages)} "
          f"passages, seed {args.seed}); recommended abstain_below = {recommended:.2f}\n")
    print("\n".join(lines))
    print("\nBoth rounds pooled, by threshold:\n")
    print("| threshold | answered (answerable, in corpus) | abstained (off-corpus) | abstained (SQuAD unanswerable) |")
    print("| --- | --- | --- | --- |")
    for t in [x / 100 for x in range(30, 71, 5)]:
        r = rates(pooled, t)
        print(f"| {t:.2f} | {r['answered']:.1%} | {r['abstained_off']:.1%} | {r['abstained_trick']:.1%} |")


if __name__ == "__main__":
    main()
