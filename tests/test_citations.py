"""The citation checker on crafted model replies: bad markers, missing citations, invented claims,
abstentions, bare markers. The passages are real spans of a real document text; the embedder is real."""

from __future__ import annotations

import pytest

from assistant.citations import check_answer
from assistant.passages import Passage
from index.chunking import sentence_spans
from index.records import StoredChunk

DOCUMENT = (
    "Veltria harbour report. "
    "The Port of Veltria handled 4.2 million containers in 2023. "
    "Its new crane terminal opened in March after two years of building work. "
    "Mount Orrin last erupted in 1931, burying the village of Kesh under ash. "
    "The summit stands 3,120 metres above sea level. "
    "The Lindqvist Orchestra appointed Mara Oyelaran as its principal conductor in 2022."
)


def passage(n: int, first_sentence: int, count: int) -> Passage:
    chunk = StoredChunk(chunk_id="v-00000", source="report.txt", path="/docs/report.txt", sha256="x", start=0,
                        end=len(DOCUMENT), text=DOCUMENT, score=0.6)
    spans = [(s.start, s.end) for s in sentence_spans(DOCUMENT)][first_sentence:first_sentence + count]
    return Passage(n=n, chunk=chunk, start=spans[0][0], end=spans[-1][1], score=0.6, sentences=tuple(spans))


@pytest.fixture(scope="module")
def passages():
    # [1] the port, [2] the volcano, [3] the orchestra
    return [passage(1, 1, 2), passage(2, 3, 2), passage(3, 5, 1)]


def check(reply, passages, embedder):
    result = check_answer(reply, passages, embedder)
    for citation in result.citations:  # whatever the reply, every quote is the source's own text
        assert DOCUMENT[citation.start:citation.end] == citation.quote
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
    assert result.citations[0].quote == "The summit stands 3,120 metres above sea level."


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
