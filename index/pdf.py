"""PDF pages: their text (pdfium's text layer, or OCR for a page that has none), and a page drawn as an image
with a quote's place on it.

A PDF's extracted text is its pages' texts, each followed by a page break (index/records.py), so a quote's
page is known from its offset. A page's text is pdfium's characters with line-break and control characters
tidied; `_page_text` keeps, for every character it returns, pdfium's index of that character, so a quote's
offsets map back to pdfium's character boxes when the page is drawn. The same function makes the text at
indexing and the map at drawing, so the two always agree.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

from index.loaders import SkipFile, cause
from index.records import PAGE_BREAK, Extracted

# pdfium is not thread-safe; the web app may draw pages from several request threads.
_PDFIUM = threading.Lock()
OCR_DPI = 300  # Tesseract reads 10-12 pt print best at 300 dpi; lower loses small text
VIEW_DPI = 110  # a page drawn for the chat: readable at a laptop's width, ~150 KB as PNG


@dataclass(frozen=True)
class PageImage:
    """A drawn page and where a quote lies on it: boxes as (left, top, right, bottom) shares of its size."""

    png: bytes
    width: int
    height: int
    boxes: tuple[tuple[float, float, float, float], ...]
    ocr: bool  # the page has no text layer: its text came from OCR, which keeps no character boxes


def pdf_text(path: str, data: bytes) -> Extracted:
    import pypdfium2 as pdfium

    from index import ocr

    with _PDFIUM:
        try:
            document = pdfium.PdfDocument(data)
            count = len(document)
        except Exception as exc:  # pdfium raises PdfiumError for damaged, encrypted or non-PDF files
            raise SkipFile(f"not a readable PDF ({cause(exc)})") from None
    pages, read_by_ocr = [], 0
    try:
        for number in range(count):
            # One page at a time: a 60-page scan drawn at 300 dpi all at once held 1.5 GB of images.
            with _PDFIUM:
                page = document[number]
                text, _ = _page_text(page)
                image = None if text.strip() else _draw(page, OCR_DPI)
                page.close()
            if image is not None:
                text = ocr.image_to_text(image)  # seconds a page: outside the lock, it never touches pdfium
                read_by_ocr += 1
            pages.append(text)
    finally:
        with _PDFIUM:
            document.close()
    return Extracted("".join(text + PAGE_BREAK for text in pages), ocr_pages=read_by_ocr)


def draw_page(data: bytes, page: int, start: int, end: int) -> PageImage:
    """Page `page` (1-based) drawn as PNG, with the boxes of the page text's characters [start, end)."""
    import pypdfium2 as pdfium

    with _PDFIUM:
        document = pdfium.PdfDocument(data)
        try:
            pdf_page = document[page - 1]
            text, char_of = _page_text(pdf_page)
            boxes = _boxes(pdf_page, char_of[max(0, start):max(0, min(end, len(text)))]) if text.strip() else ()
            image = _draw(pdf_page, VIEW_DPI)
        finally:
            document.close()
    png = io.BytesIO()
    image.save(png, format="PNG", optimize=True)
    return PageImage(png.getvalue(), image.width, image.height, boxes, ocr=not text.strip())


def _page_text(page) -> tuple[str, list[int]]:
    """The page's text and, for each of its characters, pdfium's character index. pdfium ends lines with
    "\r\n" and marks soft hyphens and missing glyphs with control characters: the text keeps "\n" and
    printable characters only, with the page's surrounding white space trimmed."""
    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    try:
        kept: list[tuple[str, int]] = []
        for index in range(textpage.count_chars()):
            char = chr(pdfium_c.FPDFText_GetUnicode(textpage, index))
            if char == "\n" or (char.isprintable() and char != PAGE_BREAK) or char == " ":
                kept.append((char, index))
            elif char == "\t":
                kept.append((" ", index))
    finally:
        textpage.close()
    kept = _reflow(kept)
    text = "".join(char for char, _ in kept)
    lead = len(text) - len(text.lstrip())
    trimmed = text.strip()
    return trimmed, [index for _, index in kept[lead:lead + len(trimmed)]]


def _reflow(kept: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Wrapped lines joined back into their paragraph. pdfium ends every printed line with a line break, so a
    sentence wrapped over two lines would be cut in two (sentences never cross line breaks: a text file's
    lines are headlines and paragraphs). A line is wrapped when it runs near the page's full measure (at least
    70 % of its longest line) without ending a sentence, or the next line goes on in lower case. Its break
    becomes a space (after a hyphen: nothing), so every kept character keeps its pdfium index."""
    lines: list[list[tuple[str, int]]] = [[]]
    for item in kept:
        lines[-1].append(item)
        if item[0] == "\n":
            lines.append([])
    widths = [len("".join(c for c, _ in line).strip()) for line in lines]
    measure = max(widths, default=0)
    joined: list[tuple[str, int]] = []
    for i, line in enumerate(lines):
        if not line or line[-1][0] != "\n" or i + 1 == len(lines):
            joined += line
            continue
        body = "".join(c for c, _ in line[:-1]).rstrip()
        following = "".join(c for c, _ in lines[i + 1]).lstrip()
        wrapped = body and following and (following[0].islower() or (
            widths[i] >= 0.7 * measure and not body.endswith((".", "!", "?", ":", "\u201d", '"'))))
        if not wrapped:
            joined += line
        elif body.endswith("-"):
            joined += line[:-1]
        else:
            joined += line[:-1] + [(" ", line[-1][1])]
    return joined


def _boxes(page, chars: list[int]) -> tuple[tuple[float, float, float, float], ...]:
    """Line boxes of these pdfium characters, as shares of the page (top-left origin); none on a rotated page,
    whose drawing turns but whose character boxes do not."""
    if not chars or page.get_rotation():
        return ()
    left, bottom, right, top = page.get_bbox()
    width, height = right - left, top - bottom
    textpage = page.get_textpage()
    try:
        first, last = chars[0], chars[-1]
        boxes = []
        for i in range(textpage.count_rects(first, last - first + 1)):
            x0, y0, x1, y1 = textpage.get_rect(i)
            boxes.append(((x0 - left) / width, (top - y1) / height, (x1 - left) / width, (top - y0) / height))
    finally:
        textpage.close()
    return tuple(tuple(round(min(1.0, max(0.0, v)), 5) for v in box) for box in boxes)


def _draw(page, dpi: int):
    """The page as a PIL image at this resolution."""
    return page.render(scale=dpi / 72).to_pil()
