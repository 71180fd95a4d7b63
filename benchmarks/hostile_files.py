"""Hostile files: 100 crafted files and 21 good ones, indexed by the installed `assistant` command.

Generates, in a temporary folder, 100 hostile files of many kinds (nested-HTML and deep-table bombs, 3 MB
one-line pages, 1 GB zip bombs dressed as .docx/.xlsx/.pptx/.odt/.epub, XML entity bombs and external
entities, truncated and crafted PDFs, million-page and giant-page PDFs, image decompression bombs,
multi-frame floods, truncated images, binary junk and bad encodings under text extensions, empty and blank
files, a 49 MB CSV field, MIME and RTF nesting, far-away spreadsheet cells, sentence-splitter worst cases,
symlink loops, fifos, sockets, devices, oversized and unsupported files) next to 21 good files of every
supported format (a 60-page scan among them), then runs

    assistant --home HOME --no-llm index FOLDER --json --quiet

as a subprocess with default settings (extract_seconds 60, extract_memory_mb 2048, max_file_mb 50; no
ASSISTANT_* variables, no assistant.toml), and prints a Markdown report: wall time, peak RSS, every hostile
file with its outcome, reason and a check of any text it was indexed with, every good file (was it added,
does its text hold its fact). A second pass (skip it with --no-per-file) reads each file alone through the
same code path as indexing (index.loaders.read_file, then index.extraction.ExtractionWorker under the same
budgets, then index.chunking.Chunker) and times it. About 1.5 minutes to build, 7-10 to index, 7 for the
second pass on a 2-core machine.

    .venv/bin/python benchmarks/hostile_files.py                     # the report, printed
    .venv/bin/python benchmarks/hostile_files.py --no-per-file --out report.md
    .venv/bin/python benchmarks/hostile_files.py --keep /tmp/hostile --raw raw.json   # keep files, home, data
    .venv/bin/python benchmarks/hostile_files.py --from-raw raw.json  # the report again, no run
    .venv/bin/python benchmarks/hostile_files.py --slow   # + a million blank pages: the 20-minute total budget
"""

from __future__ import annotations

import argparse
import email.message
import io
import itertools
import json
import os
import platform
import random
import re
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import ocr_speed  # noqa: E402  (its cpu_line)

GB = 1 << 30
MB = 1 << 20
CANARY = "XXE-CANARY-7731"  # the content of a file outside the folder that external entities point at
rng = random.Random(20261127)


# ----- catalogue ------------------------------------------------------------------------------------


@dataclass
class Hostile:
    name: str
    kind: str
    expect: str  # "skip": must be skipped; "read": has real text, reading it within budget is right;
    #              "either": a reader may recover its text or refuse it
    build: Callable[[Path], None]
    note: str = ""
    fact: str = ""  # if read: words its text must hold
    hidden: str = ""  # if read: words its text must not hold (a comment, an attribute, a made-up column name)
    slow: bool = False  # only with --slow: it takes the product's whole time budget (20 minutes)


@dataclass
class Good:
    name: str
    fact: str  # words its extracted text must hold
    build: Callable[[Path], None]


HOSTILE: list[Hostile] = []
GOOD: list[Good] = []


def hostile(name: str, kind: str, expect: str, note: str = "", fact: str = "", hidden: str = "", slow: bool = False):
    def register(build):
        HOSTILE.append(Hostile(name, kind, expect, build, note, fact, hidden, slow))
        return build
    return register


def good(name: str, fact: str):
    def register(build):
        GOOD.append(Good(name, fact, build))
        return build
    return register


# ----- small builders -------------------------------------------------------------------------------


def text_image(lines: list[str], size: tuple[int, int] = (1400, 420), font_size: int = 40):
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=font_size)
    for i, line in enumerate(lines):
        draw.text((40, 40 + i * int(font_size * 1.6)), line, fill=0, font=font)
    return image


def fpdf_text_pdf(pages: list[list[str]], **page_size) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(**page_size)
    pdf.set_font("Helvetica", size=12)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            pdf.multi_cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def raw_pdf(objects: dict[int, bytes], root: int = 1) -> bytes:
    """A PDF from numbered object bodies, with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    size = max(objects) + 1
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += (b"%010d 00000 n \n" % offsets[number]) if number in offsets else b"0000000000 65535 f \n"
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, root, xref)
    return bytes(out)


def stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


FONT = b"<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>"


def text_ops(text: str) -> bytes:
    return b"BT /F1 18 Tf 40 100 Td (" + text.encode("latin-1") + b") Tj ET"


def deflated(pieces, level: int = 9) -> bytes:
    """zlib stream of an iterable of byte pieces, compressed as they come (never all in memory)."""
    compressor = zlib.compressobj(level)
    out = bytearray()
    for piece in pieces:
        out += compressor.compress(piece)
    out += compressor.flush()
    return bytes(out)


def repeated(unit: bytes, total: int, piece: int = 16 * MB):
    """`unit` repeated to `total` bytes, yielded in pieces of about `piece` bytes."""
    block = unit * max(1, piece // len(unit))
    left = total
    while left > 0:
        yield block[:left]
        left -= len(block)


def png_bytes(width: int, height: int, bit_depth: int, color_type: int, rows, truncate_at: int | None = None) -> bytes:
    """A PNG from an iterable of raw scanlines (filter byte added here), IDAT compressed as it streams."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    def filtered():
        batch = bytearray()
        for row in rows:
            batch += b"\x00" + row
            if len(batch) > 4 * MB:
                yield bytes(batch)
                batch.clear()
        yield bytes(batch)

    idat = deflated(filtered())
    if truncate_at is not None:
        idat = idat[:truncate_at]
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def tiff_frames(width: int, height: int, frames: int) -> bytes:
    """A little-endian 1-bit TIFF of `frames` white pages that all share one deflated strip (a tiny file)."""
    strip = zlib.compress(bytes(((width + 7) // 8) * height), 9)
    out = bytearray(b"II*\x00\x00\x00\x00\x00")
    strip_at = len(out)
    out += strip + b"\x00" * (len(strip) % 2)
    # (tag, type: 3 SHORT / 4 LONG, value); 259=8 Adobe deflate, 262=0 WhiteIsZero
    entries = [(256, 4, width), (257, 4, height), (258, 3, 1), (259, 3, 8), (262, 3, 0), (273, 4, strip_at),
               (277, 3, 1), (278, 4, height), (279, 4, len(strip))]
    ifd_size = 2 + 12 * len(entries) + 4
    struct.pack_into("<I", out, 4, len(out))
    for i in range(frames):
        following = len(out) + ifd_size if i < frames - 1 else 0
        out += struct.pack("<H", len(entries))
        for tag, kind, value in entries:
            out += struct.pack("<HHIHH", tag, kind, 1, value, 0) if kind == 3 else struct.pack("<HHII", tag, kind, 1, value)
        out += struct.pack("<I", following)
    return bytes(out)


def rewrite_zip(template: bytes, path: Path, replace: dict[str, object], add: dict[str, object] | None = None) -> None:
    """Copy a zip-based document, replacing some members and adding others. A member's new content is
    bytes, or a (prefix, unit, total, suffix) filler streamed into the archive so a 1 GB member never
    sits in memory."""
    def write(archive: zipfile.ZipFile, info: zipfile.ZipInfo, content) -> None:
        if isinstance(content, bytes):
            archive.writestr(info, content)
            return
        prefix, unit, total, suffix = content
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            member.write(prefix)
            for piece in repeated(unit, total):
                member.write(piece)
            member.write(suffix)

    with zipfile.ZipFile(io.BytesIO(template)) as source, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            new = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            new.compress_type = info.compress_type
            write(target, new, replace[info.filename] if info.filename in replace else source.read(info))
        for name, content in (add or {}).items():
            write(target, zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), content)


def member_named(template: bytes, suffix: str) -> str:
    with zipfile.ZipFile(io.BytesIO(template)) as archive:
        return next(name for name in archive.namelist() if name.endswith(suffix))


# Templates: small valid documents (bytes), built once.
def docx_bytes(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_bytes(rows: list[list], sheets: int = 1) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for n in range(sheets):
        sheet = book.active if n == 0 else book.create_sheet()
        sheet.title = f"Sheet{n + 1}" if n else sheet.title
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def pptx_bytes(slides: list[tuple[str, str]]) -> bytes:
    from pptx import Presentation

    deck = Presentation()
    for title, body in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def odt_bytes(paragraphs: list[str]) -> bytes:
    from odf.opendocument import OpenDocumentText
    from odf.text import P

    document = OpenDocumentText()
    for paragraph in paragraphs:
        document.text.addElement(P(text=paragraph))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def epub_bytes(title: str, chapter_html: str) -> bytes:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("hostile-benchmark-" + title.lower().replace(" ", "-"))
    book.set_title(title)
    book.set_language("en")
    chapter = epub.EpubHtml(title="Chapter one", file_name="chap_01.xhtml", lang="en")
    chapter.content = chapter_html
    book.add_item(chapter)
    book.toc = (chapter,)
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", chapter]
    with tempfile.NamedTemporaryFile(suffix=".epub") as handle:
        epub.write_epub(handle.name, book)
        return Path(handle.name).read_bytes()


def eml_bytes(subject: str, body: str, html: bool = False, attachment: bytes | None = None) -> bytes:
    message = email.message.EmailMessage()
    message["Subject"] = subject
    message["From"] = "Ines Marlow <ines@example.org>"
    message["To"] = "archive@example.org"
    message["Date"] = "Tue, 10 Nov 2026 09:30:00 +0000"
    message.set_content(body, subtype="html" if html else "plain")
    if attachment is not None:
        message.add_attachment(attachment, maintype="application", subtype="octet-stream", filename="dump.bin")
    return message.as_bytes()


W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
DOCX_HEAD = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document {W_NS}><w:body><w:p><w:r><w:t>'.encode()
DOCX_TAIL = b"</w:t></w:r></w:p></w:body></w:document>"
ODT_HEAD = (b'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content '
            b'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
            b'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
            b"<office:body><office:text><text:p>")
ODT_TAIL = b"</text:p></office:text></office:body></office:document-content>"
SST_HEAD = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst '
            b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>')
SST_TAIL = b"</t></si></sst>"
LAUGHS = ('<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
          + "".join(f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(2, 10)) + "]>")


def with_doctype(xml_head: bytes, doctype: str) -> bytes:
    """Insert a DOCTYPE after the XML declaration."""
    declaration_end = xml_head.index(b"?>") + 2
    return xml_head[:declaration_end] + b"\n" + doctype.encode() + xml_head[declaration_end:]


def sheet_xml(dimension: str, rows_xml: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet '
            'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f'<dimension ref="{dimension}"/><sheetData>{rows_xml}</sheetData></worksheet>').encode()


def inline_cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


XLSX_TEMPLATE = xlsx_bytes([["town"]])


def xlsx_shared_strings(path: Path, shared_strings) -> None:
    """An .xlsx whose A1 is shared string 0, with sharedStrings.xml given as bytes or a streamed filler
    (openpyxl itself writes inline strings, so the part, its relationship and content type are added here)."""
    with zipfile.ZipFile(io.BytesIO(XLSX_TEMPLATE)) as archive:
        rels = archive.read("xl/_rels/workbook.xml.rels")
        types = archive.read("[Content_Types].xml")
    rels = rels.replace(b"</Relationships>", b'<Relationship Type="http://schemas.openxmlformats.org/officeDocument/'
                        b'2006/relationships/sharedStrings" Target="sharedStrings.xml" Id="rId9"/></Relationships>')
    types = types.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                          b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    sheet = sheet_xml("A1:A2", '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
                               f'<row r="2">{inline_cell("A2", "Pellham")}</row>')
    rewrite_zip(XLSX_TEMPLATE, path, {"xl/_rels/workbook.xml.rels": rels, "[Content_Types].xml": types,
                                      "xl/worksheets/sheet1.xml": sheet},
                add={"xl/sharedStrings.xml": shared_strings})


# ----- good files -----------------------------------------------------------------------------------

TEMPLATE_DOCX = docx_bytes(["The Tessel rover drove 14 kilometres across the crater floor.",
                            "Its drill collected eleven rock samples."])


@good("scanned-60-pages.pdf", "Harlow survey")
def _(path):
    """A scan of 60 A4 pages at 300 dpi, one printed line a page."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format=(595.28, 841.89))
    for page in range(1, 61):
        png = io.BytesIO()
        text_image([f"Page {page} of the Harlow survey lists {page * 3} oak trees."], size=(2480, 3508)).save(png, "PNG")
        pdf.add_page()
        pdf.image(png, x=0, y=0, w=595.28, h=841.89)
    pdf.output(str(path))


@good("harbour.txt", "4.2 million containers")
def _(path):
    path.write_text("Veltria harbour report\n\nThe Port of Veltria handled 4.2 million containers in 2023.\n")


@good("volcano.md", "erupted in 1931")
def _(path):
    path.write_text("# Mount Orrin\n\nMount Orrin last erupted in 1931, burying the village of Kesh.\n")


@good("orchestra.html", "Mara Oyelaran")
def _(path):
    path.write_text("<html><head><title>Lindqvist</title><script>var x = 1;</script></head><body>"
                    "<p>The Lindqvist Orchestra appointed <b>Mara Oyelaran</b> as conductor.</p></body></html>")


@good("gallery.htm", "Corvina tapestry")
def _(path):
    path.write_text("<p>The Halden gallery bought the Corvina tapestry for 80,000 crowns.</p>")


@good("bakery.pdf", "Ingrid Halvard")
def _(path):
    path.write_bytes(fpdf_text_pdf([["The Halvard Bakery sells 900 loaves of rye bread every Saturday."],
                                    ["It was founded by Ingrid Halvard in 1958."],
                                    ["Its ovens burn beech wood from the Sorvik forest."]]))


@good("scanned-notice.pdf", "Quarry Lantern")
def _(path):
    from fpdf import FPDF

    png = io.BytesIO()
    text_image(["The Quarry Lantern guild met on Friday.", "Forty members voted for the new roof."]).save(png, "PNG")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(png, x=10, y=10, w=190)
    pdf.output(str(path))


@good("rover.docx", "eleven rock samples")
def _(path):
    path.write_bytes(TEMPLATE_DOCX)


@good("lighthouse.pptx", "Brannock lighthouse")
def _(path):
    path.write_bytes(pptx_bytes([("Coastal survey", "The Brannock lighthouse was automated in 1987."),
                                 ("Keepers", "Its last keeper retired to Dunmore.")]))


@good("rainfall.xlsx", "Pellham")
def _(path):
    path.write_bytes(xlsx_bytes([["town", "rainfall mm"], ["Pellham", 1142], ["Oskarby", 688]]))


@good("ferries.csv", "Saltholm")
def _(path):
    path.write_text("route,crossings per day\nSaltholm to Vedby,14\nVedby to Ormsund,6\n")


@good("invoice.eml", "invoice 5521")
def _(path):
    path.write_bytes(eml_bytes("Invoice", "Please find invoice 5521 for the Brightwater repairs.\n",
                               attachment=b"%PDF-1.4 fake"))


@good("newsletter.eml", "Tamsin Greave")
def _(path):
    path.write_bytes(eml_bytes("News", "<p>Our new editor is <b>Tamsin Greave</b>.</p>", html=True))


@good("novel.epub", "Captain Ilse Varro")
def _(path):
    path.write_bytes(epub_bytes("The Salt Road", "<h1>Chapter one</h1><p>Captain Ilse Varro sailed at dawn.</p>"))


@good("minutes.odt", "Kettering bridge")
def _(path):
    path.write_bytes(odt_bytes(["Council minutes", "The Kettering bridge will close for repairs in May."]))


@good("recipe.rtf", "cardamom buns")
def _(path):
    path.write_text(r"{\rtf1\ansi\deff0 {\fonttbl {\f0 Times;}}\f0 Grandmother's cardamom buns need "
                    r"{\b three} eggs.\par Bake them for 12 minutes.}")


@good("sign.png", "Quarry Lantern")
def _(path):
    text_image(["The Quarry Lantern guild met on Friday.", "Forty members voted for the new roof."]).save(path)


@good("receipt.jpg", "Copper Kettle")
def _(path):
    text_image(["Copper Kettle Cafe receipt", "Two pots of tea and a scone."]).convert("RGB").save(path, quality=90)


@good("pages.tiff", "Marsh Lane")
def _(path):
    first = text_image(["Page one of the Marsh Lane survey."])
    second = text_image(["Page two lists the oak trees."])
    first.save(path, save_all=True, append_images=[second], compression="tiff_deflate")


@good("legacy-cp1252.txt", "Thornbury")
def _(path):
    path.write_bytes("The Thornbury mill sold for \u00a3 48,000 \u2013 a record.\n".encode("cp1252"))


@good("utf16.txt", "Wexmoor")
def _(path):
    path.write_bytes("The Wexmoor choir sang in Tallinn in June.\n".encode("utf-16"))


# ----- hostile: HTML --------------------------------------------------------------------------------

SENTENCE = "The nested lighthouse keeper logged 412 storms."


@hostile("div-nest-100k.html", "nested-HTML bomb", "read", "100,000 nested <div>s around one sentence (1.1 MB)", fact=SENTENCE)
def _(path):
    path.write_text("<html><body>" + "<div>" * 100_000 + f"<p>{SENTENCE}</p>" + "</div>" * 100_000)


@hostile("div-nest-200k-unclosed.html", "nested-HTML bomb", "read", "200,000 <div>s never closed (1 MB)", fact=SENTENCE)
def _(path):
    path.write_text("<div>" * 200_000 + SENTENCE)


@hostile("div-nest-100k-no-text.html", "nested-HTML bomb", "skip", "100,000 nested <div>s, nothing inside")
def _(path):
    path.write_text("<div>" * 100_000 + "</div>" * 100_000)


@hostile("table-nest-40k.html", "nested-HTML bomb", "read", "40,000 nested <table><tr><td> (1.3 MB)", fact=SENTENCE)
def _(path):
    path.write_text("<table><tr><td>" * 40_000 + SENTENCE + "</td></tr></table>" * 40_000)


@hostile("script-nest-unclosed.html", "nested-HTML bomb", "skip", "100,000 <script> tags, text only inside script", hidden="SCRIPT_TEXT")
def _(path):
    path.write_text("<script>" * 100_000 + "var hidden = 'SCRIPT_TEXT';")


@hostile("oneline-attr-3mb.html", "3 MB one-line HTML", "read", "one 3 MB attribute value, one visible sentence", fact=SENTENCE)
def _(path):
    path.write_text('<div title="' + "x" * (3 * MB) + f'">{SENTENCE}</div>')


@hostile("oneline-text-3mb.html", "3 MB one-line HTML", "read", "3 MB of sentences on one line", fact=SENTENCE)
def _(path):
    path.write_text("<p>" + (SENTENCE + " ") * (3 * MB // (len(SENTENCE) + 1)) + "</p>")


@hostile("oneline-endtags-3mb.html", "3 MB one-line HTML", "skip", '"</" 1.5 million times, no ">"')
def _(path):
    path.write_text("</" * (3 * MB // 2))


@hostile("oneline-unclosed-comment-3mb.html", "3 MB one-line HTML", "read",
         "a sentence, then a comment opened and never closed holding 3 MB", fact=SENTENCE, hidden="HIDDENCOMMENT")
def _(path):
    path.write_text(f"<p>{SENTENCE}</p><!-- " + "HIDDENCOMMENT " * (3 * MB // 14))


@hostile("oneline-unclosed-tag-3mb.html", "3 MB one-line HTML", "read",
         "a sentence, then a tag opened and never closed with 3 MB of attributes", fact=SENTENCE, hidden="hiddenattr")
def _(path):
    path.write_text(f"<p>{SENTENCE}</p><a " + "hiddenattr=1 " * (3 * MB // 13))


# ----- hostile: zip bombs (1 GB members) ------------------------------------------------------------

ZEROS = (b"", b"\x00", GB, b"")
A_TEXT = b"A "  # 1 GB of "A A A ..." inside a text element


@hostile("bomb-zeros.docx", "zip bomb (1 GB member)", "skip", "word/document.xml = 1 GB of zeros")
def _(path):
    rewrite_zip(TEMPLATE_DOCX, path, {"word/document.xml": ZEROS})


@hostile("bomb-text.docx", "zip bomb (1 GB member)", "skip", "word/document.xml = 1 GB of text in one <w:t>")
def _(path):
    rewrite_zip(TEMPLATE_DOCX, path, {"word/document.xml": (DOCX_HEAD, A_TEXT, GB, DOCX_TAIL)})


@hostile("bomb-extra-member.docx", "zip bomb (1 GB member)", "read",
         "a sound document plus an unreferenced 1 GB member", fact="Tessel rover")
def _(path):
    rewrite_zip(TEMPLATE_DOCX, path, {}, add={"word/media/zeros.bin": ZEROS})


@hostile("bomb-zeros.xlsx", "zip bomb (1 GB member)", "skip", "the sheet's XML = 1 GB of zeros")
def _(path):
    template = xlsx_bytes([["town", "rainfall"], ["Pellham", 1]])
    rewrite_zip(template, path, {"xl/worksheets/sheet1.xml": ZEROS})


@hostile("bomb-sharedstrings.xlsx", "zip bomb (1 GB member)", "skip", "one 1 GB shared string")
def _(path):
    xlsx_shared_strings(path, (SST_HEAD, A_TEXT, GB, SST_TAIL))


@hostile("bomb-zeros.pptx", "zip bomb (1 GB member)", "skip", "slide 1's XML = 1 GB of zeros")
def _(path):
    rewrite_zip(pptx_bytes([("Survey", "Lighthouse")]), path, {"ppt/slides/slide1.xml": ZEROS})


@hostile("bomb-zeros.odt", "zip bomb (1 GB member)", "skip", "content.xml = 1 GB of zeros")
def _(path):
    rewrite_zip(odt_bytes(["Council minutes"]), path, {"content.xml": ZEROS})


@hostile("bomb-text.odt", "zip bomb (1 GB member)", "skip", "content.xml = 1 GB of text in one <text:p>")
def _(path):
    rewrite_zip(odt_bytes(["Council minutes"]), path, {"content.xml": (ODT_HEAD, A_TEXT, GB, ODT_TAIL)})


@hostile("bomb-zeros.epub", "zip bomb (1 GB member)", "skip", "the chapter = 1 GB of zeros")
def _(path):
    template = epub_bytes("Salt Road", "<p>Captain Ilse Varro sailed.</p>")
    rewrite_zip(template, path, {member_named(template, "chap_01.xhtml"): ZEROS})


@hostile("bomb-text.epub", "zip bomb (1 GB member)", "skip", "the chapter = 1 GB of text in one <p>")
def _(path):
    template = epub_bytes("Salt Road", "<p>Captain Ilse Varro sailed.</p>")
    rewrite_zip(template, path, {member_named(template, "chap_01.xhtml"):
                                 (b"<html><body><p>", A_TEXT, GB, b"</p></body></html>")})


# ----- hostile: XML entity expansion and external entities -------------------------------------------


def canary_entity(canary_path: Path) -> str:
    return f'<!DOCTYPE d [<!ENTITY xxe SYSTEM "file://{canary_path}">]>'


@hostile("laughs.docx", "XML entity bomb / external entity", "skip", "billion laughs in word/document.xml")
def _(path):
    rewrite_zip(TEMPLATE_DOCX, path, {"word/document.xml": with_doctype(DOCX_HEAD, LAUGHS) + b"&lol9;" + DOCX_TAIL})


@hostile("laughs.xlsx", "XML entity bomb / external entity", "skip", "billion laughs in sharedStrings.xml")
def _(path):
    xlsx_shared_strings(path, with_doctype(SST_HEAD, LAUGHS) + b"&lol9;" + SST_TAIL)


@hostile("laughs.odt", "XML entity bomb / external entity", "skip", "billion laughs in content.xml")
def _(path):
    rewrite_zip(odt_bytes(["x"]), path, {"content.xml": with_doctype(ODT_HEAD, LAUGHS) + b"&lol9;" + ODT_TAIL})


def _xxe(path: Path, template: bytes, member: str, head: bytes, tail: bytes) -> None:
    doctype = canary_entity(path.parent.parent / "canary.txt")
    rewrite_zip(template, path, {member: with_doctype(head, doctype) + b"Report: &xxe;" + tail})


@hostile("xxe.docx", "XML entity bomb / external entity", "either", "external entity to a file outside the folder", fact="Report")
def _(path):
    _xxe(path, TEMPLATE_DOCX, "word/document.xml", DOCX_HEAD, DOCX_TAIL)


@hostile("xxe.xlsx", "XML entity bomb / external entity", "either", "external entity in sharedStrings.xml", fact="Report")
def _(path):
    doctype = canary_entity(path.parent.parent / "canary.txt")
    xlsx_shared_strings(path, with_doctype(SST_HEAD, doctype) + b"Report: &xxe;" + SST_TAIL)


@hostile("xxe.odt", "XML entity bomb / external entity", "either", "external entity in content.xml", fact="Report")
def _(path):
    _xxe(path, odt_bytes(["x"]), "content.xml", ODT_HEAD, ODT_TAIL)


@hostile("xxe.pptx", "XML entity bomb / external entity", "either", "external entity in slide 1", fact="Report")
def _(path):
    template = pptx_bytes([("Survey", "Lighthouse")])
    with zipfile.ZipFile(io.BytesIO(template)) as archive:
        slide = archive.read("ppt/slides/slide1.xml")
    cut = slide.index(b"<a:t>") + len(b"<a:t>")
    _xxe(path, template, "ppt/slides/slide1.xml", slide[:cut], b"</a:t>" + slide[slide.index(b"</a:t>", cut) + 6:])


@hostile("xxe.epub", "XML entity bomb / external entity", "either", "external entity in the chapter", fact="Report")
def _(path):
    template = epub_bytes("Salt Road", "<p>Captain Ilse Varro sailed.</p>")
    _xxe(path, template, member_named(template, "chap_01.xhtml"),
         b'<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><body><p>',
         b"</p></body></html>")


# ----- hostile: PDF ---------------------------------------------------------------------------------

SOUND_PDF = fpdf_text_pdf([[f"Page {n}: the Orvik ferry log lists {n * 7} crossings."] * 20 for n in range(1, 7)])


@hostile("truncated-50pct.pdf", "truncated/corrupt PDF", "either", "a 6-page PDF cut in half", fact="Orvik ferry log")
def _(path):
    path.write_bytes(SOUND_PDF[:len(SOUND_PDF) // 2])


@hostile("truncated-10pct.pdf", "truncated/corrupt PDF", "either", "a 6-page PDF cut at 10 %", fact="Orvik ferry log")
def _(path):
    path.write_bytes(SOUND_PDF[:len(SOUND_PDF) // 10])


@hostile("header-only.pdf", "truncated/corrupt PDF", "skip", "%PDF-1.7 and nothing else")
def _(path):
    path.write_bytes(b"%PDF-1.7\n")


@hostile("junk.pdf", "truncated/corrupt PDF", "skip", "a PDF header, then 200 KB of random bytes")
def _(path):
    path.write_bytes(b"%PDF-1.7\n" + rng.randbytes(200_000))


@hostile("encrypted.pdf", "truncated/corrupt PDF", "skip", "encrypted with a user password")
def _(path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "Locked minutes of the Orvik board.")
    pdf.output(str(path))


@hostile("circular-pages.pdf", "truncated/corrupt PDF", "skip", "the page tree's Kids point back at itself")
def _(path):
    path.write_bytes(raw_pdf({1: b"<< /Type /Catalog /Pages 2 0 R >>",
                              2: b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
                              3: b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>"}))


def shared_page_tree(page: bytes, content: bytes, fanouts: list[int], content_filter: bytes = b"") -> bytes:
    """A PDF whose page tree has one node per level, each listing its one child `fanout` times, so it has
    prod(fanouts) pages that all share one leaf page object: a million pages in a file of 1 KB."""
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>"}
    count = 1
    for fanout in fanouts:
        count *= fanout
    for level, fanout in enumerate(fanouts):
        number = 2 + level
        parent = b" /Parent %d 0 R" % (number - 1) if level else b""
        objects[number] = b"<< /Type /Pages%s /Kids [%s] /Count %d >>" % (
            parent, b" ".join([b"%d 0 R" % (number + 1)] * fanout), count)
        count //= fanout
    leaf = 2 + len(fanouts)
    objects[leaf] = b"<< /Type /Page /Parent %d 0 R " % (leaf - 1) + page + b" /Contents %d 0 R /Resources %s >>" % (
        leaf + 1, FONT)
    objects[leaf + 1] = stream(content, content_filter)
    return raw_pdf(objects)


@hostile("million-pages-text.pdf", "PDF page count / page size", "either",
         "1,000,000 pages (a shared page tree, 1 KB file), each with a line of text", fact="Shared page")
def _(path):
    path.write_bytes(shared_page_tree(b"/MediaBox [0 0 200 200]", text_ops("Shared page."), [10] * 6))


@hostile("million-pages-huge-blank.pdf", "PDF page count / page size", "skip",
         "1,000,000 blank pages of 200 x 200 inches (1 KB file)")
def _(path):
    path.write_bytes(shared_page_tree(b"/MediaBox [0 0 14400 14400]", b"", [10] * 6))


@hostile("million-pages-blank.pdf", "PDF page count / page size", "skip",
         "1,000,000 blank Letter pages (1 KB file): each is OCR'd, each is progress", slow=True)
def _(path):
    path.write_bytes(shared_page_tree(b"/MediaBox [0 0 612 792]", b"", [10] * 6))


@hostile("blank-a4-100-pages.pdf", "PDF page count / page size", "skip",
         "100 blank A4 pages: every page goes to OCR")
def _(path):
    path.write_bytes(shared_page_tree(b"/MediaBox [0 0 595 842]", b"", [100]))


@hostile("tiny-blank-400-pages.pdf", "PDF page count / page size", "skip",
         "400 blank 20x20 pt pages: 400 Tesseract runs")
def _(path):
    path.write_bytes(shared_page_tree(b"/MediaBox [0 0 20 20]", b"", [400]))


@hostile("huge-page-blank.pdf", "PDF page count / page size", "skip",
         "one blank 200x200 inch page (60,000 px square at 300 dpi)")
def _(path):
    path.write_bytes(shared_page_tree(b"/MediaBox [0 0 14400 14400]", b"", [1]))


@hostile("huge-page-text.pdf", "PDF page count / page size", "read", "one 200x200 inch page with a line of text", fact="Orvik ferry")
def _(path):
    path.write_bytes(shared_page_tree(b"/MediaBox [0 0 14400 14400]", text_ops("The Orvik ferry sails at noon."),
                                      [1]))


@hostile("flate-bomb-content.pdf", "PDF page count / page size", "either",
         "a page whose content stream inflates to 1 GB of spaces, then a line of text", fact="Orvik ferry")
def _(path):
    content = deflated(itertools.chain(repeated(b" ", GB), [text_ops("The Orvik ferry sails at noon.")]))
    path.write_bytes(shared_page_tree(b"/MediaBox [0 0 200 200]", content, [1], b"/Filter /FlateDecode "))


# ----- hostile: images ------------------------------------------------------------------------------


def white_rows(width: int, height: int, bit_depth: int = 1):
    row = b"\xff" * ((width * bit_depth + 7) // 8)
    return (row for _ in range(height))


@hostile("bomb-30000x30000.png", "image decompression bomb", "skip", "900 megapixels, 1-bit, 110 KB")
def _(path):
    path.write_bytes(png_bytes(30_000, 30_000, 1, 0, white_rows(30_000, 30_000)))


@hostile("bomb-100mp-text.png", "image decompression bomb", "skip",
         "10,000 x 10,000, a line of text (100 MP: over the 60 MP limit, under twice it)")
def _(path):
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("1", (10_000, 10_000), 1)
    ImageDraw.Draw(image).text((100, 100), "The Orvik ferry sails at noon.", fill=0,
                               font=ImageFont.load_default(size=60))
    image.save(path)


@hostile("noise-7000x7000.png", "image decompression bomb", "skip", "49 MP of 1-bit noise (under the limit)")
def _(path):
    path.write_bytes(png_bytes(7000, 7000, 1, 0, (rng.randbytes(875) for _ in range(7000))))


@hostile("strip-50000000x1.png", "image decompression bomb", "skip", "50,000,000 x 1 pixels")
def _(path):
    path.write_bytes(png_bytes(50_000_000, 1, 1, 0, white_rows(50_000_000, 1)))


@hostile("frames-1000x49mp.tif", "image decompression bomb", "skip",
         "1,000 frames of 7,000 x 7,000 sharing one strip (120 KB)")
def _(path):
    path.write_bytes(tiff_frames(7000, 7000, 1000))


@hostile("frames-100-blank.tif", "image decompression bomb", "skip", "100 blank 64 x 64 frames: 100 Tesseract runs")
def _(path):
    path.write_bytes(tiff_frames(64, 64, 100))


def _text_png() -> bytes:
    out = io.BytesIO()
    text_image(["The Quarry Lantern guild met on Friday."]).save(out, "PNG")
    return out.getvalue()


def _text_jpg() -> bytes:
    out = io.BytesIO()
    text_image(["The Quarry Lantern guild met on Friday."]).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


@hostile("truncated-half.png", "truncated image", "skip", "a text image cut in half")
def _(path):
    data = _text_png()
    path.write_bytes(data[:len(data) // 2])


@hostile("ihdr-only.png", "truncated image", "skip", "signature and IHDR, no image data")
def _(path):
    path.write_bytes(_text_png()[:33])


@hostile("truncated-half.jpg", "truncated image", "skip", "a text JPEG cut in half")
def _(path):
    data = _text_jpg()
    path.write_bytes(data[:len(data) // 2])


@hostile("soi-only.jpg", "truncated image", "skip", "a JPEG start marker and nothing else")
def _(path):
    path.write_bytes(b"\xff\xd8\xff")


# ----- hostile: junk, encodings, empty ----------------------------------------------------------------

CP1252_PRINTABLE = bytes(b for b in range(0x20, 0x100) if b not in (0x7f, 0x81, 0x8d, 0x8f, 0x90, 0x9d))


@hostile("random.txt", "binary junk, text extension", "skip", "64 KB of random bytes")
def _(path):
    path.write_bytes(rng.randbytes(65536))


@hostile("random-cp1252-printable.txt", "binary junk, text extension", "skip",
         "16 KB of random bytes that are all printable Windows-1252")
def _(path):
    path.write_bytes(bytes(rng.choice(CP1252_PRINTABLE) for _ in range(16384)))


@hostile("elf.txt", "binary junk, text extension", "skip", "an executable (/bin/true) renamed .txt")
def _(path):
    shutil.copyfile("/bin/true", path)


@hostile("gzip.html", "binary junk, text extension", "skip", "a gzip file renamed .html")
def _(path):
    import gzip

    path.write_bytes(gzip.compress(b"<p>hello</p>" * 1000))


@hostile("zip.csv", "binary junk, text extension", "skip", "a .docx renamed .csv")
def _(path):
    path.write_bytes(TEMPLATE_DOCX)


@hostile("random.eml", "binary junk, text extension", "skip", "64 KB of random bytes")
def _(path):
    path.write_bytes(rng.randbytes(65536))


@hostile("cp1252-undefined.txt", "invalid text encoding", "skip", "bytes 0x81 0x8D 0x8F 0x90 0x9D")
def _(path):
    path.write_bytes(b"Ledger " + b"\x81\x8d\x8f\x90\x9d" * 20 + b" total\n")


@hostile("utf16-odd-length.txt", "invalid text encoding", "skip", "UTF-16 BOM, odd number of bytes")
def _(path):
    path.write_bytes("The Wexmoor choir sang.".encode("utf-16") + b"\x41")


@hostile("utf16-lone-surrogate.txt", "invalid text encoding", "skip", "UTF-16BE BOM, unpaired surrogates")
def _(path):
    path.write_bytes(b"\xfe\xff" + b"\x00A\xd8\x00\x00B" * 50)


@hostile("utf32-bom.txt", "invalid text encoding", "either", "UTF-32LE with BOM (not a supported encoding)", fact="Wexmoor choir")
def _(path):
    path.write_bytes("The Wexmoor choir sang in Tallinn.\n".encode("utf-32"))


@hostile("utf8-one-bad-byte.txt", "invalid text encoding", "either",
         "UTF-8 text with accents and one stray 0xFF byte", fact="Caf\u00e9 cr\u00e8me")
def _(path):
    path.write_bytes("Caf\u00e9 cr\u00e8me at the Ch\u00e2teau d'Orvik, na\u00efve r\u00e9sum\u00e9.\n".encode() * 20
                     + b"\xff\n")


@hostile("gbk.txt", "invalid text encoding", "either", "Chinese text in GBK (not a supported encoding)", fact="\u6e2f\u53e3")
def _(path):
    path.write_bytes("\u6e2f\u53e3\u5728\u4e8c\u96f6\u4e8c\u4e09\u5e74\u5904\u7406\u4e86\u56db\u767e\u4e07\u4e2a"
                     "\u96c6\u88c5\u7bb1\u3002\n".encode("gbk") * 10)


@hostile("empty.txt", "empty / blank", "skip", "0 bytes")
def _(path):
    path.write_bytes(b"")


@hostile("empty.pdf", "empty / blank", "skip", "0 bytes")
def _(path):
    path.write_bytes(b"")


@hostile("empty.docx", "empty / blank", "skip", "0 bytes")
def _(path):
    path.write_bytes(b"")


@hostile("whitespace.txt", "empty / blank", "skip", "spaces, tabs and newlines")
def _(path):
    path.write_text(" \t\n" * 1000)


@hostile("nbsp-only.md", "empty / blank", "skip", "no-break spaces only")
def _(path):
    path.write_text("\u00a0" * 500 + "\n")


@hostile("zero-width-only.txt", "empty / blank", "skip", "zero-width spaces only")
def _(path):
    path.write_text("\u200b" * 500 + "\n")


@hostile("tags-only.html", "empty / blank", "skip", "markup, a script and a style, no visible text")
def _(path):
    path.write_text("<html><head><style>p{}</style><script>var a=1;</script></head><body><div><br/></div></body></html>")


@hostile("blank-page.pdf", "empty / blank", "skip", "one blank A4 page (goes to OCR)")
def _(path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.output(str(path))


@hostile("white.png", "empty / blank", "skip", "a white A4 image at 300 dpi")
def _(path):
    path.write_bytes(png_bytes(2480, 3508, 1, 0, white_rows(2480, 3508)))


# ----- hostile: CSV, mail, RTF, spreadsheets ---------------------------------------------------------


@hostile("field-49mb.csv", "CSV with a huge field", "skip", "a header, then one 49 MB field (under max_file_mb 50)")
def _(path):
    with open(path, "wb") as handle:
        handle.write(b"name,notes\nOrvik,")
        for piece in repeated(b"abcdefgh", 49 * 10**6):
            handle.write(piece)
        handle.write(b"\n")


@hostile("unterminated-quote-10mb.csv", "CSV with a huge field", "skip", 'a quote opened and never closed, 10 MB')
def _(path):
    path.write_bytes(b'name,notes\nOrvik,"' + b"line of notes\n" * (10 * MB // 14))


@hostile("attachment-35mb.eml", "mail with a huge attachment", "read", "a short body and a 35 MB base64 attachment", fact="Orvik backup")
def _(path):
    path.write_bytes(eml_bytes("Backup", "The Orvik backup is attached.\n", attachment=rng.randbytes(26 * 10**6)))


@hostile("mime-nest-5000.eml", "mail with a huge attachment", "either", "5,000 nested multipart levels, text inside", fact="Orvik ferry")
def _(path):
    depth = 5000
    head = "Subject: Nested\nFrom: a@example.org\nMIME-Version: 1.0\n"
    parts = [head + 'Content-Type: multipart/mixed; boundary="b0"\n\n']
    for level in range(1, depth):
        parts.append(f'--b{level - 1}\nContent-Type: multipart/mixed; boundary="b{level}"\n\n')
    parts.append(f"--b{depth - 1}\nContent-Type: text/plain\n\nThe Orvik ferry sails at noon.\n")
    parts.extend(f"--b{level}--\n" for level in reversed(range(depth)))
    path.write_text("".join(parts))


@hostile("no-headers.eml", "mail with a huge attachment", "skip", "only base64 lines, no mail headers")
def _(path):
    import base64

    path.write_bytes(base64.encodebytes(rng.randbytes(30000)))


@hostile("base64-binary-body.eml", "mail with a huge attachment", "either",
         "a text/plain body that is base64 of 48 KB of random bytes")
def _(path):
    import base64

    body = base64.encodebytes(rng.randbytes(48000)).decode()
    path.write_text("Subject: Dump\nFrom: a@example.org\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
                    f"Content-Transfer-Encoding: base64\n\n{body}")


@hostile("nest-100k.rtf", "RTF nesting / binary", "read", "100,000 nested groups around a sentence", fact=SENTENCE)
def _(path):
    path.write_text(r"{\rtf1\ansi " + "{" * 100_000 + SENTENCE + "}" * 100_000 + "}")


@hostile("nest-1m-no-text.rtf", "RTF nesting / binary", "skip", "1,000,000 nested groups, never closed, no text")
def _(path):
    path.write_text(r"{\rtf1\ansi " + "{" * 1_000_000)


@hostile("bin-200kb.rtf", "RTF nesting / binary", "either", r"a sentence, then \bin with 200 KB of binary data", fact=SENTENCE)
def _(path):
    data = rng.randbytes(200_000)
    path.write_bytes(rb"{\rtf1\ansi " + SENTENCE.encode() + rb"\par {\*\objdata \bin200000 " + data + b"}}")


@hostile("bad-unicode.rtf", "RTF nesting / binary", "either", r"\u escapes far outside Unicode", fact=SENTENCE)
def _(path):
    path.write_text(r"{\rtf1\ansi " + SENTENCE + r" \u99999999? \u-99999999? \u1114112?}")


@hostile("no-header.rtf", "RTF nesting / binary", "skip", r"random bytes, no {\rtf header")
def _(path):
    path.write_bytes(rng.randbytes(20000))


@hostile("million-styled-rows.xlsx", "spreadsheet rows/cells", "skip",
         "1,048,576 styled rows without a value")
def _(path):
    template = XLSX_TEMPLATE
    rows = "".join(f'<row r="{r}" s="1" customFormat="1" ht="15" customHeight="1"/>' for r in range(1, 1_048_577))
    rewrite_zip(template, path, {"xl/worksheets/sheet1.xml": sheet_xml("A1:A1048576", rows)})


@hostile("far-cell-XFD1048576.xlsx", "spreadsheet rows/cells", "read",
         "two rows of text and one cell at XFD1048576 (the last cell of a sheet)", fact="Pellham")
def _(path):
    template = XLSX_TEMPLATE
    rows = (f'<row r="1">{inline_cell("A1", "town")}{inline_cell("B1", "rainfall")}</row>'
            f'<row r="2">{inline_cell("A2", "Pellham")}{inline_cell("B2", "1142")}</row>'
            f'<row r="1048576">{inline_cell("XFD1048576", "x")}</row>')
    rewrite_zip(template, path, {"xl/worksheets/sheet1.xml": sheet_xml("A1:XFD1048576", rows)})


@hostile("styled-16384-cols.xlsx", "spreadsheet rows/cells", "read", "a row of 16,384 styled empty cells, then text", fact="Pellham", hidden="column 16384")
def _(path):
    template = XLSX_TEMPLATE
    from openpyxl.utils import get_column_letter

    cells = "".join(f'<c r="{get_column_letter(c)}1" s="1"/>' for c in range(1, 16385))
    rows = f'<row r="1">{cells}</row><row r="2">{inline_cell("A2", "Pellham")}</row>'
    rewrite_zip(template, path, {"xl/worksheets/sheet1.xml": sheet_xml("A1:XFD2", rows)})


# ----- hostile: the sentence splitter -----------------------------------------------------------------


@hostile("abbreviations-40kb.txt", "sentence-splitter worst case", "read",
         '"Mr. " 10,000 times: every period looks like an abbreviation')
def _(path):
    path.write_text("Mr. " * 10_000)


@hostile("initials-60kb.md", "sentence-splitter worst case", "read", '"a. b " 12,000 times: initials')
def _(path):
    path.write_text("a. b " * 12_000)


# ----- hostile: file system, size, format ------------------------------------------------------------


@hostile("loop-a.txt", "symlink / special file", "skip", "symlink to loop-b.txt, which links back")
def _(path):
    os.symlink(path.parent / "loop-b.txt", path)


@hostile("loop-b.txt", "symlink / special file", "skip", "symlink to loop-a.txt")
def _(path):
    os.symlink(path.parent / "loop-a.txt", path)


@hostile("dangling.txt", "symlink / special file", "skip", "symlink to a file that does not exist")
def _(path):
    os.symlink(path.parent / "no-such-target.txt", path)


@hostile("fifo.txt", "symlink / special file", "skip", "a named pipe nobody writes to")
def _(path):
    os.mkfifo(path)


@hostile("socket.txt", "symlink / special file", "skip", "a Unix socket")
def _(path):
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()


@hostile("dev-zero.txt", "symlink / special file", "skip", "symlink to /dev/zero")
def _(path):
    os.symlink("/dev/zero", path)


@hostile("sparse-60mb.txt", "over max_file_mb", "skip", "60 MB (sparse)")
def _(path):
    with open(path, "wb") as handle:
        handle.truncate(60 * 10**6)


@hostile("sparse-1tb.pdf", "over max_file_mb", "skip", "1 TB (sparse)")
def _(path):
    with open(path, "wb") as handle:
        handle.write(b"%PDF-1.7\n")
        handle.truncate(10**12)


@hostile("tool.exe", "unsupported format", "skip", "a Windows executable header")
def _(path):
    path.write_bytes(b"MZ\x90\x00" + bytes(64))


@hostile("legacy.doc", "unsupported format", "skip", "an OLE2 (Word 97) header")
def _(path):
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))


@hostile("archive.zip", "unsupported format", "skip", "a zip of text files")
def _(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "The Orvik ferry sails at noon.")


@hostile("README", "unsupported format", "skip", "text with no extension")
def _(path):
    path.write_text("The Orvik ferry sails at noon.\n")


# ----- measuring ------------------------------------------------------------------------------------


def build(folder: Path) -> dict[str, float]:
    """Write every file; return seconds each builder took."""
    folder.mkdir(parents=True)
    (folder.parent / "canary.txt").write_text(f"{CANARY}: this file lies outside the indexed folder.\n")
    seconds = {}
    for item in [*GOOD, *HOSTILE]:
        started = time.perf_counter()
        item.build(folder / item.name)
        seconds[item.name] = time.perf_counter() - started
    return seconds


class TreeMemory(threading.Thread):
    """Samples the resident memory of a process and of its descendants (the extraction worker, Tesseract)."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.main_peak = 0  # bytes, VmHWM of the process itself
        self.other_peak = 0  # bytes, the largest sampled RSS of any descendant
        self.other_name = ""
        self.stop = threading.Event()

    @staticmethod
    def _status(pid: int) -> dict[str, str]:
        try:
            return dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                        if ":" in line)
        except OSError:
            return {}

    def _descendants(self, pid: int) -> list[int]:
        found = []
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split():
                    found += [int(child), *self._descendants(int(child))]
        except OSError:
            pass
        return found

    def run(self) -> None:
        while not self.stop.is_set():
            status = self._status(self.pid)
            if "VmHWM" in status:
                self.main_peak = max(self.main_peak, int(status["VmHWM"].split()[0]) * 1024)
            for child in self._descendants(self.pid):
                info = self._status(child)
                rss = int(info.get("VmRSS", "0 kB").split()[0]) * 1024
                if rss > self.other_peak:
                    self.other_peak, self.other_name = rss, info.get("Name", "?").strip()
            time.sleep(self.every)


def index_with_cli(folder: Path, home: Path, timeout: float) -> dict:
    command = [str(REPO / ".venv" / "bin" / "assistant"), "--home", str(home), "--no-llm", "index", str(folder),
               "--json", "--quiet"]
    env = {key: value for key, value in os.environ.items() if not key.startswith("ASSISTANT_")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               cwd=folder.parent)
    memory = TreeMemory(process.pid)
    memory.start()
    try:
        out, err = process.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        timed_out = True
    wall = time.perf_counter() - started
    memory.stop.set()
    memory.join()
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    report = None
    if out.strip():
        try:
            report = json.loads(out)
        except json.JSONDecodeError:
            report = None
    (home.parent / "cli-stderr.txt").write_text(err)
    return {"command": command, "returncode": process.returncode, "wall": wall, "timed_out": timed_out,
            "report": report, "stdout": out, "stderr": err,
            "peak_tree": peak_children if peak_children > before * 1024 else None,
            "peak_main": memory.main_peak, "peak_other": memory.other_peak, "peak_other_name": memory.other_name}


def indexed_texts(home: Path) -> dict[str, str]:
    """source -> extracted text, from the manifest the CLI wrote."""
    from assistant.services import Services
    from assistant.settings import load_settings

    services = Services(load_settings(home=str(home), llm="none"))
    return {doc.source: services.indexer.document_text(doc.sha256) or "" for doc in services.indexer.documents()}


def per_file_pass(folder: Path, names: list[str]) -> dict[str, dict]:
    """Each file alone, through the code path of indexing: read_file, the extraction worker, the chunker."""
    from assistant.settings import load_settings
    from index.chunking import Chunker
    from index.embedder import Embedder
    from index.extraction import ExtractionWorker
    from index.loaders import SkipFile, read_file

    settings = load_settings(home=str(folder.parent / "per-file-home"), llm="none")
    embedder = Embedder(settings.embedder_path)
    chunker = Chunker(embedder.word_pieces, min(settings.chunk_tokens, embedder.max_tokens), settings.chunk_overlap_tokens)
    warm = folder.parent / "warm.txt"
    warm.write_text("warm up\n")
    results = {}
    with ExtractionWorker(settings.extract_seconds, settings.extract_memory_mb) as worker:
        for name in names:
            worker.extract(str(warm), warm.read_bytes())  # (re)starts the worker outside the timing
            path = str(folder / name)
            started = time.perf_counter()
            result = {"chunks": None, "chunk_s": None}
            try:
                data = read_file(path, int(settings.max_file_mb * 1e6))
                extracted = worker.extract(path, data)
                result.update(outcome="read", text=extracted.text, ocr_pages=extracted.ocr_pages)
                result["extract_s"] = time.perf_counter() - started
                chunk_started = time.perf_counter()
                result["chunks"] = len(chunker.chunk(extracted.text))
                result["chunk_s"] = time.perf_counter() - chunk_started
            except SkipFile as skip:
                result.update(outcome="skipped", reason=str(skip), extract_s=time.perf_counter() - started)
            result["total_s"] = time.perf_counter() - started
            results[name] = result
            print(f"  {name}: {result['outcome']} in {result['total_s']:.1f} s", file=sys.stderr, flush=True)
    return results


def cpu_line() -> str:
    return f"{ocr_speed.cpu_line()}, {platform.python_implementation()} {platform.python_version()}"


MOJIBAKE = re.compile("[\u00c2\u00c3][\u00a0-\u00bf\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160"
                      "\u2039\u0152\u017d\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178]")


def read_issues(item: Hostile, text: str) -> list[str]:
    """What is wrong with the text a hostile file was indexed with."""
    issues = []
    flat = " ".join(text.split())
    if item.fact and item.fact.lower() not in flat.lower():
        issues.append(f'"{item.fact}" not in its text')
    if item.hidden and item.hidden in text:
        issues.append(f'"{item.hidden}" (not visible text) indexed')
    if CANARY in text:
        issues.append("the content of a file outside the folder indexed")
    if len(MOJIBAKE.findall(text)) >= 3:
        issues.append("mojibake")
    if "\x00" in text:
        issues.append("NUL characters")
    if text.count("\ufffd") > 10:
        issues.append(f"{text.count(chr(0xfffd)):,} U+FFFD")
    return issues


def cell(text: str, limit: int = 150) -> str:
    text = " ".join(str(text).split())
    text = text if len(text) <= limit else text[:limit - 1] + "…"
    return text.replace("|", "\\|")


def text_note(text: str) -> str:
    """What an indexed hostile file's text looks like, briefly."""
    visible = text.replace("\f", " ")
    notes = [f"{len(text):,} chars"]
    if CANARY in text:
        notes.append(f"**holds the canary {CANARY} (external entity resolved)**")
    if len(MOJIBAKE.findall(text)) >= 3:
        notes.append("mojibake (UTF-8 read as Windows-1252)")
    if "\x00" in text:
        notes.append(f"{text.count(chr(0)):,} NUL characters")
    if "\ufffd" in text:
        notes.append(f"{text.count(chr(0xfffd)):,} U+FFFD")
    notes.append(f'begins "{cell(visible[:60], 70)}"')
    return "; ".join(notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build in this (new) folder and keep it")
    parser.add_argument("--no-per-file", action="store_true", help="skip the second pass (each file alone, timed)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before the indexing run is killed")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    parser.add_argument("--raw", type=Path, help="also save the measurements as JSON here")
    parser.add_argument("--from-raw", type=Path, help="print the report of saved measurements (no run)")
    parser.add_argument("--slow", action="store_true",
                        help="add a PDF of a million blank pages, each OCR'd: it takes the whole 20-minute budget")
    args = parser.parse_args()
    raw = json.loads(args.from_raw.read_text()) if args.from_raw else {}
    if not (args.slow or raw.get("slow")):
        HOSTILE[:] = [item for item in HOSTILE if not item.slow]
    if args.from_raw:
        report = "\n".join(render(raw["run"], raw["texts"], raw["per_file"], raw["build_total"], raw["build_s"],
                                  raw["disk"], raw["sizes"], Path(raw["folder"])))
        print(report)
        if args.out:
            args.out.write_text(report + "\n")
        return
    assert len(HOSTILE) == 100 + args.slow, len(HOSTILE)
    assert len({h.name for h in HOSTILE} | {g.name for g in GOOD}) == len(HOSTILE) + len(GOOD)

    scratch = args.keep or Path(tempfile.mkdtemp(prefix="hostile-"))
    scratch.mkdir(parents=True, exist_ok=True)
    folder, home = scratch / "files", scratch / "home"
    try:
        print(f"building {len(HOSTILE)} hostile and {len(GOOD)} good files in {folder}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        build_s = build(folder)
        build_total = time.perf_counter() - started
        disk = sum(os.lstat(p).st_blocks * 512 for p in folder.iterdir())
        sizes = {p.name: os.lstat(p).st_size for p in folder.iterdir()}
        print(f"built in {build_total:.0f} s; indexing", file=sys.stderr, flush=True)
        run = index_with_cli(folder, home, args.timeout)
        texts = indexed_texts(home) if run["report"] else {}
        per_file = per_file_pass(folder, [h.name for h in HOSTILE] + [g.name for g in GOOD]) \
            if not args.no_per_file else {}
        if args.raw:
            args.raw.write_text(json.dumps({"run": run, "texts": texts, "per_file": per_file, "build_total": build_total,
                                            "build_s": build_s, "disk": disk, "sizes": sizes, "folder": str(folder),
                                            "slow": args.slow}))
        lines = render(run, texts, per_file, build_total, build_s, disk, sizes, folder)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report + "\n")


def render(run, texts, per_file, build_total, build_s, disk, sizes, folder) -> list[str]:
    from assistant.settings import Settings

    extract_seconds = Settings.model_fields["extract_seconds"].default
    report = run["report"] or {}
    skipped = {Path(s["path"]).name: s["reason"] for s in report.get("skipped", [])}
    added = {Path(source).name for source in report.get("added", [])}
    texts = {Path(source).name: text for source, text in texts.items()}
    ocr = {Path(source).name: pages for source, pages in report.get("read_by_ocr", {}).items()}
    good_names = {g.name for g in GOOD}
    hostile_names = {h.name for h in HOSTILE}

    lines = ["# Hostile files", ""]
    lines += [f"Machine: {cpu_line()}. Shared with other work while measured: times are noisy.", ""]
    lines += ["Command: `.venv/bin/python benchmarks/hostile_files.py"
              + (" --slow" if any(item.slow for item in HOSTILE) else "") + "`, which builds the files and runs", "", "    " + " ".join(["assistant", "--home", "HOME", "--no-llm", "index", "FOLDER",
                                                         "--json", "--quiet"]), "",
              "with default settings: extract_seconds 60, extract_memory_mb 2048, max_file_mb 50.", ""]
    hostile_skipped = sum(1 for name in hostile_names if name in skipped)
    hostile_read = sorted(name for name in hostile_names if name in added)
    missing = sorted(hostile_names - set(skipped) - added)
    problems = []
    lines += ["## Summary", ""]
    lines += ["| measure | value |", "| --- | --- |"]
    lines += [f"| files built | {len(HOSTILE)} hostile + {len(GOOD)} good in {build_total:.0f} s, "
              f"{disk / MB:.0f} MB on disk |"]
    lines += [f"| indexing run, wall time | **{run['wall']:.0f} s** (exit code {run['returncode']}"
              f"{', KILLED at the timeout' if run['timed_out'] else ''}; the report's own time "
              f"{report.get('seconds', 0):.0f} s) |"]
    lines += [f"| hostile files skipped | **{hostile_skipped} of {len(HOSTILE)}** |"]
    flawed = [item.name for item in HOSTILE if item.name in added
              and (item.expect == "skip" or read_issues(item, texts.get(item.name, "")))]
    lines += [f"| hostile files read (indexed) within the budgets | {len(hostile_read)}, of which "
              f"{len(flawed)} with junk or missing text, or expected to be skipped |"]
    lines += [f"| hostile files in neither list | {len(missing)} {', '.join(missing)} |"]
    good_added = sorted(good_names & added)
    lines += [f"| good files indexed | **{len(good_added)} of {len(GOOD)}** |"]
    lines += [f"| chunks written / embedded | {report.get('chunks_written', 0):,} / {report.get('chunks_embedded', 0):,} |"]
    if run["peak_tree"]:
        lines += [f"| peak RSS, largest process of the run (getrusage RUSAGE_CHILDREN) | {run['peak_tree'] / 1e9:.2f} GB |"]
    lines += [f"| peak RSS of the `assistant` process (VmHWM, sampled every 0.2 s) | {run['peak_main'] / 1e9:.2f} GB |"]
    lines += [f"| largest sampled RSS of a process it started | {run['peak_other'] / 1e9:.2f} GB "
              f"({run['peak_other_name']}) |"]
    lines += [""]
    err_lines = run["stderr"].strip().splitlines()
    if err_lines:
        tracebacks = sum(line.startswith("Traceback") for line in err_lines)
        others = sorted({line.strip()[:160] for line in err_lines if not line.startswith((" ", "Traceback"))
                         and "Traceback" not in line})
        lines += [f"The run wrote {len(err_lines)} lines to stderr, {tracebacks} of them starting a traceback "
                  "(kept in cli-stderr.txt next to the folder with --keep). Lines that are not part of a traceback's "
                  "body:", "", "```"] + others[:20] + ["```", ""]
        if tracebacks:
            first = next(i for i, line in enumerate(err_lines) if line.startswith("Traceback"))
            lines += ["The first traceback, its last lines:", "", "```"]
            lines += err_lines[first:][:60][-16:] + ["```", ""]

    lines += ["## Good files", ""]
    lines += ["| file | indexed | its fact in the extracted text | OCR pages | per-file s |", "| --- | --- | --- | --- | --- |"]
    for item in GOOD:
        is_added = item.name in added
        has_fact = item.fact.lower() in " ".join(texts.get(item.name, "").split()).lower()
        if not is_added or not has_fact:
            problems.append(f"good file {item.name}: indexed={is_added}, fact found={has_fact}, "
                            f"reason={skipped.get(item.name, '-')}")
        lines += [f"| {item.name} | {'yes' if is_added else 'NO: ' + cell(skipped.get(item.name, '?'))} | "
                  f"{'yes' if has_fact else 'NO'} (\"{item.fact}\") | {ocr.get(item.name, '')} | "
                  f"{per_file.get(item.name, {}).get('total_s', float('nan')):.1f} |"]
    strangers = sorted(added - good_names - hostile_names)
    lines += ["", f"Added list: {len(good_added)} good + {len(hostile_read)} hostile files"
              + (f" and {len(strangers)} files that were not built: {', '.join(strangers)}" if strangers else
                 ", nothing else") + "; good files not added: "
              + (", ".join(sorted(good_names - added)) or "none") + ".", ""]

    lines += ["## Hostile files", ""]
    lines += ["Expected: *skip* = must be skipped; *read* = holds real text, reading it within the budgets is right; "
              "*either* = a reader may recover text or refuse it. Per-file s: the file alone in the second pass "
              "(read_file + extraction worker + chunker; no embedding).", ""]
    lines += ["| # | file | kind | size | expected | skipped: reason | read within budget: text | per-file s | verdict |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for number, item in enumerate(HOSTILE, 1):
        size = sizes.get(item.name, 0)
        size_text = f"{size / MB:,.1f} MB" if size >= 100_000 else f"{size:,} B"
        per = per_file.get(item.name, {})
        seconds = f"{per['total_s']:.1f}" if per else ""
        if per.get("chunk_s") is not None and per["chunk_s"] >= 1:
            seconds += f" (chunking {per['chunk_s']:.1f})"
        reason = cell(skipped[item.name]) if item.name in skipped else ""
        read = text_note(texts.get(item.name, "")) if item.name in added else ""
        if item.name in added and item.name in ocr:
            read += f"; OCR pages {ocr[item.name]}"
        outcome = "skip" if item.name in skipped else "read" if item.name in added else "missing"
        verdict = "ok" if item.expect in (outcome, "either") else f"**{outcome}, expected {item.expect}**"
        if outcome == "read" and verdict == "ok":
            issues = read_issues(item, texts.get(item.name, ""))
            verdict = f"**read, but: {'; '.join(issues)}**" if issues else "ok"
        if per and per["total_s"] > extract_seconds and "without progress" not in per.get("reason", ""):
            seconds += f" (past extract_seconds: each OCR'd page is progress)"
        if per.get("chunk_s") and per["chunk_s"] > 5 and len(per.get("text", "")) / per["chunk_s"] < 50_000:
            issues = f"chunking ran {per['chunk_s']:.0f} s for {len(per['text']) / 1000:.0f} KB of text, in the " \
                     "indexing process, under no budget"
            verdict = f"**{issues}**" if verdict == "ok" else verdict[:-2] + "; " + issues + "**"
        if verdict != "ok":
            problems.append(f"hostile file {item.name}: {verdict.strip('*')}")
        lines += [f"| {number} | `{item.name}` | {item.kind}: {cell(item.note, 90)} | {size_text} | {item.expect} | "
                  f"{reason} | {read} | {seconds} | {verdict} |"]
    lines += [""]

    if per_file:
        slow = sorted(per_file.items(), key=lambda kv: -kv[1]["total_s"])[:12]
        lines += ["## Slowest files alone (second pass)", ""]
        lines += ["| file | outcome | seconds | of which chunking | note |", "| --- | --- | --- | --- | --- |"]
        for name, per in slow:
            note = cell(per.get("reason", ""), 110) if per["outcome"] == "skipped" else \
                f"{len(per.get('text', '')):,} chars, {per.get('chunks')} chunks, OCR pages {per.get('ocr_pages', 0)}"
            chunk = f"{per['chunk_s']:.1f}" if per.get("chunk_s") is not None else ""
            lines += [f"| `{name}` | {per['outcome']} | {per['total_s']:.1f} | {chunk} | {note} |"]
        lines += [""]
        disagree = [name for name, per in per_file.items()
                    if (per["outcome"] == "skipped") != (name in skipped)]
        lines += [f"Second pass agrees with the indexing run on skipped vs read for "
                  f"{len(per_file) - len(disagree)} of {len(per_file)} files"
                  + (f"; differs on: {', '.join(disagree)}" if disagree else "") + ".", ""]
        lines += [f"Second pass total: {sum(p['total_s'] for p in per_file.values()):.0f} s.", ""]

    slow_builds = sorted(build_s.items(), key=lambda kv: -kv[1])[:3]
    lines += ["Slowest to build: " + ", ".join(f"{name} {s:.1f} s" for name, s in slow_builds) + ".", ""]
    lines += ["## Problems found by the checks", ""]
    lines += [f"- {p}" for p in problems] or ["- none"]
    return lines


if __name__ == "__main__":
    main()
