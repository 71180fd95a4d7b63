"""Hybrid retrieval against a real Chroma and the real embedder: BM25 postings that follow every re-index,
only live versions searched, and dense cosines on every returned chunk."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from assistant.retrieval import HybridRetriever
from index.chunking import Chunker
from index.keyword_index import KeywordIndex
from index.manifest import DocumentRow, now_iso

# Maintenance notes that all read alike to an embedder; only one names the part asked about.
NOTES = {
    "pump-a.txt": "The coolant pump in hall 2 was inspected on Monday. Its seals were worn and were replaced.",
    "pump-b.txt": "Engineers replaced the pump impeller in hall 3 after the flow rate dropped in June.",
    "pump-c.txt": "A spare pump housing arrived from the supplier and was stored beside the loading dock.",
    "pump-d.txt": "The night shift logged a leaking pump valve; the valve was tightened and the leak stopped.",
    "garden.txt": "The staff garden party was moved indoors because of rain. Order XK-4471 was delivered too.",
}


@pytest.fixture
def notes(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    for name, text in NOTES.items():
        (folder / name).write_text(text + "\n", encoding="utf-8")
    return folder


def retriever(services, mode: str = "hybrid") -> HybridRetriever:
    return HybridRetriever(services.store, KeywordIndex(services.manifest.path), services.embedder, mode)


def found(services, query: str, mode: str = "bm25") -> list[str]:
    """File names of the chunks retrieved for query, best first."""
    return [c.source.rsplit("/", 1)[-1] for c in retriever(services, mode).retrieve(query, 10)[1]]


def postings_rows(services) -> int:
    with sqlite3.connect(services.manifest.path) as db:
        return db.execute("SELECT COUNT(*) FROM keyword_chunks").fetchone()[0]


def test_bm25_finds_an_exact_code_that_dense_ranks_poorly(make_services, notes):
    services = make_services()
    services.indexer.sync([str(notes)], progress=False)
    query = "pump part XK-4471"
    assert found(services, query, "bm25")[0] == "garden.txt"
    assert found(services, query, "dense").index("garden.txt") >= 2
    assert found(services, query, "hybrid").index("garden.txt") <= 1


def test_postings_follow_every_reindex(make_services, notes):
    services = make_services()
    services.indexer.sync([str(notes)], progress=False)
    assert found(services, "quokka") == []

    extra = notes / "zoo.txt"
    extra.write_text("A quokka was born at the city zoo this spring.\n", encoding="utf-8")
    services.indexer.sync([str(notes)], progress=False)
    assert found(services, "quokka") == ["zoo.txt"]

    extra.write_text("Two marmosets were born at the city zoo this spring.\n", encoding="utf-8")
    services.indexer.sync([str(notes)], progress=False)
    services.indexer.sync([str(notes)], progress=False)
    assert found(services, "quokka") == []
    assert found(services, "marmoset") == ["zoo.txt"]  # once: re-indexing never duplicates postings
    assert postings_rows(services) == services.store.count()

    extra.unlink()
    services.indexer.sync([str(notes)], progress=False)
    assert found(services, "marmoset") == []
    assert postings_rows(services) == services.store.count()


def test_a_journalled_version_that_is_not_live_is_never_returned(make_services, notes, embedder):
    services = make_services()
    services.indexer.sync([str(notes)], progress=False)
    # Steps 1 and 2 of the write protocol, then a crash: journalled and stored, never made live.
    text = "Half-written report about the wombat census.\n"
    row = DocumentRow(path=str(notes / "wombat.txt"), source=str(notes / "wombat.txt"), sha256="0" * 64,
                      version_id="f" * 24, chunks=1, indexed_at=now_iso())
    chunks = Chunker(embedder.word_pieces, 200, 32).chunk(text)
    services.manifest.begin_versions([(row, text, chunks)])
    services.store.add_versions([(row, chunks, list(embedder.embed([c.text for c in chunks])))])
    assert services.store.count() == len(NOTES) + 1  # Chroma holds it, and dense search would find it
    assert all("wombat" not in name for mode in ("bm25", "dense", "hybrid")
               for name in found(services, "wombat census", mode))
    # Recovery deletes it from the store and its postings with it.
    report = services.indexer.sync([str(notes)], progress=False)
    assert report.recovered and postings_rows(services) == services.store.count()


def test_hybrid_chunks_carry_their_dense_cosine(make_services, notes, embedder):
    services = make_services()
    services.indexer.sync([str(notes)], progress=False)
    query_vector, chunks = retriever(services).retrieve("pump part XK-4471", 4)
    assert len(chunks) == 4
    cosines = embedder.embed([c.text for c in chunks]) @ query_vector
    assert np.allclose([c.score for c in chunks], cosines, atol=1e-4)
    assert [c.fused for c in chunks] == sorted((c.fused for c in chunks), reverse=True)


def test_a_home_indexed_before_keyword_search_gets_its_postings(make_services, notes, tmp_path):
    home = tmp_path / "old-home"
    make_services(home=home).indexer.sync([str(notes)], progress=False)
    with sqlite3.connect(next(home.glob("manifest-*.sqlite"))) as db:  # as a database made before this change
        db.executescript("DROP TABLE keyword_terms; DROP TABLE keyword_chunks; DROP TABLE alembic_version;")
    services = make_services(home=home)
    assert found(services, "XK-4471") == []
    report = services.indexer.sync([str(notes)], progress=False)
    assert any("keyword postings" in note for note in report.recovered)
    assert found(services, "XK-4471") == ["garden.txt"]
    assert postings_rows(services) == services.store.count()
