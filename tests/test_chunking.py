"""Chunks are exact slices of the text, whole sentences, never longer than the embedder reads."""

from __future__ import annotations

import pytest

from index.chunking import Chunker, sentence_spans

ARTICLE = open("seeds/reuters-armenia-azerbaijan-clash.txt", encoding="utf-8").read()


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from index.embedder import packaged_minilm_path

    return AutoTokenizer.from_pretrained(packaged_minilm_path())


@pytest.fixture(scope="module")
def word_pieces():
    """What the chunker counts with; the transformers tokenizer above checks its counts independently."""
    from index.embedder import Embedder

    return Embedder().word_pieces


def test_sentences_of_a_news_article():
    text = "Mr. Smith met U.S. officials on May 4. They agreed. “Is it over?” he asked.\nNew line here"
    assert [text[s.start:s.end] for s in sentence_spans(text)] == [
        "Mr. Smith met U.S. officials on May 4.", "They agreed.", "“Is it over?” he asked.", "New line here"]


def test_wrapped_lines_stay_one_sentence():
    text = "The committee said the\nbudget would rise.\nA new sentence."
    assert [text[s.start:s.end] for s in sentence_spans(text)] == [
        "The committee said the\nbudget would rise.", "A new sentence."]


def _word_pieces(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=True)["input_ids"])


@pytest.mark.parametrize("max_tokens,overlap", [(256 - 2, 32), (60, 16), (20, 0)])
def test_chunks_are_exact_bounded_and_cover_the_text(tokenizer, word_pieces, max_tokens, overlap):
    chunks = Chunker(word_pieces, max_tokens, overlap).chunk(ARTICLE)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.text == ARTICLE[chunk.start:chunk.end]
        # Counted with the embedder's own tokenizer, [CLS] and [SEP] included: never truncated.
        assert _word_pieces(tokenizer, chunk.text) <= max_tokens + 2
    # Every sentence lies whole inside some chunk.
    for span in sentence_spans(ARTICLE):
        assert any(c.start <= span.start and span.end <= c.end for c in chunks) or max_tokens < 60
    # Consecutive chunks move forward; without overlap they never share text.
    for left, right in zip(chunks, chunks[1:]):
        assert left.start < right.start
        assert overlap or right.start >= left.end


def test_overlap_repeats_the_trailing_sentences_that_fit(tokenizer, word_pieces):
    text = " ".join(f"Sentence number {i} is short." for i in range(40))
    chunks = Chunker(word_pieces, 50, 20).chunk(text)
    for left, right in zip(chunks, chunks[1:]):
        shared = text[right.start:left.end]
        assert right.start < left.end and shared.endswith("short.")
        assert len(tokenizer(shared, add_special_tokens=False)["input_ids"]) <= 20


def test_a_sentence_longer_than_the_limit_is_split_between_words(tokenizer, word_pieces):
    words = " ".join(f"word{i}" for i in range(400)) + "."
    chunks = Chunker(word_pieces, 100, 0).chunk(words)
    assert len(chunks) > 3
    assert "".join(c.text + " " for c in chunks).split() == words.split()
    for chunk in chunks:
        assert _word_pieces(tokenizer, chunk.text) <= 102
        assert not chunk.text.startswith("#")


def test_empty_text_has_no_chunks(word_pieces):
    assert Chunker(word_pieces, 100, 10).chunk("  \n ") == []
