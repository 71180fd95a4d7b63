"""The int8 embedder agrees with the fp32 one, and an index never mixes vectors of two embedders."""

from __future__ import annotations

import numpy as np
import pytest

from index.chunking import sentence_spans
from index.embedder import Embedder, TorchEmbedder
from index.reembed import EmbedderMismatch, recorded_embedder

ARTICLE = open("seeds/reuters-armenia-azerbaijan-clash.txt", encoding="utf-8").read()
QUESTIONS = ["How many Armenian soldiers were wounded?", "Which village was shelled?",
             "What did Azerbaijan call the Armenian action?", "Who mediated between the two countries?"]


@pytest.fixture(scope="module")
def fp32() -> TorchEmbedder:
    model = TorchEmbedder()
    model.load()
    return model


def stored_vectors(services) -> dict[str, np.ndarray]:
    found = services.store._collection.get(include=["embeddings"])
    return dict(zip(found["ids"], np.asarray(found["embeddings"], dtype=np.float32)))


def test_int8_vectors_agree_with_fp32(embedder, fp32):
    assert embedder.identity == "all-MiniLM-L6-v2 int8" and fp32.identity == "all-MiniLM-L6-v2 fp32"
    sentences = [ARTICLE[s.start:s.end] for s in sentence_spans(ARTICLE)]
    texts = sentences + QUESTIONS + ["  padded with spaces  ", ARTICLE]  # stripped; truncated at 256 pieces
    int8, reference = embedder.embed(texts), fp32.embed(texts)
    assert int8.shape == reference.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(int8, axis=1), 1.0, rtol=1e-5)
    assert ((int8 * reference).sum(axis=1) > 0.98).all()
    # What retrieval needs: each question's best sentence is the same one.
    for question in QUESTIONS:
        assert np.argmax(embedder.embed(sentences) @ embedder.embed_one(question)) == \
               np.argmax(fp32.embed(sentences) @ fp32.embed_one(question))


def test_changing_the_embedder_re_embeds_the_index_in_place(make_services, good_corpus, fp32):
    int8_services = make_services()
    int8_services.indexer.sync([str(good_corpus)], progress=False)
    assert int8_services.manifest.embedder_identity() == "all-MiniLM-L6-v2 int8"
    before = stored_vectors(int8_services)

    services = make_services(embedder_precision="fp32")
    services.embedder = fp32
    with pytest.raises(EmbedderMismatch, match="embedded by all-MiniLM-L6-v2 int8.*run `assistant index`"):
        services.answerer.ask("Which village was shelled?")

    report = services.indexer.sync([str(good_corpus)], progress=False)
    after = stored_vectors(services)
    texts = dict(zip(*services.store.all_texts()))
    assert report.reembedded == len(set(texts.values())) > 0 and report.chunks_embedded == 0
    assert "re-embedded" in report.summary() and report.embedder == "all-MiniLM-L6-v2 fp32"
    assert after.keys() == before.keys()  # the same chunks, nothing re-read or duplicated
    for chunk_id, vector in after.items():
        assert float(vector @ fp32.embed_one(texts[chunk_id])) > 0.9999
    assert services.manifest.embedder_identity() == "all-MiniLM-L6-v2 fp32"
    assert services.answerer.ask("Which village was shelled?").citations


def test_an_index_without_a_record_was_written_by_fp32(make_services, good_corpus, embedder):
    services = make_services()
    services.indexer.sync([str(good_corpus)], progress=False)
    services.manifest._db.execute("DELETE FROM settings")  # as an index made before the record existed
    assert recorded_embedder(services.manifest, embedder) == "all-MiniLM-L6-v2 fp32"
    with pytest.raises(EmbedderMismatch, match="embedded by all-MiniLM-L6-v2 fp32"):
        services.retriever.retrieve("Which village was shelled?", 3)


def test_an_interrupted_re_embedding_is_refused_then_finished(make_services, good_corpus):
    services = make_services()
    services.indexer.sync([str(good_corpus)], progress=False)
    services.manifest.set_embedder_identity("partly re-embedded for all-MiniLM-L6-v2 int8")
    with pytest.raises(EmbedderMismatch, match="interrupted.*run `assistant index` to finish"):
        services.retriever.retrieve("Which village was shelled?", 3)
    assert services.indexer.sync([str(good_corpus)], progress=False).reembedded > 0
    assert services.retriever.retrieve("Which village was shelled?", 3)[1]


class FirstHalf(Embedder):
    """The packaged model's vectors cut to 192 numbers: stands for a model with another vector length."""

    def __init__(self, full: Embedder):
        super().__init__()
        self.full, self.identity = full, "half-MiniLM"

    def _encode(self, texts):
        half = self.full.embed(texts)[:, :192]
        return half / np.linalg.norm(half, axis=1, keepdims=True)


def test_vectors_of_another_length_ask_for_a_rebuild(make_services, good_corpus, embedder):
    make_services().indexer.sync([str(good_corpus)], progress=False)
    services = make_services()
    services.embedder = FirstHalf(embedder)
    with pytest.raises(EmbedderMismatch, match="192-dimensional.*384-dimensional.*--rebuild"):
        services.indexer.sync([str(good_corpus)], progress=False)
    assert services.manifest.embedder_identity() == "all-MiniLM-L6-v2 int8"  # nothing changed
    report = services.indexer.sync([str(good_corpus)], rebuild=True, progress=False)
    assert report.added and services.manifest.embedder_identity() == "half-MiniLM"


def test_sentences_are_ranked_by_the_fp32_twin_of_the_int8_embedder(make_services, embedder, fp32):
    precise = embedder.precise
    assert precise.identity == "all-MiniLM-L6-v2 fp32" and precise.precise is precise and fp32.precise is fp32
    texts = [ARTICLE[s.start:s.end] for s in sentence_spans(ARTICLE)] + QUESTIONS
    # The same arithmetic as torch's fp32, through onnxruntime: equal up to float rounding.
    np.testing.assert_allclose(precise.embed(texts), fp32.embed(texts), atol=2e-4)
    assert make_services().answerer.sentences is precise  # the index's vectors stay int8 (tests above)
