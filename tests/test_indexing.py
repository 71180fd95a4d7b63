"""Incremental sync against a real Chroma and the real embedder: add, change, rename, delete, skip."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

from index.lock import IndexBusy, WriterLock
from tests.conftest import HOSTILE_REASONS, add_hostile_files

GOOD = ["bakery.pdf", "harbor.txt", "orchestra.html", "rover.docx", "volcano.md"]


def chunks_by_source(services) -> Counter:
    """Count the chunks in the Chroma collection itself, per document source."""
    stored = services.store._collection.get(include=["metadatas"])
    return Counter(meta["source"] for meta in stored["metadatas"])


def assert_store_matches_manifest(services) -> None:
    docs = services.indexer.documents()
    assert len({d.source for d in docs}) == len(docs)
    assert chunks_by_source(services) == Counter({d.source: d.chunks for d in docs})
    assert all(d.chunks > 0 for d in docs)


def names(sources) -> list[str]:
    return sorted(s.rsplit("/", 1)[-1] for s in sources)


def test_first_index_adds_every_format(make_services, good_corpus):
    services = make_services()
    report = services.indexer.sync([str(good_corpus)], progress=False)
    assert names(report.added) == GOOD
    assert report.skipped == [] and report.chunks_embedded == report.chunks_written > 0
    assert_store_matches_manifest(services)
    again = services.indexer.sync([str(good_corpus)], progress=False)
    assert names(again.unchanged) == GOOD
    assert (again.added, again.updated, again.removed, again.chunks_embedded) == ([], [], [], 0)


def test_hostile_files_are_skipped_and_the_rest_indexed(make_services, good_corpus):
    add_hostile_files(good_corpus)
    services = make_services(max_file_mb=1)
    report = services.indexer.sync([str(good_corpus)], progress=False)
    assert names(report.added) == GOOD
    reasons = {s.path.rsplit("/", 1)[-1]: s.reason for s in report.skipped}
    for name, expected in HOSTILE_REASONS.items():
        assert expected in reasons.pop(name), name
    assert list(reasons) == ["subdir-loop"]  # the folder symlink loop, reported once
    assert_store_matches_manifest(services)
    assert "SCRIPT_TEXT_MUST_NOT_BE_INDEXED" not in str(services.store._collection.get()["documents"])


def test_change_rename_copy_delete(make_services, good_corpus, tmp_path):
    services = make_services()
    services.indexer.sync([str(good_corpus)], progress=False)
    before = {d.source: d for d in services.indexer.documents()}

    # Change one file: only it is re-embedded, and its old chunks are gone.
    harbor = good_corpus / "harbor.txt"
    harbor.write_text(harbor.read_text() + "A second terminal will open in 2026 next to the first one.\n")
    report = services.indexer.sync([str(good_corpus)], progress=False)
    assert names(report.updated) == ["harbor.txt"] and len(report.unchanged) == 4
    assert 0 < report.chunks_embedded <= report.chunks_written
    assert_store_matches_manifest(services)
    after = {d.source: d for d in services.indexer.documents()}
    assert after[str(harbor)].sha256 != before[str(harbor)].sha256

    # Rename + move into a sub-folder: same vectors, nothing embedded.
    (good_corpus / "geo").mkdir()
    shutil.move(good_corpus / "volcano.md", good_corpus / "geo" / "orrin.md")
    report = services.indexer.sync([str(good_corpus)], progress=False)
    assert report.renamed == [(str(good_corpus / "volcano.md"), str(good_corpus / "geo" / "orrin.md"))]
    assert (report.added, report.removed, report.chunks_embedded) == ([], [], 0)
    assert_store_matches_manifest(services)

    # A copy reuses vectors too, and both copies are indexed once each.
    shutil.copy(good_corpus / "rover.docx", good_corpus / "rover-copy.docx")
    report = services.indexer.sync([str(good_corpus)], progress=False)
    assert names(report.added) == ["rover-copy.docx"] and report.chunks_embedded == 0
    assert_store_matches_manifest(services)

    # Delete: removed from the store.
    (good_corpus / "rover.docx").unlink()
    report = services.indexer.sync([str(good_corpus)], progress=False)
    assert names(report.removed) == ["rover.docx"]
    assert_store_matches_manifest(services)
    assert names(d.source for d in services.indexer.documents()) == sorted(
        ["bakery.pdf", "harbor.txt", "orchestra.html", "orrin.md", "rover-copy.docx"])


def test_a_file_that_turns_corrupt_keeps_its_last_good_version(make_services, good_corpus):
    services = make_services()
    services.indexer.sync([str(good_corpus)], progress=False)
    (good_corpus / "bakery.pdf").write_bytes(b"%PDF-1.4 truncated")
    report = services.indexer.sync([str(good_corpus)], progress=False)
    assert names(s.path for s in report.skipped) == ["bakery.pdf"] and report.removed == []
    assert "bakery.pdf" in names(d.source for d in services.indexer.documents())
    assert_store_matches_manifest(services)


def test_syncing_one_folder_leaves_other_folders_alone(make_services, good_corpus, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.txt").write_text("The archive closes at noon on Fridays.\n")
    services = make_services()
    services.indexer.sync([str(good_corpus), str(other)], progress=False)
    report = services.indexer.sync([str(other)], progress=False)
    assert report.removed == [] and len(services.indexer.documents()) == 6
    shutil.rmtree(other)
    report = services.indexer.sync([str(other)], progress=False)  # a vanished folder: its documents go
    assert names(report.removed) == ["note.txt"] and report.skipped == []
    assert_store_matches_manifest(services)


def test_remove_and_rebuild(make_services, good_corpus):
    services = make_services()
    services.indexer.sync([str(good_corpus)], progress=False)
    assert services.indexer.remove(str(good_corpus / "harbor.txt")) == [str(good_corpus / "harbor.txt")]
    assert services.indexer.remove(str(good_corpus / "harbor.txt")) == []
    assert_store_matches_manifest(services)
    assert len(services.indexer.documents()) == 4
    report = services.indexer.sync([str(good_corpus)], rebuild=True, progress=False)
    assert names(report.added) == GOOD
    assert_store_matches_manifest(services)
    assert services.indexer.remove(str(good_corpus)) and services.store.count() == 0


def test_a_second_writer_is_refused_with_a_clear_message(make_services, good_corpus):
    services = make_services()
    with WriterLock(services.indexer.lock_path):
        with pytest.raises(IndexBusy, match="another indexing run"):
            services.indexer.sync([str(good_corpus)], progress=False)
    assert services.indexer.sync([str(good_corpus)], progress=False).added


def test_same_file_under_another_spelling_is_re_pointed_not_lost(make_services, good_corpus, monkeypatch):
    services = make_services()
    monkeypatch.chdir(good_corpus.parent)
    services.indexer.sync(["docs"], progress=False)
    report = services.indexer.sync([str(good_corpus)], progress=False)  # same files, absolute spelling
    assert len(report.updated) == 5 and report.chunks_embedded == 0
    assert_store_matches_manifest(services)
    assert {d.source for d in services.indexer.documents()} == {str(p) for p in good_corpus.iterdir()}


def test_wait_queues_behind_the_running_writer(make_services, good_corpus):
    import threading

    services = make_services()
    holder = WriterLock(services.indexer.lock_path).__enter__()
    threading.Timer(1.0, holder.__exit__).start()
    report = services.indexer.sync([str(good_corpus)], wait_seconds=30, progress=False)
    assert names(report.added) == GOOD


def test_duplicate_files_in_one_run_are_embedded_once(make_services, good_corpus):
    for copy in range(3):
        shutil.copy(good_corpus / "harbor.txt", good_corpus / f"harbor-{copy}.txt")
    services = make_services(embed_batch=1)  # every document in its own batch: reuse must span batches
    report = services.indexer.sync([str(good_corpus)], progress=False)
    assert len(report.added) == 8
    harbor_chunks = next(d.chunks for d in services.indexer.documents() if d.source.endswith("/harbor.txt"))
    assert report.chunks_embedded == report.chunks_written - 3 * harbor_chunks
    assert_store_matches_manifest(services)


def test_a_failed_write_stops_the_run_and_the_next_run_completes(make_services, good_corpus):
    """Writes run in a thread beside embedding; a store that refuses one (a Chroma server going away) must
    stop the run with its error, not lose it, and leave nothing the next run cannot finish."""
    services = make_services(embed_batch=1)  # a batch per file: writes overlap embedding
    add_versions, calls = services.store.add_versions, []

    def refuse_the_second(versions):
        calls.append(len(versions))
        if len(calls) == 2:
            raise ConnectionError("Chroma went away")
        add_versions(versions)

    services.store.add_versions = refuse_the_second
    with pytest.raises(ConnectionError, match="Chroma went away"):
        services.indexer.sync([str(good_corpus)], progress=False)
    assert len(calls) == 2  # nothing written after the failure
    services.store.add_versions = add_versions
    report = services.indexer.sync([str(good_corpus)], progress=False)
    assert sorted(names(report.added + report.unchanged)) == GOOD
    assert_store_matches_manifest(services)
