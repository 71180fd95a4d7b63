"""Cold start: wall time of one `assistant` command in a fresh process, as a user runs it.

In a temporary home, with seeds/ plus one small extra note copied to a temporary source folder and indexed
once, each of these runs N times (a new process each time, wall clock around the subprocess):
`ask --json QUESTION` (default local model; its timings split the wall time into stages), `--no-llm ask
QUESTION`, `index SRC` with nothing changed, and `index SRC` after appending a different sentence to the note;
then `ask --json QUESTION` again while an `assistant serve` runs on the home (the terminal asks it instead of
loading the model; the server's first answer untimed). A first `ask` runs once untimed: it assembles
the model into the new home (once per home, about 6 s) and warms the file cache. Then where the time goes:
`import assistant.cli` alone, and each command once under `python -X importtime`, its import seconds
grouped by top-level package.

    .venv/bin/python benchmarks/cold_start.py --label before   # prints Markdown, writes docs/cold-start.md

The doc keeps one section per label: a run replaces its own label's section and leaves the others.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)
QUESTION = "How many Armenian soldiers were wounded?"
NOTE = "note.txt"
HEADER = """# Cold start

Wall time of one `assistant` command in a fresh process, as a user runs it from the shell, on the seed
index (seeds/ plus one small note). Method in the docstring of `benchmarks/cold_start.py`.

Command: `.venv/bin/python benchmarks/cold_start.py --label LABEL` (about {minutes} minutes with 3 runs)

Machine: {cpu}, {cores} cores (avx2: {avx2}, avx512_vnni: {vnni}), shared with other work: figures are
medians of 3 runs.

Targets (issue 10): `ask` ≤ 6 s, `--no-llm ask` ≤ 3 s, `index` with nothing changed ≤ 1 s, with one changed
file ≤ 3 s.
"""


def cpu() -> tuple[str, bool, bool]:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    name = re.search(r"Model name:\s*(.+)", out)
    flags = re.search(r"Flags:\s*(.+)", out)
    flags = flags.group(1).split() if flags else []
    return (name.group(1).strip() if name else "unknown"), "avx2" in flags, "avx512_vnni" in flags


def commit() -> str:
    head = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h %s"],
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "assistant", "index"],
                           capture_output=True, text=True).stdout.strip()
    # The working tree is shared: say when what ran was not exactly the commit.
    return head[:100] + (" (plus uncommitted edits in assistant/ or index/)" if dirty else "")


def assistant(home: Path, *args: str) -> list[str]:
    return [str(PYTHON), "-c", "from assistant.cli import main; main()", "--home", str(home), *args]


def timed(command: list[str], env: dict) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, output) of one run. CPU time barely moves when other work shares the machine,
    wall time does; llama.cpp's threads make CPU exceed wall for `ask`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return seconds, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, done.stdout


def ask_stages(runs: list[tuple[float, float, str]]) -> list[tuple[str, float]]:
    """Median seconds of each stage of `ask --json`, from the answer's own timings and the process's wall time."""
    stages = []
    for wall, _, output in runs:
        t = json.loads(output)["timings"]
        stages.append({"process start, model load, saved prefix restored": wall - t["total_s"],
                       "search and evidence ranking": t["sources_s"],
                       "prompt read to the first answer token": t["first_token_s"] - t["sources_s"],
                       "answer written and checked": t["total_s"] - t["first_token_s"]})
    return [(name, statistics.median(s[name] for s in stages)) for name in stages[0]]


def asked_through_server(home: Path, env: dict, runs: int, ask: list[str]) -> list[tuple[float, float, str]]:
    """`ask` timed while `assistant serve` (same settings) runs on the home: the terminal sends the question to
    it instead of loading the model (assistant/running_server.py). The server's first answer is not timed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(assistant(home, "serve", "--port", str(port)), env=env, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while not (home / "serve.json").exists():
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("assistant serve did not start")
            time.sleep(0.5)
        timed(ask, env)
        results = [timed(ask, env) for _ in range(runs)]
    finally:
        server.terminate()
        server.wait(timeout=60)
    return results


def import_breakdown(command: list[str], env: dict, top: int = 6) -> tuple[float, list[tuple[str, float]]]:
    """Seconds spent importing, in all and per top-level package (each module's own time, summed)."""
    done = subprocess.run([command[0], "-X", "importtime", *command[1:]], capture_output=True, text=True,
                          env=env, cwd=REPO)
    per_package: Counter = Counter()
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s+(\S+)", line)
        if match:
            per_package[match.group(2).split(".")[0]] += int(match.group(1)) / 1e6
    return sum(per_package.values()), per_package.most_common(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--label", default="before", help="the doc's section this run writes")
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "cold-start.md")
    parser.add_argument("--commit", help="what code is measured, when this copy is not a git checkout "
                                         "(e.g. a `git archive` of the commit before a change)")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    load = os.getloadavg()[0]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cold-") as tmp:
        home, source = Path(tmp, "home"), Path(tmp, "src")
        shutil.copytree(REPO / "seeds", source)
        note = source / NOTE
        note.write_text("A note kept beside the seed article, changed by the benchmark.\n")
        timed(assistant(home, "index", "--quiet", str(source)), env)
        timed(assistant(home, "ask", args.question), env)  # assembles the model into this home
        commands = {
            "`ask` (default model)": assistant(home, "ask", "--json", args.question),
            "`--no-llm ask`": assistant(home, "--no-llm", "ask", args.question),
            "`index`, nothing changed": assistant(home, "index", "--quiet", str(source)),
            "`index`, one file changed": assistant(home, "index", "--quiet", str(source)),
        }
        times: dict[str, list[tuple[float, float, str]]] = {name: [] for name in commands}
        for run in range(args.runs):
            for name, command in commands.items():
                if name.endswith("one file changed"):
                    with note.open("a") as out:
                        out.write(f"Sentence {run} added at {time.time():.3f}.\n")
                times[name].append(timed(command, env))
        times["`ask` (default model), an `assistant serve` running on the home"] = asked_through_server(
            home, env, args.runs, assistant(home, "ask", "--json", args.question))
        import_only = [str(PYTHON), "-c", "import assistant.cli"]
        times["`python -c \"import assistant.cli\"`"] = [timed(import_only, env) for _ in range(args.runs)]
        breakdowns = {"`import assistant.cli`": import_breakdown(import_only, env)}
        for name, command in commands.items():
            if name.endswith("one file changed"):
                with note.open("a") as out:
                    out.write("One more sentence, for the import breakdown.\n")
            breakdowns[name] = import_breakdown(command, env)
    minutes = (time.perf_counter() - started) / 60

    cpu_name, avx2, vnni = cpu()
    lines = [f"## {args.label}", "",
             f"Measured {date.today()} at commit {args.commit or commit()}; load average {load:.2f} at the start, "
             f"{os.getloadavg()[0]:.2f} at the end; {args.runs} runs each, a fresh process per run; question: "
             f"“{args.question}”.", "",
             "| command | median wall s | min | max | median CPU s |", "| --- | --- | --- | --- | --- |"]
    for name, runs in times.items():
        wall = [w for w, _, _ in runs]
        lines.append(f"| {name} | **{statistics.median(wall):.2f}** | {min(wall):.2f} | {max(wall):.2f} | "
                     f"{statistics.median(c for _, c, _ in runs):.2f} |")
    lines += ["", "Where `ask` (default model) spends its time (`ask --json` timings; medians of the runs):", "",
              "| stage | median s |", "| --- | --- |"]
    lines += [f"| {stage} | {seconds:.2f} |" for stage, seconds in ask_stages(times["`ask` (default model)"])]
    lines += ["", "Import time (one run under `python -X importtime`; each module's own time summed per "
                  "top-level package):", "", "| command | imports s | biggest packages (s) |", "| --- | --- | --- |"]
    lines += [f"| {name} | {total:.2f} | " + ", ".join(f"{pkg} {s:.2f}" for pkg, s in top) + " |"
              for name, (total, top) in breakdowns.items()]
    section = "\n".join(lines) + "\n"
    print(section)

    header = HEADER.format(minutes=round(minutes), cpu=cpu_name, cores=os.cpu_count(), avx2="yes" if avx2 else "no",
                           vnni="yes" if vnni else "no")
    sections = {}
    if args.doc.is_file():
        for part in args.doc.read_text().split("\n## ")[1:]:
            sections[part.split("\n", 1)[0].strip()] = "## " + part.rstrip() + "\n"
    sections[args.label] = section
    args.doc.write_text(header + "\n" + "\n".join(sections.values()))
    print(f"wrote {args.doc}", file=sys.stderr)


if __name__ == "__main__":
    main()
