"""Versioned schemas (index/migrations): a SQLite file written by any earlier release opens through the real
classes with its rows kept and what it lacks added; a new file starts at head; a file from a newer release is
refused with a message naming it; a file already at head opens without importing Alembic; two processes
migrating one file at once, or a migration that fails half-way, leave it whole.

The older schemas are the releases' own CREATE TABLE statements, copied from `git log -S'CREATE TABLE'`."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from assistant.conversations import ConversationStore
from assistant.feedback import FeedbackLog
from assistant.records import Answer
from index.manifest import DocumentRow, Manifest
from tests.conftest import VOLCANO_MD
from tests.test_cli import run
from tests.test_ui import ORRIN

# ----- the schemas as released -------------------------------------------------------------------------------

MANIFEST_FIRST = """
CREATE TABLE IF NOT EXISTS documents (
    path TEXT PRIMARY KEY,      -- absolute path: the document's identity
    source TEXT NOT NULL,       -- the path as the user gave it
    sha256 TEXT NOT NULL,
    version_id TEXT NOT NULL UNIQUE,
    chunks INTEGER NOT NULL,
    indexed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS texts (sha256 TEXT PRIMARY KEY, text BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS journal (version_id TEXT PRIMARY KEY);
"""  # ed9dd43, the first release
KEYWORD_POSTINGS = """
CREATE TABLE IF NOT EXISTS keyword_chunks (
    id INTEGER PRIMARY KEY,
    version_id TEXT NOT NULL,
    chunk INTEGER NOT NULL,     -- the chunk's number in its version, as in the store's chunk id
    length INTEGER NOT NULL,    -- terms in the chunk, for BM25's length normalisation
    UNIQUE (version_id, chunk)
);
-- Clustered by term: a query reads each of its terms' postings as one range.
CREATE TABLE IF NOT EXISTS keyword_terms (
    term TEXT NOT NULL,
    chunk_id INTEGER NOT NULL,  -- keyword_chunks.id
    tf INTEGER NOT NULL,
    PRIMARY KEY (term, chunk_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS keyword_terms_chunk ON keyword_terms (chunk_id);
"""  # 53c0c98, BM25
SETTINGS = "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);"  # dbba19c
MANIFESTS = {
    "first": MANIFEST_FIRST,
    "keyword-search": MANIFEST_FIRST + KEYWORD_POSTINGS,
    "embedder-recorded": MANIFEST_FIRST + SETTINGS + KEYWORD_POSTINGS,  # the last before versioning
}
CONVERSATIONS = {
    "first": "CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, user TEXT, title TEXT NOT NULL, "
             "created TEXT NOT NULL, updated TEXT NOT NULL, turns INTEGER NOT NULL, answers TEXT NOT NULL)",  # ecf84ee
    "collections": "CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, user TEXT, title TEXT NOT NULL, "
                   "created TEXT NOT NULL, updated TEXT NOT NULL, turns INTEGER NOT NULL, answers TEXT NOT NULL, "
                   "collection TEXT)",  # 4ff3b03, the last before versioning
}
FEEDBACK = ("CREATE TABLE IF NOT EXISTS feedback (id INTEGER PRIMARY KEY, at TEXT NOT NULL, user TEXT, rating TEXT "
            "NOT NULL, comment TEXT NOT NULL, history TEXT NOT NULL, answer TEXT NOT NULL)")  # 13fe315
LATEST_RELEASED = {"manifest": MANIFESTS["embedder-recorded"], "conversations": CONVERSATIONS["collections"],
                   "feedback": FEEDBACK}
HEAD = {"manifest": "manifest_0003", "conversations": "conversations_0002", "feedback": "feedback_0001"}

OLD_ROW = DocumentRow(path="/corpus/volcano.md", source="corpus/volcano.md", sha256="ab" * 32, version_id="v-volcano",
                      chunks=1, indexed_at="2026-11-24T10:00:00+00:00")
# A saved answer as the release before collections stored it (no scope, resolution or signature yet).
OLD_ANSWER = {"question": "When did Mount Orrin last erupt?", "answer": "Mount Orrin last erupted in 1931 [1].",
              "abstained": False, "writer": "extractive", "evidence_score": 0.91, "timings": {"total_s": 0.4},
              "citations": [{"n": 1, "source": "docs/volcano.md", "quote": ORRIN, "start": VOLCANO_MD.index(ORRIN),
                             "end": VOLCANO_MD.index(ORRIN) + len(ORRIN), "score": 0.91}]}
OLD_TITLE = "Saved before collections"


def old_file(path: Path, schema: str, *rows: tuple[str, tuple]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(schema)
        for sql, values in rows:
            db.execute(sql, values)
    db.close()
    return path


def old_conversations(path: Path, schema: str = CONVERSATIONS["first"]) -> Path:
    return old_file(path, schema, ("INSERT INTO conversations (id, user, title, created, updated, turns, answers) "
                                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                                   ("old1", None, OLD_TITLE, "2026-11-26T09:00:00+00:00", "2026-11-26T09:00:00+00:00",
                                    1, json.dumps([OLD_ANSWER]))))


def recorded_revision(path: Path) -> list[str]:
    """Read with sqlite3 alone (on a file of a release before versioning: no such table)."""
    with sqlite3.connect(path) as db:
        revisions = [row[0] for row in db.execute("SELECT version_num FROM alembic_version")]
    db.close()
    return revisions


def shape(path: Path) -> dict:
    """What the app relies on in a file's schema: each table's columns in order (name, type, part of the
    primary key, NOT NULL for the others), whether it has a rowid, and its indexes' columns and uniqueness."""
    with sqlite3.connect(path) as db:
        tables = [row[0] for row in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' "
                                               "AND name != 'alembic_version'")]
        result = {}
        for table in sorted(tables):
            columns = [(name, kind.upper(), pk, bool(notnull) if not pk else None)
                       for _, name, kind, notnull, _, pk in db.execute(f"PRAGMA table_info({table})")]
            without_rowid = "WITHOUT ROWID" in db.execute("SELECT sql FROM sqlite_master WHERE name = ?",
                                                          (table,)).fetchone()[0].upper()
            indexes = sorted((tuple(row[2] for row in db.execute(f"PRAGMA index_info('{name}')")), bool(unique))
                             for _, name, unique, *_ in db.execute(f"PRAGMA index_list({table})"))
            result[table] = (columns, without_rowid, indexes)
    db.close()
    return result


# ----- the scripts and a new file ----------------------------------------------------------------------------

def test_the_head_constants_are_the_scripts_heads():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from index import migrations

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    script = ScriptDirectory.from_config(config)
    assert migrations.HEADS == HEAD
    for database, head in migrations.HEADS.items():
        assert script.get_revisions(f"{database}@head")[0].revision == head
    assert sorted(script.get_heads()) == sorted(HEAD.values())  # one linear branch per database, nothing else
    assert all(len(revision.nextrev) <= 1 for revision in script.walk_revisions())


@pytest.mark.parametrize("database", sorted(HEAD))
def test_a_new_file_starts_at_head_with_the_released_schema(tmp_path, database):
    from index.migrations import migrate

    migrate(tmp_path / "new.sqlite", database)
    assert recorded_revision(tmp_path / "new.sqlite") == [HEAD[database]]
    assert shape(tmp_path / "new.sqlite") == shape(old_file(tmp_path / "released.sqlite", LATEST_RELEASED[database]))


# ----- files of every earlier release, through the real classes ----------------------------------------------

@pytest.mark.parametrize("release", list(MANIFESTS))
def test_a_manifest_of_every_release_opens_with_its_documents(tmp_path, release):
    path = old_file(tmp_path / "manifest-local.sqlite", MANIFESTS[release],
                    ("INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?)", tuple(vars(OLD_ROW).values())),
                    ("INSERT INTO texts VALUES (?, ?)", (OLD_ROW.sha256, zlib.compress(VOLCANO_MD.encode()))),
                    ("INSERT INTO journal VALUES (?)", ("v-left-by-a-crash",)),
                    *([("INSERT INTO keyword_chunks (version_id, chunk, length) VALUES ('v-volcano', 0, 9)", ())]
                      if "keyword" in MANIFESTS[release] else []),
                    *([("INSERT INTO settings VALUES ('embedder', 'all-MiniLM-L6-v2 int8')", ())]
                      if "settings" in MANIFESTS[release] else []))
    manifest = Manifest(path)
    assert manifest.documents() == [OLD_ROW] and manifest.text(OLD_ROW.sha256) == VOLCANO_MD
    assert manifest.journalled() == ["v-left-by-a-crash"]
    # Before keyword search its live version has no postings (the next index run backfills them), after it does.
    assert manifest.versions_without_postings() == ([] if release != "first" else ["v-volcano"])
    manifest.add_postings("v-volcano", [(0, ORRIN)])
    assert manifest.versions_without_postings() == []
    assert manifest.embedder_identity() == ("all-MiniLM-L6-v2 int8" if release == "embedder-recorded" else None)
    manifest.set_embedder_identity("all-MiniLM-L6-v2 int8")
    assert manifest.embedder_identity() == "all-MiniLM-L6-v2 int8"
    manifest.close()
    assert recorded_revision(path) == [HEAD["manifest"]]
    assert shape(path) == shape(old_file(tmp_path / "released.sqlite", LATEST_RELEASED["manifest"]))


@pytest.mark.parametrize("release", list(CONVERSATIONS))
def test_conversations_of_every_release_open_and_save_with_their_collection(tmp_path, release):
    path = old_conversations(tmp_path / "conversations.sqlite", CONVERSATIONS[release])
    store = ConversationStore(path)
    [old] = store.summaries(None)
    assert (old.id, old.title, old.collection, old.turns) == ("old1", OLD_TITLE, None, 1)
    assert store.get("old1", None).answers == [Answer.model_validate(OLD_ANSWER)]
    answer = Answer(question="How often does the Orsk beacon flash?", answer="Every nine seconds.", abstained=False)
    new = store.save(None, [answer], None, collection="beacons")
    store.save("old1", [Answer.model_validate(OLD_ANSWER), answer], None)  # the old one continued
    reopened = ConversationStore(path)
    assert sorted((c.id, c.collection, c.turns) for c in reopened.summaries(None)) == sorted(
        [("old1", None, 2), (new, "beacons", 1)])
    assert reopened.get(new, None).collection == "beacons" and reopened.get(new, None).answers == [answer]
    assert recorded_revision(path) == [HEAD["conversations"]]


def test_feedback_from_before_versioning_keeps_its_ratings(tmp_path):
    path = old_file(tmp_path / "feedback.sqlite", FEEDBACK,
                    ("INSERT INTO feedback (at, user, rating, comment, history, answer) VALUES (?, ?, ?, ?, ?, ?)",
                     ("2026-11-26T09:00:00+00:00", "ann", "up", "right, with the year", "[]", json.dumps(OLD_ANSWER))))
    log = FeedbackLog(path)
    [old] = log.entries()
    assert (old.id, old.user, old.rating, old.comment) == (1, "ann", "up", "right, with the year")
    assert old.answer == Answer.model_validate(OLD_ANSWER)
    assert log.record(Answer.model_validate(OLD_ANSWER), "down", "not what I asked") == 2
    assert [e.rating for e in FeedbackLog(path).entries()] == ["up", "down"]
    assert recorded_revision(path) == [HEAD["feedback"]]


# ----- newer files, concurrency, failures, cold start --------------------------------------------------------

def test_a_file_from_a_newer_release_is_refused_with_a_message(tmp_path):
    path = tmp_path / "conversations.sqlite"
    ConversationStore(path)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE alembic_version SET version_num = 'conversations_0099'")
    db.close()
    with pytest.raises(ValueError, match=r"conversations\.sqlite was written by a newer version of the assistant.*"
                                         r"conversations_0099.*upgrade the assistant"):
        ConversationStore(path)

    home = tmp_path / "home"
    assert run(home, "docs").returncode == 0  # creates the manifest, at head
    [manifest] = home.glob("manifest-*.sqlite")
    with sqlite3.connect(manifest) as db:
        db.execute("UPDATE alembic_version SET version_num = 'manifest_0042'")
    db.close()
    done = run(home, "docs")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (f"Error: {manifest} was written by a newer version of the assistant (its manifest "
                                   "schema is at revision manifest_0042, which this version does not know); upgrade "
                                   "the assistant to open it")


def test_processes_opening_an_old_file_at_once_migrate_it_once(tmp_path):
    path = old_conversations(tmp_path / "conversations.sqlite")
    code = ("import sys; from pathlib import Path; from assistant.conversations import ConversationStore\n"
            "from assistant.records import Answer\n"
            "store = ConversationStore(Path(sys.argv[1]))\n"
            "answer = Answer(question=sys.argv[2], answer='-', abstained=True)\n"
            "store.save(None, [answer], None, collection=sys.argv[2])")
    processes = [subprocess.Popen([sys.executable, "-c", code, str(path), f"c{n}"], stderr=subprocess.PIPE, text=True)
                 for n in range(4)]
    assert [(p.wait(timeout=120), p.stderr.read()) for p in processes] == [(0, "")] * 4
    assert sorted(c.collection or "" for c in ConversationStore(path).summaries(None)) == ["", "c0", "c1", "c2", "c3"]
    assert recorded_revision(path) == [HEAD["conversations"]]


def test_a_migration_that_fails_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    from alembic.operations import Operations

    from index.migrations import migrate

    path = old_conversations(tmp_path / "conversations.sqlite")
    before = shape(path)

    def disk_full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Operations, "add_column", disk_full)  # conversations_0002, after the version table is made
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        migrate(path, "conversations")
    assert shape(path) == before  # no version table, no column: the next open starts over
    monkeypatch.undo()
    assert [c.id for c in ConversationStore(path).summaries(None)] == ["old1"]


def test_files_at_head_open_without_importing_alembic(tmp_path):
    home = tmp_path / "home"
    assert run(home, "docs").returncode == 0
    ConversationStore(home / "conversations.sqlite")
    FeedbackLog(home / "feedback.sqlite")
    code = ("import atexit, sys\n"
            "atexit.register(lambda: print([m for m in ('alembic', 'sqlalchemy') if m in sys.modules],\n"
            "                              file=sys.stderr))\n"
            "from pathlib import Path\n"
            "from assistant.conversations import ConversationStore\n"
            "from assistant.feedback import FeedbackLog\n"
            f"ConversationStore(Path({str(home / 'conversations.sqlite')!r}))\n"
            f"FeedbackLog(Path({str(home / 'feedback.sqlite')!r}))\n"
            "from assistant.cli import main\n"
            "main()")
    done = subprocess.run([sys.executable, "-c", code, "--home", str(home), "docs"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"


# ----- the web chat on a home with conversations saved before collections -----------------------------------

def test_the_web_chat_lists_and_saves_conversations_in_an_old_file(tmp_path, embedder):
    """Conversations are the page's own (private) events, not API endpoints: driven in headless Chromium."""
    from playwright.sync_api import expect, sync_playwright

    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, ask
    from tests.test_ui import launch_on

    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium (make test installs it)")
    old_conversations(tmp_path / "home" / "conversations.sqlite")
    launched = launch_on(tmp_path, embedder)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(launched.url)
            saved = page.get_by_label("Saved conversations")
            saved.click()
            page.get_by_role("option", name=OLD_TITLE).click()  # listed: the page read the old file
            page.locator("#open-conversation").click()
            expect(page.locator("#conversation .turn")).to_have_count(1)
            expect(page.locator("#conversation .turn q.quote").first).to_have_text(ORRIN)
            page.locator("#new-chat").click()
            ask(page, "When did Mount Orrin last erupt?")  # answered and saved
            page.reload()
            page.get_by_label("Saved conversations").click()
            expect(page.get_by_role("option", name="When did Mount Orrin last erupt?")).to_have_count(1)
            expect(page.get_by_role("option", name=OLD_TITLE)).to_have_count(1)
            browser.close()
    finally:
        launched.app.close()
    summaries = ConversationStore(tmp_path / "home" / "conversations.sqlite").summaries(None)
    assert [c.title for c in summaries] == ["When did Mount Orrin last erupt?", OLD_TITLE]
