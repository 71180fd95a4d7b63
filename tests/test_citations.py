"""The citation checker on crafted model replies: bad markers, missing citations, invented claims,
abstentions, bare markers. The passages are real spans of a real document text; the embedder is real."""

from __future__ import annotations

import pytest

from assistant.citations import check_answer
from assistant.evidence import Document
from assistant.passages import Passage
from index.chunking import sentence_spans

DOCUMENT = (
    "Veltria harbour report. "
    "The Port of Veltria handled 4.2 million containers in 2023. "
    "Its new crane terminal opened in March after two years of building work. "
    "Mount Orrin last erupted in 1931, burying the village of Kesh under ash. "
    "The summit stands 3,120 metres above sea level. "
    "The Lindqvist Orchestra appointed Mara Oyelaran as its principal conductor in 2022."
)


def passage(n: int, first_sentence: int, count: int, text: str = DOCUMENT) -> Passage:
    document = Document(source="report.txt", path="/docs/report.txt", sha256="x", text=text, relevance=1.0,
                        chunks=())
    spans = [(s.start, s.end) for s in sentence_spans(text)][first_sentence:first_sentence + count]
    return Passage(n=n, document=document, start=spans[0][0], end=spans[-1][1], score=0.6, sentences=tuple(spans),
                   best=spans[-1])


@pytest.fixture(scope="module")
def passages():
    # [1] the port, [2] the volcano, [3] the orchestra
    return [passage(1, 1, 2), passage(2, 3, 2), passage(3, 5, 1)]


def check(reply, passages, embedder, question="What does the report say?"):
    result = check_answer(reply, passages, embedder, question)
    for citation in result.citations:  # whatever the reply, every quote is the source's own text
        assert passages[0].document.text[citation.start:citation.end] == citation.quote
    return result


def test_a_correct_citation_keeps_its_marker_and_gets_the_supporting_sentence_as_quote(passages, embedder):
    result = check("The port handled 4.2 million containers in 2023 [1].", passages, embedder)
    assert not result.abstained
    assert result.text == "The port handled 4.2 million containers in 2023 [1]."
    assert [(c.n, c.quote) for c in result.citations] == [
        (1, "The Port of Veltria handled 4.2 million containers in 2023.")]
    assert [s.supported for s in result.sentences] == [True]


def test_a_marker_pointing_to_no_passage_is_replaced_by_the_supporting_one(passages, embedder):
    result = check("Mount Orrin last erupted in 1931 [7].", passages, embedder)
    assert result.text == "Mount Orrin last erupted in 1931 [2]."
    assert [c.n for c in result.citations] == [2]
    assert "[7]" not in result.text


def test_a_citation_to_the_wrong_passage_moves_to_the_right_one(passages, embedder):
    result = check("Mara Oyelaran became principal conductor of the Lindqvist Orchestra in 2022 [1].", passages,
                   embedder)
    assert result.text.endswith("[3].")
    assert [(c.n, c.quote) for c in result.citations] == [
        (3, "The Lindqvist Orchestra appointed Mara Oyelaran as its principal conductor in 2022.")]


def test_a_factual_sentence_without_citation_gets_one(passages, embedder):
    result = check("The summit of Mount Orrin stands 3,120 metres above sea level.", passages, embedder)
    assert result.text == "The summit of Mount Orrin stands 3,120 metres above sea level [2]."
    # The claim names Mount Orrin, which its supporting sentence leaves to the one before: the quote holds both.
    assert result.citations[0].quote == ("Mount Orrin last erupted in 1931, burying the village of Kesh under ash. "
                                         "The summit stands 3,120 metres above sea level.")


def test_an_invented_sentence_is_flagged_and_the_supported_one_kept(passages, embedder):
    reply = "Mount Orrin last erupted in 1931 [2]. The port was sold to a shipping group in 2019 [1]."
    result = check(reply, passages, embedder)
    assert not result.abstained
    assert [(s.supported, s.citations) for s in result.sentences] == [(True, [2]), (False, [])]
    # The invented sentence keeps no citation: a marker would lend it the passage's authority.
    assert "The port was sold to a shipping group in 2019." in result.text
    assert [c.n for c in result.citations] == [2]


def test_a_wrong_figure_is_unsupported_even_with_the_right_words(passages, embedder):
    result = check("The Port of Veltria handled 5.1 million containers in 2023 [1].", passages, embedder)
    assert result.abstained  # nothing it said is supported: the answer is withdrawn
    assert [s.supported for s in result.sentences] == [False]
    assert result.citations == []


@pytest.mark.parametrize("reply", ["The documents do not say.", "I don't know.",
                                   "The passages do not mention who owns the port [1]."])
def test_not_in_the_documents_is_an_abstention(passages, embedder, reply):
    result = check(reply, passages, embedder)
    assert result.abstained and result.citations == []


def test_a_bare_marker_becomes_the_passage_s_evidence_sentence(passages, embedder):
    result = check("[2]", passages, embedder)
    assert not result.abstained
    assert result.text == "The summit stands 3,120 metres above sea level. [2]"
    assert [c.n for c in result.citations] == [2]


def test_markers_after_the_full_stop_and_in_lists_belong_to_their_sentence(passages, embedder):
    reply = "The port handled 4.2 million containers in 2023. [1] Mount Orrin erupted in 1931. [1, 2]"
    result = check(reply, passages, embedder)
    assert [s.citations for s in result.sentences] == [[1], [2]]  # [1] does not support the eruption
    assert result.text == ("The port handled 4.2 million containers in 2023 [1]. "
                           "Mount Orrin erupted in 1931 [2].")


def test_framing_sentences_are_not_claims(passages, embedder):
    result = check("According to the passages:\nMount Orrin last erupted in 1931 [2].", passages, embedder)
    assert [s.text for s in result.sentences] == ["Mount Orrin last erupted in 1931 [2]."]
    assert not result.abstained


# One long passage, as merged neighbouring evidence sentences make them: a figure from one sentence must not
# back a claim about another's fact.
HARBOUR = ("The Port of Veltria handled 4.2 million containers in 2023. "
           "Its new crane terminal opened in March after two years of building work. "
           "A fire at the Orlan mill injured three workers in May. "
           "Dock workers voted for a 6% pay rise in October.")


@pytest.fixture(scope="module")
def harbour():
    return [passage(1, 0, 4, HARBOUR)]


def test_a_figure_from_another_part_of_the_passage_is_unsupported(harbour, embedder):
    result = check("Dock workers voted for a 4.2% pay rise in October [1].", harbour, embedder,
                   "What pay rise did the dock workers vote for?")
    assert result.abstained and [s.supported for s in result.sentences] == [False]
    right = check("Dock workers voted for a 6% pay rise in October [1].", harbour, embedder,
                  "What pay rise did the dock workers vote for?")
    assert [c.quote for c in right.citations] == ["Dock workers voted for a 6% pay rise in October."]


def test_an_invented_name_is_unsupported(harbour, embedder):
    result = check("The crane terminal was opened by mayor Lena Holm in March [1].", harbour, embedder,
                   "When did the crane terminal open?")
    assert result.abstained


def test_an_answer_is_checked_on_what_it_adds_to_the_question(harbour, embedder):
    # Most of the words restate the question; what the answer adds ("October") is what the source must give.
    result = check("The dock workers of the Port of Veltria voted on their pay in October [1].", harbour, embedder,
                   "When did the dock workers of the Port of Veltria vote on their pay?")
    assert not result.abstained
    assert [c.quote for c in result.citations] == ["Dock workers voted for a 6% pay rise in October."]
