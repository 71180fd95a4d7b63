"""How often the sentence that answers is among the k best-ranked evidence sentences (assistant/evidence.py).

Over a question set in `assistant eval`'s format (default ../shared/data/bbc-qa, answerable questions without
a history) and an index that holds its corpus (`--home`, indexed with `assistant index ../shared/data/bbc`):
each question is retrieved and its evidence ranked exactly as `assistant ask` does; a ranked sentence
"holds the answer" when it comes from a support file and contains an accepted answer. Reported: how many
questions have such a sentence within the first k, for the product's weights, for a grid around them, and
for ranking by the relevance score alone (similarity to the question: what ranked evidence before the
answer-type and ask signals). No model is loaded.

    .venv/bin/python benchmarks/evidence_recall.py --home /tmp/bbc-home
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path, PurePath

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from assistant.evaluation import load_questions  # noqa: E402
from assistant.evidence import RankWeights, gather_documents, rank_evidence  # noqa: E402
from assistant.services import Services  # noqa: E402
from assistant.settings import load_settings  # noqa: E402

DEPTHS = (1, 2, 3, 5, 8, 10)


def first_holding(ranked, question) -> int | None:
    """Rank (0-based) of the first sentence from a support file that contains an accepted answer."""
    wanted = [PurePath(ref.file).parts for ref in question.support]
    for rank, item in enumerate(ranked):
        parts = PurePath(item.document.source).parts
        from_support = any(parts[-len(w):] == w for w in wanted)
        if from_support and any(a.lower() in item.text.lower() for a in question.answers):
            return rank
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="an assistant home whose index holds the question set's corpus")
    parser.add_argument("--questions", type=Path,
                        default=REPO.parent / "shared" / "data" / "bbc-qa" / "questions.json")
    args = parser.parse_args()

    services = Services(load_settings(home=args.home, llm="none"))
    questions = [q for q in load_questions(args.questions) if q.answerable and not q.history]
    product = RankWeights()
    grid = {"product": product,
            **{f"answer type {w}": RankWeights(answer_type=w) for w in (0.0, 0.25, 1.0)},
            **{f"ask {w}": RankWeights(ask=w) for w in (0.0, 0.25, 1.0)},
            **{f"keyword {w}": RankWeights(keyword=w) for w in (0.0, 0.25, 1.0)},
            **{f"document {w}": RankWeights(document=w) for w in (0.0, 0.5, 2.0)}}
    ranks: dict[str, list[int | None]] = {name: [] for name in ["relevance alone", *grid]}
    sentences = services.embedder.precise
    started = time.perf_counter()
    for q in questions:
        _, chunks = services.retriever.retrieve(q.question, services.settings.top_k)
        documents = gather_documents(chunks, services.document_texts.get)
        query_vector = sentences.embed_one(q.question)  # as the answerer ranks: in the precise embedder's space
        for name, weights in grid.items():
            ranked = rank_evidence(q.question, query_vector, documents, sentences, weights)
            ranks[name].append(first_holding(ranked, q))
            if name == "product":
                by_relevance = sorted(ranked, key=lambda e: -e.relevance)
                ranks["relevance alone"].append(first_holding(by_relevance, q))
    print(f"{len(questions)} answerable questions from {args.questions}, {time.perf_counter() - started:.0f} s\n")
    print("| ranking | " + " | ".join(f"in first {k}" for k in DEPTHS) + " |")
    print("| --- |" + " --- |" * len(DEPTHS))
    for name, found in ranks.items():
        cells = [f"{sum(r is not None and r < k for r in found)}" for k in DEPTHS]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nproduct weights: " + json.dumps(product.__dict__))


if __name__ == "__main__":
    main()
