"""Named collections in one home: each with its own documents, listed, opened on demand, names checked."""

from __future__ import annotations

import pytest

from assistant.collections import Collections, UnknownCollection, check_name


def test_collections_are_listed_default_first_and_keep_their_own_documents(make_services, good_corpus, tmp_path):
    services = make_services(llm="none")
    services.indexer.sync([str(good_corpus)], progress=False)
    collections = Collections(services)
    assert collections.names() == ["documents"]
    with pytest.raises(UnknownCollection, match="there is no collection 'team-notes' \\(there are: documents\\)"):
        collections.get("team-notes")  # a read never makes one
    assert not (services.settings.home / "collections").exists()
    notes = collections.get("team-notes", create=True)  # as an upload does
    assert collections.get("team-notes") is notes and collections.get(None) is collections.get("documents")
    assert notes.services.embedder is services.embedder  # one model in memory for every collection
    (tmp_path / "memo.txt").write_text("The Orsk beacon flashes green every nine seconds.\n")
    report = notes.library.add([str(tmp_path / "memo.txt")], progress=False)
    assert report.added == [str(services.settings.home / "collections" / "team-notes" / "documents" / "memo.txt")]
    assert [d.source for d in notes.library.documents()] == report.added
    assert all(not d.source.endswith("memo.txt") for d in collections.get(None).library.documents())
    assert Collections(services).names() == ["documents", "team-notes"]  # found again in the store


@pytest.mark.parametrize("name", ["../x", "a", "-bad-", "has space", "x" * 64, "a..b"])
def test_names_chroma_cannot_take_are_refused_with_the_rule(name):
    with pytest.raises(ValueError, match="3 to 63 letters, digits"):
        check_name(name)
