"""What counts as an answer, on crafted model replies through the real pipeline (real index, embedder and
checker): a supported restatement is not an answer, the asked-for thing must be somewhere to be found, and a
reply saying it is not known is a decline. The chat model here replays a reply written in the test, as
tests/test_citations.py does for the checker alone; tests/test_generation.py runs the real models."""

from __future__ import annotations

import pytest

from assistant.answering import Answerer
from assistant.records import NOT_IN_DOCUMENTS
from tests.conftest import indexed_texts

STORY = (
    "Kestrel Mobile loses customers\n\n"
    "Kestrel Mobile, the country's third-largest mobile operator, has had a difficult winter. "
    "Kestrel Mobile said demand for its new phones had been slow since their launch. "
    "It suffered a net loss of more than 58,000 customers in January, its second monthly reverse in a year. "
    "Kestrel Mobile has not said who will replace its departing head of marketing. "
    "Its chairman, Piet Olsen, said the company would recover.\n"
)
# No number, date or name beyond the story's own: nothing here can say what the repairs cost.
FIRE = (
    "Orlan mill fire\n\n"
    "A fire destroyed the Orlan textile mill on the edge of the town overnight. "
    "Firefighters worked through the night to stop the fire spreading to nearby homes. "
    "The owners of the mill said they would rebuild it.\n"
)

# Only a forecast of the price: nothing here says what the portrait sold for.
AUCTION = (
    "Hollin portrait goes to auction\n\n"
    "The portrait by Edith Hollin is expected to fetch up to $2m (£1.5m) when it is sold in New York next month. "
    "It was painted in 1921 and has hung in a private house in Lyon since 1960. "
    "The auction house said interest from museums had been strong.\n"
)
RUNNER = (
    "Melka to run in Lyon\n\n"
    "The Ethiopian runner Hana Melka will run the Lyon half marathon in May, organisers said. "
    "She is 33 next month, but that did not stop her winning the Olympic 10,000m bronze medal last summer. "
    "Organisers called her the biggest name ever to enter the race.\n"
)

# The judges are never named: only the chairman on trial, his bank and the town.
TRIAL = (
    "Trial of Ferrol Bank chairman begins\n\n"
    "The trial of Tomas Vidal, the chairman of Ferrol Bank Group, has started in Vigo. "
    "However, the trial was suspended when Mr Vidal's lawyer brought new documents to the court. "
    "A three-judge panel gave the lawyers until Monday to study them. "
    "Mr Vidal told reporters that he had full faith in justice.\n"
)


class ScriptedChat:
    """Replies with the texts written in the test, one per call (the last one again after that), word by word;
    keeps the passages each call was given."""

    description = "scripted"
    reuses_prompt_prefix = False

    def __init__(self, *replies: str):
        self.replies, self.calls, self.prompts = replies, 0, []

    def stream(self, messages, max_tokens):
        reply = self.replies[min(self.calls, len(self.replies) - 1)]
        self.calls += 1
        self.prompts.append(messages[-1]["content"])
        for word in reply.split(" "):
            yield word + " "


@pytest.fixture(scope="module")
def services(tmp_path_factory, embedder):
    texts = {"kestrel.txt": STORY, "orlan.txt": FIRE, "auction.txt": AUCTION, "runner.txt": RUNNER,
             "trial.txt": TRIAL}
    return indexed_texts(tmp_path_factory.mktemp("checks"), embedder, texts)


def answerer(services, *replies: str) -> tuple[Answerer, ScriptedChat]:
    chat = ScriptedChat(*replies)
    s = services.settings
    return Answerer(services.retriever, services.document_texts.get, services.embedder.precise, chat, top_k=s.top_k,
                    passages=s.passages, passage_words=s.passage_words, max_quotes=s.max_quotes,
                    abstain_below=s.abstain_below, max_answer_tokens=s.max_answer_tokens), chat


QUESTION = "By how many subscribers did Kestrel Mobile shrink in January?"


def test_an_answer_that_gives_the_asked_figure_is_written(services):
    subject, _ = answerer(services, "Kestrel Mobile lost more than 58,000 customers in January [1].")
    answer = subject.ask(QUESTION)
    assert answer.resolution == "written" and not answer.abstained
    assert "58,000" in answer.citations[0].quote


def test_a_supported_restatement_is_replaced_by_the_quotes_that_answer(services):
    # True to the story and supported, but it does not say by how many.
    subject, _ = answerer(services, "Kestrel Mobile suffered a net loss of customers in January [1].")
    answer = subject.ask(QUESTION)
    assert answer.resolution == "quoted-instead" and not answer.abstained
    assert "58,000" in answer.answer and "58,000" in answer.citations[0].quote
    assert answer.answer.startswith(answer.citations[0].quote)


def test_a_question_whose_ask_no_passage_holds_is_declined_without_the_model(services):
    subject, chat = answerer(services, "The repairs will cost £2m [1].")
    answer = subject.ask("How much will it cost to rebuild the Orlan mill after the fire?")
    assert answer.abstained and answer.resolution == "declined-not-answered"
    assert answer.answer == NOT_IN_DOCUMENTS and answer.citations == []
    assert chat.calls == 0  # the topic is there, the amount is not: nothing for the model to read


def test_a_reply_saying_the_thing_is_not_known_is_a_decline(services):
    subject, chat = answerer(services, "A replacement for the head of marketing has yet to be named [1].")
    answer = subject.ask("Who will replace Kestrel Mobile's head of marketing?")
    assert chat.calls == 1  # a name is there (the chairman's): the model had to read
    assert answer.abstained and answer.resolution == "declined-by-model"


def test_an_invented_figure_is_never_an_answer(services):
    subject, _ = answerer(services, "Kestrel Mobile lost 85,000 customers in January [1].")
    answer = subject.ask(QUESTION)
    assert "85,000" not in answer.answer.replace("[", "") or answer.abstained
    assert all("85,000" not in c.quote for c in answer.citations)


def test_a_decline_gets_a_second_look_at_the_best_sentences_and_is_never_shown(services):
    from assistant.records import TokenEvent

    subject, chat = answerer(services, "The documents do not say.",
                             "Kestrel Mobile lost more than 58,000 customers in January [1].")
    events = list(subject.stream(QUESTION))
    answer = events[-1].answer
    assert chat.calls == 2 and len(chat.prompts[1]) < len(chat.prompts[0])  # fewer sentences the second time
    assert answer.resolution == "written" and "58,000" in answer.answer
    shown = "".join(e.text for e in events if isinstance(e, TokenEvent))
    assert "do not say" not in shown and "58,000" in shown


def test_two_declines_are_a_decline(services):
    subject, chat = answerer(services, "The documents do not say.")
    answer = subject.ask(QUESTION)
    assert chat.calls == 2 and answer.abstained and answer.resolution == "declined-by-model"
    assert "first_token_s" not in answer.timings  # nothing was ever shown


def test_an_unsupported_claim_gives_way_to_the_sentence_it_drew_on(services):
    # The figure is right, the added name is invented: the claim does not hold up as written, but the sentence
    # it came from answers the question, and the user gets that sentence, verbatim.
    subject, _ = answerer(services, "Kestrel Mobile lost more than 58,000 customers in January, said Tomas Lind [1].")
    answer = subject.ask(QUESTION)
    assert answer.resolution == "quoted-instead" and not answer.abstained
    assert [c.quote for c in answer.citations][:1] == [
        "It suffered a net loss of more than 58,000 customers in January, its second monthly reverse in a year."]
    assert "Tomas Lind" not in answer.answer


def test_a_forecast_is_not_what_happened(services):
    # "Expected to fetch up to $2m" is the only figure: the question asks what it did sell for.
    subject, chat = answerer(services, "The portrait sold for up to $2m [1].")
    answer = subject.ask("How much did the Hollin portrait finally sell for at the New York auction?")
    assert answer.abstained and answer.resolution == "declined-not-answered"
    assert chat.calls == 0


def test_an_answer_may_put_the_question_s_verb_in_the_past(services):
    # "took" for the question's "take": the claim adds only "bronze", which the source states.
    subject, _ = answerer(services, "Hana Melka took the bronze medal at the Olympics [1].")
    answer = subject.ask("What medal did Hana Melka take at the Olympics?")
    assert answer.resolution == "written" and not answer.abstained
    assert "bronze medal" in answer.citations[0].quote


def test_what_is_quoted_instead_must_be_about_the_ask(services):
    # The reply does not say what a ticket costs; the one sentence with an amount is about the portrait's
    # estimate, not tickets or their cost: quoting it would answer another question.
    subject, _ = answerer(services, "The Hollin portrait will be sold in New York next month [1].")
    answer = subject.ask("How much will a ticket to the Hollin auction cost?")
    assert answer.abstained and answer.resolution == "declined-not-answered"
    assert answer.citations == []


def test_a_question_asking_for_people_is_not_answered_by_a_place_or_a_firm(services):
    # The reply does not name the judges; the opening sentence names a town and the bank the question names,
    # which are not judges: quoting it instead would answer nothing.
    subject, _ = answerer(services, "A three-judge panel is hearing the trial of Tomas Vidal [1].")
    answer = subject.ask("What are the names of the three judges hearing the trial of Ferrol Bank chairman Tomas Vidal?")
    assert answer.abstained and answer.citations == []
