"""Calibrate `abstain_below`: the fast path that declines plainly off-topic questions before any model runs.

At corpus scale the threshold only has to catch questions the index has nothing to do with; whether an
on-topic question is answered is decided on what was read (assistant/answering.py: the asked kind of thing
must be there, the model must find it, the checker must find it backed). So the threshold is set as high as
it can be without ever declining an answerable question of the calibration set:

- answerable: the answerable questions of a question set over the indexed corpus (default: the BBC dev set,
  `../shared/data/bbc-qa`, against an index of `../shared/data/bbc`);
- off-topic: questions about other things entirely: the SQuAD 2.0 sample's 500 Wikipedia questions and
  SciFact's 300 biomedical claims, asked of the same news index;
- near misses: the question set's unanswerable questions, reported apart (they are on topic by design and
  are for the later checks to decline).

Every question is answered extractively with abstain_below = -1, and its evidence score (the best relevance
of what was retrieved) recorded. The recommended threshold is the largest on the grid, rounded down, that
keeps every answerable question of the set, less a safety margin of 0.03.

    .venv/bin/python benchmarks/abstention.py --home /tmp/bbc-home
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from assistant.evaluation import load_questions  # noqa: E402
from assistant.services import Services  # noqa: E402
from assistant.settings import load_settings  # noqa: E402

DATA = REPO.parent / "shared" / "data"
MARGIN = 0.03
GRID = [x / 100 for x in range(10, 46, 2)]


def off_topic_questions() -> list[str]:
    squad = json.loads((DATA / "squad2-sample" / "queries.json").read_text())["queries"]
    claims = [json.loads(line)["text"] for line in (DATA / "scifact" / "queries.jsonl").read_text().splitlines()]
    return [q["question"] for q in squad] + claims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="an assistant home whose index holds the question set's corpus")
    parser.add_argument("--questions", type=Path, default=DATA / "bbc-qa" / "questions.json")
    args = parser.parse_args()

    services = Services(load_settings(home=args.home, llm="none", abstain_below=-1.0))
    answerer = services.answerer
    questions = load_questions(args.questions)
    scores: dict[str, list[float]] = {"answerable": [], "near miss": [], "off-topic": []}
    for q in questions:
        group = "answerable" if q.answerable else "near miss"
        scores[group].append(answerer.ask(q.question, q.history).evidence_score or 0.0)
    for question in off_topic_questions():
        scores["off-topic"].append(answerer.ask(question).evidence_score or 0.0)

    def declined(group: str, threshold: float) -> float:
        return sum(s < threshold for s in scores[group]) / len(scores[group])

    lowest = min(scores["answerable"])
    recommended = math.floor((lowest - MARGIN) * 100) / 100
    print(f"{len(scores['answerable'])} answerable and {len(scores['near miss'])} unanswerable questions from "
          f"{args.questions}; {len(scores['off-topic'])} off-topic questions (SQuAD sample, SciFact claims).")
    print(f"Lowest evidence score of an answerable question: {lowest:.3f}; recommended abstain_below = "
          f"{recommended:.2f} (that, less {MARGIN}, rounded down).\n")
    print("| threshold | answerable answered | off-topic declined | unanswerable (near misses and off-topic "
          "of the set) declined |")
    print("| --- | --- | --- | --- |")
    for t in sorted(set(GRID + [recommended])):
        mark = "**" if t == recommended else ""
        print(f"| {mark}{t:.2f}{mark} | {1 - declined('answerable', t):.1%} | {declined('off-topic', t):.1%} | "
              f"{declined('near miss', t):.1%} |")


if __name__ == "__main__":
    main()
