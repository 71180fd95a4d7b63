"""Sentence-aware chunking, counted in the embedder's own word pieces.

Every chunk is an exact slice `text[start:end]` of the document, so citations can point into the
original text. A chunk never holds more word pieces than the embedder reads (nothing is silently
truncated); a sentence longer than that is cut between words.
"""

from __future__ import annotations

import re
from typing import Callable

from index.records import Chunk, Span

# Words that end with a period without ending the sentence ("Mr. Smith", "U.S. forces").
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st vs etc e.g i.e u.s u.k u.n e.u no inc ltd co corp gen gov sen rep lt
    col sgt capt cmdr adm fig approx dept est jan feb mar apr jun jul aug sep sept oct nov dec mt ft""".split()
)
_LONGEST_ABBREVIATION = 8  # characters before the dot worth looking at: "(approx" with its bracket
# A sentence ends at . ! ? or … (plus closing quotes/brackets) followed by white space, or at a line
# break, unless the next line goes on in lower case (a line wrapped inside a sentence, as in PDFs).
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)|\n(?![ \t]*[a-z,;:])")


def sentence_spans(text: str) -> list[Span]:
    """Spans of the sentences in text, white space and leading markup trimmed, in order."""
    end = len(text)
    spans: list[Span] = []
    begin = 0
    for match in _BOUNDARY.finditer(text):
        if not match.group().startswith("\n") and (
                _is_abbreviation(text, begin, match.start()) or _continues_lowercase(text, match.end(), end)):
            continue
        _append_trimmed(spans, text, begin, match.end())
        begin = match.end()
    _append_trimmed(spans, text, begin, end)
    return spans


def _continues_lowercase(text: str, position: int, end: int) -> bool:
    """'“Is it over?” he asked.' is one sentence: the next word is lower case."""
    following = text[position:min(end, position + 8)].lstrip()
    return bool(following) and following[0].islower()


def _is_abbreviation(text: str, sentence_start: int, dot: int) -> bool:
    # Only the last few characters: the sentence may have run on through thousands of skipped dots ("Mr. Mr.
    # ..."), and slicing all of it at every dot made splitting quadratic (60 KB of initials took 14 s).
    word = re.search(r"(\S+)$", text[max(sentence_start, dot - _LONGEST_ABBREVIATION):dot])
    if not word:
        return False
    token = word.group(1).lower().lstrip("(\"'“‘")
    # Single letters are initials ("J. Smith"); listed words are common abbreviations.
    return (len(token) == 1 and token.isalpha()) or token in _ABBREVIATIONS


# Markdown headings, quotes and list bullets are layout, not part of the sentence a quote should show.
_LEADING_MARKUP = re.compile(r"\s*(?:(?:#{1,6}|>|[-*+•])\s+)*")


def _append_trimmed(spans: list[Span], text: str, begin: int, end: int) -> None:
    left = _LEADING_MARKUP.match(text, begin, end).end()
    right = end
    while right > left and text[right - 1].isspace():
        right -= 1
    if right > left:
        spans.append(Span(left, right))


class Chunker:
    """Packs whole sentences into chunks of at most `max_tokens` word pieces, with a small overlap."""

    def __init__(self, word_pieces: Callable[[list[str]], list[list[tuple[int, int]]]], max_tokens: int,
                 overlap_tokens: int):
        """word_pieces: each text's word pieces as character offsets (Embedder.word_pieces)."""
        if overlap_tokens >= max_tokens:
            raise ValueError("chunk overlap must be smaller than the chunk size")
        self.word_pieces = word_pieces
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens

    def chunk(self, text: str) -> list[Chunk]:
        pieces = self._pieces(text)
        chunks: list[Chunk] = []
        first = 0
        while first < len(pieces):
            last, total = first, pieces[first][1]
            while last + 1 < len(pieces) and total + pieces[last + 1][1] <= self.max_tokens:
                last += 1
                total += pieces[last][1]
            span_start, span_end = pieces[first][0].start, pieces[last][0].end
            chunks.append(Chunk(len(chunks), span_start, span_end, text[span_start:span_end], total))
            if last + 1 >= len(pieces):
                break
            # Start the next chunk with the trailing sentences that fit in the overlap budget.
            nxt, carried = last + 1, 0
            while nxt - 1 > first and carried + pieces[nxt - 1][1] <= self.overlap_tokens:
                nxt -= 1
                carried += pieces[nxt][1]
            first = nxt
        return chunks

    def _pieces(self, text: str) -> list[tuple[Span, int]]:
        """Sentences with their word-piece counts; sentences over the limit are split between words."""
        spans = sentence_spans(text)
        if not spans:
            return []
        pieces: list[tuple[Span, int]] = []
        for span, offsets in zip(spans, self.word_pieces([text[s.start:s.end] for s in spans])):
            if len(offsets) <= self.max_tokens:
                pieces.append((span, len(offsets)))
            else:
                pieces.extend(self._split_long(text, span, offsets))
        return pieces

    def _split_long(self, text: str, span: Span, offsets: list[tuple[int, int]]) -> list[tuple[Span, int]]:
        out = []
        first = 0
        while first < len(offsets):
            cut = min(first + self.max_tokens, len(offsets))
            if cut < len(offsets):
                # Back up to a word start so a word's pieces stay together.
                word_cut = cut
                while word_cut > first + 1 and offsets[word_cut][0] == offsets[word_cut - 1][1]:
                    word_cut -= 1
                if word_cut > first + 1:
                    cut = word_cut
            start = span.start + offsets[first][0]
            end = span.start + offsets[cut - 1][1]
            out.append((Span(start, end), cut - first))
            first = cut
        return out
