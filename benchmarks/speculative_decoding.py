"""Speculative decoding with n-gram drafts, and the saved KV prefix, on the real answer prompts.

Decoding: the answer prompts of the first --limit BBC dev questions (no history) that reach the model are
built by the product's own answering code (retrieval over the index at --home, evidence, passages; the
model call is intercepted). Each prompt is then answered greedily by copies of the default model in this
process: one with llm_draft = none and one per n-gram setting (--ngram SIZE:DRAFT_MAX), in an order that
rotates per prompt so a busy machine does not favour one. llama.cpp's own timings of each reply give the
generation tokens/s (`predicted_per_second`) and the drafted and accepted tokens; replies that differ from
llm_draft = none are listed.

Cold start: fresh processes (this script with --child) each load the model, get the fixed prefix into the
cache (computed, or restored from home/kv) and answer the first question; reported is the time from the
process start to the first token, median of --runs processes per variant, variants alternating.

    .venv/bin/python benchmarks/speculative_decoding.py --home /work/bbc-home --limit 30 --runs 3
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import assistant.llm as llm  # noqa: E402
from assistant.models import resolve_model  # noqa: E402
from assistant.records import TokenEvent  # noqa: E402
from assistant.services import Services  # noqa: E402
from assistant.settings import load_settings  # noqa: E402


class _Captured(Exception):
    pass


class _Capture:
    """Stands in for the model: keeps the messages the answering code sends it, and stops there."""

    description = "capture"
    reuses_prompt_prefix = False

    def stream(self, messages: list[dict], max_tokens: int):
        self.messages = messages
        raise _Captured


def answer_prompts(home: Path, precision: str, questions: list[dict], limit: int) -> list[tuple[str, list[dict]]]:
    services = Services(load_settings(home=str(home), llm="none", embedder_precision=precision))
    services.chat_model = capture = _Capture()
    prompts = []
    for q in questions:
        if q["history"] or len(prompts) == limit:
            continue
        try:
            services.answerer.ask(q["question"])  # declined before the model: no prompt
        except _Captured:
            prompts.append((q["id"], capture.messages))
    return prompts


def chat_model(home: Path, settings, draft: str, ngram: tuple[int, int] | None = None) -> llm.LlamaCppChat:
    if ngram:
        llm.NGRAM_SIZE, llm.DRAFT_MAX = ngram  # read when the model is built
    return llm.LlamaCppChat(resolve_model("default", home), settings.llm_context, settings.llm_threads, draft=draft)


def decoding(args, prompts: list[tuple[str, list[dict]]], out: list[str]) -> None:
    settings = load_settings(home=str(args.home))
    variants = {"none": chat_model(args.home, settings, "none")}
    for size, draft_max in args.ngram:
        variants[f"ngram {size}:{draft_max}"] = chat_model(args.home, settings, "ngram", (size, draft_max))
    for model in variants.values():
        model.warm_up(prompts[0][1][:-1])  # the fixed prefix, as the product does
    names = list(variants)
    rows = {name: [] for name in names}
    for i, (qid, messages) in enumerate(prompts):
        for name in names[i % len(names):] + names[:i % len(names)]:
            model = variants[name]
            started = time.perf_counter()
            text = "".join(model.stream(messages, settings.max_answer_tokens))
            rows[name].append({"id": qid, "text": text, "wall_s": time.perf_counter() - started, **model.timings})
        print(qid, {name: round(rows[name][-1]["predicted_per_second"], 1) for name in names}, flush=True)

    out += [f"{len(prompts)} answer prompts (BBC dev questions without history that reach the model), "
            f"max_answer_tokens {settings.max_answer_tokens}, {settings.llm_threads or 'all'} threads. "
            "Medians over the prompts.", "",
            "| llm_draft | generation tokens/s | speed-up (per-prompt median) | tokens written | "
            "drafted / accepted tokens (sum) | acceptance | replies differing from none |",
            "|---|---|---|---|---|---|---|"]
    base = rows["none"]
    for name in names:
        r = rows[name]
        speedup = statistics.median(a["predicted_per_second"] / b["predicted_per_second"] for a, b in zip(r, base))
        drafted = sum(x.get("draft_n", 0) for x in r)
        accepted = sum(x.get("draft_n_accepted", 0) for x in r)
        differing = [a["id"] for a, b in zip(r, base) if a["text"] != b["text"]]
        out.append(f"| {name} | {statistics.median(x['predicted_per_second'] for x in r):.2f} | {speedup:.2f} | "
                   f"{statistics.median(x['predicted_n'] for x in r):.0f} | {drafted} / {accepted} | "
                   f"{accepted / drafted if drafted else 0:.0%} | {len(differing)} {' '.join(differing)} |")
    for name in names[1:]:
        for a, b in zip(rows[name], base):
            if a["text"] != b["text"]:
                at = next((k for k, (x, y) in enumerate(zip(a["text"], b["text"])) if x != y),
                          min(len(a["text"]), len(b["text"])))
                out += ["", f"{a['id']}, {name}, first difference at character {at}:",
                        f"- none:  …{b['text'][max(0, at - 60):at + 60]!r}",
                        f"- {name}: …{a['text'][max(0, at - 60):at + 60]!r}"]


def child(args) -> None:
    """One fresh process: load, get the prefix into the cache, answer the first question; print the times."""
    import xllamacpp

    real_server = xllamacpp.Server

    def server(params):  # llama.cpp's own warm-up run at load, switched by --llama-warmup
        params.warmup = args.llama_warmup == "on"
        return real_server(params)

    xllamacpp.Server = server
    services = Services(load_settings(home=str(args.home), llm="local", model="default",
                                      embedder_precision=args.embedder_precision,
                                      llm_prefix_cache=args.child == "restored"))
    times = {"imports_s": time.time() - args.spawned}
    clock = time.perf_counter()
    services.chat_model
    times["load_s"] = time.perf_counter() - clock
    services.retriever, services.document_texts
    clock = time.perf_counter()
    services.answerer  # warms up: computes or restores the prefix
    times["prefix_s"] = time.perf_counter() - clock
    times["prefix_tokens_computed"] = services.chat_model.timings.get("prompt_n", 0)
    for event in services.answerer.stream(args.question):  # to the end: exiting mid-reply aborts llama.cpp
        if isinstance(event, TokenEvent) and "first_token_s" not in times:
            times["first_token_s"] = time.time() - args.spawned
    print(json.dumps(times))


def cold_start(args, question: str, out: list[str]) -> None:
    variants = [("computed", "on"), ("restored", "on"), ("restored", "off")]
    run = lambda prefix, warmup: json.loads(subprocess.run(  # noqa: E731
        [sys.executable, __file__, "--child", prefix, "--llama-warmup", warmup, "--home", str(args.home),
         "--embedder-precision", args.embedder_precision, "--question", question, "--spawned", str(time.time())],
        check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    run("restored", "on")  # writes the prefix file if it is missing: later restores find it
    results = {v: [] for v in variants}
    for _ in range(args.runs):
        for v in variants:
            results[v].append(run(*v))
            print(v, results[v][-1], flush=True)
    out += [f"First question in a fresh process: {question!r}. Median of {args.runs} processes per variant, "
            "variants alternating; seconds since the process started unless said otherwise.", "",
            "| prefix | llama.cpp warm-up | imports | model load | prefix (computed or restored) | "
            "first token since process start | prefix tokens computed |",
            "|---|---|---|---|---|---|---|"]
    for (prefix, warmup), r in results.items():
        med = lambda key: statistics.median(x[key] for x in r)  # noqa: E731
        out.append(f"| {prefix} | {warmup} | {med('imports_s'):.2f} | {med('load_s'):.2f} | {med('prefix_s'):.2f} | "
                   f"{med('first_token_s'):.2f} | {med('prefix_tokens_computed'):.0f} |")


def cpu() -> str:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    name = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name")),
                platform.processor())
    return f"{name}, {'with' if 'avx512_vnni' in lscpu else 'without'} avx512_vnni"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("/work/bbc-home"), help="a home with the BBC corpus indexed")
    parser.add_argument("--questions", type=Path, default=REPO.parent / "shared/data/bbc-qa/questions.json")
    parser.add_argument("--embedder-precision", default="fp32", help="the one the index at --home was built with")
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--ngram", type=lambda s: tuple(map(int, s.split(":"))), action="append",
                        help=f"SIZE:DRAFT_MAX, repeatable (default {llm.NGRAM_SIZE}:{llm.DRAFT_MAX}, the product's)")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per cold-start variant (0: skip)")
    parser.add_argument("--skip-decoding", action="store_true", help="only the cold start")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "speculative-decoding.md")
    parser.add_argument("--child", choices=["computed", "restored"], help=argparse.SUPPRESS)
    parser.add_argument("--llama-warmup", choices=["on", "off"], default="on", help=argparse.SUPPRESS)
    parser.add_argument("--question", help=argparse.SUPPRESS)
    parser.add_argument("--spawned", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    args.ngram = args.ngram or [(llm.NGRAM_SIZE, llm.DRAFT_MAX)]
    questions = json.loads(args.questions.read_text())
    prompts = answer_prompts(args.home, args.embedder_precision, questions, args.limit)
    out = ["# Speculative decoding and the saved KV prefix", "",
           f"Reproduce: `.venv/bin/python benchmarks/speculative_decoding.py {' '.join(sys.argv[1:])}` "
           "(method in the script's docstring). Model: the default one "
           f"({resolve_model('default', args.home).name}). CPU: {cpu()}, {len(__import__('os').sched_getaffinity(0))} "
           "cores, shared with other work: read the ratios, not the seconds."]
    if not args.skip_decoding:
        out += ["", "## Speculative decoding", ""]
        decoding(args, prompts, out)
    if args.runs:
        question = next(q["question"] for q in questions if q["id"] == prompts[0][0])
        out += ["", "## Cold start: the saved KV prefix", ""]
        cold_start(args, question, out)
    args.out.write_text("\n".join(out) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
