"""Office, e-book, mail and table files as plain text: .pptx .xlsx .csv .epub .eml .odt .rtf.

Each reader is `(path, data) -> str` and its result is the document's extracted text: citations quote exact
spans `text[start:end]` of it, so it is built once here and stored, never re-derived. Lines keep the
document's structure (a paragraph, a table row, a mail header) with whitespace runs inside a line made one
space; no line holds "\\r". A deck's slides each end with a PAGE_BREAK, so `page_at` gives a quote's slide;
no other format holds one. A file that cannot be parsed raises SkipFile("not a readable .xxx (reason)").
"""

from __future__ import annotations

import csv
import datetime
import io
import itertools
import re
from typing import Iterable, Sequence

from index.loaders import SkipFile, cause, decode_text, html_to_text
from index.records import PAGE_BREAK

# Python's \s also matches \f, \v and the Unicode line separators: inside a line they become a space, so a
# stray form feed in a cell or paragraph can never pass for a page break. Other controls go too.
_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")
# Controls that are not whitespace: text files do not hold them, binary files (a workbook renamed .csv) do.
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
# A worksheet can hold a million rows; past this many a file is a database, not a document, and its text
# would take many minutes to embed. The rows after it are left out rather than the whole file refused.
MAX_ROWS = 200_000
# Groups of groups are rare past a few levels; the limit only stops a crafted deck from recursing forever.
_MAX_GROUP_DEPTH = 10


def _lines(text: str) -> list[str]:
    return [_SPACE.sub(" ", line).strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _join(lines: Iterable[str], keep_blank: bool = False) -> str:
    """Lines joined; empty ones dropped, or with keep_blank kept one at a time (paragraph gaps)."""
    kept: list[str] = []
    for line in lines:
        if line or (keep_blank and kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip("\n")


def _unreadable(suffix: str, exc: BaseException) -> SkipFile:
    return SkipFile(f"not a readable {suffix} ({cause(exc)})")


# ----- .pptx -----------------------------------------------------------------------------------------


def pptx_text(path: str, data: bytes) -> str:
    from pptx import Presentation

    try:
        slides = [_slide_lines(slide) for slide in Presentation(io.BytesIO(data)).slides]
    except Exception as exc:  # zipfile, package and XML errors of a damaged or non-pptx file
        raise _unreadable(".pptx", exc) from None
    # Every slide, empty ones too, ends with a break: slide n is what follows n - 1 breaks.
    return "".join(_join(lines) + PAGE_BREAK for lines in slides)


def _slide_lines(slide) -> list[str]:
    title = slide.shapes.title
    others = [shape for shape in slide.shapes if title is None or shape.shape_id != title.shape_id]
    lines = _shape_lines(title, 0) if title is not None else []
    for shape in _reading_order(others):
        lines += _shape_lines(shape, 0)
    notes = slide.notes_slide.notes_text_frame if slide.has_notes_slide else None
    if notes is not None and notes.text.strip():
        lines += ["Notes:", *_frame_lines(notes)]
    return lines


def _reading_order(shapes) -> list:
    # A placeholder may inherit no position at all: treat it as top-left rather than fail on None.
    return sorted(shapes, key=lambda shape: (shape.top or 0, shape.left or 0))


def _shape_lines(shape, depth: int) -> list[str]:
    from pptx.shapes.group import GroupShape

    # isinstance, not shape_type: shape_type raises NotImplementedError for shapes python-pptx cannot name.
    if isinstance(shape, GroupShape):
        if depth >= _MAX_GROUP_DEPTH:
            return []
        return [line for child in _reading_order(shape.shapes) for line in _shape_lines(child, depth + 1)]
    if shape.has_table:
        rows = ([_one_line(cell.text) for cell in row.cells if not cell.is_spanned] for row in shape.table.rows)
        return [" | ".join(cells) for cells in rows if any(cells)]
    if shape.has_text_frame:
        return _frame_lines(shape.text_frame)
    return []


def _frame_lines(frame) -> list[str]:
    # "\v" is PowerPoint's soft line break: a line of its own, as the slide shows it.
    return [line for paragraph in frame.paragraphs for line in _lines(paragraph.text.replace("\v", "\n"))]


# ----- tables: .xlsx and .csv ------------------------------------------------------------------------


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 3.0 is how a spreadsheet stores 3
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return _one_line(str(value))


def _row_lines(rows: Iterable[Sequence]) -> list[str]:
    """The first non-empty row names the columns; every later non-empty row is one line
    "column: value; column: value" (empty cells left out), so a retrieved line carries its own labels."""
    header: list[str] | None = None
    lines: list[str] = []
    for row in rows:
        cells = [_cell(value) for value in row]
        if not any(cells):
            continue
        if header is None:
            named = cells
            header = [name or f"column {n}" for n, name in enumerate(cells, 1)]
            continue
        names = header + [f"column {n}" for n in range(len(header) + 1, len(cells) + 1)]
        lines.append("; ".join(f"{name}: {value}" for name, value in zip(names, cells) if value))
    if header is not None and not lines:
        # A sheet of one row still has its words indexed (its own words, not the "column N" stand-ins).
        lines.append("; ".join(cell for cell in named if cell))
    return lines


def xlsx_text(path: str, data: bytes) -> str:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise _unreadable(".xlsx", exc) from None
    lines: list[str] = []
    rows_left = MAX_ROWS
    try:
        for sheet in book.worksheets:
            rows = list(itertools.islice(sheet.iter_rows(values_only=True), rows_left))
            rows_left -= len(rows)
            sheet_lines = _row_lines(rows)
            if sheet_lines and len(book.worksheets) > 1:
                lines.append(f"Sheet: {_one_line(sheet.title)}")
            lines += sheet_lines
            if rows_left <= 0:
                break
    except Exception as exc:  # read_only parses each sheet lazily: damage may show only here
        raise _unreadable(".xlsx", exc) from None
    finally:
        book.close()  # read_only keeps the archive open until closed
    return "\n".join(lines)


def csv_text(path: str, data: bytes) -> str:
    try:
        text = decode_text(data)
    except SkipFile as exc:
        raise SkipFile(f"not a readable .csv ({exc})") from None
    # decode_text takes any valid UTF-8, and "PK\x03\x04..." is valid UTF-8.
    binary = _BINARY.search(text, 0, 8192)
    if binary:
        raise SkipFile(f"not a readable .csv (control character at offset {binary.start()}: binary data, not text)")
    sample = text[:65536]
    sample = sample[:sample.rfind("\n") + 1] or sample  # whole lines only: a cut line misleads the sniffer
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:  # one column, or no consistent delimiter
        dialect = csv.excel
    try:
        return "\n".join(_row_lines(itertools.islice(csv.reader(io.StringIO(text, newline=""), dialect), MAX_ROWS)))
    except csv.Error as exc:  # e.g. a field over the csv module's size limit
        raise _unreadable(".csv", exc) from None


# ----- .epub .eml .odt .rtf --------------------------------------------------------------------------


def epub_text(path: str, data: bytes) -> str:
    from ebooklib import epub

    try:
        book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
        items = (book.get_item_with_id(idref) for idref, _ in book.spine)
        # The navigation page repeats chapter titles as a list of links: not text a reader would cite.
        chapters = [html_to_text(item.get_content()) for item in items
                    if item is not None and not isinstance(item, epub.EpubNav)]
    except Exception as exc:
        raise _unreadable(".epub", exc) from None
    return "\n\n".join(chapter for chapter in (_join(_lines(c)) for c in chapters) if chapter)


def eml_text(path: str, data: bytes) -> str:
    import email
    import email.policy

    try:
        message = email.message_from_bytes(data, policy=email.policy.default)
        if not message.keys():  # the parser accepts any bytes; a mail has headers
            raise ValueError("no mail headers")
        head = [f"{name}: {_one_line(str(message[name]))}" for name in ("Subject", "From", "To", "Date")
                if message[name] is not None]
        body_part = message.get_body(preferencelist=("plain", "html"))
        body = ""
        if body_part is not None:
            try:
                body = body_part.get_content()
            except LookupError:  # a charset Python does not know: most such mail is ASCII-compatible
                body = body_part.get_payload(decode=True).decode("utf-8", errors="replace")
            if body_part.get_content_type() == "text/html":
                body = html_to_text(body)
        attachments = [_one_line(part.get_filename()) for part in message.walk()
                       if part is not body_part and part.get_filename()]
    except Exception as exc:
        raise _unreadable(".eml", exc) from None
    blocks = ["\n".join(head), _join(_lines(body), keep_blank=True)]
    if attachments:
        blocks.append("Attachments: " + ", ".join(attachments))
    return "\n\n".join(block for block in blocks if block)


def odt_text(path: str, data: bytes) -> str:
    from odf import opendocument, teletype
    from odf.namespaces import TEXTNS

    try:
        body = opendocument.load(io.BytesIO(data)).text
        lines: list[str] = []
        # Walked with a stack, not recursion: a crafted file's nesting cannot exhaust the call stack.
        stack = list(reversed(body.childNodes))
        while stack:
            node = stack.pop()
            if getattr(node, "qname", None) in ((TEXTNS, "p"), (TEXTNS, "h")):
                lines += _lines(teletype.extractText(node))
            else:
                stack.extend(reversed(getattr(node, "childNodes", [])))
    except Exception as exc:
        raise _unreadable(".odt", exc) from None
    return _join(lines)


def rtf_text(path: str, data: bytes) -> str:
    from striprtf.striprtf import rtf_to_text

    # RTF is 7-bit text with \'xx escapes; latin-1 maps any stray 8-bit byte to a character, never fails.
    source = data.decode("latin-1")
    if not source.lstrip().startswith("{\\rtf"):
        raise SkipFile("not a readable .rtf (no {\\rtf header: not an RTF file)")
    try:
        text = rtf_to_text(source, encoding="cp1252", errors="replace")
    except Exception as exc:  # e.g. an \ansicpg naming a code page Python does not know
        raise _unreadable(".rtf", exc) from None
    return _join(_lines(text))
