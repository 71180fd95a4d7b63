"""Reading a question for what it asks, and a text for whether it gives it (assistant/answer_types.py)."""

from __future__ import annotations

import pytest

from assistant.answer_types import Ask, anchors, answer_type, says, stems


@pytest.mark.parametrize("question,kind", [
    ("How many workers were hurt in the fire?", "number"),
    ("By how much did the harbour's traffic grow?", "number"),
    ("How much did the new stadium cost?", "money"),
    ("What will the cheapest ticket sell for?", "money"),
    ("What share of the votes did the Greens win?", "percent"),
    ("How long did the ferry strike last?", "duration"),
    ("How old was the conductor when she died?", "age"),
    ("When did the bridge open?", "date"),
    ("In what year was the mill founded?", "date"),
    ("Who designed the new terminal?", "name"),
    ("Where will the summit be held?", "name"),
    ("Which club did the striker join?", "name"),
    ("Who is the sprinter's coach?", "person"),
    ("What are the names of the three judges hearing the case?", "person"),
    ("Which of its shops did the chief executive say would close?", "name"),  # asks for a shop
    ("Who did chairman Piet Olsen blame?", "name"),  # "chairman" describes the named man, it is not asked for
    ("Who did the chief executive say would buy the shops?", "name"),  # the buyer may be a firm
    ("Why did the mill close?", "reason"),
    ("What does the committee want changed?", "other"),
])
def test_questions_are_read_for_the_kind_of_answer_they_ask(question, kind):
    assert answer_type(question) == kind


def test_a_sentence_offers_the_asked_kind_only_with_something_new():
    ask = Ask.of("How many fans watched Newport's 5-1 win over Cardiff?")
    assert ask.offers("Newport beat Cardiff 5-1 on Saturday.") == 0  # the only numbers are the question's
    assert ask.offers("A crowd of 2,300 watched the match at Rodney Parade.") == 1


def test_a_particular_kind_of_number_prefers_that_kind():
    ask = Ask.of("How much did the council pay for the land?")
    assert ask.offers("The council paid £4.5m for the site in 2019.") == 1
    assert ask.offers("The site covers 12 hectares.") == 0.5  # a number, but not an amount of money
    assert ask.offers("The council bought the site from a developer.") == 0


def test_names_and_quoted_phrases_are_what_a_which_question_wants():
    ask = Ask.of("Which firm did Iain Ferguson work for before?")
    assert ask.items("He spent most of his career at consumer goods giant Unilever.") == ["Unilever"]
    assert ask.items("Mr Ferguson joined in 2003.") == []  # only the question's own name
    assert Ask.of("Who challenged the theory first?").items("Biologist J. F. Shrewsbury did, in 1970.") == ["Shrewsbury"]
    assert Ask.of("How was the payment labelled?").answered_by('It was labelled as "consulting fees".')


def test_a_question_asking_for_a_person_wants_a_person_s_name():
    ask = Ask.of("What are the names of the judges hearing the trial of Ferrol Bank chairman Tomas Vidal?")
    # a place, and the bank the question names, are not judges; nor is the question's own man under his title
    assert ask.items("The trial of Tomas Vidal, the chairman of Ferrol Bank Group, has started in Vigo.") == []
    assert ask.items("Mr Vidal said he had faith in the court.") == []
    assert ask.items("The Vidal case is heard by Ana Ruiz and Judge Luis Mora.") == ["Ana Ruiz", "Judge Luis Mora"]
    assert Ask.of("Who is the sprinter's coach?").items("Her coach is Jon Tesfaye.") == ["Jon Tesfaye"]
    # a name sharing the question's surname is somebody else; "Judge" is a title here, not the question's word
    assert Ask.of("Who is Piet Olsen's wife?").items("He married Anna Olsen in 1990.") == ["Anna Olsen"]
    assert Ask.of("Who is the judge in the Olsen case?").items("Judge Ana Ruiz will hear it.") == ["Judge Ana Ruiz"]
    # someone known by one name is introduced by what they do
    assert Ask.of("Which striker scored the winner?").items("Brazil striker Adriano scored in Milan.") == ["Adriano"]
    assert Ask.of("Who was Genghis's third son?").items("His third son, Ögedei Khan, succeeded him.") == ["Ögedei Khan"]


def test_a_forecast_figure_does_not_say_what_happened():
    forecast = "The portrait is expected to fetch up to $2m (£1.5m) when it is sold in New York next month."
    sold = Ask.of("How much did the portrait finally sell for?")
    assert sold.asks_outcome and sold.items(forecast) == [] and sold.offers(forecast) == 0
    assert sold.items("The portrait sold for $1.8m on Tuesday.")
    assert sold.offers("The portrait sold for $1.8m on Tuesday, and will go on show in May.") == 1
    will = Ask.of("What is the portrait expected to sell for?")  # asks for the forecast itself
    assert not will.asks_outcome and will.items(forecast)


def test_irregular_verbs_meet_their_base_form():
    assert set(stems("What medal did she take?")) <= set(stems("She took the medal")) | {"medal"}
    assert stems("sold paid bought") == stems("sell pay buy")


def test_a_restatement_does_not_answer():
    ask = Ask.of("How many customers did the phone company lose in January?")
    assert not ask.answered_by("The phone company lost customers in January.")
    assert ask.answered_by("The phone company lost 58,000 customers in January.")
    why = Ask.of("Why did the club drop the striker?")
    assert not why.answered_by("The club dropped the striker.")
    assert why.answered_by("The club dropped the striker after a back injury.")


def test_anchors_catch_near_miss_figures_and_invented_names():
    source = "The group's sales rose to 2.4 billion euros, chief executive Anna Berg said on Tuesday."
    assert all(says(source, a) for a in anchors("Sales rose to 2.4 billion euros, said Anna Berg."))
    assert not all(says(source, a) for a in anchors("Sales rose to 2.3 billion euros."))
    assert not all(says(source, a) for a in anchors("Sales rose, said finance director Peter Lund."))
    assert says("It lasted six years.", "#6") and says("58,000 fans", "#58000")
