"""Turn a file into its extracted text, or say in one line why it cannot be indexed.

The extracted text is what citations point into: a quote is always `text[start:end]` of it. For .txt
and .md that is the decoded file itself, so a quote can be checked against the file byte for byte.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
from pathlib import Path

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")
_BLOCK_TAGS = (
    "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section table td th title tr ul"
).split()
# Control characters never found in real text; their presence means the bytes are not text.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_INVISIBLE_TAGS = ["script", "style", "noscript", "template", "iframe", "svg", "object"]


class SkipFile(Exception):
    """Raised with a one-line reason when a file cannot be indexed."""


def extract_text(path: str, data: bytes) -> str:
    """The document's text; raise SkipFile with a reason a user can act on."""
    suffix = Path(path).suffix.lower()
    if suffix in (".txt", ".md"):
        text = decode_text(data)
    elif suffix in (".html", ".htm"):
        text = html_to_text(data)
    elif suffix == ".pdf":
        text = _pdf_text(path)
    else:
        text = _docx_text(path)
    if not text.strip():
        raise SkipFile("no text to index" + (" (a scanned PDF? run OCR on it first)" if suffix == ".pdf" else ""))
    return text


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
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise SkipFile(f"invalid UTF-16 at byte {exc.start}") from None
    if b"\x00" in data[:8192]:
        raise SkipFile("binary content (NUL bytes) in a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc.start
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    if text is None or _CONTROL_CHARS.search(text):
        raise SkipFile(f"undecodable bytes: not UTF-8 (bad byte at offset {utf8_error}) nor Windows-1252 text; "
                       "re-save it as UTF-8") from None
    return text


def html_to_text(data: bytes) -> str:
    """Visible text of a page: scripts, styles and markup dropped, one line per block element."""
    from bs4 import BeautifulSoup

    if b"\x00" in data[:8192]:
        raise SkipFile("binary content (NUL bytes) in an HTML file")
    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(_INVISIBLE_TAGS):
        tag.decompose()
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    lines = (re.sub(r"[ \t\r\f\v\u00a0]+", " ", line).strip() for line in soup.get_text().split("\n"))
    return "\n".join(line for line in lines if line)


def _pdf_text(path: str) -> str:
    from llama_index.readers.file import PDFReader

    # pypdf logs every malformed object it meets; the skip reason already tells the user.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        pages = PDFReader().load_data(Path(path))
    except Exception as exc:  # pypdf raises many types for damaged files
        raise SkipFile(f"not a readable PDF ({_cause(exc)})") from None
    # A blank line between pages keeps the last sentence of a page apart from the next page's first.
    return "\n\n".join(page.text.strip() for page in pages if page.text.strip())


def _docx_text(path: str) -> str:
    from llama_index.readers.file import DocxReader

    try:
        docs = DocxReader().load_data(Path(path))
    except Exception as exc:  # zipfile/xml errors for damaged files
        raise SkipFile(f"not a readable .docx ({_cause(exc)})") from None
    return "\n".join(doc.text for doc in docs).strip()


def _cause(exc: BaseException) -> str:
    # tenacity wraps the reader's error in a RetryError; show the original one.
    last = getattr(exc, "last_attempt", None)
    if last is not None and last.exception() is not None:
        exc = last.exception()
    return f"{type(exc).__name__}: {exc}"[:160]
