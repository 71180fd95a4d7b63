"""Answer quality on the SQuAD 2.0 sample: exact match / F1, abstention, citation accuracy, speed.

All 411 passages of ../shared/data/squad2-sample are indexed (one .txt file each) through the product's
own indexer; then questions are asked through the same answering service `assistant ask` uses, with
each backend given by --writers (`none` = extractive, `small` = the 0.5B model, `default` = the 1.5B).

Reported per writer:
- SQuAD 2.0 EM / F1 over all questions (an abstention is the empty answer, which is right for an
  unanswerable question), and over the answerable ones alone (markers stripped; the answer is a
  sentence, so EM against a short gold span is harsh by design of the metric);
- contains-gold: the answer text contains a gold answer (what a reader of a sentence answer sees);
- abstention: share of unanswerable questions abstained, and share of answerable ones wrongly abstained;
- citation: share of answered, answerable questions whose first citation is from the gold passage;
- median seconds to sources, to first token, and in total.

    .venv/bin/python benchmarks/squad_answers.py --writers none small default --limit 200
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import re
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from assistant.citations import strip_markers  # noqa: E402
from assistant.services import Services  # noqa: E402
from assistant.settings import load_settings  # noqa: E402

WRITERS = {"none": {"llm": "none"}, "small": {"llm": "local", "model": "small"},
           "default": {"llm": "local", "model": "default"}}


def normalize(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, articles or extra spaces."""
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def f1(prediction: str, gold: str) -> float:
    pred, truth = normalize(prediction).split(), normalize(gold).split()
    if not pred or not truth:
        return float(pred == truth)
    common = sum((collections.Counter(pred) & collections.Counter(truth)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(truth)
    return 2 * precision * recall / (precision + recall)


def load(data: Path, limit: int, seed: int) -> tuple[list[dict], list[str]]:
    queries = json.loads((data / "queries.json").read_text())["queries"]
    truth = json.loads((data / "ground_truth.json").read_text())
    passages = sorted({q["context"] for q in queries})
    for q in queries:
        q.update(truth[q["id"]], passage=passages.index(q["context"]))
    random.Random(seed).shuffle(queries)
    return queries[:limit], passages


def index_passages(passages: list[str], home: Path) -> None:
    folder = home / "passages"
    if not folder.is_dir():
        folder.mkdir(parents=True)
        for i, text in enumerate(passages):
            (folder / f"p{i:04d}.txt").write_text(text, encoding="utf-8")
    report = Services(load_settings(home=str(home / "home"), llm="none")).indexer.sync([str(folder)], progress=False)
    print(f"indexed {len(passages)} passages: {len(report.added)} new, {len(report.unchanged)} unchanged",
          file=sys.stderr)


def evaluate(writer: str, queries: list[dict], home: Path, show: int, rows_file: Path | None) -> dict:
    services = Services(load_settings(home=str(home / "home"), **WRITERS[writer]))
    services.embedder.load()
    services.answerer  # load the model before the clock starts
    rows = []
    for i, q in enumerate(queries):
        raw, answer = [], None
        for event in services.answerer.stream(q["question"]):
            if event.kind == "token":
                raw.append(event.text)
            elif event.kind == "answer":
                answer = event.answer
        text = "" if answer.abstained else strip_markers(answer.answer)
        golds = q["answers"] or [""]
        first = answer.citations[0].source if answer.citations else None
        rows.append({
            "impossible": q["is_impossible"], "abstained": answer.abstained,
            "em": max(float(normalize(text) == normalize(g)) for g in golds),
            "f1": max(f1(text, g) for g in golds),
            "contains": any(normalize(g) and normalize(g) in normalize(text) for g in golds),
            "cited_gold": first is not None and first.endswith(f"p{q['passage']:04d}.txt"),
            "unsupported": len(answer.unsupported), "timings": answer.timings,
            "resolution": answer.resolution,
            "evidence_score": answer.evidence_score, "question": q["question"], "answer": answer.answer,
            "reply": "".join(raw)})
        if i < show:
            print(f"\nQ: {q['question']}  gold={golds[:2]} impossible={q['is_impossible']}\nRAW: {''.join(raw)}"
                  f"\nA: {answer.answer}  unsupported={answer.unsupported}", file=sys.stderr)
    if rows_file:
        with rows_file.open("a") as out:
            out.writelines(json.dumps({"writer": writer, **row}) + "\n" for row in rows)
    return summarize(writer, rows)


def summarize(writer: str, rows: list[dict]) -> dict:
    answerable = [r for r in rows if not r["impossible"]]
    impossible = [r for r in rows if r["impossible"]]
    answered = [r for r in answerable if not r["abstained"]]

    def median(key: str) -> float | None:
        values = [r["timings"][key] for r in rows if key in r["timings"] and not r["abstained"]]
        return round(statistics.median(values), 2) if values else None

    pct = lambda part, whole: round(100 * part / max(len(whole), 1), 1)  # noqa: E731
    return {
        "writer": writer, "questions": len(rows),
        "em": pct(sum(r["em"] for r in rows), rows), "f1": pct(sum(r["f1"] for r in rows), rows),
        "answerable_em": pct(sum(r["em"] for r in answerable), answerable),
        "answerable_f1": pct(sum(r["f1"] for r in answerable), answerable),
        "contains_gold": pct(sum(r["contains"] for r in answerable), answerable),
        "unanswerable_abstained": pct(sum(r["abstained"] for r in impossible), impossible),
        "answerable_abstained": pct(sum(r["abstained"] for r in answerable), answerable),
        # Declined after reading the passages (the model, the checker, or no passage holding the asked kind of
        # thing), rather than by the off-topic gate.
        "abstained_after_reading": pct(sum(r["abstained"] and r["resolution"] != "declined-off-topic"
                                           for r in rows), rows),
        "cited_gold_passage": pct(sum(r["cited_gold"] for r in answered), answered),
        "with_unsupported_sentence": pct(sum(r["unsupported"] > 0 for r in rows if not r["abstained"]),
                                         [r for r in rows if not r["abstained"]]),
        "median_sources_s": median("sources_s"), "median_first_token_s": median("first_token_s"),
        "median_total_s": median("total_s"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "squad2-sample")
    parser.add_argument("--writers", nargs="+", choices=list(WRITERS), default=["none", "small", "default"])
    parser.add_argument("--limit", type=int, default=200, help="questions (a fixed-seed sample of the 500)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--home", type=Path, help="reuse an index folder between runs")
    parser.add_argument("--show", type=int, default=0, help="print the first N answers")
    parser.add_argument("--rows", type=Path, help="write every question's outcome to this JSON-lines file")
    args = parser.parse_args()
    queries, passages = load(args.data, args.limit, args.seed)
    home = args.home or Path(tempfile.mkdtemp(prefix="squad-"))
    index_passages(passages, home)
    results = []
    for writer in args.writers:
        started = time.perf_counter()
        results.append(evaluate(writer, queries, home, args.show, args.rows))
        results[-1]["wall_s"] = round(time.perf_counter() - started, 1)
        print(json.dumps(results[-1]), file=sys.stderr)
    columns = list(results[0])
    print("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in results:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")


if __name__ == "__main__":
    main()
