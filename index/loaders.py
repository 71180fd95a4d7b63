"""Turn a file into its extracted text, or say in one line why it cannot be indexed.

The extracted text is what citations point into: a quote is always `text[start:end]` of it. For .txt
and .md that is the decoded file itself, so a quote can be checked against the file byte for byte.
"""

from __future__ import annotations

import errno
import importlib
import os
import re
import stat
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable

from index.records import PAGE_BREAK, Extracted

_BLOCK_TAGS = frozenset((
    "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section table td th title tr ul").split())
_INVISIBLE_TAGS = frozenset(["script", "style", "noscript", "template", "iframe", "svg", "object"])

# suffix -> reader: (path, bytes) -> text or Extracted. Readers import their libraries when first used.
_READERS: dict[str, Callable[[str, bytes], "str | Extracted"]] = {}
_WORD = re.compile(r"\w")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class SkipFile(Exception):
    """Raised with a one-line reason when a file cannot be indexed."""


def extract(path: str, data: bytes) -> Extracted:
    """The document's text; raise SkipFile with a reason a user can act on."""
    result = _READERS[Path(path).suffix.lower()](path, data)
    extracted = Extracted(result) if isinstance(result, str) else result
    if not _WORD.search(extracted.text):  # white space, zero-width spaces, punctuation only
        raise SkipFile("no text to index")
    return extracted


def extract_text(path: str, data: bytes) -> str:
    return extract(path, data).text


def read_file(path: str, max_bytes: int) -> bytes:
    """The file's bytes, after the checks that need no parsing (format, size, emptiness)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SkipFile("symlink loop: the link never reaches a file") from None
        if exc.errno == errno.ENOENT and os.path.islink(path):
            raise SkipFile("broken symlink: its target does not exist") from None
        raise SkipFile(f"cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise SkipFile("not a regular file")
    suffix = Path(path).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        shown = suffix or "no extension"
        raise SkipFile(f"unsupported format ({shown}); supported: {', '.join(SUPPORTED_SUFFIXES)}")
    if info.st_size > max_bytes:
        raise SkipFile(f"{info.st_size / 1e6:.1f} MB is over the {max_bytes / 1e6:g} MB limit "
                       "(raise max_file_mb to index it)")
    if info.st_size == 0:
        raise SkipFile("empty file")
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise SkipFile(f"cannot read: {exc.strerror}") from None


def decode_text(data: bytes) -> str:
    """Decode a text file: UTF-8 (BOM allowed), BOM-marked UTF-16, or legacy Windows-1252/Latin-1 text
    (older news archives, e.g. a bare 0xA3 for £). Bytes that are none of these are refused."""
    for boms, encoding in (((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"), "utf-32"),
                           ((b"\xff\xfe", b"\xfe\xff"), "utf-16")):  # UTF-32's BOM starts like UTF-16's
        if data.startswith(boms):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise SkipFile(f"invalid {encoding.upper()} at byte {exc.start}") from None
    if b"\x00" in data[:8192]:
        raise SkipFile("binary content (NUL bytes) in a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc.start
    damaged = data.decode("utf-8-sig", errors="replace")
    if _mostly_utf8(damaged):
        return damaged  # a few bad bytes in UTF-8 text: read as Windows-1252 every accent would be mojibake
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    if text is None or _CONTROL_CHARS.search(text):
        raise SkipFile(f"undecodable bytes: not UTF-8 (bad byte at offset {utf8_error}) nor Windows-1252 text; "
                       "re-save it as UTF-8") from None
    return text


class _VisibleText(HTMLParser):
    """Collects a page's visible text as it streams past: no tree is built, so nesting depth costs nothing
    (100,000 nested <div>s took BeautifulSoup over 10 minutes) and time grows with the file's size only."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.hidden = 0  # depth inside <script>, <style>...

    def handle_starttag(self, tag, attrs):
        if tag in _INVISIBLE_TAGS:
            self.hidden += 1
        elif tag in _BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_startendtag(self, tag, attrs):
        if tag in _BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_endtag(self, tag):
        if tag in _INVISIBLE_TAGS:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_data(self, data):
        if not self.hidden:
            self.pieces.append(data)


def _mostly_utf8(text: str) -> bool:
    """UTF-8 text with a stray bad byte: at least three valid multi-byte characters for each bad byte. Legacy
    Windows-1252 text almost never forms a valid multi-byte sequence (an accented capital, then a symbol), so
    its bad bytes far outnumber its good ones."""
    bad = text.count("\ufffd")
    good = sum(1 for char in text if ord(char) > 127) - bad
    return good > 0 and bad * 3 <= good


def html_to_text(data: bytes | str) -> str:
    """Visible text of a page: scripts, styles and markup dropped, one line per block element."""
    if isinstance(data, bytes):
        if b"\x00" in data[:8192]:
            raise SkipFile("binary content (NUL bytes) in an HTML file")
        data = _html_decode(data)
    parser = _VisibleText()
    parser.feed(data)
    if parser.rawdata.lstrip().startswith("<"):
        parser.rawdata = ""  # a tag or comment never closed: a browser shows none of it, close() would
    parser.close()
    lines = (re.sub(r"[ \t\r\f\v\u00a0]+", " ", line).strip() for line in "".join(parser.pieces).split("\n"))
    return "\n".join(line for line in lines if line)


def _html_decode(data: bytes) -> str:
    """A page's declared charset if it names one Python knows, else UTF-8 or Windows-1252 as for text."""
    declared = re.search(rb"""<meta[^>]+charset=["']?([\w-]+)""", data[:4096], re.IGNORECASE)
    if declared:
        try:
            return data.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_text(data)


def _docx_text(path: str, data: bytes) -> str:
    from llama_index.readers.file import DocxReader

    try:
        docs = DocxReader().load_data(Path(path))
    except Exception as exc:  # zipfile/xml errors for damaged files
        raise SkipFile(f"not a readable .docx ({cause(exc)})") from None
    return "\n".join(doc.text for doc in docs).strip()


def cause(exc: BaseException) -> str:
    """A reader's error in one short line, for a skip reason. Running out of memory or stack is no damage of
    the file's: it is re-raised, for the extraction worker to report as a budget overrun."""
    if isinstance(exc, (MemoryError, RecursionError)):
        raise exc
    # tenacity wraps the reader's error in a RetryError; show the original one.
    last = getattr(exc, "last_attempt", None)
    if last is not None and last.exception() is not None:
        exc = last.exception()
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")[:160]


def _lazy(module: str, function: str) -> Callable[[str, bytes], "str | Extracted"]:
    """A reader in another module, imported on first use: a run over text files loads no PDF or office library."""

    def read(path: str, data: bytes):
        return getattr(importlib.import_module(module), function)(path, data)

    return read


_READERS.update({
    ".txt": lambda path, data: decode_text(data),
    ".md": lambda path, data: decode_text(data),
    ".html": lambda path, data: html_to_text(data),
    ".htm": lambda path, data: html_to_text(data),
    ".docx": _docx_text,
    ".pdf": _lazy("index.pdf", "pdf_text"),
    **{suffix: _lazy("index.ocr", "image_text") for suffix in (".png", ".jpg", ".jpeg", ".tif", ".tiff")},
    **{suffix: _lazy("index.office", f"{suffix[1:]}_text")
       for suffix in (".pptx", ".xlsx", ".csv", ".epub", ".eml", ".odt", ".rtf")},
})
SUPPORTED_SUFFIXES = tuple(_READERS)
