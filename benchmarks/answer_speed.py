"""Answer speed with a local model: seconds to sources and to the first token, tokens per second.

Indexes a news folder (default: the business section of ../shared/data/bbc, 510 articles) through the
product, then asks one question per sampled article, built from its headline ("What does the news say
about <headline>?"), through the same streaming service `assistant chat` uses. Each question is asked
twice, once with a naive prompt as the baseline in the same process — the top-3 retrieved chunks,
whole, numbered — and once through the product's pipeline (a few tight sentence passages, system
prompt first so llama.cpp reuses its cached state), so the ratio does not depend on how busy the shared
machine is. Reported: medians over the questions.

    .venv/bin/python benchmarks/answer_speed.py --model default --questions 20
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from assistant.answering import SYSTEM_PROMPT  # noqa: E402
from assistant.records import AnswerEvent, SourcesEvent, TokenEvent  # noqa: E402
from assistant.services import Services  # noqa: E402
from assistant.settings import load_settings  # noqa: E402


def timed_stream(pieces) -> dict:
    started = time.perf_counter()
    first, count = None, 0
    for _ in pieces:
        first = first or time.perf_counter() - started
        count += 1
    total = time.perf_counter() - started
    return {"first_token_s": first, "tokens": count,
            "tokens_per_s": (count - 1) / (total - first) if first and count > 1 and total > first else None}


def naive_prompt(question: str, chunks) -> list[dict]:
    numbered = "\n\n".join(f"[{n}] {c.text}" for n, c in enumerate(chunks, start=1))
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Passages:\n{numbered}\n\nQuestion: {question}"}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "data" / "bbc" / "business")
    parser.add_argument("--model", default="default")
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--home", type=Path, help="reuse an index folder between runs")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="speed-"))
    services = Services(load_settings(home=str(home), llm="local", model=args.model))
    services.indexer.sync([str(args.corpus)], progress=False)
    files = sorted(args.corpus.rglob("*.txt"))
    picked = random.Random(3).sample(files, args.questions)
    questions = [f"What does the news say about {f.read_text(errors='replace').splitlines()[0].strip()}?"
                 for f in picked]
    model = services.chat_model
    services.answerer  # loaded before any clock starts
    rows = []
    for question in questions:
        _, chunks = services.retriever.retrieve(question, 3)
        naive = timed_stream(model.stream(naive_prompt(question, chunks), services.settings.max_answer_tokens))
        started = time.perf_counter()
        sources_s, pieces = None, []
        for event in services.answerer.stream(question):
            if isinstance(event, SourcesEvent):
                sources_s = time.perf_counter() - started
            elif isinstance(event, TokenEvent):
                pieces.append((time.perf_counter() - started, event.text))
            elif isinstance(event, AnswerEvent):
                answer = event.answer
        first = pieces[0][0] if pieces else None
        rate = (len(pieces) - 1) / (pieces[-1][0] - first) if len(pieces) > 1 and pieces[-1][0] > first else None
        rows.append({"sources_s": sources_s, "first_token_s": first, "tokens_per_s": rate,
                     "naive_first_token_s": naive["first_token_s"], "naive_tokens_per_s": naive["tokens_per_s"],
                     "abstained": answer.abstained})
        print(json.dumps({"question": question, **rows[-1]}), file=sys.stderr)

    def median(key: str) -> float | None:
        values = [r[key] for r in rows if r[key] is not None]
        return round(statistics.median(values), 2) if values else None

    answered = [r for r in rows if r["first_token_s"] is not None]
    ratio = [r["naive_first_token_s"] / r["first_token_s"] for r in answered if r["naive_first_token_s"]]
    print(f"model: {model.description}; {len(rows)} questions, {len(answered)} reached the model "
          "(the others abstained before it)")
    print("| measure | product | naive top-3 chunks |\n|---|---|---|")
    print(f"| sources known, s (median) | {median('sources_s')} | – |")
    print(f"| first token, s (median) | {median('first_token_s')} | {median('naive_first_token_s')} |")
    print(f"| tokens/s while writing (median) | {median('tokens_per_s')} | {median('naive_tokens_per_s')} |")
    if ratio:
        print(f"\nfirst token: naive / product = {statistics.median(ratio):.2f} (median of per-question ratios)")


if __name__ == "__main__":
    main()
