"""HTML for the web chat: answers with clickable citations, quotes highlighted in their document, index
reports. Every piece of text — questions, answers, quotes, document text, file names — is escaped here,
so markup inside a document is shown as text and never runs in the page.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime
from html import escape
from typing import Callable

from assistant.openai_api import reply_content
from assistant.records import Answer, Citation, FoundEvent, WaitingEvent, reading_text
from assistant.sources import source_lines
from index.pdf import PageImage
from index.records import IndexReport

# Characters of document text shown on each side of a quote when a citation is opened.
CONTEXT_CHARS = 300
# The whole-document view shows at most this much text around the quote (a 50 MB file would freeze a tab).
DOCUMENT_CHARS = 200_000
_MARKERS = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")

TextLookup = Callable[[Citation], "str | None"]
# What a reopened conversation's citation says when its quote is no longer in the index (Citation.status).
_GONE = {"changed": "Its document has changed since the answer and no longer holds this quote.",
         "removed": "Its document was removed from the index since the answer."}


def conversation_html(answers: list[Answer], show_scores: bool, text_for: TextLookup) -> str:
    return "".join(answer_html(turn, answer, show_scores, text_for) for turn, answer in enumerate(answers))


def pending_html(turn: int, question: str, sources: list[Citation], written: str,
                 waiting: WaitingEvent | None = None, name: Callable[[str], str] = lambda source: source,
                 found: FoundEvent | None = None, text_for: TextLookup = lambda citation: None) -> str:
    """A turn being answered: its place in the line while the model is busy with others, its sources (one line
    per document, named by `name`) as soon as retrieval is done, the passages found (the best evidence
    sentences, each openable in its context) and the model's reading progress, then its text as it streams in;
    the checked answer replaces it all."""
    if waiting is not None:
        body = f'<div class="waiting">{escape(waiting_text(waiting))} Cancel to ask something else.</div>'
    elif sources:
        listed = "".join(f"<li>{escape(line.text())}</li>" for line in source_lines(sources, name))
        body = f'<div class="sources"><span>Sources</span><ul>{listed}</ul></div>'
    else:
        body = '<div class="searching">Searching the documents…</div>'
    if found is not None and found.citations:
        quotes = "".join(citation_html(turn, c, False, text_for(c), openers=False) for c in found.citations)
        body += (f'<div class="found"><div class="found-title">Passages found; the checked answer replaces them '
                 f'when it is written</div><div class="citations">{quotes}</div></div>')
        if not written:  # a bar over the expected time (none known yet: it runs without an end)
            timed = f' style="animation-duration: {found.estimate_s:.1f}s"' if found.estimate_s else ""
            body += (f'<div class="reading">{escape(reading_text(found))}'
                     f'<div class="progress{"" if timed else " unknown"}"><div{timed}></div></div></div>')
    if written:
        body += f'<div class="answer streaming">{escape(written)}</div>'
    return _turn(turn, question, body, pending=True)


def waiting_text(waiting: WaitingEvent) -> str:
    """"Waiting for the model: 2 questions ahead of yours (about 40 s)." and the like."""
    if waiting.ahead == 0:
        place = "Waiting for the model to finish another question"
    else:
        place = f"Waiting for the model: {waiting.ahead} question{'s' if waiting.ahead > 1 else ''} ahead of yours"
    return place + (f" (about {waiting.estimate_s:.0f} s)." if waiting.estimate_s is not None else ".")


def answer_html(turn: int, answer: Answer, show_scores: bool, text_for: TextLookup) -> str:
    if answer.abstained:
        withdrawn = (" The model's reply was withdrawn: no passage supports what it wrote."
                     if answer.sentences else "")
        body = (f'<div class="answer abstained"><strong>Not in the documents.</strong> '
                f"{escape(answer.answer)}{withdrawn}</div>")
    else:
        body = f'<div class="answer">{_answer_text(turn, answer)}</div>'
    if answer.citations:
        cited = "".join(citation_html(turn, c, show_scores, text_for(c)) for c in answer.citations)
        body += f'<div class="citations">{cited}</div>'
    if show_scores and answer.evidence_score is not None:
        body += f'<div class="score">evidence score {answer.evidence_score:.2f}</div>'
    searched = (f'<div class="rewritten">searched for: {escape(answer.standalone_question)}</div>'
                if answer.standalone_question else "")
    # Words, not emoji: a machine without an emoji font (offline, no web fonts) would show empty boxes.
    rate = "".join(f'<button class="rate" data-turn="{turn}" data-rating="{rating}">{label}</button>'
                   for rating, label in (("up", "Good answer"), ("down", "Wrong answer")))
    rate += f'<button class="copy" data-copy="{escape(reply_content(answer))}">Copy</button>'
    return _turn(turn, answer.question, searched + body + f'<div class="rating">{rate}</div>')


def citation_html(turn: int, citation: Citation, show_scores: bool, text: str | None, openers: bool = True) -> str:
    """The document name and verbatim quote; expanding it shows the quote in its surrounding text, with buttons
    that open the whole document or its page (openers: the citation is one of a saved answer's)."""
    score = f' <span class="score">{citation.score:.2f}</span>' if show_scores else ""
    if text is None:
        missing = _GONE.get(citation.status or "", "This document was removed or has changed since the answer.")
        context = f'<div class="context missing">{missing}</div>'
        opener = ""
    else:
        moved = ('<div class="context moved">Its document has changed since the answer; the quote was found again '
                 "in it.</div>" if citation.status == "moved" else "")
        context = f'{moved}<div class="context">{context_html(text, citation.start, citation.end)}</div>'
        opener = (f'<button class="open-document" data-turn="{turn}" data-n="{citation.n}">'
                  "Open the whole document</button>") if openers else ""
        if openers and citation.page is not None and citation.source.lower().endswith(".pdf"):
            opener += (f'<button class="open-document" data-turn="{turn}" data-n="{citation.n}" data-view="page">'
                       f"Show page {citation.page}</button>")
    return (f'<details class="citation" id="cite-{turn}-{citation.n}"><summary>'
            f'<span class="marker">[{citation.n}]</span> <span class="source">{escape(citation.place)}</span>'
            f'{score} <q class="quote">{escape(citation.quote)}</q></summary>{context}{opener}</details>')


def context_html(text: str, start: int, end: int, radius: int = CONTEXT_CHARS) -> str:
    """The quote highlighted in up to `radius` characters either side, cut between words."""
    before_start, after_end = max(0, start - radius), min(len(text), end + radius)
    if before_start > 0 and (cut := text.find(" ", before_start, start)) >= 0:
        before_start = cut + 1
    if after_end < len(text) and (cut := text.rfind(" ", end, after_end)) > end:
        after_end = cut
    return ("…" if before_start > 0 else "") + _highlighted(text, start, end, before_start, after_end) + \
        ("…" if after_end < len(text) else "")


def document_html(citation: Citation, text: str | None) -> str:
    """The whole document (or a very long one's surroundings of the quote) with the quote highlighted."""
    title = f'<div class="document-title">{escape(citation.source)}</div>'
    if text is None:
        return f'<div class="document">{title}<div class="note">This document was removed or has changed ' \
               "since the answer.</div></div>"
    shown_start = max(0, min(citation.start - DOCUMENT_CHARS // 2, len(text) - DOCUMENT_CHARS))
    shown_end = min(len(text), shown_start + DOCUMENT_CHARS)
    note = (f'<div class="note">Showing characters {shown_start:,}–{shown_end:,} of {len(text):,}.</div>'
            if shown_start > 0 or shown_end < len(text) else "")
    highlighted = _highlighted(text, citation.start, citation.end, shown_start, shown_end)
    return f'<div class="document">{title}{note}<div class="document-text">{highlighted}</div></div>'


def page_html(citation: Citation, page: PageImage | None, problem: str | None = None) -> str:
    """A PDF page as an image with the quote's lines marked over it (boxes are shares of the page's size)."""
    title = f'<div class="document-title">{escape(citation.place)}</div>'
    if page is None:
        return f'<div class="document page-view">{title}<div class="note">{escape(problem or "")}</div></div>'
    marks = "".join(f'<mark class="page-highlight" style="left:{100 * x0:.3f}%;top:{100 * y0:.3f}%;'
                    f'width:{100 * (x1 - x0):.3f}%;height:{100 * (y1 - y0):.3f}%"></mark>'
                    for x0, y0, x1, y1 in page.boxes)
    note = ('<div class="note">This page has no text layer: its text was read by OCR, which keeps no places '
            "for the quote. The quote is shown below.</div>" if page.ocr else "")
    image = base64.b64encode(page.png).decode("ascii")
    return (f'<div class="document page-view">{title}{note}<div class="page-canvas">'
            f'<img src="data:image/png;base64,{image}" width="{page.width}" height="{page.height}" '
            f'alt="{escape(citation.place)}">{marks}</div>'
            f'<q class="quote">{escape(citation.quote)}</q></div>')


def removed_html(sources: list[str]) -> str:
    return f'<div class="report"><strong>removed {len(sources)}</strong><ul>' + \
        "".join(f"<li>removed {escape(s)}</li>" for s in sources) + "</ul></div>"


def report_html(report: IndexReport) -> str:
    """What an upload or re-index did, with every skipped file and its reason."""
    counts = (f"added {len(report.added)}, updated {len(report.updated)}, renamed {len(report.renamed)}, "
              f"unchanged {len(report.unchanged)}, removed {len(report.removed)}, skipped {len(report.skipped)}")
    lines = [f"<li>added {escape(s)}</li>" for s in report.added]
    lines += [f"<li>updated {escape(s)}</li>" for s in report.updated]
    lines += [f"<li>renamed {escape(old)} → {escape(new)}</li>" for old, new in report.renamed]
    lines += [f"<li>removed {escape(s)}</li>" for s in report.removed]
    lines += [f"<li>read by OCR: {escape(note)}</li>" for note in report.ocr_notes()]
    lines += [f'<li class="skipped">skipped {escape(s.path)}: {escape(s.reason)}</li>' for s in report.skipped]
    return (f'<div class="report"><strong>{counts}</strong> — {report.chunks_written} chunks written in '
            f"{report.seconds:.1f} s<ul>{''.join(lines)}</ul></div>")


def index_status_html(sources: list[str], change: tuple[datetime, IndexReport] | None,
                      problem: tuple[datetime, str] | None) -> str:
    """The chat's line about the watched folders: the latest change to the index, or a newer problem."""
    if problem is not None and (change is None or problem[0] >= change[0]):
        return f'<div class="index-status problem">{problem[0]:%H:%M:%S}: {escape(problem[1])}</div>'
    if change is not None:
        when, report = change
        return (f'<div class="index-status">Index updated {when:%H:%M:%S}: added {len(report.added)}, '
                f"updated {len(report.updated)}, renamed {len(report.renamed)}, removed {len(report.removed)}</div>")
    return f'<div class="index-status">Watching {escape(", ".join(sources))} for changes.</div>'


def _turn(turn: int, question: str, body: str, pending: bool = False) -> str:
    return (f'<div class="turn{" pending" if pending else ""}" data-turn="{turn}">'
            f'<div class="question">{escape(question)}</div>{body}</div>')


def _highlighted(text: str, start: int, end: int, shown_start: int, shown_end: int) -> str:
    return (escape(text[shown_start:start]) + f'<mark class="cited">{escape(text[start:end])}</mark>'
            + escape(text[end:shown_end]))


def _answer_text(turn: int, answer: Answer) -> str:
    """Escaped answer text; [n] markers become links to their citation; unsupported sentences are flagged."""
    text = answer.answer
    flagged: list[tuple[int, int]] = []
    position = 0
    for sentence in answer.sentences:
        found = text.find(sentence.text, position)
        if found >= 0:
            position = found + len(sentence.text)
            if not sentence.supported:
                flagged.append((found, position))
    pieces, position = [], 0
    for start, end in flagged:
        pieces.append(_with_markers(turn, text[position:start]))
        pieces.append(f'<span class="unsupported" title="No passage in the documents supports this">'
                      f"{_with_markers(turn, text[start:end])}"
                      f'<span class="flag">⚠ not supported by the documents</span></span>')
        position = end
    pieces.append(_with_markers(turn, text[position:]))
    return "".join(pieces)


def _with_markers(turn: int, text: str) -> str:
    def link(match: re.Match) -> str:
        numbers = [n.strip() for n in match.group(1).split(",")]
        return "[" + ", ".join(f'<a class="marker" href="#cite-{turn}-{n}" data-n="{n}">{n}</a>'
                               for n in numbers) + "]"

    escaped = escape(text)  # markers hold only digits, commas and spaces, which escaping leaves as they are
    return _MARKERS.sub(link, escaped)
