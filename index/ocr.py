"""OCR with Tesseract (Debian's tesseract-ocr; the Makefile installs it as it does chromium).

Tesseract runs as a separate program on each image, so a page that takes it too long is stopped like any
reader (index/extraction.py kills the worker's whole process group), and nothing of it loads unless a file
needs OCR. Why Tesseract: its English model ships with the Debian package (no hub download), it is the
reference open OCR for printed text, and its speed is measured in README (pages/s).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import warnings
from typing import Callable

from index.loaders import SkipFile, cause
from index.records import PAGE_BREAK, Extracted

TESSERACT = "tesseract"
MAX_PIXELS = 60_000_000  # about 20 A4 pages at 300 dpi: more is a decompression bomb, not a scan
# Called after each page read: the worker's heartbeat, so a long scan is not mistaken for a hung reader.
page_done: Callable[[], None] = lambda: None


def available() -> bool:
    return shutil.which(TESSERACT) is not None


def image_text(path: str, data: bytes) -> Extracted:
    """An image file's text; every frame of a multi-page TIFF is a page."""
    from PIL import Image, ImageSequence

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_PIXELS and twice it: a bomb either way.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            frames = [frame.copy() for frame in ImageSequence.Iterator(image)]
    except Image.UnidentifiedImageError:
        raise SkipFile("not a readable image (no image format Pillow knows, or a damaged one)") from None
    except Exception as exc:
        raise SkipFile(f"not a readable image ({cause(exc)})") from None
    pages = [image_to_text(frame) for frame in frames]
    if len(pages) == 1:
        return Extracted(pages[0], ocr_pages=1)
    return Extracted("".join(text + PAGE_BREAK for text in pages), ocr_pages=len(pages))


def image_to_text(image) -> str:
    """The text Tesseract reads in a PIL image, one line per printed line, paragraphs apart by a blank line."""
    if not available():
        raise SkipFile("needs OCR, and Tesseract is not installed (Debian: apt-get install tesseract-ocr; "
                       "`make install` does it)")
    png = io.BytesIO()
    image.convert("L").save(png, format="PNG")
    # --psm 3: automatic page layout (columns, headings); OMP_THREAD_LIMIT=1: Tesseract's own threads cost
    # more than they give on small images, and the embedder needs the other core.
    done = subprocess.run([shutil.which(TESSERACT), "stdin", "stdout", "--psm", "3", "-l", "eng"],
                          input=png.getvalue(), capture_output=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    if done.returncode != 0:
        raise SkipFile(f"Tesseract failed: {done.stderr.decode(errors='replace').strip()[:160]}")
    page_done()
    text = done.stdout.decode("utf-8", errors="replace").replace(PAGE_BREAK, "")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
