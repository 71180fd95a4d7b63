"""PDF pages in citations and the page view, OCR of scans and images, and readers held to their budgets."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw, ImageFont

from assistant.cli import format_citations
from assistant.library import Library, PageUnavailable
from index import ocr
from index.loaders import extract
from index.records import PAGE_BREAK, page_at

# One fact a page, so a citation's page can be checked exactly.
MILL_PAGES = [
    "The Orvik mill opened in 1874 on the banks of the Dall river.",
    "In its best year the Orvik mill ground 4,300 sacks of rye flour.",
    "The mill closed in 1962 when the weir was washed away by a flood.",
]
SCANNED_LINES = ["The Brenna ferry carried 61,000 passengers in 1998.", "Its last crossing was on 9 May 2004."]
PHOTOGRAPHED_LINES = ["The Kolvik lighthouse keeper logged 212 storms.", "He retired in 1987."]
needs_tesseract = pytest.mark.skipif(not ocr.available(), reason="needs Debian's tesseract-ocr (make test installs it)")


def write_paged_pdf(path, pages: list[str]) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=13)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 9, "Orvik mill history", new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 9, text, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))


def text_image(lines: list[str]) -> Image.Image:
    """A white page with black text: what a scanner gives, at a size Tesseract reads well."""
    image = Image.new("RGB", (1600, 120 + 90 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=44)
    for i, line in enumerate(lines):
        draw.text((60, 60 + 90 * i), line, fill="black", font=font)
    return image


def write_scanned_pdf(path, image: Image.Image, text_page: str) -> None:
    """Page 1 an image only (no text layer), page 2 real text."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.image(image, x=10, y=10, w=190)
    pdf.add_page()
    pdf.set_font("Helvetica", size=13)
    pdf.multi_cell(0, 9, text_page, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))


@pytest.fixture(scope="module")
def mill(tmp_path_factory, embedder):
    from assistant.services import Services
    from assistant.settings import load_settings

    base = tmp_path_factory.mktemp("pages")
    folder = base / "docs"
    folder.mkdir()
    write_paged_pdf(folder / "mill.pdf", MILL_PAGES)
    services = Services(load_settings(home=str(base / "home"), llm="none"))
    services.embedder = embedder
    report = services.indexer.sync([str(folder)], progress=False)
    assert report.added == [str(folder / "mill.pdf")], report.summary()
    return services, folder


def test_a_pdf_text_holds_its_pages_in_order(tmp_path):
    write_paged_pdf(tmp_path / "mill.pdf", MILL_PAGES)
    text = extract(str(tmp_path / "mill.pdf"), (tmp_path / "mill.pdf").read_bytes()).text
    pages = text.split(PAGE_BREAK)
    assert pages[-1] == "" and len(pages) == 4  # every page ends with a break, the last one too
    for number, fact in enumerate(MILL_PAGES, start=1):
        assert fact in pages[number - 1]
        assert page_at(text, text.index(fact)) == number


def test_wrapped_lines_are_one_paragraph_and_its_quote_is_marked_on_both(tmp_path):
    from fpdf import FPDF

    from index.pdf import draw_page

    heading = "Harbour works"
    wrapped = ("The council approved the harbour dredging contract worth 12 million crowns after a long debate "
               "that ran late into the evening. Work starts in the spring.")
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, heading, new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 8, wrapped, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(tmp_path / "works.pdf"))
    data = (tmp_path / "works.pdf").read_bytes()
    text = extract(str(tmp_path / "works.pdf"), data).text
    assert text == f"{heading}\n{wrapped}{PAGE_BREAK}"  # the heading keeps its line; the wrapped lines join
    sentence = wrapped.split(" Work")[0]
    start = text.index(sentence)
    page = draw_page(data, 1, start, start + len(sentence))
    assert len(page.boxes) == 2  # the sentence runs over two printed lines: both are marked
    assert page.boxes[0][1] < page.boxes[1][1]


def test_each_citation_carries_its_page(mill):
    services, _ = mill
    answer = services.answerer.ask("How many sacks of rye flour did the Orvik mill grind?")
    best = answer.citations[0]
    assert best.quote == MILL_PAGES[1] and best.page == 2
    text = services.indexer.document_text(services.indexer.documents()[0].sha256)
    assert text[best.start:best.end] == best.quote
    assert answer.model_dump()["citations"][0]["page"] == 2  # what `ask --json` prints
    assert f"mill.pdf, p. 2 (chars {best.start}-{best.end})" in format_citations(answer)


def test_the_cited_page_is_drawn_with_the_quote_marked(mill):
    services, _ = mill
    citation = services.answerer.ask("When did the Orvik mill close?").citations[0]
    assert citation.page == 3
    page = Library(services).cited_page(citation)
    image = Image.open(io.BytesIO(page.png))
    assert (image.width, image.height) == (page.width, page.height) and not page.ocr
    assert len(page.boxes) == 1  # the quote is one printed line
    left, top, right, bottom = page.boxes[0]
    assert 0 <= left < right <= 1 and 0 <= top < bottom < 0.2  # near the top of an A4 page
    # The box covers ink: the quote's printed text, not white paper.
    box = image.convert("L").crop((int(left * image.width), int(top * image.height),
                                   int(right * image.width) + 1, int(bottom * image.height) + 1))
    pixels = box.tobytes()
    assert min(pixels) < 100
    assert sum(1 for v in pixels if v < 128) > 0.05 * len(pixels)


def test_a_changed_pdf_has_no_page_to_show(mill, tmp_path):
    services, folder = mill
    citation = services.answerer.ask("When did the Orvik mill open?").citations[0]
    original = (folder / "mill.pdf").read_bytes()
    try:
        write_paged_pdf(folder / "mill.pdf", list(reversed(MILL_PAGES)))
        with pytest.raises(PageUnavailable, match="has changed since it was indexed"):
            Library(services).cited_page(citation)
    finally:
        (folder / "mill.pdf").write_bytes(original)


@needs_tesseract
def test_scans_and_images_are_read_by_ocr(tmp_path, make_services):
    folder = tmp_path / "docs"
    folder.mkdir()
    text_image(PHOTOGRAPHED_LINES).save(folder / "kolvik.png")
    write_scanned_pdf(folder / "ferry-scan.pdf", text_image(SCANNED_LINES), "The Brenna ferry was built in Bergen.")
    services = make_services(llm="none")
    report = services.indexer.sync([str(folder)], progress=False)
    assert sorted(report.added) == sorted([str(folder / "kolvik.png"), str(folder / "ferry-scan.pdf")])
    assert report.read_by_ocr == {str(folder / "kolvik.png"): 1, str(folder / "ferry-scan.pdf"): 1}
    assert "read by OCR: " + str(folder / "kolvik.png") + " (1 page)" in report.summary()
    texts = {doc.source: services.indexer.document_text(doc.sha256) for doc in services.indexer.documents()}
    # OCR read every word right.
    assert all(line in texts[str(folder / "kolvik.png")] for line in PHOTOGRAPHED_LINES)
    assert all(line in texts[str(folder / "ferry-scan.pdf")].split(PAGE_BREAK)[0] for line in SCANNED_LINES)
    photographed = services.answerer.ask("How many storms did the Kolvik lighthouse keeper log?").citations[0]
    assert photographed.quote == PHOTOGRAPHED_LINES[0] and photographed.page is None
    scanned = services.answerer.ask("How many passengers did the Brenna ferry carry?").citations[0]
    assert scanned.source == str(folder / "ferry-scan.pdf")
    assert scanned.page == 1 and scanned.quote == SCANNED_LINES[0]
    for citation in (photographed, scanned):
        assert texts[citation.source][citation.start:citation.end] == citation.quote
    page = Library(services).cited_page(scanned)
    assert page.ocr and page.boxes == ()  # drawn, but OCR keeps no character boxes to mark


NESTED_HTML = "<html><body>" + "<div>" * 400_000 + "Buried text." + "</div>" * 400_000 + "</body></html>"


def test_a_reader_over_its_budget_is_stopped_and_the_run_goes_on(tmp_path, make_services):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "nested.html").write_text(NESTED_HTML)  # several seconds of parsing: far over a 0.3 s budget
    (folder / "good.txt").write_text("The Tarn valley railway opened in 1911.\n")
    write_paged_pdf(folder / "mill.pdf", MILL_PAGES)
    services = make_services(llm="none", extract_seconds=0.3)
    report = services.indexer.sync([str(folder)], progress=False)
    assert sorted(report.added) == [str(folder / "good.txt"), str(folder / "mill.pdf")]
    assert [s.path for s in report.skipped] == [str(folder / "nested.html")]
    assert "took over 0.3 s without progress" in report.skipped[0].reason
    # The same through the chat's upload: the file is refused with its reason, later writes go on.
    library = Library(services)
    uploaded = library.add([str(folder / "nested.html"), str(folder / "good.txt")], progress=False)
    assert [s.reason for s in uploaded.skipped][0].startswith("reading it took over 0.3 s")
    assert uploaded.added == [str(services.settings.home / "documents" / "good.txt")]


def test_the_nested_html_bomb_reads_in_a_streaming_pass(tmp_path, make_services):
    """Within the default budget the bomb is no threat: it is read (no tree is built), not skipped."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "nested.html").write_text(NESTED_HTML)
    report = make_services(llm="none").indexer.sync([str(folder)], progress=False)
    assert report.added == [str(folder / "nested.html")] and not report.skipped


def test_a_reader_that_blows_its_memory_budget_is_stopped(tmp_path, make_services):
    folder = tmp_path / "docs"
    folder.mkdir()
    # 7,600 x 7,600 white pixels: a 0.2 MB PNG under the decompression-bomb size that decodes to 173 MB,
    # over a 256 MB budget once the worker's own libraries and a grey copy for OCR are counted.
    Image.new("RGB", (7_600, 7_600), "white").save(folder / "inflates.png", optimize=True)
    (folder / "good.txt").write_text("The Tarn valley railway opened in 1911.\n")
    services = make_services(llm="none", extract_memory_mb=256)
    report = services.indexer.sync([str(folder)], progress=False)
    assert report.added == [str(folder / "good.txt")]
    assert "over 256 MB" in report.skipped[0].reason, report.skipped
