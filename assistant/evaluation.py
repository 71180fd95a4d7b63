"""`assistant eval`: score answers on a user's own question set, against the current index and settings.

A question set is a JSON list of entries like
    {"id": "q1", "question": "...", "history": [], "answerable": true,
     "answers": ["shortest gold string", "variant"], "support": [{"file": "bbc/business/071.txt"}],
     "kind": "factoid"}
An answerable question is right when one of `answers` appears (case-insensitive) in the answer or its
quotes AND a cited source is one of the `support` files (matched by path suffix, so the corpus can sit
anywhere); for kind `two-sentence` every string in `answers` must appear. An unanswerable one is right
when the assistant declines. Every quote is also checked against the document's text as extracted from
the file now, independently of the index.

Several settings can be run side by side in one process (`--compare llm=none --compare model=small`):
they share the index, the embedder and any model already loaded.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path, PurePath

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from assistant.records import Answer, Citation, Message
from assistant.services import Services
from index.loaders import SkipFile, extract_text, read_file


class EvalError(ValueError):
    """The question set or a --compare spec is unusable; the message says what to fix."""


class SupportRef(BaseModel):
    file: str = Field(description="a file holding the answer, relative to the question set's corpus root")
    quote: str = ""


class EvalQuestion(BaseModel):
    id: str
    question: str
    history: list[Message] = []
    answerable: bool
    answers: list[str] = []
    support: list[SupportRef] = []
    kind: str = "factoid"


class QuestionResult(BaseModel):
    """One question asked under one variant of the settings."""

    variant: str
    id: str
    kind: str
    question: str
    answerable: bool
    follow_up: bool = Field(description="asked with a conversation history")
    declined: bool
    answer_found: bool = Field(description="an accepted answer appears in the answer or its quotes")
    gold_cited: bool = Field(description="a cited source is one of the question's support files")
    right: bool
    quotes: int
    quotes_verbatim: int = Field(description="quotes equal to the file's text at their offsets, checked now")
    answer: str
    resolution: str
    evidence_score: float | None = Field(description="the best evidence's relevance: what abstain_below is compared to")
    cited: list[str]
    citations: list[Citation]
    timings: dict[str, float]


class KindScore(BaseModel):
    total: int = 0
    right: int = 0
    wrong: int = 0  # answered, but not right (for unanswerable questions: answered at all)
    declined: int = 0


class VariantSummary(BaseModel):
    label: str
    overrides: dict[str, str]
    writer: str
    by_kind: dict[str, KindScore]
    answerable: KindScore
    unanswerable: KindScore
    follow_ups: KindScore
    quotes: int
    quotes_verbatim: int
    first_token_p50: float | None
    total_p50: float | None
    total_p90: float | None


class EvalReport(BaseModel):
    questions_file: str
    index_documents: int
    started_at: str
    seconds: float
    variants: list[VariantSummary]
    results: list[QuestionResult]


def load_questions(path: str | Path) -> list[EvalQuestion]:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvalError(f"cannot read question set {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise EvalError(f"question set {path} is not JSON: {exc}") from None
    try:
        questions = TypeAdapter(list[EvalQuestion]).validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise EvalError(f"question set {path}: entry {where}: {first['msg']} (each entry needs at least "
                        '"id", "question" and "answerable"; see `assistant eval --help`)') from None
    for q in questions:
        if q.answerable and not (q.answers and q.support):
            raise EvalError(f"question set {path}: {q.id} is answerable but has no answers or no support files")
    return questions


# Settings a --compare spec may change, and the shortcuts people type.
_ALIASES = {"no-llm": {"llm": "none"}, "small": {"model": "small"}}


def parse_variant(spec: str) -> dict[str, str]:
    """'llm=none' / 'model=small,passages=6' / 'no-llm' -> setting overrides."""
    from assistant.settings import Settings

    overrides: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        if part.lstrip("-") in _ALIASES:
            overrides.update(_ALIASES[part.lstrip("-")])
            continue
        key, sep, value = part.partition("=")
        key = key.strip().lstrip("-").replace("-", "_")
        if not sep or key not in Settings.model_fields:
            raise EvalError(f"--compare {spec!r}: expected SETTING=VALUE[,SETTING=VALUE] with a setting name from "
                            "the README's configuration table (e.g. llm=none, model=small, passages=6), or no-llm")
        overrides[key] = value.strip()
    if not overrides:
        raise EvalError(f"--compare {spec!r} changes nothing")
    return overrides


def run_eval(services: Services, questions: list[EvalQuestion], questions_file: str | Path,
             variants: list[tuple[str, dict[str, str]]], progress: bool = True) -> EvalReport:
    """Ask every question under each variant (label, overrides); the first variant is usually the settings
    as they are (no overrides)."""
    from tqdm import tqdm

    started, clock = time.strftime("%Y-%m-%dT%H:%M:%S"), time.perf_counter()
    texts = _DocumentTexts()
    summaries, results = [], []
    for label, overrides in variants:
        variant = services.variant(**overrides) if overrides else services
        answerer = variant.answerer
        rows = []
        for q in tqdm(questions, desc=label, unit="question", disable=not progress, leave=False):
            answer = answerer.ask(q.question, q.history)
            rows.append(score(label, q, answer, texts))
        results += rows
        summaries.append(summarise(label, overrides, answerer.chat_model, rows))
    return EvalReport(questions_file=str(questions_file), index_documents=len(services.indexer.documents()),
                      started_at=started, seconds=round(time.perf_counter() - clock, 1), variants=summaries,
                      results=results)


def score(label: str, q: EvalQuestion, answer: Answer, texts: "_DocumentTexts") -> QuestionResult:
    shown = _normal(" ".join([answer.answer] + [c.quote for c in answer.citations]))
    found = [_normal(a) in shown for a in q.answers]
    answer_found = bool(found) and (all(found) if q.kind == "two-sentence" else any(found))
    cited = list(dict.fromkeys(c.source for c in answer.citations))
    gold_cited = any(_same_file(source, ref.file) for source in cited for ref in q.support)
    declined = answer.abstained
    right = (not declined and answer_found and gold_cited) if q.answerable else declined
    verbatim = sum(texts.get(c.source)[c.start:c.end] == c.quote for c in answer.citations)
    return QuestionResult(variant=label, id=q.id, kind=q.kind, question=q.question, answerable=q.answerable,
                          follow_up=bool(q.history), declined=declined, answer_found=answer_found, gold_cited=gold_cited, right=right,
                          quotes=len(answer.citations), quotes_verbatim=verbatim, answer=answer.answer,
                          resolution=answer.resolution, evidence_score=answer.evidence_score, cited=cited,
                          citations=answer.citations, timings=answer.timings)


def summarise(label: str, overrides: dict[str, str], chat_model, rows: list[QuestionResult]) -> VariantSummary:
    by_kind: dict[str, KindScore] = {}
    answerable, unanswerable, follow_ups = KindScore(), KindScore(), KindScore()
    for row in rows:
        buckets = [by_kind.setdefault(row.kind, KindScore()), answerable if row.answerable else unanswerable]
        for bucket in buckets + ([follow_ups] if row.follow_up else []):
            bucket.total += 1
            bucket.right += row.right
            bucket.declined += row.declined
            bucket.wrong += not row.right and not row.declined
    first = [r.timings["first_token_s"] for r in rows if "first_token_s" in r.timings]
    total = [r.timings["total_s"] for r in rows if "total_s" in r.timings]
    return VariantSummary(
        label=label, overrides=overrides, writer=chat_model.description if chat_model else "extractive",
        by_kind=by_kind, answerable=answerable, unanswerable=unanswerable, follow_ups=follow_ups,
        quotes=sum(r.quotes for r in rows), quotes_verbatim=sum(r.quotes_verbatim for r in rows),
        first_token_p50=_percentile(first, 50), total_p50=_percentile(total, 50), total_p90=_percentile(total, 90))


def _percentile(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=100, method="inclusive")[pct - 1], 3)


def _normal(text: str) -> str:
    """Case, curly quotes and runs of white space do not decide whether an answer is there."""
    table = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-"})
    return " ".join(text.translate(table).lower().split())


def _same_file(source: str, support_file: str) -> bool:
    """Is the cited source the support file? By path suffix: 'bbc/business/071.txt' matches
    '/data/bbc/business/071.txt' wherever the corpus was indexed from."""
    cited, wanted = PurePath(source).parts, PurePath(support_file).parts
    return len(wanted) <= len(cited) and cited[-len(wanted):] == wanted


class _DocumentTexts:
    """The text of each cited file, extracted from the file now (not from the index) and kept for the run."""

    def __init__(self):
        self._texts: dict[str, str] = {}

    def get(self, source: str) -> str:
        if source not in self._texts:
            try:
                self._texts[source] = extract_text(source, read_file(source, 1 << 31))
            except SkipFile:
                self._texts[source] = ""  # gone or unreadable: its quotes cannot be verified
        return self._texts[source]
