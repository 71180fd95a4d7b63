"""Answer speed with a local model: seconds to the first useful content, to sources, to the first token and to
the checked answer, tokens per second.

Indexes a news folder (default: all of ../shared/data/bbc, 2,225 articles, as `assistant eval` is run on it)
through the product, then asks sampled BBC dev questions (../shared/data/bbc-qa: answerable, without history),
warm (the model is loaded and its fixed prompt prefix cached before any clock starts), through the same
streaming service `assistant chat` and the page use. Each question is asked twice, once with a naive prompt as
the baseline in the same process — the top-3 retrieved chunks, whole, numbered — and once through the
product's pipeline (a few tight sentence passages, system prompt first so llama.cpp reuses its cached state),
so the ratio does not depend on how busy the shared machine is. Reported: medians over the questions.

First useful content is what the page and the terminal show beyond the list of sources: the passages found
(FoundEvent, the quotes shown at once while the model reads), or, for an extractive answer, its first
TokenEvent, or a decline made before the model (its AnswerEvent). For the naive baseline, which shows nothing
before the model writes, it is its first token; its total is its reply written (unchecked). Writes the run's
section at the top of docs/answer-speed.md (earlier sections are kept below it).

    .venv/bin/python benchmarks/answer_speed.py --model default --questions 20
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from machine import cpu_line  # benchmarks/machine.py: this folder is on the path when run as a script

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"

from assistant.answering import SYSTEM_PROMPT  # noqa: E402
from assistant.records import AnswerEvent, FoundEvent, SourcesEvent, TokenEvent  # noqa: E402
from assistant.services import Services  # noqa: E402
from assistant.settings import load_settings  # noqa: E402


def timed_stream(pieces) -> dict:
    started = time.perf_counter()
    first, count = None, 0
    for _ in pieces:
        first = first or time.perf_counter() - started
        count += 1
    total = time.perf_counter() - started
    return {"first_token_s": first, "tokens": count, "total_s": total,
            "tokens_per_s": (count - 1) / (total - first) if first and count > 1 and total > first else None}


def naive_prompt(question: str, chunks) -> list[dict]:
    numbered = "\n\n".join(f"[{n}] {c.text}" for n, c in enumerate(chunks, start=1))
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Passages:\n{numbered}\n\nQuestion: {question}"}]


def write_doc(path: Path, section: str) -> None:
    """The header, this run's section, then the earlier sections of the file as they were."""
    earlier = ""
    if path.exists():
        text = path.read_text()
        earlier = text[text.index("\n## ") + 1:] if "\n## " in text else ""
    header = ("# Answer speed with the default local model\n\n"
              "Reproduce: `.venv/bin/python benchmarks/answer_speed.py --model default --questions 20` (the method is\n"
              "in the script's docstring). Each section is one run; the ratios within a run are what to compare,\n"
              "the seconds depend on the machine and on what else it was running. Runs before 2026-12-07 asked\n"
              "questions built from 20 headlines of the business section (\"What does the news say about ...?\"),\n"
              "over those 510 articles only, and timed no first useful content or total.\n\n")
    path.write_text(header + section + "\n" + earlier)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DATA / "bbc")
    parser.add_argument("--question-set", type=Path, default=DATA / "bbc-qa" / "questions.json")
    parser.add_argument("--model", default="default")
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--home", type=Path, help="reuse an index folder between runs")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "answer-speed.md")
    parser.add_argument("--note", default="", help="a line on the run's conditions, written under its heading")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="speed-"))
    services = Services(load_settings(home=str(home), llm="local", model=args.model))
    services.indexer.sync([str(args.corpus)], progress=False)
    entries = [q for q in json.loads(args.question_set.read_text()) if q["answerable"] and not q["history"]]
    questions = [q["question"] for q in random.Random(3).sample(entries, min(args.questions, len(entries)))]
    model = services.chat_model
    services.answerer  # loaded, its prompt prefix cached, before any clock starts
    rows = []
    for question in questions:
        _, chunks = services.retriever.retrieve(question, 3)
        naive = timed_stream(model.stream(naive_prompt(question, chunks), services.settings.max_answer_tokens))
        started = time.perf_counter()
        sources_s, found_s, useful_s, total_s, pieces = None, None, None, None, []
        for event in services.answerer.stream(question):
            now = time.perf_counter() - started
            if isinstance(event, SourcesEvent):
                sources_s = now
            elif isinstance(event, FoundEvent):
                found_s = now
            elif isinstance(event, TokenEvent):
                pieces.append((now, event.text))
            elif isinstance(event, AnswerEvent):
                answer, total_s = event.answer, now
            if useful_s is None and isinstance(event, (FoundEvent, TokenEvent, AnswerEvent)):
                useful_s = now
        # Found with a model: the model's tokens follow. Without FoundEvent the tokens are the extractive quotes.
        first = pieces[0][0] if pieces and found_s is not None else None
        rate = (len(pieces) - 1) / (pieces[-1][0] - first) if first and len(pieces) > 1 and pieces[-1][0] > first \
            else None
        rows.append({"useful_s": useful_s, "sources_s": sources_s, "first_token_s": first, "total_s": total_s,
                     "tokens_per_s": rate, "naive_first_token_s": naive["first_token_s"],
                     "naive_total_s": naive["total_s"], "naive_tokens_per_s": naive["tokens_per_s"],
                     "abstained": answer.abstained, "resolution": answer.resolution})
        print(json.dumps({"question": question, **rows[-1]}), file=sys.stderr)

    def median(key: str) -> float | None:
        values = [r[key] for r in rows if r[key] is not None]
        return round(statistics.median(values), 2) if values else "–"

    def ratio(naive_key: str, key: str) -> str:
        values = [r[naive_key] / r[key] for r in rows if r[naive_key] and r[key]]
        return f"{statistics.median(values):.2f}" if values else "–"

    answered = [r for r in rows if r["first_token_s"] is not None]
    within = sum(1 for r in rows if r["useful_s"] is not None and r["useful_s"] <= 1.0)
    lines = [f"## {date.today().isoformat()}: {cpu_line()}", ""]
    if args.note:
        lines += [args.note, ""]
    lines += [f"model: {model.description}; {len(rows)} BBC dev questions, {len(answered)} reached the model "
              "(the others were answered or declined before it)", "",
              "| measure | product | naive top-3 chunks |", "|---|---|---|",
              f"| first useful content, s (median) | {median('useful_s')} | {median('naive_first_token_s')} |",
              f"| sources known, s (median) | {median('sources_s')} | – |",
              f"| first token, s (median) | {median('first_token_s')} | {median('naive_first_token_s')} |",
              f"| checked answer (total), s (median) | {median('total_s')} | {median('naive_total_s')} (unchecked) |",
              f"| tokens/s while writing (median) | {median('tokens_per_s')} | {median('naive_tokens_per_s')} |", "",
              f"first useful content within 1 s: {within} of {len(rows)} questions; "
              f"naive / product: first useful content {ratio('naive_first_token_s', 'useful_s')}, "
              f"first token {ratio('naive_first_token_s', 'first_token_s')}, "
              f"total {ratio('naive_total_s', 'total_s')} (medians of per-question ratios)", "",
              "Per question, seconds (product: first useful content / first token / checked answer; naive: first "
              "token / total):", "",
              "| # | useful | first token | total | resolution | naive first token | naive total |",
              "|---|---|---|---|---|---|---|"]
    cell = lambda v: "–" if v is None else f"{v:.2f}"  # noqa: E731
    lines += [f"| {n} | {cell(r['useful_s'])} | {cell(r['first_token_s'])} | {cell(r['total_s'])} | "
              f"{r['resolution']} | {cell(r['naive_first_token_s'])} | {cell(r['naive_total_s'])} |"
              for n, r in enumerate(rows, start=1)]
    section = "\n".join(lines) + "\n"
    print(section)
    write_doc(args.out, section)


if __name__ == "__main__":
    main()
