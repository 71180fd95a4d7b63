"""The web app as its users reach it: a real launched Gradio server driven by gradio_client, the `serve`
command, and the assistant modules behind the page (uploads, HTML views, transcript, access policy)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from gradio_client import Client, handle_file

from assistant.access import AccessError, check_exposure, parse_auth
from assistant.answerers import AnswererChoices
from ui.html_view import answer_html, context_html, document_html
from assistant.records import Answer, AnswerSentence, Citation
from assistant.services import Services
from assistant.settings import load_settings
from assistant.transcript import conversation_markdown, history_messages
from assistant.uploads import safe_name, stage_uploads
from tests.conftest import build_good_corpus, free_port
from tests.test_cli import ASSISTANT

ORRIN = "Mount Orrin last erupted in 1931, burying the village of Kesh under ash."
FERRY = "The Saltmere ferry carries 312 passengers on each crossing to the island of Dunholm."


def launch_on(base: Path, embedder, extra_files: dict[str, str] | None = None, **settings) -> SimpleNamespace:
    """Index the sample corpus (plus extra_files: name -> text) into a fresh home and launch the web app on
    it, in this process."""
    from ui.app import launch

    corpus = build_good_corpus(base / "docs")
    for name, text in (extra_files or {}).items():
        (corpus / name).write_text(text, encoding="utf-8")
    services = Services(load_settings(home=str(base / "home"), sources=[str(corpus)], **settings))
    services.embedder = embedder
    services.indexer.sync([str(corpus)], progress=False)
    app, url = launch(services, "127.0.0.1", free_port(), None, block=False)
    return SimpleNamespace(app=app, url=url, services=services, corpus=corpus, home=base / "home")


def client(url: str, **login) -> Client:
    # download_files=False: gradio_client 2 takes any {"path": ...} in a result for a file to fetch, and an
    # index report's skipped files are exactly that shape (the same as `assistant index --json`).
    return Client(url, verbose=False, download_files=False, **login)


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedder):
    launched = launch_on(tmp_path_factory.mktemp("ui"), embedder, max_file_mb=1)
    launched.client = client(launched.url)
    yield launched
    launched.app.close()


def test_ask_returns_the_object_of_ask_json(server):
    answer = server.client.predict("When did Mount Orrin last erupt?", api_name="/ask")
    expected = server.services.answerer.ask("When did Mount Orrin last erupt?").model_dump()
    assert {k: v for k, v in answer.items() if k != "timings"} == {k: v for k, v in expected.items() if k != "timings"}
    first = answer["citations"][0]
    text = Path(first["source"]).read_text(encoding="utf-8")
    assert first["quote"] == text[first["start"]:first["end"]] == ORRIN and not answer["abstained"]


def test_ask_follows_up_with_history(server):
    history = [{"role": "user", "content": "When did Mount Orrin last erupt?"},
               {"role": "assistant", "content": f"{ORRIN} [1]"}]
    answer = server.client.predict("How tall is it?", history, api_name="/ask")
    assert answer["citations"][0]["quote"] == "The summit stands 3,120 metres above sea level."
    with pytest.raises(Exception, match="history must be a list"):
        server.client.predict("How tall is it?", [{"who": "me"}], api_name="/ask")


def test_ask_limited_to_sources(server):
    orrin = next(doc.source for doc in server.services.indexer.documents() if doc.source.endswith("volcano.md"))
    others = [doc.source for doc in server.services.indexer.documents() if doc.source != orrin]
    answer = server.client.predict("When did Mount Orrin last erupt?", None, others, api_name="/ask")
    assert answer["scope"] == sorted(others) and all(c["source"] in others for c in answer["citations"])
    assert "1931" not in answer["answer"]
    with pytest.raises(Exception, match="no indexed document is this file or under this folder"):
        server.client.predict("When did Mount Orrin last erupt?", None, ["nowhere.txt"], api_name="/ask")


def test_feedback_rates_an_answer_from_ask(server):
    answer = server.client.predict("When did Mount Orrin last erupt?", api_name="/ask")
    number = server.client.predict(answer, "down", "wrong year?", None, api_name="/feedback")
    stored = next(e for e in server.services.feedback.entries() if e.id == number)
    assert stored.rating == "down" and stored.comment == "wrong year?" and stored.answer.citations[0].quote == ORRIN
    with pytest.raises(Exception, match="rating must be 'up' or 'down'"):
        server.client.predict(answer, "meh", "", None, api_name="/feedback")


def test_upload_ask_about_it_then_remove_it(server, tmp_path):
    upload = tmp_path / "Saltmere ferry.md"
    upload.write_text(f"# Ferries\n\n{FERRY}\n", encoding="utf-8")
    report = server.client.predict([handle_file(upload)], api_name="/upload")
    copy = server.home / "documents" / "Saltmere ferry.md"
    assert report["added"] == [str(copy)] and report["skipped"] == [] and copy.read_text() == upload.read_text()
    assert str(copy) in {doc["source"] for doc in server.client.predict(api_name="/documents")}

    answer = server.client.predict("How many passengers does the Saltmere ferry carry?", api_name="/ask")
    assert answer["citations"][0]["source"] == str(copy) and answer["citations"][0]["quote"] == FERRY

    assert server.client.predict(str(copy), api_name="/remove") == [str(copy)]
    assert not copy.exists()  # the uploaded copy goes with it
    assert str(copy) not in {doc["source"] for doc in server.client.predict(api_name="/documents")}
    assert server.client.predict("How many passengers does the Saltmere ferry carry?", api_name="/ask")["abstained"]
    with pytest.raises(Exception, match="no indexed document matches"):
        server.client.predict(str(copy), api_name="/remove")


def test_a_collection_keeps_its_own_documents(server, tmp_path):
    upload = tmp_path / "Saltmere ferry.md"
    upload.write_text(f"# Ferries\n\n{FERRY}\n", encoding="utf-8")
    report = server.client.predict([handle_file(upload)], "ferries", api_name="/upload")
    copy = server.home / "collections" / "ferries" / "documents" / "Saltmere ferry.md"
    assert report["added"] == [str(copy)]
    assert [doc["source"] for doc in server.client.predict("ferries", api_name="/documents")] == [str(copy)]
    assert str(copy) not in {doc["source"] for doc in server.client.predict(api_name="/documents")}

    question = "How many passengers does the Saltmere ferry carry?"
    answer = server.client.predict(question, None, None, "ferries", api_name="/ask")
    assert answer["citations"][0]["quote"] == FERRY and answer["citations"][0]["source"] == str(copy)
    assert server.client.predict(question, api_name="/ask")["abstained"]  # not in the default collection
    # The CLI's --collection reads the same collection.
    done = subprocess.run([ASSISTANT, "--home", str(server.home), "--collection", "ferries", "--no-llm", "ask",
                           "--json", question], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and FERRY in done.stdout
    with pytest.raises(Exception, match="cannot name a collection"):
        server.client.predict(question, None, None, "../elsewhere", api_name="/ask")
    with pytest.raises(Exception, match="belong to the collection documents"):
        server.client.predict("ferries", api_name="/reindex")
    assert server.client.predict(str(copy), "ferries", api_name="/remove") == [str(copy)]


def test_upload_reports_refused_files_and_the_size_limit(server, tmp_path):
    (tmp_path / "scores.sav").write_text("a,b\n1,2\n")
    report = server.client.predict([handle_file(tmp_path / "scores.sav")], api_name="/upload")
    assert report["added"] == [] and "unsupported format" in report["skipped"][0]["reason"]
    big = tmp_path / "big.txt"
    big.write_text("word " * 300_000)  # 1.5 MB, over max_file_mb=1: the server refuses the upload itself
    with pytest.raises(Exception):
        server.client.predict([handle_file(big)], api_name="/upload")
    assert not (server.home / "documents" / "big.txt").exists()


def test_documents_lists_what_docs_json_lists(server):
    listed = server.client.predict(api_name="/documents")
    assert listed == [doc.model_dump() for doc in server.services.indexer.documents()]
    assert {doc["source"] for doc in listed} >= {str(p) for p in server.corpus.iterdir()}


def test_chat_keeps_answering_while_an_upload_is_indexed(server, tmp_path):
    big = tmp_path / "station-log.txt"
    big.write_text(" ".join(f"Station {i} logged {i * 7} readings in sector {i % 97} during shift {i % 5}."
                            for i in range(4000)), encoding="utf-8")
    job = server.client.submit([handle_file(big)], api_name="/upload")
    time.sleep(1.5)  # the indexer is now embedding, holding the index's writer lock
    answer = client(server.url).predict("When did Mount Orrin last erupt?", api_name="/ask")
    assert answer["citations"][0]["quote"] == ORRIN
    assert not job.done(), "the upload finished before the question: make the file bigger to test concurrency"
    assert job.result(timeout=300)["added"] == [str(server.home / "documents" / "station-log.txt")]


def test_serve_refuses_a_public_address_without_auth(tmp_path):
    result = subprocess.run([ASSISTANT, "--home", str(tmp_path), "serve", "--host", "0.0.0.0"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "--auth" in result.stderr and "Traceback" not in result.stderr


def test_serve_command_starts_a_server_behind_a_login(tmp_path):
    build_good_corpus(tmp_path / "docs")
    port = free_port()
    server = subprocess.Popen([ASSISTANT, "--home", str(tmp_path / "home"), "serve", "--port", str(port)],
                              env={**os.environ, "ASSISTANT_AUTH": "reader:s3cret:pass"},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                login = client(f"http://127.0.0.1:{port}/", auth=("reader", "s3cret:pass"))
                break
            except Exception:
                assert server.poll() is None and time.monotonic() < deadline, server.stdout.read()
                time.sleep(1)
        assert login.predict(api_name="/documents") == []
        with pytest.raises(Exception):
            client(f"http://127.0.0.1:{port}/", auth=("reader", "wrong"))
    finally:
        server.terminate()
        server.wait(timeout=30)


# ----- the modules behind the page -------------------------------------------------------------------


@pytest.mark.parametrize("name,safe", [("../../x.txt", "x.txt"), ("..\\..\\evil.md", "evil.md"),
                                       (".hidden.txt", "hidden.txt"), ("<img onerror=x>.html", "img onerror_x.html"),
                                       ("Résumé 2024.PDF", "Résumé 2024.pdf"), ("..", "upload"),
                                       ("a\x00b;rm -rf.txt", "a_b_rm -rf.txt")])
def test_safe_name_stays_in_its_folder(name, safe):
    assert safe_name(name) == safe


def test_save_uploads_never_escapes_and_enforces_limits(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "ok.txt").write_text("fine")
    (src / "big.txt").write_text("x" * 2000)
    (src / "tool.sh").write_text("echo")
    folder = tmp_path / "home" / "documents"
    staged, refused = stage_uploads([src / "ok.txt", src / "big.txt", src / "tool.sh"], folder, max_bytes=1000)
    # Staged under a hidden name beside the copy it is for; it is moved there once indexed (Library.add).
    assert [(Path(f.path), f.source) for f in staged] == [(folder / "ok.txt", str(folder / "ok.txt"))]
    assert Path(staged[0].staged).parent == folder and Path(staged[0].staged).name.startswith(".upload-")
    assert Path(staged[0].staged).name.endswith("-ok.txt") and Path(staged[0].staged).read_text() == "fine"
    assert {r.path: r.reason.split(" ")[0] for r in refused} == {"big.txt": "over", "tool.sh": "unsupported"}
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        ["big.txt", "ok.txt", "tool.sh", Path(staged[0].staged).name])


def test_exposure_policy():
    assert parse_auth("u:p:q") == ("u", "p:q") and parse_auth(None) is None
    for bad in ("nopassword", ":p", "u:"):
        with pytest.raises(AccessError):
            parse_auth(bad)
    check_exposure("127.0.0.1", None, False)
    check_exposure("localhost", None, False)
    check_exposure("0.0.0.0", ("u", "p"), False)
    check_exposure("0.0.0.0", None, True)
    with pytest.raises(AccessError, match="--auth"):
        check_exposure("0.0.0.0", None, False)


HOSTILE = '<script>document.title="pwned"</script><img src=x onerror="alert(1)">'


def hostile_answer() -> Answer:
    citation = Citation(n=1, source=f"docs/{HOSTILE}.txt", quote=f"Quote {HOSTILE}", start=4, end=4 + 6 + len(HOSTILE),
                        score=0.7)
    return Answer(question=f"Why {HOSTILE}?", answer=f"Claim {HOSTILE} [1]. Invented figure 42.", abstained=False,
                  citations=[citation],
                  sentences=[AnswerSentence(text=f"Claim {HOSTILE} [1].", citations=[1], supported=True),
                             AnswerSentence(text="Invented figure 42.", citations=[], supported=False)])


def test_html_views_escape_every_text_and_flag_unsupported_claims():
    answer = hostile_answer()
    text = f"pre Quote {HOSTILE} post"
    html = answer_html(0, answer, show_scores=True, text_for=lambda c: text)
    assert "<script" not in html and "<img" not in html and "&lt;script&gt;" in html
    assert '<a class="marker" href="#cite-0-1" data-n="1">1</a>' in html
    assert '<span class="unsupported"' in html and "Invented figure 42." in html
    assert "0.70" in html and "Open the whole document" in html
    viewer = document_html(answer.citations[0], text)
    assert "<script" not in viewer and '<mark class="cited">Quote &lt;script&gt;' in viewer


def test_context_highlights_the_exact_quote_cut_between_words():
    text = "alpha " * 100 + "THE QUOTE." + " omega" * 100
    start = text.index("THE QUOTE.")
    html = context_html(text, start, start + len("THE QUOTE."), radius=30)
    assert html.startswith("…alpha") and html.endswith("omega…")
    assert '<mark class="cited">THE QUOTE.</mark>' in html and "alph " not in html


def test_abstention_and_removed_documents_are_shown_as_such():
    abstained = Answer(question="q", answer="The indexed documents do not contain an answer to this question.",
                       abstained=True)
    assert "Not in the documents." in answer_html(0, abstained, False, lambda c: None)
    missing = answer_html(0, hostile_answer(), False, lambda c: None)
    assert "removed or has changed" in missing and "Open the whole document" not in missing


def test_transcript_markdown_and_history():
    answer = hostile_answer()
    markdown = conversation_markdown([answer])
    assert f"> Quote {HOSTILE}" in markdown and "characters 4–" in markdown and "⚠ Invented figure 42." in markdown
    assert [m.role for m in history_messages([answer, answer])] == ["user", "assistant"] * 2


def test_answerer_choices_share_the_index_and_keep_defaults(make_services, good_corpus):
    services = make_services()
    services.indexer.sync([str(good_corpus)], progress=False)
    choices = AnswererChoices(services)
    assert choices.get("none", services.settings.model, services.settings.max_quotes) is services.answerer
    two = choices.get("none", services.settings.model, 1)
    assert two is choices.get("none", services.settings.model, 1) and two.retriever is services.retriever
    assert len(two.ask("When did Mount Orrin last erupt?").citations) == 1
