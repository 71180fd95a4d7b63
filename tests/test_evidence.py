"""Evidence that answers: on crafted news stories, the sentence holding the answer must beat the lead sentence
that merely resembles the question; the best document is read beyond the chunk the search matched."""

from __future__ import annotations

import pytest

from tests.conftest import indexed_texts

# The lead repeats the question's names; the answer sentence shares almost no words with the question.
KESTREL = (
    "Kestrel Mobile appoints new boss\n\n"
    "Kestrel Mobile, the country's third-largest mobile operator, has appointed Anna Berg as its new president. "
    "Ms Berg, 52, joins from the rival operator Teleno and will start at Kestrel in April. "
    "She replaces Tomas Lind, who leaves Kestrel Mobile after only two years in charge. "
    "Kestrel Mobile has struggled since the launch of its new phones in November, which sold slowly. "
    "It suffered a net loss of more than 58,000 customers in January, its second monthly reverse in a year. "
    "Analysts said Ms Berg faced a difficult task in winning back young users. "
    "Kestrel Mobile said it would cut prices on its cheapest contracts from next month. "
    "Shares in Kestrel rose 4% after the announcement.\n"
)
DECOYS = {
    "teleno.txt": "Teleno profits rise\n\nTeleno said its profits rose in the last quarter as more customers "
                  "signed up for mobile broadband. The operator now has 12 million subscribers.\n",
    "rail.txt": "Rail fares to rise\n\nRail fares will rise by 3% in January, the transport ministry said. "
                "Commuters' groups called the increase unfair.\n",
}


@pytest.fixture(scope="module")
def news(tmp_path_factory, embedder):
    return indexed_texts(tmp_path_factory.mktemp("evidence"), embedder, {"kestrel.txt": KESTREL, **DECOYS})


@pytest.mark.parametrize("question,answer", [
    ("By how many subscribers did Kestrel Mobile shrink in January?", "58,000 customers"),
    ("Which firm did Anna Berg work for before joining Kestrel Mobile?", "Teleno"),
    ("When will Anna Berg start at Kestrel Mobile?", "April"),
])
def test_the_sentence_that_answers_beats_the_one_that_resembles_the_question(news, question, answer):
    result = news.answerer.ask(question)
    assert not result.abstained
    quotes = [c.quote for c in result.citations if c.source.endswith("kestrel.txt")]
    holding = next(i for i, quote in enumerate(quotes) if answer in quote)
    lead = next((i for i, quote in enumerate(quotes) if quote.startswith("Kestrel Mobile, the country's")), 99)
    assert holding < lead


def test_the_best_document_is_read_beyond_the_chunk_the_search_matched(tmp_path, embedder):
    # Chunks of ~30 word pieces: the customer figure sits in a chunk the question's words do not match.
    services = indexed_texts(tmp_path, embedder, {"kestrel.txt": KESTREL}, chunk_tokens=30, chunk_overlap_tokens=0,
                             top_k=1)
    _, chunks = services.retriever.retrieve("Kestrel Mobile new president Anna Berg subscribers", 1)
    assert "58,000" not in chunks[0].text
    answer = services.answerer.ask("How many Kestrel Mobile subscribers did new president Anna Berg inherit "
                                   "a loss of in January?")
    assert any("58,000" in c.quote for c in answer.citations)
