"""A question limited to chosen documents or folders: both searches keep to them, and a decline says so."""

from __future__ import annotations

import pytest

from assistant.records import NOT_IN_SELECTED
from tests.test_cli import run

NORTH = ("Northgate harbour had its busiest month on record in March. The Northgate harbour authority said that "
         "412 ships docked there in March, against 380 a year earlier. Its chief executive, Maria Olsen, said the "
         "new container crane had paid for itself. The authority will dredge the outer channel next spring.")
SOUTH = ("Southmere harbour had a quiet March after a storm closed its entrance for nine days. The Southmere harbour "
         "board said that 97 ships docked there in March, the fewest in a decade. The board expects traffic to "
         "recover by the summer, when the repaired breakwater reopens.")


@pytest.fixture
def harbours(make_services, tmp_path):
    """Two harbour stories in two folders, indexed; returns a factory of services on that index."""
    for folder, name, text in (("north", "northgate.txt", NORTH), ("south", "southmere.txt", SOUTH)):
        (tmp_path / "news" / folder).mkdir(parents=True)
        (tmp_path / "news" / folder / name).write_text(text, encoding="utf-8")
    home = tmp_path / "home"
    make_services(home=home).indexer.sync([str(tmp_path / "news")], progress=False)
    return lambda **settings: make_services(home=home, llm="none", **settings), tmp_path / "news"


@pytest.mark.parametrize("retrieval", ["hybrid", "dense", "bm25"])
def test_a_scoped_question_cites_only_its_scope(harbours, retrieval):
    services_for, news = harbours
    services = services_for(retrieval=retrieval)
    unscoped = services.answerer.ask("How many ships docked at Northgate harbour in March?")
    assert any(c.source.endswith("northgate.txt") for c in unscoped.citations)

    for paths in ([str(news / "south")], [str(news / "south" / "southmere.txt")]):
        scope = services.scope(paths)
        answer = services.answerer.ask("How many ships docked at Northgate harbour in March?", scope=scope)
        assert answer.scope == scope.sources == [str(news / "south" / "southmere.txt")]
        assert answer.citations and all(c.source.endswith("southmere.txt") for c in answer.citations)
        assert "412" not in answer.answer


def test_a_question_its_scope_cannot_answer_is_declined_as_such(harbours):
    services_for, news = harbours
    services = services_for()
    question = "Who is the chief executive of the harbour authority?"
    assert "Maria Olsen" in services.answerer.ask(question).answer
    answer = services.answerer.ask(question, scope=services.scope([str(news / "south")]))
    assert answer.abstained and answer.answer == NOT_IN_SELECTED and not answer.citations


def test_a_scope_that_matches_nothing_is_refused_with_what_to_do(harbours, tmp_path):
    services_for, news = harbours
    with pytest.raises(ValueError, match="no indexed document is this file or under this folder"):
        services_for().scope([str(news / "east")])
    done = run(tmp_path / "home", "--no-llm", "ask", "--source", str(news / "east"), "How many ships docked?")
    assert done.returncode == 1 and "east: no indexed document" in done.stderr and "Traceback" not in done.stderr
    done = run(tmp_path / "home", "--no-llm", "ask", "--json", "--source", str(news / "south"),
               "How many ships docked in March?")
    assert done.returncode == 0 and '"scope": [' in done.stdout and "northgate" not in done.stdout
