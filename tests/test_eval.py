"""`assistant eval`: a question set built here, scored against a real index, report files checked."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree

import pytest

from assistant.evaluation import EvalError, EvalQuestion, load_questions, parse_variant, score
from assistant.records import Answer, Citation
from tests.conftest import build_good_corpus
from tests.test_cli import run

QUESTIONS = [
    {"id": "harbour", "question": "How many containers did the Port of Veltria handle in 2023?",
     "answerable": True, "answers": ["4.2 million"], "support": [{"file": "docs/harbor.txt"}], "kind": "factoid"},
    {"id": "volcano", "question": "When did Mount Orrin last erupt?", "answerable": True, "answers": ["1931"],
     "support": [{"file": "docs/volcano.md"}], "kind": "follow-up"},
    {"id": "volcano-b", "question": "How tall is it?", "answerable": True, "answers": ["3,120 metres"],
     "history": [{"role": "user", "content": "When did Mount Orrin last erupt?"},
                 {"role": "assistant", "content": "In 1931."}],
     "support": [{"file": "docs/volcano.md"}], "kind": "follow-up"},
    # Right words, wrong gold file: an answer that cites another document is not right.
    {"id": "wrong-gold", "question": "How many containers did the Port of Veltria handle in 2023?",
     "answerable": True, "answers": ["4.2 million"], "support": [{"file": "docs/volcano.md"}], "kind": "factoid"},
    {"id": "off-topic", "question": "What is the boiling point of mercury?", "answerable": False,
     "kind": "unanswerable"},
]


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    base = tmp_path_factory.mktemp("eval")
    corpus = build_good_corpus(base / "docs")
    assert run(base / "home", "index", str(corpus)).returncode == 0
    questions = base / "set" / "questions.json"
    questions.parent.mkdir()
    questions.write_text(json.dumps(QUESTIONS), encoding="utf-8")
    out = base / "report"
    result = run(base / "home", "--no-llm", "eval", str(questions), "--out", str(out), "--compare", "max_quotes=1",
                 "--quiet")
    assert result.returncode == 0, result.stderr
    return result.stdout, out


def test_eval_scores_every_question_under_every_variant(evaluated):
    _, out = evaluated
    report = json.loads((out / "results.json").read_text())
    assert [v["label"] for v in report["variants"]] == ["settings", "max_quotes=1"]
    assert report["variants"][1]["overrides"] == {"max_quotes": "1"}
    rows = {(r["variant"], r["id"]): r for r in report["results"]}
    assert len(rows) == 2 * len(QUESTIONS)
    for variant in ("settings", "max_quotes=1"):
        assert rows[variant, "harbour"]["right"] and rows[variant, "harbour"]["gold_cited"]
        assert rows[variant, "volcano"]["right"]
        assert rows[variant, "volcano-b"]["right"] and rows[variant, "volcano-b"]["follow_up"]
        wrong = rows[variant, "wrong-gold"]
        assert wrong["answer_found"] and not wrong["gold_cited"] and not wrong["right"]
        declined = rows[variant, "off-topic"]
        assert declined["declined"] and declined["right"] and declined["resolution"] == "declined-off-topic"
    summary = report["variants"][0]
    assert summary["answerable"] == {"total": 4, "right": 3, "wrong": 1, "declined": 0}
    assert summary["unanswerable"] == {"total": 1, "right": 1, "wrong": 0, "declined": 1}
    assert summary["follow_ups"]["total"] == 1
    assert summary["quotes"] > 0 and summary["quotes_verbatim"] == summary["quotes"]
    assert summary["total_p50"] > 0 and summary["first_token_p50"] is None  # no model: no first token


def test_eval_writes_a_markdown_table_and_a_plot(evaluated):
    stdout, out = evaluated
    markdown = (out / "report.md").read_text()
    assert "| answerable: right, gold cited | 3/4 (75.0 %) |" in markdown
    assert "| unanswerable: declined | 1/1 (100.0 %) |" in markdown
    assert "| wrong-gold | factoid | gold not cited (quoted) |" in markdown
    assert "](eval.svg)" in markdown
    plot = ElementTree.parse(out / "eval.svg").getroot()
    assert plot.tag.endswith("svg")
    bars = [e for e in plot.iter() if e.tag.endswith("rect") and e.get("fill") != "white"]
    assert len(bars) >= 6  # legend, and right / wrong / declined bars of both variants
    widths_by_row: dict[str, float] = {}
    for bar in bars:
        if any(child.tag.endswith("title") for child in bar):  # a kind's bar segment, not the legend
            widths_by_row[bar.get("y")] = widths_by_row.get(bar.get("y"), 0.0) + float(bar.get("width"))
    full = max(widths_by_row.values())
    assert all(width == pytest.approx(full, abs=0.5) for width in widths_by_row.values())  # shares of one whole
    assert "answerable: right, gold cited" in stdout and str(out / "report.md") in stdout


def test_scoring_matches_answers_loosely_and_gold_files_by_path_suffix():
    question = EvalQuestion(id="q", question="Who?", answerable=True, answers=["Doris Day", "71"],
                            support=[{"file": "bbc/entertainment/050.txt"}], kind="two-sentence")
    citation = Citation(n=1, source="/data/corpus/bbc/entertainment/050.txt", quote="The son of actress DORIS DAY.",
                        start=0, end=10, score=1.0)
    answer = Answer(question="Who?", answer="His mother was Doris  Day [1].", abstained=False, citations=[citation],
                    resolution="written")
    texts = type("Texts", (), {"get": lambda self, source: "x" * 20})()
    result = score("v", question, answer, texts)
    assert result.gold_cited and not result.answer_found  # two-sentence: "71" is missing
    assert not result.right and result.quotes_verbatim == 0  # the quote is not at those offsets
    elsewhere = citation.model_copy(update={"source": "/data/other-bbc/entertainment/050.txt"})
    assert not score("v", question, answer.model_copy(update={"citations": [elsewhere]}), texts).gold_cited


def test_bad_question_sets_and_specs_say_what_to_fix(tmp_path):
    with pytest.raises(EvalError, match="cannot read"):
        load_questions(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[{]")
    with pytest.raises(EvalError, match="not JSON"):
        load_questions(bad)
    bad.write_text(json.dumps([{"id": "a", "question": "?"}]))
    with pytest.raises(EvalError, match="answerable"):
        load_questions(bad)
    bad.write_text(json.dumps([{"id": "a", "question": "?", "answerable": True}]))
    with pytest.raises(EvalError, match="no answers"):
        load_questions(bad)
    assert parse_variant("no-llm") == {"llm": "none"}
    assert parse_variant("model=small, passages=6") == {"model": "small", "passages": "6"}
    with pytest.raises(EvalError, match="SETTING=VALUE"):
        parse_variant("colour=blue")


def test_eval_command_refuses_a_missing_file_in_one_line(tmp_path):
    result = run(tmp_path / "home", "--no-llm", "eval", str(tmp_path / "nope.json"))
    assert result.returncode == 1
    assert "cannot read question set" in result.stderr and "Traceback" not in result.stderr
    questions = tmp_path / "q.json"
    questions.write_text(json.dumps(QUESTIONS[:1]))
    result = run(tmp_path / "home", "--no-llm", "eval", str(questions), "--compare", "top_k=0")
    assert result.returncode == 1 and "top_k" in result.stderr and "Traceback" not in result.stderr
