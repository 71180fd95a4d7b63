"""Text extraction for every supported format, and a one-line reason for every file that cannot be read."""

from __future__ import annotations

import pytest

from index.files import discover
from index.loaders import SkipFile, extract_text, read_file
from tests.conftest import (BAKERY_PDF_LINES, HARBOR_TXT, HOSTILE_REASONS, HUGE_BYTES, ROVER_DOCX_PARAGRAPHS,
                            add_hostile_files, build_good_corpus)

LIMIT = HUGE_BYTES // 2


def load(path) -> str:
    return extract_text(str(path), read_file(str(path), LIMIT))


def test_txt_is_the_decoded_file(tmp_path):
    corpus = build_good_corpus(tmp_path)
    assert load(corpus / "harbor.txt") == HARBOR_TXT


def test_utf8_bom_utf16_and_legacy_decode(tmp_path):
    (tmp_path / "bom.txt").write_bytes("\ufeffHello there.".encode("utf-8"))
    (tmp_path / "wide.txt").write_bytes("Hello wide world.".encode("utf-16"))
    (tmp_path / "legacy.txt").write_bytes("A £15.8m fee for the café’s owner.".encode("cp1252"))
    assert load(tmp_path / "bom.txt") == "Hello there."
    assert load(tmp_path / "wide.txt") == "Hello wide world."
    assert load(tmp_path / "legacy.txt") == "A £15.8m fee for the café’s owner."


def test_html_keeps_visible_text_only(tmp_path):
    text = load(build_good_corpus(tmp_path) / "orchestra.html")
    assert "SCRIPT_TEXT" not in text and "NOSCRIPT_TEXT" not in text and "color: red" not in text
    assert "The Lindqvist Orchestra appointed Mara Oyelaran as its principal conductor in 2022." in text
    # Block elements become lines, inline ones (<b>) do not break the sentence.
    assert text.splitlines() == [
        "Lindqvist Orchestra", "Season news",
        "The Lindqvist Orchestra appointed Mara Oyelaran as its principal conductor in 2022.",
        "The orchestra tours Japan every second autumn."]


def test_pdf_and_docx_text(tmp_path):
    corpus = build_good_corpus(tmp_path)
    pdf_text = load(corpus / "bakery.pdf")
    for line in BAKERY_PDF_LINES:
        assert line in pdf_text
    assert load(corpus / "rover.docx").split("\n\n") == ROVER_DOCX_PARAGRAPHS or all(
        p in load(corpus / "rover.docx") for p in ROVER_DOCX_PARAGRAPHS)


@pytest.mark.parametrize("name", sorted(HOSTILE_REASONS))
def test_hostile_file_is_skipped_with_a_reason(tmp_path, name):
    add_hostile_files(tmp_path)
    with pytest.raises(SkipFile) as caught:
        load(tmp_path / name)
    assert HOSTILE_REASONS[name] in str(caught.value)
    assert "\n" not in str(caught.value)


def test_discover_walks_a_symlinked_folder_loop_once(tmp_path):
    corpus = build_good_corpus(tmp_path / "docs")
    add_hostile_files(corpus)
    found, skipped, roots = discover([str(corpus)])
    names = sorted(f.path.rsplit("/", 1)[-1] for f in found)
    assert names == sorted(["harbor.txt", "volcano.md", "orchestra.html", "bakery.pdf", "rover.docx",
                            *HOSTILE_REASONS])
    assert [s.reason for s in skipped] == ["symlink loop: this folder was already walked"]
    assert roots == [str(corpus)]


def test_discover_keeps_the_path_as_given(tmp_path, monkeypatch):
    build_good_corpus(tmp_path / "docs")
    monkeypatch.chdir(tmp_path)
    found, _, _ = discover(["./docs/"])
    assert sorted(f.source for f in found)[0] == "docs/bakery.pdf"
    assert sorted(f.path for f in found)[0] == str(tmp_path / "docs" / "bakery.pdf")


def test_missing_path_is_reported(tmp_path):
    found, skipped, roots = discover([str(tmp_path / "nope")])
    assert (found, roots) == ([], [])
    assert skipped[0].reason == "no such file or folder"


def test_utf32_and_damaged_utf8_keep_their_characters(tmp_path):
    (tmp_path / "wide32.txt").write_bytes("The Wexmoor choir sang in Tallis.".encode("utf-32"))
    # One stray byte in UTF-8 text: read as UTF-8 with one replacement character, not as Windows-1252
    # mojibake of every accent.
    (tmp_path / "damaged.txt").write_bytes("Café crème at the Château".encode() + b"\xff" + " naïve.".encode())
    assert load(tmp_path / "wide32.txt") == "The Wexmoor choir sang in Tallis."
    assert load(tmp_path / "damaged.txt") == "Café crème at the Château\ufffd naïve."


def test_invisible_only_text_and_unclosed_html_are_not_indexed(tmp_path):
    (tmp_path / "zero-width.txt").write_text("\u200b" * 200 + "\n" + "\u00a0" * 50)
    with pytest.raises(SkipFile, match="no text to index"):
        load(tmp_path / "zero-width.txt")
    (tmp_path / "open.html").write_text("<p>The pier reopened.</p><!-- HIDDEN comment never closed <a title='x")
    assert load(tmp_path / "open.html") == "The pier reopened."


def test_an_image_over_60_megapixels_is_refused_unread(tmp_path):
    from PIL import Image

    Image.new("1", (8_000, 8_000), 1).save(tmp_path / "bomb.png")  # 8 KB of PNG, 64 megapixels
    with pytest.raises(SkipFile, match="DecompressionBomb"):
        load(tmp_path / "bomb.png")
