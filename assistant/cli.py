"""The `assistant` command: index documents, list and remove them, ask and chat, serve the web chat."""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import sys
import time
from typing import Iterator

import click

from assistant.access import check_exposure, is_loopback, parse_auth
from assistant.conversation import HistoryError, load_history
from assistant.evaluation import EvalError
from assistant.llm import LLMError
from assistant.models import ModelError
from assistant.records import Answer, AnswerEvent, FoundEvent, Message, SourcesEvent, StreamEvent, TokenEvent, reading_text
from assistant.services import Services
from assistant.sources import source_lines
from assistant.settings import Settings, SettingsError, load_settings
from index.lock import IndexBusy
from index.embedding_server import EmbeddingServerError
from index.reembed import EmbedderMismatch
from index.store import StoreUnavailable

EXIT_SKIPPED = 3  # indexing finished, but some files were skipped (see the report)
_USER_ERRORS = (SettingsError, StoreUnavailable, EmbedderMismatch, EmbeddingServerError, IndexBusy, HistoryError,
                EvalError, LLMError, ModelError, FileNotFoundError, ValueError)


def _user_errors(command):
    """Turn errors a user can fix into one clear line and exit 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except _USER_ERRORS as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("\ninterrupted; the index is consistent — run the command again to finish", err=True)
            sys.exit(130)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(file_okay=False), help="Assistant home (index, caches). Env: ASSISTANT_HOME.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="TOML settings file (default ./assistant.toml if present). Env: ASSISTANT_CONFIG.")
@click.option("--chroma-url", help="Use a Chroma server, e.g. http://localhost:8000. Env: ASSISTANT_CHROMA_URL.")
@click.option("--collection", help="Chroma collection name. Env: ASSISTANT_COLLECTION.")
@click.option("--llm", type=click.Choice(["local", "openai", "transformers", "none"]),
              help="Who writes answers (default local). Env: ASSISTANT_LLM.")
@click.option("--no-llm", is_flag=True, help="Answer with extractive quotes only (same as --llm none).")
@click.option("--model", help="local: default | small | PATH.gguf; transformers: a model folder. Env: ASSISTANT_MODEL.")
@click.option("--llm-url", help="openai: the server's base URL, e.g. http://localhost:8080/v1. Env: ASSISTANT_LLM_URL.")
@click.option("--llm-model", help="openai: the model name to request. Env: ASSISTANT_LLM_MODEL.")
@click.option("--embedder-url", help="Embed on an OpenAI-compatible embeddings server, e.g. http://localhost:7997/v1. "
                                     "Env: ASSISTANT_EMBEDDER_URL.")
@click.option("--embedder-model", help="The model name the embeddings server knows (default all-MiniLM-L6-v2). "
                                       "Env: ASSISTANT_EMBEDDER_MODEL.")
@click.pass_context
def cli(ctx: click.Context, home, config_file, chroma_url, collection, llm, no_llm, model, llm_url, llm_model,
        embedder_url, embedder_model) -> None:
    """Answer questions over your documents with verbatim, checkable quotes."""
    try:
        settings = load_settings(config_file, home=home, chroma_url=chroma_url, collection=collection,
                                 llm="none" if no_llm else llm, model=model, llm_url=llm_url, llm_model=llm_model,
                                 embedder_url=embedder_url, embedder_model=embedder_model)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    ctx.obj = Services(settings)


@cli.command("index")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--rebuild", is_flag=True, help="Start from an empty index.")
@click.option("--strict", is_flag=True, help="Exit with an error if any file is skipped.")
@click.option("--wait", "wait_seconds", type=float, default=0.0, show_default=True,
              help="Seconds to wait for another indexing run on the same home to finish.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--watch", is_flag=True, help="Then keep watching PATHS and re-index after every change, printing "
                                            "each run's report (with --json: one JSON line each) until Ctrl-C.")
@click.pass_obj
@_user_errors
def index_command(services: Services, paths, rebuild, strict, wait_seconds, as_json, quiet, watch) -> None:
    """Sync the index with PATHS (default: the configured sources, seeds/).

    New files are added, changed ones re-embedded, deleted ones removed, renamed ones re-pointed without
    re-embedding, unchanged ones skipped by content hash. Exit code 3 means some files were skipped.
    """
    targets = list(paths) or services.settings.sources
    report = services.indexer.sync(targets, rebuild=rebuild, wait_seconds=wait_seconds, progress=not quiet)
    click.echo(report.model_dump_json(indent=2) if as_json else report.summary())
    if report.skipped:
        if strict:
            raise click.ClickException(f"{len(report.skipped)} file(s) skipped (--strict)")
        if not watch:
            sys.exit(EXIT_SKIPPED)
    if watch:
        _watch_and_report(services, targets, as_json)


def _watch_and_report(services: Services, targets: list[str], as_json: bool) -> None:
    """Re-index targets after every change until Ctrl-C. The watcher runs in a thread, so Ctrl-C lets a
    re-index under way finish (a second Ctrl-C cuts it short: the index stays consistent either way)."""
    import threading
    from datetime import datetime

    from index.watch import watch_and_sync

    def on_report(report) -> None:
        click.echo(report.model_dump_json() if as_json else
                   f"\n[{datetime.now():%H:%M:%S}] index updated\n{report.summary()}")

    def on_error(message: str) -> None:
        click.echo(f"[{datetime.now():%H:%M:%S}] {message}", err=True)

    stop, failure = threading.Event(), []

    def run() -> None:
        try:
            watch_and_sync(services.indexer, targets, on_report, stop, on_error=on_error,
                           debounce_ms=services.settings.watch_debounce_ms, home=services.settings.home)
        except BaseException as exc:  # re-raised here, in the main thread
            failure.append(exc)

    watcher = threading.Thread(target=run, name="index-watch", daemon=True)
    watcher.start()
    click.echo(f"watching {', '.join(targets)} for changes (Ctrl-C stops)", err=True)
    try:
        while watcher.is_alive():
            watcher.join(0.5)
    except KeyboardInterrupt:
        click.echo("\nstopping…", err=True)
        stop.set()
        watcher.join()
    if failure:
        raise failure[0]
    click.echo("stopped watching", err=True)


@cli.command("docs")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_obj
@_user_errors
def docs_command(services: Services, as_json) -> None:
    """List the indexed documents."""
    _require_collection(services)
    if services.settings.chroma_url:
        services.store  # the list comes from the manifest; a server that cannot be reached is said now
    docs = services.indexer.documents()
    if as_json:
        click.echo(json.dumps([d.model_dump() for d in docs], indent=2))
        return
    if not docs:
        click.echo("no documents indexed; run `assistant index PATH`")
    for d in docs:
        click.echo(f"{d.source}\t{d.chunks} chunks\t{d.indexed_at}\t{d.sha256[:12]}")


@cli.command("remove")
@click.argument("path", type=click.Path(), required=False)
@click.option("--all", "every", is_flag=True, help="Remove every indexed document (asks to confirm).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask to confirm --all.")
@click.pass_obj
@_user_errors
def remove_command(services: Services, path, every, yes) -> None:
    """Remove a document (or every document under a folder) from the index.

    The target is resolved and shown; an empty one, '/', the home folder or the working folder is refused
    (`--all` removes everything)."""
    if every == (path is not None):
        raise click.UsageError("give a document or folder to remove, or --all (not both)")
    _require_collection(services)
    if every:
        count = len(services.indexer.documents())
        if not count:
            raise click.ClickException("no documents indexed; nothing to remove")
        if not yes:
            click.confirm(f"remove all {count} indexed documents?", abort=True)
    else:
        click.echo(f"removing what is indexed at {os.path.abspath(path)}")
    removed = services.indexer.remove(None if every else path, by=f"{os.environ.get('USER') or os.getuid()} (terminal)")
    if not removed:
        raise click.ClickException(f"no indexed document matches {path}; `assistant docs` lists them")
    for source in removed:
        click.echo(f"removed {source}")
    click.echo(f"{len(removed)} document(s) removed")


@cli.command("ask")
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the answer object as JSON.")
@click.option("--top-k", type=click.IntRange(1, 50), help="Chunks to retrieve.")
@click.option("--history", "history_file", type=click.Path(dir_okay=False),
              help='JSON list of {"role", "content"} messages, for follow-up questions.')
@click.option("--source", "sources", multiple=True, metavar="PATH",
              help="Only search this indexed file, or the documents under this folder (repeatable).")
@click.pass_obj
@_user_errors
def ask_command(services: Services, question, as_json, top_k, history_file, sources) -> None:
    """Answer QUESTION from the indexed documents, citing verbatim quotes."""
    _require_collection(services)
    history = load_history(history_file) if history_file else []
    _warn_if_empty(services)
    if not sources and top_k is None:
        answer = _ask_running_server(services, question, history)
        if answer is not None:
            click.echo(answer.model_dump_json(indent=2) if as_json else answer.answer + format_citations(answer))
            return
    scope = services.scope(list(sources))
    # Loaded before the clock starts (timings are per question, not per process); the chat model first, as it
    # sets how many threads the embedder may use.
    services.answerer
    services.embedder.load()
    if as_json:
        click.echo(services.answerer.ask(question, history, top_k=top_k, scope=scope).model_dump_json(indent=2))
    else:
        echo_stream(services.answerer.stream(question, history, top_k=top_k, scope=scope))


@cli.command("chat")
@click.option("--top-k", type=click.IntRange(1, 50), help="Chunks to retrieve.")
@click.pass_obj
@_user_errors
def chat_command(services: Services, top_k) -> None:
    """Chat in the terminal. /new starts over, /quit (or Ctrl-D) leaves."""
    _require_collection(services)
    _warn_if_empty(services)
    served = _running_server(services) if top_k is None else None
    if not served:
        _load_answerer(services)  # before the first question, not during it
    click.echo("Ask about your documents. /new starts a new conversation, /quit leaves.")
    history: list[Message] = []
    while True:
        try:
            question = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):  # Ctrl-D or Ctrl-C at the prompt: leave
            click.echo()
            return
        if _CHAT_COMMAND.fullmatch(question):
            if question in ("/quit", "/exit"):
                return
            if question == "/new":
                history = []
                click.echo("(new conversation)")
            else:  # never sent to the model as a question
                click.echo(f"unknown command {question}; the commands are /new and /quit")
            continue
        if not question:
            continue
        try:
            answer = _ask_running_server(services, question, history) if served else None
            if answer is not None:
                click.echo(answer.answer + format_citations(answer))
            else:
                served = False  # gone: this process answers from now on
                answer = echo_stream(services.answerer.stream(question, history, top_k=top_k))
        except KeyboardInterrupt:  # Ctrl-C while answering: that answer stops, the chat goes on
            click.echo("\n(stopped; ask again, or /quit)")
            continue
        except ValueError as exc:  # a question refused (too long...): say why, the chat goes on
            click.echo(f"Error: {exc}", err=True)
            continue
        history += [Message(role="user", content=question), Message(role="assistant", content=answer.answer)]


@cli.command("feedback")
@click.option("--export", "target", type=click.Path(dir_okay=False), metavar="FILE.json",
              help="Write the rated answers as a question set `assistant eval` reads.")
@click.option("--json", "as_json", is_flag=True, help="Print every rating as JSON.")
@click.pass_obj
@_user_errors
def feedback_command(services: Services, target, as_json) -> None:
    """The ratings given to answers in the chat (Good answer / Wrong answer) or through /feedback (up / down)."""
    from pathlib import Path

    entries = services.feedback.entries()
    if as_json:
        click.echo(json.dumps([e.model_dump() for e in entries], indent=2))
    elif not target:
        ups = sum(e.rating == "up" for e in entries)
        click.echo(f"{len(entries)} ratings: {ups} up, {len(entries) - ups} down"
                   + ("; `assistant feedback --export FILE.json` writes them as a question set" if entries else ""))
    if target:
        report = services.feedback.export(Path(target))
        click.echo(f"wrote {report.written} questions to {target}"
                   + (f"; left out {report.left_out} down-rated declines (nobody said what the answer is)"
                      if report.left_out else ""), err=as_json)


@cli.command("eval")
@click.argument("questions", type=click.Path(dir_okay=False))
@click.option("--compare", "specs", multiple=True, metavar="SETTING=VALUE[,...]",
              help="Also run with these settings changed, side by side (repeatable): no-llm, model=small, "
                   "passages=6, top_k=8,abstain_below=0.3 ...")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Folder for report.md, eval.svg and results.json (default ./eval-<question set name>).")
@click.option("--limit", type=click.IntRange(1), help="Only the first N questions.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary of each variant as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
@_user_errors
def eval_command(services: Services, questions, specs, out_dir, limit, as_json, quiet) -> None:
    """Score answers on QUESTIONS, a JSON question set, against the current index and settings.

    Each entry: {"id", "question", "history": [...], "answerable": true|false, "answers": [accepted strings],
    "support": [{"file": "path/suffix/of/the/document.txt"}], "kind": "factoid"}. An answerable question is
    right when an accepted answer appears in the answer or its quotes and a support file is cited (for kind
    "two-sentence", every answer must appear); an unanswerable one when the assistant declines.
    """
    from pathlib import Path

    from assistant.eval_report import summary_rows, write_report
    from assistant.evaluation import load_questions, parse_variant, run_eval

    entries = load_questions(questions)[:limit]
    variants = [("settings", {})] + [(spec, parse_variant(spec)) for spec in specs]
    _warn_if_empty(services)
    services.embedder.load()  # loaded before the first question, so its latency is the question's own
    report = run_eval(services, entries, questions, variants, progress=not quiet)
    folder = Path(out_dir or f"eval-{Path(questions).stem}")
    written = write_report(report, folder)
    if as_json:
        click.echo(json.dumps([v.model_dump() for v in report.variants], indent=2))
        return
    width = max(len(name) for name, _ in summary_rows(report.variants))
    click.echo(f"{len(entries)} questions, {report.seconds:.0f} s")
    click.echo(" " * width + "  " + "  ".join(v.label for v in report.variants))
    for name, values in summary_rows(report.variants):
        click.echo(f"{name:<{width}}  " + "  ".join(values))
    click.echo("wrote " + ", ".join(str(p) for p in written))


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs --auth (or --insecure).")
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535))
@click.option("--auth", envvar="ASSISTANT_AUTH", metavar="USER:PASSWORD",
              help="Require this login. Env: ASSISTANT_AUTH.")
@click.option("--insecure", is_flag=True, help="Allow a non-loopback address without --auth.")
@click.option("--watch", is_flag=True, help="Re-index the configured sources whenever their files change; the "
                                            "chat shows when the index last changed.")
@click.option("--api-key", "api_keys", multiple=True, envvar="ASSISTANT_API_KEY", metavar="KEY",
              help="A key the OpenAI-compatible API (/v1) accepts as `Authorization: Bearer KEY` (repeatable; "
                   "required off loopback). Env: ASSISTANT_API_KEY.")
@click.pass_obj
@_user_errors
def serve_command(services: Services, host, port, auth, insecure, watch, api_keys) -> None:
    """Start the web chat (documents tab included) at http://HOST:PORT, and the OpenAI-compatible API at
    http://HOST:PORT/v1."""
    credentials = parse_auth(auth)
    check_exposure(host, credentials, insecure)
    from ui.app import launch  # gradio loads only for this command (seconds of imports)

    for note in services.indexer.recover_interrupted():  # e.g. an upload cut short when the server was killed
        click.echo(f"recovered: {note}", err=True)
    _warn_if_empty(services)
    _load_answerer(services)  # before the first question, not during it; said, as it takes seconds
    try:
        app, url = launch(services, host, port, credentials, watch=watch, api_keys=list(api_keys), block=False)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port} ({exc}); is another server using it? "
                                   "pick another with --port") from None
    click.echo(f"ready: the web chat at {url} and the OpenAI-compatible API at {url}v1 (Ctrl-C stops it)")
    from assistant.running_server import forget_server, record_server

    # `assistant ask` and `chat` on this home send their questions here instead of loading the model again.
    local = "127.0.0.1" if host in ("0.0.0.0", "::") or is_loopback(host) else host
    record = record_server(services.settings, f"http://{local}:{port}/", login=bool(credentials or api_keys))
    signal.signal(signal.SIGTERM, _interrupt)  # `kill`: stop as on Ctrl-C, so the record is taken back
    try:
        app.block_thread()
    finally:
        forget_server(record)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _load_answerer(services: Services) -> None:
    s = services.settings
    if s.llm == "none":
        services.answerer
        return
    model = {"local": s.model, "transformers": s.model, "openai": f"{s.llm_model} at {s.llm_url}"}[s.llm]
    click.echo(f"loading the answer model ({s.llm}: {model}); the first start of the default one takes about "
               "20 s…", err=True)
    started = time.perf_counter()
    services.answerer
    click.echo(f"the answer model is ready ({time.perf_counter() - started:.0f} s)", err=True)


def _running_server(services: Services):
    """The `assistant serve` running on this home with these settings, said once; None: answer in-process."""
    from assistant.running_server import running_server

    record = running_server(services.settings)
    if record is not None:
        click.secho(f"(asking the server running at {record.url}: no model to load here)", dim=True, err=True)
    return record


def _ask_running_server(services: Services, question: str, history: list[Message]) -> Answer | None:
    """The running server's answer, or None when there is none or it stopped answering (then this process
    answers). A question it refuses is a ValueError, as in-process."""
    from assistant.running_server import ServerUnreachable, ask_server, running_server

    record = running_server(services.settings)
    if record is None:
        return None
    try:
        answer = ask_server(record, question, history)
    except ServerUnreachable as exc:
        click.secho(f"(the server at {record.url} did not answer ({exc}); answering here)", dim=True, err=True)
        return None
    click.secho(f"(answered by the server running at {record.url})", dim=True, err=True)
    return answer


# One word after a slash is a chat command; "/etc/fstab: what is it?" is a question.
_CHAT_COMMAND = re.compile(r"/\w+")


def _require_collection(services: Services) -> None:
    """A read names a collection that exists: a mistyped --collection must not start an empty one (the default
    collection is always there; another is started by `index` or an upload)."""
    s = services.settings
    if s.collection != Settings.model_fields["collection"].default and not services.manifest_path.exists():
        raise click.ClickException(f"there is no collection {s.collection!r} in {s.home}: check the name, or start "
                                   f"it with `assistant --collection {s.collection} index PATH`")


def _warn_if_empty(services: Services) -> None:
    if not services.indexer.documents():
        click.echo("The index is empty: run `assistant index PATH` first.", err=True)


def echo_stream(events: Iterator[StreamEvent]) -> Answer:
    """Print sources as soon as they are known, the answer as it is written, then the checked result."""
    written = []
    for event in events:
        if isinstance(event, SourcesEvent):
            if event.standalone_question:
                click.secho(f"(searching for: {event.standalone_question})", dim=True)
            if event.citations:
                click.secho("sources: " + "  ".join(line.text() for line in source_lines(event.citations)), dim=True)
        elif isinstance(event, FoundEvent) and event.citations:
            click.secho("found: " + " ".join(f"“{c.quote}” [{c.n}]" for c in event.citations), dim=True)
            click.secho(reading_text(event), dim=True)
        elif isinstance(event, TokenEvent):
            written.append(event.text)
            click.echo(event.text, nl=False)
        elif isinstance(event, AnswerEvent):
            answer = event.answer
            if written:
                click.echo()
            if written and answer.abstained and answer.sentences:
                click.secho("(withdrawn: no passage supports what the model wrote)", dim=True)
            if not written or answer.abstained or answer.answer != "".join(written).strip():
                click.echo(("checked: " if written and not answer.abstained else "") + answer.answer)
            click.echo(format_citations(answer))
            return answer
    raise AssertionError("the answer stream ended without an answer")


def format_citations(answer: Answer) -> str:
    lines = [f"[{c.n}] {c.place} (chars {c.start}-{c.end}): “{c.quote}”" for c in answer.citations]
    lines += [f"⚠ not supported by the documents: “{text}”" for text in answer.unsupported]
    return "\n".join([""] + lines if lines else [])


def main() -> None:
    cli(prog_name="assistant")
