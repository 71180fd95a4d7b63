"""Ratings of answers are kept in the home and exported as a question set `assistant eval` scores."""

from __future__ import annotations

import json

import pytest

from assistant.evaluation import load_questions
from assistant.records import Message
from tests.conftest import indexed_sample
from tests.test_cli import run
from tests.test_ui import ORRIN


@pytest.fixture(scope="module")
def rated(tmp_path_factory, embedder):
    """Four ratings on the sample corpus: up and down on an answer, up and down on a decline."""
    base = tmp_path_factory.mktemp("feedback")
    services, _ = indexed_sample(base, embedder, llm="none")
    answered = services.answerer.ask("When did Mount Orrin last erupt?")
    declined = services.answerer.ask("Who won the 1998 football World Cup?")
    assert not answered.abstained and declined.abstained
    history = [Message(role="user", content="Tell me about Mount Orrin"), Message(role="assistant", content="...")]
    services.feedback.record(answered, "up", "right, with the year", history)
    services.feedback.record(declined, "up")
    services.feedback.record(answered, "down", "  not what I asked  ")
    services.feedback.record(declined, "down", "it is in there")
    return services, base


def test_ratings_survive_and_export_as_a_question_set(rated, tmp_path):
    services, base = rated
    reopened = type(services.feedback)(base / "home" / "feedback.sqlite")  # a new process's view
    entries = reopened.entries()
    assert [e.rating for e in entries] == ["up", "up", "down", "down"] and entries[2].comment == "not what I asked"
    assert entries[0].answer.citations[0].quote == ORRIN and entries[0].history[0].content == "Tell me about Mount Orrin"

    report = reopened.export(tmp_path / "rated.json")
    assert report.written == 3 and report.left_out == 1  # the down-rated decline says no answer to expect
    questions = load_questions(tmp_path / "rated.json")  # what `assistant eval` reads
    liked, agreed, disliked = questions
    assert liked.answerable and ORRIN in liked.answers and liked.support[0].file.endswith("volcano.md")
    assert liked.history[0].content == "Tell me about Mount Orrin" and liked.kind == "follow-up"
    assert not agreed.answerable and not disliked.answerable  # a wrong answer should have been a decline
    raw = json.loads((tmp_path / "rated.json").read_text())
    assert raw[2]["comment"] == "not what I asked" and raw[2]["rating"] == "down"
    with pytest.raises(ValueError, match="rating must be 'up' or 'down'"):
        reopened.record(entries[0].answer, "meh")


def test_cli_summarises_exports_and_eval_scores_the_export(rated, tmp_path):
    _, base = rated
    home = base / "home"
    done = run(home, "feedback")
    assert done.returncode == 0 and "4 ratings: 2 up, 2 down" in done.stdout
    done = run(home, "feedback", "--export", str(tmp_path / "set.json"))
    assert done.returncode == 0 and "wrote 3 questions" in done.stdout and "left out 1" in done.stdout
    done = run(home, "--no-llm", "eval", str(tmp_path / "set.json"), "--out", str(tmp_path / "eval"), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)[0]
    # The liked answer and the agreed decline come out right again; the disliked answer is flagged wrong.
    assert summary["answerable"]["right"] == 1 and summary["unanswerable"] == {**summary["unanswerable"],
                                                                                "total": 2, "right": 1}
