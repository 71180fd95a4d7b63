"""The sources of an answer as a reader lists them: one line per document, with its markers and its pages or
slides ("[1, 3] spec.pdf: p. 3, 4"), in the order the documents are first cited, not one line per passage."""

from __future__ import annotations

from typing import Callable

from pydantic import BaseModel

from assistant.records import Citation


class SourceLine(BaseModel):
    name: str  # the document as its reader knows it (an upload by its file name)
    markers: list[int]
    pages: list[str]  # "p. 3", "slide 2"; empty for a document without pages

    def text(self) -> str:
        """'[1, 3] spec.pdf: p. 3, 4' (the page word once), '[2] notes.txt'."""
        markers = "[" + ", ".join(map(str, self.markers)) + "]"
        if not self.pages:
            return f"{markers} {self.name}"
        word = self.pages[0].split(" ")[0]
        numbers = [p.split(" ", 1)[1] if p.split(" ")[0] == word else p for p in self.pages]
        return f"{markers} {self.name}: {word} {', '.join(numbers)}"


def source_lines(citations: list[Citation], name: Callable[[str], str] = lambda source: source) -> list[SourceLine]:
    lines: dict[str, SourceLine] = {}
    for citation in citations:
        line = lines.setdefault(citation.source, SourceLine(name=name(citation.source), markers=[], pages=[]))
        if citation.n not in line.markers:
            line.markers.append(citation.n)
        if citation.page_label and citation.page_label not in line.pages:
            line.pages.append(citation.page_label)
    for line in lines.values():
        line.pages.sort(key=lambda label: int(label.rsplit(" ", 1)[1]))
    return list(lines.values())
