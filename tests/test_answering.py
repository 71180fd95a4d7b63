"""Extractive answers: exact quotes from every format, abstention, follow-ups."""

from __future__ import annotations

import pytest

from assistant.records import NOT_IN_DOCUMENTS
from assistant.records import Message
from index.loaders import extract_text, read_file


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder):
    from tests.conftest import indexed_sample

    return indexed_sample(tmp_path_factory.mktemp("answering"), embedder)


CASES = [
    ("How many containers did the Port of Veltria handle in 2023?", "harbor.txt",
     "The Port of Veltria handled 4.2 million containers in 2023."),
    ("When did Mount Orrin last erupt?", "volcano.md",
     "Mount Orrin last erupted in 1931, burying the village of Kesh under ash."),
    ("Who did the Lindqvist Orchestra appoint as principal conductor?", "orchestra.html",
     "The Lindqvist Orchestra appointed Mara Oyelaran as its principal conductor in 2022."),
    ("How many loaves of rye bread does the Halvard Bakery sell on Saturdays?", "bakery.pdf",
     "The Halvard Bakery sells 900 loaves of rye bread every Saturday."),
    ("How far did the Tessel rover drive in its first year?", "rover.docx",
     "The Tessel rover drove 14 kilometres across the crater floor during its first year."),
]


@pytest.mark.parametrize("question,file_name,quote", CASES)
def test_answer_quotes_the_exact_sentence(indexed, question, file_name, quote):
    services, corpus = indexed
    answer = services.answerer.ask(question)
    assert not answer.abstained
    best = answer.citations[0]
    assert (best.n, best.source, best.quote) == (1, str(corpus / file_name), quote)
    assert f"{quote} [1]" in answer.answer
    # Anyone can check the quote: it is exactly the document's extracted text at [start:end].
    path = str(corpus / file_name)
    extracted = extract_text(path, read_file(path, 10**8))
    for citation in answer.citations:
        source_text = extract_text(citation.source, read_file(citation.source, 10**8))
        assert source_text[citation.start:citation.end] == citation.quote
    assert extracted[best.start:best.end] == quote
    if file_name.endswith(".txt"):  # for plain text the extracted text is the file itself
        assert open(path, encoding="utf-8").read()[best.start:best.end] == quote
    assert answer.timings["total_s"] >= answer.timings["sources_s"] > 0


@pytest.mark.parametrize("question", ["What is the boiling point of mercury?",
                                      "Who won the 1998 football World Cup final?"])
def test_off_topic_question_abstains(indexed, question):
    services, _ = indexed
    answer = services.answerer.ask(question)
    assert answer.abstained and answer.citations == []
    assert answer.answer == NOT_IN_DOCUMENTS
    assert answer.evidence_score < services.settings.abstain_below


def test_follow_up_is_rewritten_from_history(indexed):
    services, corpus = indexed
    history = [Message(role="user", content="When did Mount Orrin last erupt?"),
               Message(role="assistant", content="Mount Orrin last erupted in 1931 [1]")]
    answer = services.answerer.ask("How tall is it?", history)
    assert answer.standalone_question == "When did Mount Orrin last erupt? How tall is it?"
    assert answer.citations[0].quote == "The summit stands 3,120 metres above sea level."
    assert answer.citations[0].source == str(corpus / "volcano.md")


def test_stand_alone_question_is_not_rewritten(indexed):
    services, _ = indexed
    history = [Message(role="user", content="When did Mount Orrin last erupt?")]
    answer = services.answerer.ask("How many containers did the Port of Veltria handle in 2023?", history)
    assert answer.standalone_question is None


def test_empty_index_abstains(make_services):
    answer = make_services().answerer.ask("Anything at all?")
    assert answer.abstained and answer.evidence_score is None


def test_empty_question_is_refused(indexed):
    with pytest.raises(ValueError, match="empty"):
        indexed[0].answerer.ask("   ")


def test_the_same_sentence_in_two_documents_is_quoted_once(make_services, tmp_path):
    folder = tmp_path / "wire"
    folder.mkdir()
    story = "The Veltria ferry strike ended on Tuesday after nine days. Unions won a 4% pay rise.\n"
    (folder / "first.txt").write_text(story)
    (folder / "second.txt").write_text("Updated edition.\n" + story)
    services = make_services()
    services.indexer.sync([str(folder)], progress=False)
    answer = services.answerer.ask("When did the Veltria ferry strike end?")
    quotes = [c.quote for c in answer.citations]
    assert quotes[0] == "The Veltria ferry strike ended on Tuesday after nine days."
    assert len(quotes) == len(set(quotes))
