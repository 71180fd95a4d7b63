"""Speed features of the in-process llama.cpp model, with the real small model: n-gram drafting leaves the
greedy reply as it was, and the answer prompt's fixed prefix is saved once and restored by a new process."""

from __future__ import annotations

import pytest

from assistant.answering import answer_prompt
from assistant.llm import LlamaCppChat
from assistant.models import resolve_model

QUESTION = {"role": "user", "content": "Passages:\n[1] Mount Orrin last erupted in 1931, burying the village of "
                                       "Kesh under ash.\n\nQuestion: When did Mount Orrin last erupt?"}


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    return resolve_model("small", tmp_path_factory.mktemp("models"))


def test_ngram_drafts_leave_the_greedy_reply_unchanged(small_model):
    text = ("The Port of Veltria handled 4.2 million containers in 2023. Its new crane terminal opened in March "
            "after two years of building work. Dock workers voted to accept a three-year wage deal in October.")
    messages = [{"role": "user", "content": f"Repeat this text word for word:\n{text}"}]
    plain = "".join(LlamaCppChat(small_model, 2048, None).stream(messages, 48))
    drafting = LlamaCppChat(small_model, 2048, None, draft="ngram")
    assert "".join(drafting.stream(messages, 48)) == plain
    assert drafting.timings["draft_n_accepted"] > 0  # drafts were made, and used


def test_the_fixed_prefix_is_saved_once_restored_by_a_new_instance_and_replaced_when_it_changes(small_model,
                                                                                                tmp_path):
    prefix = answer_prompt("", [])[:-1]
    folder = tmp_path / "kv"
    first = LlamaCppChat(small_model, 2048, None, prefix_folder=folder)
    first.warm_up(prefix)
    [saved] = folder.iterdir()
    assert saved.name.startswith(small_model.stem) and saved.suffix == ".bin"
    prefix_tokens = first.timings["prompt_n"]
    reply = "".join(first.stream(prefix + [QUESTION], 32))
    stamp = saved.stat().st_mtime_ns

    second = LlamaCppChat(small_model, 2048, None, prefix_folder=folder)  # as in a new process
    second.warm_up(prefix)
    assert "".join(second.stream(prefix + [QUESTION], 32)) == reply
    # Its first reply computed only the tokens after the prefix: the rest came from the file.
    assert second.timings["cache_n"] >= prefix_tokens - 8 and second.timings["prompt_n"] < 60
    assert list(folder.iterdir()) == [saved] and saved.stat().st_mtime_ns == stamp

    # Another prefix (new instructions, say) is never served the old state: computed, saved anew, the old file gone.
    changed = [{"role": "system", "content": prefix[0]["content"] + " Be brief."}] + prefix[1:]
    second.warm_up(changed)
    assert second.timings["prompt_n"] > 400  # all but the start of the system prompt, which it shares
    [new] = folder.iterdir()
    assert new.name != saved.name
