"""Load: several users asking at once while documents are uploaded, through the web app's API on loopback.

For each answer writer (`local`: the default model in-process; `none`: extractive quotes; `openai`: the same
model behind llama.cpp's own HTTP server with parallel slots, `assistant serve --llm openai`, llm_slots set to
the server's slots), each run:
1. indexes a fresh home: the BBC articles the dev questions (../shared/data/bbc-qa) are about, plus others;
2. starts `assistant serve` as a user would (a real process, loopback);
3. baseline: one user alone asks BASELINE questions one after another (nothing else running);
4. load: USERS users (threads, each its own gradio_client) ask QUESTIONS each, one after another, all at once,
   while one more client uploads UPLOADS other articles in batches of 5 through /upload;
5. checks every upload is indexed (/documents) and stops the server.
Reported per writer, median over runs: answered / errors, seconds per question (p50, p95, max) under load and
alone, their ratio, the wall time (until the last upload is indexed too), questions answered per minute under
load (from the start to the last answer) and alone, answers citing the article the
question is about, the seconds questions waited in the model's line (Answer.timings wait_s), and the most
answers being written at the same moment (from each answer's wait_s and total_s).

    .venv/bin/python benchmarks/load.py --runs 3     # writes docs/load.md
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import date
from pathlib import Path

from gradio_client import Client, handle_file

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from benchmarks import ocr_speed  # noqa: E402  (its cpu_line)
from assistant.models import resolve_model  # noqa: E402
DATA = REPO.parent / "shared" / "data"
ASSISTANT = [str(Path(sys.executable).parent / "assistant")]
OTHER_ARTICLES = 30  # indexed besides the ones the questions are about
_TOLERANCE_S = 0.1  # a reply's trip back to the client: two answers written one after another never "overlap"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pick_work(users: int, per_user: int, uploads: int, baseline: int):
    """Dev questions without history (each user its own), the articles to index first and those to upload."""
    questions = [q for q in json.loads((DATA / "bbc-qa" / "questions.json").read_text())
                 if q["answerable"] and not q["history"]]
    asked = questions[: users * per_user]
    about = sorted({s["file"] for q in questions for s in q["support"]})
    rest = sorted(str(p.relative_to(DATA)) for p in (DATA / "bbc").rglob("*.txt") if p.name != "README.TXT")
    rest = [f for f in rest if f not in about]
    random.Random(7).shuffle(rest)
    return asked, asked[:baseline], about + rest[:OTHER_ARTICLES], rest[OTHER_ARTICLES:OTHER_ARTICLES + uploads]


def copy_articles(files: list[str], folder: Path) -> list[Path]:
    copies = []
    for name in files:
        target = folder / name.replace("/", "_")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DATA / name, target)
        copies.append(target)
    return copies


def wait_for(url: str, process: subprocess.Popen, limit: float = 300) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {limit:.0f} s")


def ask_timed(client: Client, question: dict, records: list[dict]) -> None:
    started = time.monotonic()
    try:
        answer = client.predict(question["question"], [], [], None, api_name="/ask")
    except Exception as exc:  # counted as an error, the run goes on
        records.append({"error": str(exc).splitlines()[0], "seconds": time.monotonic() - started})
        return
    gold = {s["file"].replace("/", "_") for s in question["support"]}
    records.append({"seconds": time.monotonic() - started, "started": started,
                    "wait_s": answer["timings"].get("wait_s", 0.0), "total_s": answer["timings"]["total_s"],
                    "gold_cited": any(c["source"].endswith(tuple(gold)) for c in answer["citations"])})


def most_at_once(records: list[dict]) -> int:
    """The most answers being written at one moment. An answer is written during the total_s - wait_s seconds
    before its reply reached the client (anchored at the end: the reply leaves as soon as the answer is
    checked, while the request may wait in Gradio's queue before the server's clock starts)."""
    moments = []
    for r in records:
        finished = r["started"] + r["seconds"]
        moments += [(finished - (r["total_s"] - r["wait_s"]) + _TOLERANCE_S, 1), (finished, -1)]
    running = peak = 0
    for _, change in sorted(moments):  # at equal moments -1 sorts first: touching is not overlapping
        running += change
        peak = max(peak, running)
    return peak


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else float("nan")


def one_run(writer: str, env: dict, work, users: int, per_user: int, root: Path) -> dict:
    asked, baseline, indexed, uploaded = work
    home, documents, incoming = root / "home", root / "documents", root / "incoming"
    shutil.rmtree(root, ignore_errors=True)
    copy_articles(indexed, documents)
    uploads = copy_articles(uploaded, incoming)
    subprocess.run([*ASSISTANT, "--home", str(home), "index", str(documents)], env=env, cwd=REPO, check=True,
                   capture_output=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen([*ASSISTANT, "--home", str(home), "serve", "--port", str(port)], env=env, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(url, server)
        alone: list[dict] = []
        lone_client = Client(url, verbose=False, download_files=False)
        ask_timed(lone_client, baseline[0], [])  # untimed: the first question warms caches
        alone_started = time.monotonic()
        for question in baseline:
            ask_timed(lone_client, question, alone)
        alone_wall = time.monotonic() - alone_started

        records: list[dict] = []
        clients = [Client(url, verbose=False, download_files=False) for _ in range(users)]
        upload_errors: list[str] = []

        def user(n: int) -> None:
            for question in asked[n * per_user:(n + 1) * per_user]:
                ask_timed(clients[n], question, records)

        def uploader() -> None:
            client = Client(url, verbose=False, download_files=False)
            for start in range(0, len(uploads), 5):
                try:
                    client.predict([handle_file(str(p)) for p in uploads[start:start + 5]], None, api_name="/upload")
                except Exception as exc:
                    upload_errors.append(str(exc).splitlines()[0])

        threads = [threading.Thread(target=user, args=(n,)) for n in range(users)]
        threads.append(threading.Thread(target=uploader))
        load_started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - load_started
        asking = max(r["started"] + r["seconds"] for r in records if "started" in r) - load_started
        listed = {Path(d["source"]).name for d in lone_client.predict(None, api_name="/documents")}
        indexed_uploads = sum(p.name in listed for p in uploads)
    finally:
        os.killpg(server.pid, 9)
        server.wait()
    answered = [r for r in records if "error" not in r]
    seconds = [r["seconds"] for r in answered]
    lone = [r["seconds"] for r in alone if "error" not in r]
    return {
        "writer": writer, "answered": len(answered), "asked": len(records),
        "errors": sorted({r["error"] for r in records if "error" in r} | set(upload_errors)),
        "p50": statistics.median(seconds), "p95": percentile(seconds, 0.95), "max": max(seconds), "wall": wall,
        "alone_p50": statistics.median(lone), "per_min": 60 * len(answered) / asking,
        "alone_per_min": 60 * len(lone) / alone_wall,
        "gold_cited": sum(r["gold_cited"] for r in answered),
        "wait_p50": statistics.median(r["wait_s"] for r in answered), "most_at_once": most_at_once(answered),
        "uploads_indexed": indexed_uploads, "uploads": len(uploads),
    }


def writer_env(writer: str, model: Path, llm_url: str | None, slots: int) -> dict:
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1"}
    if writer == "local":
        env.update(ASSISTANT_LLM="local", ASSISTANT_MODEL=str(model))
    elif writer == "none":
        env.update(ASSISTANT_LLM="none")
    else:
        env.update(ASSISTANT_LLM="openai", ASSISTANT_LLM_URL=llm_url, ASSISTANT_LLM_MODEL="default",
                   ASSISTANT_LLM_SLOTS=str(slots))
    return env


def start_llm_server(model: Path, slots: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tests.llm_server", str(model), str(port), str(slots)],
                               cwd=REPO, stdout=subprocess.PIPE, text=True, start_new_session=True)
    address = process.stdout.readline().strip()
    if not address:
        raise RuntimeError("the llama.cpp server did not start")
    return process, f"{address}/v1"


def median_row(runs: list[dict]) -> dict:
    row = {key: statistics.median(r[key] for r in runs) for key in runs[0] if isinstance(runs[0][key], (int, float))}
    row["writer"], row["errors"] = runs[0]["writer"], sorted({e for r in runs for e in r["errors"]})
    return row


def report(rows: list[dict], runs: dict[str, list[dict]], args, seconds: float) -> str:
    lines = [
        "# Load: users asking at once while documents are uploaded", "",
        f"Measured {date.today()} on {ocr_speed.cpu_line()}, a shared machine. `.venv/bin/python benchmarks/load.py "
        f"--runs {args.runs} --users {args.users} --questions {args.questions} --uploads {args.uploads}` "
        f"({seconds / 60:.0f} min). Method in the script's docstring: {args.users} users (gradio_client, loopback) "
        f"each ask {args.questions} BBC dev questions one after another, all at once, while {args.uploads} other "
        "articles are uploaded in batches of 5; the baseline is one user alone asking "
        f"{args.baseline} of them on the same server. Medians over {args.runs} runs; seconds are per question, "
        "as the user waits for the whole answer.", "",
        "| writer | answered | errors | uploads indexed | p50 s | p95 s | max s | alone p50 s | p50 ratio "
        "(load / alone) | wall s | questions/min (alone) | gold article cited | waited in line p50 s | "
        "most answers written at once |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {LABELS[row['writer']]} | {row['answered']:.0f}/{row['asked']:.0f} | {len(row['errors'])} | "
            f"{row['uploads_indexed']:.0f}/{row['uploads']:.0f} | {row['p50']:.1f} | {row['p95']:.1f} | "
            f"{row['max']:.1f} | {row['alone_p50']:.1f} | {row['p50'] / row['alone_p50']:.2f} | {row['wall']:.0f} | "
            f"{row['per_min']:.1f} ({row['alone_per_min']:.1f}) | {row['gold_cited']:.0f} | {row['wait_p50']:.1f} | "
            f"{row['most_at_once']:.0f} |")
    lines += ["", "Each run:", "", "| writer | run | answered | p50 s | p95 s | max s | alone p50 s | wall s | "
              "most at once |", "|---|---|---|---|---|---|---|---|---|"]
    for writer, results in runs.items():
        for n, r in enumerate(results, start=1):
            lines.append(f"| {LABELS[writer]} | {n} | {r['answered']}/{r['asked']} | {r['p50']:.1f} | {r['p95']:.1f} "
                         f"| {r['max']:.1f} | {r['alone_p50']:.1f} | {r['wall']:.0f} | {r['most_at_once']} |")
    errors = sorted({e for r in rows for e in r["errors"]})
    lines += ["", "Errors: " + ("; ".join(errors) if errors else "none."), ""]
    return "\n".join(lines)


LABELS = {"local": "default model, in-process (`local`)", "none": "extractive (`--no-llm`)",
          "openai": "default model on llama.cpp's server, 4 slots (`openai`)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", default="local,none,openai")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--questions", type=int, default=2, help="per user")
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--baseline", type=int, default=4, help="questions one user asks alone")
    parser.add_argument("--slots", type=int, default=4, help="openai: the llama.cpp server's parallel slots")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "load.md")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="assistant-load-"))
    model = resolve_model("default", scratch / "models")  # assembled once, shared by every run
    work = pick_work(args.users, args.questions, args.uploads, args.baseline)
    started = time.monotonic()
    runs: dict[str, list[dict]] = {}
    try:
        for writer in args.writers.split(","):
            llm_server, llm_url = start_llm_server(model, args.slots) if writer == "openai" else (None, None)
            try:
                env = writer_env(writer, model, llm_url, args.slots)
                for n in range(args.runs):
                    result = one_run(writer, env, work, args.users, args.questions, scratch / "run")
                    print(json.dumps(result), flush=True)
                    runs.setdefault(writer, []).append(result)
            finally:
                if llm_server is not None:
                    os.killpg(llm_server.pid, 9)
                    llm_server.wait()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    text = report([median_row(r) for r in runs.values()], runs, args, time.monotonic() - started)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
