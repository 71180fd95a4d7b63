"""Office, e-book, mail and table formats (index/office.py), read through the public dispatcher: every fixture
is built here, every expected text is exact, and a damaged file of each format is skipped with one line."""

from __future__ import annotations

import datetime
import email.policy
import io
import zipfile
from email.message import EmailMessage

import pytest

from index import office
from index.loaders import SUPPORTED_SUFFIXES, SkipFile, extract
from index.records import PAGE_BREAK, page_at

OFFICE_SUFFIXES = (".pptx", ".xlsx", ".csv", ".epub", ".eml", ".odt", ".rtf")


def read(name: str, data: bytes) -> str:
    text = extract(name, data).text
    assert "\r" not in text
    return text


# ----- fixtures, written with each format's own library ----------------------------------------------


def make_pptx() -> bytes:
    """Slide 1: a title, two text boxes added bottom-first, a table; slide 2: empty; slide 3: a title, a
    group of two boxes added right-first, and speaker notes."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[5])  # "Title Only"
    first.shapes.title.text = "Harbour   review 2024"
    lower = first.shapes.add_textbox(Inches(1), Inches(5), Inches(6), Inches(1))
    lower.text_frame.text = "Dock workers voted in October."
    upper = first.shapes.add_textbox(Inches(1), Inches(2), Inches(6), Inches(1)).text_frame
    upper.text = "The Port of Veltria handled 4.2 million containers in 2023.\vA soft line break."
    upper.add_paragraph().text = "Second paragraph."
    table = first.shapes.add_table(2, 2, Inches(1), Inches(3), Inches(6), Inches(1)).table
    for r, row in enumerate([["Quarter", "Containers"], ["Q1", "1.1 million"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    deck.slides.add_slide(deck.slide_layouts[6])  # "Blank": no shapes at all
    third = deck.slides.add_slide(deck.slide_layouts[5])
    third.shapes.title.text = "Cranes"
    group = third.shapes.add_group_shape()
    group.shapes.add_textbox(Inches(5), Inches(2), Inches(3), Inches(1)).text_frame.text = "Right column"
    group.shapes.add_textbox(Inches(1), Inches(2), Inches(3), Inches(1)).text_frame.text = "Left column"
    third.notes_slide.notes_text_frame.text = "Mention the March opening."
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


def make_xlsx() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    ports = book.active
    ports.title = "Ports"
    ports.append(["Port", "Containers", "Opened", None])  # the 4th header cell is empty
    ports.append(["Veltria", 4.0, datetime.date(2023, 3, 1), "north quay"])
    ports.append(["Kesh", 2.5, None, None, "beyond the header"])
    ports.append([])
    ports.append(["Orrin", 12, datetime.datetime(2024, 1, 2, 14, 30), None])
    staff = book.create_sheet("Staff")
    staff.append([None])
    staff.append(["Name", "Role"])
    staff.append(["Mara Oyelaran", "Principal conductor"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


CSV_SEMICOLONS = (b"name;city;founded\r\nIngrid Halvard;Veltria;1958\r\n;Kesh;\r\n\r\n"
                  b'"Smith; J";Orrin;1960;extra\r\n')


def make_epub(tmp_path) -> bytes:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("harbour-tales")
    book.set_title("Harbour Tales")
    book.set_language("en")
    one = epub.EpubHtml(title="One", file_name="one.xhtml", lang="en")
    one.content = "<h1>The Harbour</h1><p>The port opened in 1931.</p>"
    two = epub.EpubHtml(title="Two", file_name="two.xhtml", lang="en")
    two.content = "<h1>The Cranes</h1><p>Cranes   arrived in <em>March</em>.</p>"
    for item in (two, one, epub.EpubNcx(), epub.EpubNav()):  # manifest order differs from the spine's
        book.add_item(item)
    book.toc = (one, two)
    book.spine = ["nav", one, two]
    path = tmp_path / "tales.epub"
    epub.write_epub(str(path), book)
    return path.read_bytes()


def make_eml(html_only: bool = False) -> bytes:
    message = EmailMessage()
    message["Subject"] = "Crane   terminal"
    message["From"] = "Ingrid Halvard <ingrid@example.org>"
    message["To"] = "team@example.org"
    message["Date"] = "Tue, 05 Mar 2024 10:00:00 +0000"
    html = "<html><body><p>The crane terminal opens in <b>March</b>.</p><p>Bring hard hats.</p></body></html>"
    if html_only:
        message.set_content(html, subtype="html")
    else:
        message.set_content("The crane terminal opens in March.\n\n\n\nBring   hard hats.\n")
        message.add_alternative(html, subtype="html")
        message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="plan.pdf")
        message.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename="crane.png")
    return message.as_bytes(policy=email.policy.SMTP)  # CRLF line ends, as mail travels


def make_odt() -> bytes:
    from odf import teletype
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text="Mount Orrin"))
    paragraph = P()
    teletype.addTextToElement(paragraph, "It last erupted in 1931,   burying\tKesh.")
    document.text.addElement(paragraph)
    document.text.addElement(P(text="The summit stands 3,120 metres above sea level."))
    buffer = io.BytesIO()
    document.write(buffer)
    return buffer.getvalue()


RTF = (rb"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0 Times New Roman;}}" b"\r\n"
       rb"\f0\fs24 The caf\'e9 in Kesh opened in 1931.  \par" b"\r\n"
       rb"Its   owner is {\b Ingrid} Halvard.\par}")


# ----- exact texts -----------------------------------------------------------------------------------


def test_every_office_suffix_is_dispatched():
    assert set(OFFICE_SUFFIXES) <= set(SUPPORTED_SUFFIXES)


def test_pptx_slides_in_reading_order_with_a_page_break_after_each():
    text = read("deck.pptx", make_pptx())
    assert text == (
        "Harbour review 2024\n"
        "The Port of Veltria handled 4.2 million containers in 2023.\n"
        "A soft line break.\n"
        "Second paragraph.\n"
        "Quarter | Containers\n"
        "Q1 | 1.1 million\n"
        "Dock workers voted in October." + PAGE_BREAK
        + PAGE_BREAK  # the empty slide keeps its place
        + "Cranes\nLeft column\nRight column\nNotes:\nMention the March opening." + PAGE_BREAK)
    assert text.count(PAGE_BREAK) == 3 and text.endswith(PAGE_BREAK)
    assert page_at(text, text.index("4.2 million")) == 1
    assert page_at(text, text.index("Dock workers")) == 1
    assert page_at(text, text.index("Cranes")) == 3
    assert page_at(text, text.index("March opening")) == 3


def test_one_slide_deck_is_still_paged():
    from pptx import Presentation

    deck = Presentation()
    deck.slides.add_slide(deck.slide_layouts[5]).shapes.title.text = "Only slide"
    buffer = io.BytesIO()
    deck.save(buffer)
    text = read("one.pptx", buffer.getvalue())
    assert text == "Only slide" + PAGE_BREAK
    assert page_at(text, 0) == 1


def test_xlsx_rows_become_labelled_lines_per_sheet():
    assert read("ports.xlsx", make_xlsx()).split("\n") == [
        "Sheet: Ports",
        "Port: Veltria; Containers: 4; Opened: 2023-03-01; column 4: north quay",
        "Port: Kesh; Containers: 2.5; column 5: beyond the header",
        "Port: Orrin; Containers: 12; Opened: 2024-01-02 14:30:00",
        "Sheet: Staff",
        "Name: Mara Oyelaran; Role: Principal conductor",
    ]


def test_single_sheet_has_no_sheet_line_and_rows_are_bounded(monkeypatch):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["n", "square"])
    for n in range(1, 11):
        book.active.append([n, n * n])
    buffer = io.BytesIO()
    book.save(buffer)
    monkeypatch.setattr(office, "MAX_ROWS", 4)  # header + 3 rows read, the rest left out without error
    assert read("squares.xlsx", buffer.getvalue()).split("\n") == [
        "n: 1; square: 1", "n: 2; square: 4", "n: 3; square: 9"]


def test_csv_semicolons_sniffed_and_same_lines_as_xlsx():
    assert read("people.csv", CSV_SEMICOLONS).split("\n") == [
        "name: Ingrid Halvard; city: Veltria; founded: 1958",
        "city: Kesh",
        "name: Smith; J; city: Orrin; founded: 1960; column 4: extra",
    ]


def test_csv_tabs_and_commas():
    assert read("t.csv", b"a\tb\n1\t2\n") == "a: 1; b: 2"
    assert read("c.csv", b'a,b\n"x, y",2\n') == "a: x, y; b: 2"


def test_epub_chapters_in_spine_order(tmp_path):
    assert read("tales.epub", make_epub(tmp_path)) == (
        "The Harbour\nThe port opened in 1931.\n\nThe Cranes\nCranes arrived in March.")


def test_eml_headers_plain_body_and_attachment_names():
    assert read("crane.eml", make_eml()) == (
        "Subject: Crane terminal\n"
        "From: Ingrid Halvard <ingrid@example.org>\n"
        "To: team@example.org\n"
        "Date: Tue, 05 Mar 2024 10:00:00 +0000\n"
        "\n"
        "The crane terminal opens in March.\n"
        "\n"
        "Bring hard hats.\n"
        "\n"
        "Attachments: plan.pdf, crane.png")


def test_eml_html_only_body_is_made_text():
    assert read("crane.eml", make_eml(html_only=True)).split("\n\n")[1] == (
        "The crane terminal opens in March.\nBring hard hats.")


def test_odt_headings_and_paragraphs_in_order():
    assert read("orrin.odt", make_odt()) == (
        "Mount Orrin\nIt last erupted in 1931, burying Kesh.\nThe summit stands 3,120 metres above sea level.")


def test_rtf_paragraphs_and_escapes():
    assert read("kesh.rtf", RTF) == "The café in Kesh opened in 1931.\nIts owner is Ingrid Halvard."


def test_stray_form_feed_is_no_page_break():
    text = read("ff.csv", b"note\nbefore\fafter\n")
    assert text == "note: before after" and page_at(text, 0) is None


# ----- damaged files -------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", OFFICE_SUFFIXES)
@pytest.mark.parametrize("data", [b"PK\x03\x04 garbage", bytes(range(256)) * 8], ids=["zip-header", "binary"])
def test_damaged_file_is_skipped_with_one_line(suffix, data):
    with pytest.raises(SkipFile) as caught:
        extract(f"damaged{suffix}", data)
    reason = str(caught.value)
    assert reason.startswith(f"not a readable {suffix} (") and "\n" not in reason


def test_a_zip_that_is_not_the_format_is_skipped():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hello")
    for suffix in (".pptx", ".xlsx", ".epub", ".odt"):
        with pytest.raises(SkipFile, match=f"not a readable \\{suffix} "):
            extract(f"other{suffix}", buffer.getvalue())


# ----- end to end ----------------------------------------------------------------------------------


def test_indexed_office_files_are_quoted_exactly(make_services, tmp_path):
    folder = tmp_path / "office"
    folder.mkdir()
    (folder / "deck.pptx").write_bytes(make_pptx())
    (folder / "ports.xlsx").write_bytes(make_xlsx())
    (folder / "crane.eml").write_bytes(make_eml())
    services = make_services()
    report = services.indexer.sync([str(folder)], progress=False)
    assert report.skipped == [] and len(report.added) == 3
    stored = {doc.source: services.indexer.document_text(doc.sha256) for doc in services.indexer.documents()}
    for name in ("deck.pptx", "ports.xlsx", "crane.eml"):
        path = folder / name
        assert stored[str(path)] == extract(str(path), path.read_bytes()).text

    answer = services.answerer.ask("How many containers did the Port of Veltria handle in 2023?")
    assert answer.citations
    for citation in answer.citations:
        assert stored[citation.source][citation.start:citation.end] == citation.quote
    best = answer.citations[0]
    assert best.source == str(folder / "deck.pptx") and "4.2 million containers" in best.quote
    assert page_at(stored[best.source], best.start) == 1
