"""Versioned schemas for the SQLite files the project writes: the manifest (index/manifest.py, keyword postings
included), the saved conversations and the answer ratings (assistant/conversations.py, assistant/feedback.py).

Each database is one Alembic branch in versions/ (its revisions named `<database>_NNNN`), its revisions written
by hand in the order the schema changed. `migrate(path, database)` runs at open, before the app's own
connection: a file at head costs one sqlite3 query (Alembic and SQLAlchemy are not even imported); a file
behind is brought to head in ONE `BEGIN IMMEDIATE` transaction, so two processes opening it at once take turns
and the second finds nothing to do, and a crash mid-way leaves the file as it was. Files made before the
schemas were versioned (no version table) start at base: every revision first looks at what is there, since
those releases created their tables with IF NOT EXISTS, and adds only what is missing.

A new schema change: add a revision to versions/ (down_revision = the database's head) and move its HEADS entry
to it; tests/test_migrations.py checks that HEADS matches the scripts.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

# The head revision of each database: what a file at head records. Kept in step with versions/ by a test.
HEADS = {
    "manifest": "manifest_0003",
    "conversations": "conversations_0002",
    "feedback": "feedback_0001",
}
VERSION_TABLE = "alembic_version"
_HERE = Path(__file__).resolve().parent


class SchemaTooNew(ValueError):
    """The file was written by a newer release: its schema revision is unknown to this code."""


def migrate(path: Path, database: str) -> None:
    """Bring the SQLite file at path (created if missing) to the head schema of `database` ("manifest",
    "conversations" or "feedback")."""
    head = HEADS[database]
    recorded = _recorded_revisions(path)
    if recorded == [head]:
        return
    _upgrade(path, database, recorded)


def _recorded_revisions(path: Path) -> list[str] | None:
    """The revisions the file records (None: no version table, a new file or one from before versioning)."""
    if not path.is_file():
        return None
    db = sqlite3.connect(path, timeout=30)
    try:
        return [row[0] for row in db.execute(f"SELECT version_num FROM {VERSION_TABLE}")]
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise
    finally:
        db.close()


def _upgrade(path: Path, database: str, recorded: list[str] | None) -> None:
    # Imported here: a file at head (every open but the first after an upgrade) never pays for them.
    import sqlalchemy
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy.pool import NullPool

    config = Config()
    config.set_main_option("script_location", str(_HERE))
    script = ScriptDirectory.from_config(config)
    known = {revision.revision for revision in script.iterate_revisions(f"{database}@head", "base")}
    unknown = [revision for revision in recorded or [] if revision not in known]
    if unknown:
        raise SchemaTooNew(f"{path} was written by a newer version of the assistant (its {database} schema is at "
                           f"revision {', '.join(unknown)}, which this version does not know); upgrade the "
                           f"assistant to open it")

    # Our own sqlite3 connection (any path, no URL quoting) in autocommit mode, so that the transaction SQLAlchemy
    # begins is ours: BEGIN IMMEDIATE takes the write lock before Alembic reads the version table.
    engine = sqlalchemy.create_engine(
        "sqlite://", poolclass=NullPool,
        creator=lambda: sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False))
    sqlalchemy.event.listen(engine, "begin", lambda connection: connection.exec_driver_sql("BEGIN IMMEDIATE"))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, f"{database}@head")
    finally:
        engine.dispose()
