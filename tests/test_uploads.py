"""Uploads that never clobber and file names as the OS gives them (issue 22, items 2, 3, 4 and 11's same-name
upload): a real launched web server driven by gradio_client, and the installed `assistant` command."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from gradio_client import handle_file

from assistant.services import Services
from assistant.settings import load_settings
from tests.conftest import free_port
from tests.test_cli import ASSISTANT
from tests.test_ui import client, launch_on, server  # noqa: F401  (server: test_ui's fixture, one per module)

TIDES = "The Varnholt tide gauge recorded a surge of 4.7 metres on the ninth of January."
TIDES_QUESTION = "What surge did the Varnholt tide gauge record?"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"


def everything_in(folder: Path) -> dict[str, bytes]:
    """Every file in the folder, hidden ones included, with its bytes."""
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


def upload_tides(server, tmp_path: Path, name: str) -> Path:
    first = tmp_path / "first" / name
    first.parent.mkdir()
    first.write_text(f"Tide log\n\n{TIDES}\n", encoding="utf-8")
    report = server.client.predict([handle_file(first)], api_name="/upload")
    copy = server.home / "documents" / name
    assert report["added"] == [str(copy)] and report["skipped"] == [], report
    return copy


def assert_answers_from(server, copy: Path) -> None:
    """The index answers from the stored copy, and holds exactly its bytes."""
    answer = server.client.predict(TIDES_QUESTION, None, [str(copy)], api_name="/ask")
    assert answer["citations"] and answer["citations"][0]["source"] == str(copy), answer
    assert answer["citations"][0]["quote"] == TIDES
    listed = {doc["source"]: doc for doc in server.client.predict(api_name="/documents")}
    assert listed[str(copy)]["sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()


@pytest.mark.parametrize("kind", ["empty", "binary", "too-large"])
def test_a_rejected_reupload_leaves_the_stored_copy_and_its_index_alone(server, tmp_path, kind):
    name = f"tides-{kind}.txt"
    copy = upload_tides(server, tmp_path, name)
    before = everything_in(copy.parent)

    again = tmp_path / "again" / name
    again.parent.mkdir()
    if kind == "too-large":
        again.write_text("word " * 300_000)  # 1.5 MB, over max_file_mb=1: the server itself refuses it
        with pytest.raises(Exception):
            server.client.predict([handle_file(again)], api_name="/upload")
    else:
        again.write_bytes(b"" if kind == "empty" else PNG)  # a PNG named .txt: binary content
        report = server.client.predict([handle_file(again)], api_name="/upload")
        assert report["added"] == report["updated"] == [] and [s["path"] for s in report["skipped"]] == [str(copy)]
        assert report["skipped"][0]["reason"] == ("empty file" if kind == "empty"
                                                  else "binary content (NUL bytes) in a text file")
    assert everything_in(copy.parent) == before  # the stored copy byte-identical, and nothing left beside it
    assert_answers_from(server, copy)


def test_a_rejected_upload_leaves_nothing_on_disk(server, tmp_path):
    folder = server.home / "documents"
    folder.mkdir(exist_ok=True)
    before = everything_in(folder)
    (tmp_path / "blank.txt").write_bytes(b"")
    (tmp_path / "photo.txt").write_bytes(PNG)
    (tmp_path / "scores.sav").write_text("a,b\n1,2\n")
    report = server.client.predict([handle_file(tmp_path / name) for name in ("blank.txt", "photo.txt", "scores.sav")],
                                   api_name="/upload")
    assert report["added"] == [] and len(report["skipped"]) == 3, report
    assert everything_in(folder) == before  # no blank.txt, photo.txt, nor any hidden staging copy
    assert not {str(folder / "blank.txt"), str(folder / "photo.txt")} & \
           {doc["source"] for doc in server.client.predict(api_name="/documents")}


def test_two_files_of_the_same_name_in_one_upload_one_is_added_the_other_skipped_with_a_reason(server, tmp_path):
    for side, fact in (("left", TIDES), ("right", "The Orsk beacon flashes green every nine seconds.")):
        (tmp_path / side).mkdir()
        (tmp_path / side / "twin notes.txt").write_text(f"{fact}\n", encoding="utf-8")
    report = server.client.predict([handle_file(tmp_path / "left" / "twin notes.txt"),
                                    handle_file(tmp_path / "right" / "twin notes.txt")], api_name="/upload")
    copy = server.home / "documents" / "twin notes.txt"
    assert report["added"] == [str(copy)] and copy.read_text(encoding="utf-8") == f"{TIDES}\n", report
    assert [s["path"] for s in report["skipped"]] == ["twin notes.txt"]
    assert "another file in this upload has the same name" in report["skipped"][0]["reason"]
    assert not any(name.startswith(".") for name in os.listdir(copy.parent))


def test_the_start_up_sweep_settles_what_a_killed_upload_left(tmp_path, embedder):
    from ui.app import launch

    first = launch_on(tmp_path, embedder)
    try:
        first.client = client(first.url)
        copy = upload_tides(first, tmp_path, "tides.txt")
    finally:
        first.app.close()
    folder = copy.parent
    indexed = copy.read_bytes()
    # Left by uploads killed mid-way: one never went live (its bytes are not what the index holds), one was killed
    # after its version went live but before it was moved over the stored copy (which still has older bytes).
    (folder / ".upload-0123abcd-ferry.txt").write_text("The Saltmere ferry carries 312 passengers.\n")
    (folder / ".upload-89abcdef-tides.txt").write_bytes(indexed)
    copy.write_text("an older copy\n", encoding="utf-8")
    (folder / ".notes-of-mine.txt").write_text("mine\n")  # hidden, but no staging copy: not the sweep's

    services = Services(load_settings(home=str(first.home), sources=[str(first.corpus)]))
    services.embedder = embedder
    app, url = launch(services, "127.0.0.1", free_port(), None, block=False)
    try:
        assert everything_in(folder) == {".notes-of-mine.txt": b"mine\n", "tides.txt": indexed}
        assert_answers_from(SimpleNamespace(home=first.home, client=client(url)), copy)
    finally:
        app.close()


def test_index_skips_a_name_that_is_not_utf8_and_indexes_the_rest(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "good.txt").write_text(f"{TIDES}\n", encoding="utf-8")
    bad = os.path.join(os.fsencode(folder), b"caf\xff.txt")
    handle = os.open(bad, os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(handle, b"The cafe opens at seven every morning.\n")
    os.close(handle)
    env = {**os.environ, "ASSISTANT_HOME": str(tmp_path / "home"), "ASSISTANT_LLM": "none"}

    def assistant(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([ASSISTANT, *args], capture_output=True, text=True, env=env, timeout=300)

    done = assistant("index", "--quiet", "--json", str(folder))
    assert done.returncode == 3 and "Traceback" not in done.stderr, done.stderr
    report = json.loads(done.stdout)
    assert report["added"] == [str(folder / "good.txt")]
    escaped = str(folder / "caf\\xff.txt")
    assert [(s["path"], s["reason"]) for s in report["skipped"]] == [
        (escaped, "file name is not valid UTF-8: rename it to index it")]

    again = assistant("index", "--quiet", str(folder))  # nothing changed: the same skip, said the same way
    assert again.returncode == 3 and f"skipped: {escaped}: file name is not valid UTF-8" in again.stdout, again
    docs = assistant("docs", "--json")
    assert docs.returncode == 0, docs.stderr
    assert [doc["source"] for doc in json.loads(docs.stdout)] == [str(folder / "good.txt")]
