"""What a question asks for, and whether a text gives it.

"How many subscribers did Vodafone lose?" asks for a number; the sentence that answers it ("a net loss
of more than 58,000 customers") shares almost no words with the question, but it holds a number the
question does not. Evidence ranking, the answer check and the decision to decline all use this one
reading of the question:
- ranking lifts sentences that hold something of the asked type that the question does not already say;
- an answer that does not supply it is a restatement, not an answer;
- when no passage holds it at all, the documents do not answer, however on-topic they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from index.keyword_index import content_words, terms

AnswerType = Literal["money", "percent", "duration", "age", "number", "date", "person", "name", "reason", "other"]
# Kinds that are numbers of some sort: any number is partial evidence for them.
NUMERIC: frozenset[str] = frozenset({"money", "percent", "duration", "age", "number"})

_NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
                 "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
                 "hundred|thousand|million|billion|trillion|dozen|half|quarter")
_NUMBER = re.compile(rf"\d+(?:[.,]\d+)*|\b(?:{_NUMBER_WORDS})s?\b", re.IGNORECASE)
_MONEY = re.compile(r"[£$€¥]\s?\d|\d(?:[.,]\d+)*\s?(?:m|bn|k)\b|\b\d+(?:[.,]\d+)*\s*(?:million|billion|trillion)?\s*"
                    r"(?:pounds|dollars|euros|yen|yuan|francs|rupees|pence|cents)\b|\b(?:pounds|dollars|euros)\b",
                    re.IGNORECASE)
_PERCENT = re.compile(r"%|\bper ?cent\b|\bpercentage points?\b", re.IGNORECASE)
_UNIT_OF_TIME = r"(?:years?|months?|weeks?|days?|hours?|minutes?|seconds?|decades?|centuries|century|seasons?)"
_DURATION = re.compile(rf"(?:\d+(?:[.,]\d+)*|\b(?:{_NUMBER_WORDS}|a|an|several|few)\b)(?:[\s-]+(?:and a half|"
                       rf"{_NUMBER_WORDS}))*[\s-]+{_UNIT_OF_TIME}\b", re.IGNORECASE)
_AGE = re.compile(r"\b\d+-year-old\b|\baged? \d+\b|\b\d+ years old\b|\b(?:" + _NUMBER_WORDS + r")-year-old\b",
                  re.IGNORECASE)
_MONTH_OR_DAY = ("january|february|march|april|may|june|july|august|september|october|november|december|"
                 "monday|tuesday|wednesday|thursday|friday|saturday|sunday")
_DATE = re.compile(rf"\b(?:1\d{{3}}|20\d\d)s?\b|\b(?:{_MONTH_OR_DAY})\b|\b(?:yesterday|today|tomorrow|tonight)\b|"
                   r"\b(?:last|next|this) (?:week|month|year|summer|winter|spring|autumn|season)\b|\b\d{1,2}(?:st|nd|rd|th)\b"
                   r"|\b(?:early|mid|late)-?(?:1[5-9]\d\d|20\d\d)s?\b", re.IGNORECASE)
# Words that show a cause: "because of a back injury", "thanks to rubber production".
_REASON = re.compile(r"\b(?:because|due to|thanks to|owing to|as a result|after|following|since|so that|in order to|"
                     r"caused|causing|blamed|forced|forcing|led to|fears?|feared|concerns?|reasons?|would make)\b",
                     re.IGNORECASE)
_CAPITAL = "[A-ZÀ-ÖØ-Þ]"  # "Ögedei" and "Émile" are names too
# A capitalised word that is not the first of its sentence (a word after an initial is not: "J. F. Shrewsbury"),
# or a word in capitals.
_CAPITALISED = re.compile(rf"(?:(?<![.!?:]\s)|(?<=\b{_CAPITAL}\.\s))(?<!^)(?<![\"“‘'])\b{_CAPITAL}[\w'’&.-]*\w|"
                          rf"\b{_CAPITAL}{{2,}}\b")
# Straight or curly quotation marks, double or single, but not an apostrophe inside a word ("Liberia's").
_QUOTED = re.compile(r"[\"“]([^\"“”]{2,60})[\"”]|(?<!\w)[‘']([^‘’'\"]{2,60})[’'](?!\w)")
# Capitalised words that name nothing in particular.
_NOT_NAMES = frozenset("i mr mrs ms dr sir the a an he she it they we you his her its their this that these those "
                       "but and or if in on at of for to by with as bbc".split())
_TITLES = frozenset("mr mrs ms miss dr sir lord lady dame prof".split())
_NOT_PART_OF_A_NAME = _NOT_NAMES - _TITLES  # "The", "But" opening a sentence; "Mr" is part of "Mr Ferguson"
_CAPITALISED_WORD = re.compile(rf"\b{_CAPITAL}[\w'’.-]*\w")
# Two or more capitalised words in a row ("Rob Faulkner", "Mr Ferguson"): how a news story names a person.
_NAME_RUN = re.compile(rf"{_CAPITALISED_WORD.pattern}(?:\s+{_CAPITALISED_WORD.pattern})+")
# Nouns for people. A question that asks for one (after "who is", which or "the names of": "Who is James
# McIlroy's manager?", "the names of the three judges") wants a person's name, not a place or a firm; followed
# by a name, the noun only describes someone the question already names ("Santander chairman Emilio Botin").
# Nouns that can be a team or a firm (winner, owner) are not here.
_PERSON_NOUNS = ("judge|spokes(?:man|woman|person)|manager|coach|mother|father|wife|husband|widow|son|daughter|"
                 "brother|sister|chairman|chairwoman|chief executive|director|president|minister|secretary|boss|"
                 "founder|author|writer|singer|actor|actress|presenter|player|captain|striker|goalkeeper|referee|"
                 "editor|producer|lawyer|prosecutor|governor|mayor|chancellor|ambassador|candidate|successor|"
                 "victim|inventor|designer|architect|composer|comedian|musician|guitarist|drummer|teacher|doctor|"
                 "scientist|professor|economist|analyst|leader|rapper|star|artist|chef|boxer|golfer|jockey|"
                 "cyclist|athlete|sprinter|runner|swimmer|driver|rider|midfielder|defender|winger|keeper|skipper")
# One name after a noun for people: how a story names someone known by one name ("striker Adriano").
_ROLE_AND_NAME = re.compile(rf"(?i:\b(?:{_PERSON_NOUNS})s?)\s+({_CAPITALISED_WORD.pattern})\b(?!\s+{_CAPITAL})")
_PERSON_ASK = re.compile(rf"(?i:\bwho (?:is|was|are|were|will be|would be|has been|had been|became)\b)"
                         rf".*\b(?:{_PERSON_NOUNS})s?\b(?!\s+{_CAPITAL})|"  # "Who did the manager blame?": not asked
                         rf"(?i:\bwhich|\bwhat|\bnames? of)\s+"  # up to three words before the noun, none a verb
                         rf"(?:(?!(?i:do|does|did|is|was|are|were|will|would|has|have|had|can|could)\b)\S+\s+){{0,3}}?"
                         rf"(?:{_PERSON_NOUNS})s?\b(?!\s+{_CAPITAL})")

# A question about what happened, not what is planned or expected.
_OUTCOME = re.compile(r"\b(?:did|finally|eventually|in the end|ended up|actually)\b", re.IGNORECASE)
# Words that make the figure after them a forecast or a plan, and how many words before the figure they reach.
_FORECAST = re.compile(r"\b(?:expected|expects?|set|likely|due|hopes?|aims?|plans?|projected|predict(?:s|ed|ing)?|"
                       r"forecasts?|estimates?|could|may|might|will|would)\b", re.IGNORECASE)
_FORECAST_REACH = 6
_WORDS = re.compile(r"\b[^\W\d_]+\b")  # words of letters: figures and brackets between do not count

_QUESTION_KINDS: list[tuple[AnswerType, re.Pattern]] = [
    ("percent", re.compile(r"\bpercentage\b|\bper ?cent\b|\bwhat (?:proportion|share|fraction)\b|\bhow much of\b")),
    ("age", re.compile(r"\bhow old\b|\bwhat age\b|\bat what age\b")),
    ("money", re.compile(r"\bhow (?:much|rich)\b.*\b(?:cost|costs|pay|paid|pays|worth|price|fee|fees|fine|fined|sell|sold|"
                         r"spend|spent|earn|earned|raise|raised|salary|money|cash|budget|fund|funds|invest|invested|"
                         r"charge|charged|owe|owed|bid|offer|offered|compensation|damages)\b|\bhow rich\b|"
                         r"\bwhat (?:was|is|will|would)?\s*(?:be )?the (?:price|cost|fee|fine|salary|bill|value|wage)\b|"
                         r"\bwhat (?:salary|price|fee|fine|sum|wage|compensation)\b|"
                         r"\b(?:sell|sold|go) for\b|\bhow much (?:money|cash)\b|\bthe most\b.*\bfined?\b")),
    ("duration", re.compile(r"\bhow long\b|\bfor how many (?:years|months|weeks|days|hours)\b|\bhow frequently\b|"
                            r"\bhow often\b")),
    ("number", re.compile(r"\bhow (?:many|much|large|big|far|tall|high|heavy|deep|wide|fast|long)\b|\bwhat (?:was|is)? ?"
                          r"the (?:score|number|total|figure|death toll|toll|size|population|attendance|turnout|"
                          r"crowd|distance|amount|rate)\b|\bnumber of\b|\bwhat (?:score|number|amount)\b")),
    ("date", re.compile(r"\bwhen\b|\bwhat (?:year|date|day|month|time|decade)\b|\bwhich (?:year|date|day|month|decade)\b|"
                        r"\bsince when\b|\bhow soon\b")),
    ("reason", re.compile(r"\bwhy\b|\bwhat (?:was|is|were|are) the reasons?\b|\bfor what reason\b|\bwhat caused\b")),
    ("name", re.compile(r"\bwho\b|\bwhom\b|\bwhose\b|\bwhere\b|\bwhich\b|\bwhat (?:is|was|are|were) (?:the )?(?:name|title)s?\b|"
                        r"\bcalled\b|\bnamed\b|\bwhat (?:company|firm|team|club|country|city|town|band|group|film|"
                        r"book|song|album|show|programme|product|brand|party)\b")),
]


def answer_type(question: str) -> AnswerType:
    """What kind of thing the question asks for; 'other' when its words do not say."""
    lowered = " ".join(question.lower().split())
    for kind, pattern in _QUESTION_KINDS:
        if pattern.search(lowered):
            return "person" if kind == "name" and _PERSON_ASK.search(" ".join(question.split())) else kind
    return "other"


@dataclass(frozen=True)
class Ask:
    """A question, read for what it asks."""

    question: str
    kind: AnswerType

    @classmethod
    def of(cls, question: str) -> "Ask":
        return cls(question, answer_type(question))

    @property
    def specific(self) -> bool:
        """Asks for a number, a date or a name: a text either holds one or cannot answer."""
        return self.kind not in ("reason", "other")

    def items(self, text: str) -> list[str]:
        """The things of the asked kind in `text` that the question does not already say (for a question about
        what happened, no figure that is only forecast: "expected to fetch $1m" does not say what it sold for)."""
        return self._new(_items(self.kind, text), text)

    @property
    def asks_outcome(self) -> bool:
        """Asks for a figure of something that has happened ("How much did the saxophone finally sell for?")."""
        return self.kind in NUMERIC and _OUTCOME.search(self.question) is not None

    def _new(self, items: list[str], text: str) -> list[str]:
        return [item for item in items
                if not self._in_question(item) and not (self.asks_outcome and _only_forecast(item, text))]

    def offers(self, text: str) -> float:
        """1 when the text holds something of the asked kind that is new to the question; 0.5 when it holds
        only a number for a question that asks for a particular kind of number; else 0."""
        if self.kind == "other":
            return 0.0
        if self.items(text):
            return 1.0
        if self.kind in NUMERIC and self._new(_items("number", text), text):
            return 0.5
        return 0.0

    def answered_by(self, text: str) -> bool:
        """Does the text supply what is asked, or only restate the question? For a why- or open question: does
        it say anything the question does not?"""
        if self.kind in ("reason", "other"):
            return bool(set(terms(text)) - set(terms(self.question)))
        return bool(self.items(text))

    def _in_question(self, item: str) -> bool:
        """Is the item one the question says? For a person: is the name's first word (after a title) one the
        question names: "Mr Botin" and "Santander Central Hispano" are the question's "Santander chairman Emilio
        Botin", "Jane Scott" is not "Nicholas Scott"."""
        if self.kind == "person":
            named = {_normal(w) for w in _CAPITALISED_WORD.findall(self.question)} - _TITLES
            return _normal(next((w for w in item.split() if w.lower() not in _TITLES), item)) in named
        return re.search(rf"(?<!\w){re.escape(_normal(item))}(?!\w)", _normal(self.question)) is not None


def _only_forecast(item: str, text: str) -> bool:
    """Is every mention of `item` in `text` a forecast: a figure a few words after "expected to", "will", ...?"""
    mentions = [m.start() for m in re.finditer(re.escape(item), text)]
    return bool(mentions) and all(_FORECAST.search(" ".join(_WORDS.findall(text[:at])[-_FORECAST_REACH:]))
                                  for at in mentions)


def _items(kind: AnswerType, text: str) -> list[str]:
    if kind == "money":
        return [m.group() for m in _MONEY.finditer(text)]
    if kind == "percent":
        return [m.group() for m in _PERCENT.finditer(text)] and [m.group() for m in _NUMBER.finditer(text)]
    if kind == "duration":
        return [m.group() for m in _DURATION.finditer(text)]
    if kind == "age":
        return [m.group() for m in _AGE.finditer(text)]
    if kind == "number":
        return [m.group() for m in _NUMBER.finditer(text)]
    if kind == "date":
        return [m.group() for m in _DATE.finditer(text)]
    if kind == "reason":
        return [m.group() for m in _REASON.finditer(text)]
    if kind == "person":
        runs = [m.group().split() for m in _NAME_RUN.finditer(text)]
        named = [run[next((i for i, w in enumerate(run) if w.lower() not in _NOT_PART_OF_A_NAME), len(run)):]
                 for run in runs]
        return [" ".join(run) for run in named if len(run) >= 2] + _ROLE_AND_NAME.findall(text)
    if kind == "name":
        names = [m.group() for m in _CAPITALISED.finditer(text)
                 if m.group().lower() not in _NOT_NAMES and not _DATE.fullmatch(m.group())]
        return names + [m.group(1) or m.group(2) for m in _QUOTED.finditer(text)]
    return []


_SMALL_NUMBERS = {word: str(value) for value, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty".split())}
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")


def numbers(text: str) -> set[str]:
    """The numbers a text states, as digits: '58,000' and '58000' are one number, 'six' is 6."""
    found = {n.replace(",", "") for n in _DIGITS.findall(text)}
    return found | {_SMALL_NUMBERS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in _SMALL_NUMBERS}


def anchors(text: str) -> set[str]:
    """What a claim pins down and a source must therefore say too: names, quoted titles, dates and numbers
    (lower-cased, possessives dropped; numbers as digits)."""
    named = {re.sub(r"['’]s$", "", item).lower() for kind in ("name", "date") for item in _items(kind, text)}
    return named | {f"#{n}" for n in numbers(text)}


def says(text: str, anchor: str) -> bool:
    """Does the text state this anchor (as `anchors` spells it)?"""
    if anchor.startswith("#"):
        return anchor[1:] in numbers(text)
    return re.search(rf"(?<!\w){re.escape(anchor)}", text.lower().replace("’", "'")) is not None


def stems(text: str) -> list[str]:
    """Content words cut to 5 letters: 'Armenian' meets 'Armenia', 'wounded' meets 'wounds'; an irregular verb
    form meets its base: an answer says 'took' for the question's 'take', 'sold' for 'sell'."""
    return [_IRREGULAR.get(word, word)[:5] for word in content_words(text)]


# Past tenses and participles of irregular verbs that news questions and answers use, to their base form.
_IRREGULAR = {form: base for base, forms in (
    ("become", "became"), ("begin", "began begun"), ("break", "broke broken"), ("bring", "brought"),
    ("build", "built"), ("buy", "bought"), ("catch", "caught"), ("choose", "chose chosen"), ("come", "came"),
    ("draw", "drew drawn"), ("drive", "drove driven"), ("fall", "fell fallen"), ("feel", "felt"),
    ("fight", "fought"), ("find", "found"), ("fly", "flew flown"), ("give", "gave given"), ("go", "went gone"),
    ("grow", "grew grown"), ("hold", "held"), ("keep", "kept"), ("know", "knew known"), ("lead", "led"),
    ("leave", "left"), ("lose", "lost"), ("make", "made"), ("meet", "met"), ("pay", "paid"), ("rise", "rose risen"),
    ("run", "ran"), ("say", "said"), ("see", "saw seen"), ("sell", "sold"), ("send", "sent"),
    ("shoot", "shot"), ("sing", "sang sung"), ("speak", "spoke spoken"), ("spend", "spent"), ("stand", "stood"),
    ("steal", "stole stolen"), ("strike", "struck"), ("take", "took taken"), ("teach", "taught"),
    ("tell", "told"), ("think", "thought"), ("throw", "threw thrown"), ("write", "wrote written"))
    for form in forms.split()}


def _normal(text: str) -> str:
    """Lower case, possessives and thousands separators dropped: "Korn's" is Korn, "58,000" is 58000."""
    return " ".join(re.sub(r"[,’']", "", re.sub(r"['’]s\b", "", text.lower())).split())
