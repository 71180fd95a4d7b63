"""Saved conversations: kept across restarts, each user's own, and reopened with every citation checked
against the index as it is now (still there, moved, changed, removed)."""

from __future__ import annotations

import pytest

from assistant.conversations import ConversationNotFound, ConversationStore
from assistant.library import Library
from tests.conftest import indexed_texts

HARBOUR = ("Northgate harbour had its busiest month on record in March. The harbour authority said that 412 ships "
           "docked there in March. The authority will dredge the outer channel next spring.")
QUESTION = "How many ships docked at Northgate harbour in March?"


def test_conversations_are_kept_per_user_newest_first(tmp_path, embedder):
    services = indexed_texts(tmp_path, embedder, {"harbour.txt": HARBOUR})
    answer = services.answerer.ask(QUESTION)
    store = services.conversations
    first = store.save(None, [answer], user="ann")
    second = store.save(None, [answer], user="ann")
    store.save(first, [answer, answer], user="ann")  # continued: now the most recent
    bobs = store.save(None, [answer], user="bob")

    reopened = ConversationStore(tmp_path / "home" / "conversations.sqlite")  # another process, after a restart
    assert [c.id for c in reopened.summaries("ann")] == [first, second]
    assert reopened.summaries("ann")[0].title == QUESTION and reopened.summaries("ann")[0].turns == 2
    assert reopened.get(first, "ann").answers[1] == answer
    assert [c.id for c in reopened.summaries("bob")] == [bobs] and reopened.summaries(None) == []
    with pytest.raises(ConversationNotFound, match="not yours"):
        reopened.get(bobs, "ann")
    with pytest.raises(ConversationNotFound):
        reopened.save(bobs, [answer], user="ann")

    reopened.rename(second, "ann", "  Ships   in March ")
    assert reopened.get(second, "ann").title == "Ships in March"
    with pytest.raises(ValueError, match="cannot be empty"):
        reopened.rename(second, "ann", "   ")
    reopened.delete(second, "ann")
    assert [c.id for c in reopened.summaries("ann")] == [first]


@pytest.mark.parametrize("change,status", [
    (lambda text: text, "current"),
    (lambda text: "A new first sentence pushes every offset along. " + text, "moved"),
    (lambda text: text.replace("412 ships", "about four hundred ships"), "changed"),
    (None, "removed"),
])
def test_a_reopened_citation_says_where_its_quote_is_now(tmp_path, embedder, change, status):
    services = indexed_texts(tmp_path, embedder, {"harbour.txt": HARBOUR})
    answer = services.answerer.ask(QUESTION)
    cited = answer.citations[0]
    assert "412 ships" in cited.quote
    path = tmp_path / "news" / "harbour.txt"
    if change is None:
        path.unlink()
    else:
        path.write_text(change(HARBOUR), encoding="utf-8")
    services.indexer.sync([str(tmp_path / "news")], progress=False)

    library = Library(services)
    now = library.relocated([answer])[0].citations[0]
    assert now.status == status and now.quote == cited.quote
    text = library.cited_text(now)
    if status in ("current", "moved"):
        assert text[now.start:now.end] == cited.quote  # the offsets point at the quote again
        assert (now.start != cited.start) == (status == "moved")
    else:
        assert text is None
