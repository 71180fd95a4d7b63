"""The manifest: which version of which document is live in the store, plus a write-ahead journal.

SQLite gives us the atomic commits Chroma lacks. The protocol that makes a SIGKILL at any moment
harmless:

1. journal the new version ids, with their text and keyword postings (one commit), 2. write their chunks
   to Chroma,
3. in ONE commit: make the new versions live, drop them from the journal, journal the old versions,
4. delete the old versions' chunks from Chroma, 5. drop the old versions from the journal, and their
   postings.
Steps work on a batch of documents at a time: fewer commits, same guarantees.

On start, every journalled version that is not live is deleted from Chroma (deletes are idempotent),
so a half-written new version or a half-deleted old one never survives a crash. Keyword search only
counts postings of live versions, so it never sees either in between (index/keyword_index.py).
"""

from __future__ import annotations

import sqlite3
import threading
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from index import keyword_index
from index.migrations import migrate
from index.records import Chunk


@dataclass(frozen=True)
class DocumentRow:
    path: str
    source: str
    sha256: str
    version_id: str
    chunks: int
    indexed_at: str


class Manifest:
    def __init__(self, db_path: Path):
        db_path.parent.mkdir(parents=True, exist_ok=True)
        # The tables (keyword postings included) are index/migrations' manifest schema: a database made by an
        # older release is brought to it here (one made before keyword search gains empty postings, which sync
        # backfills).
        migrate(db_path, "manifest")
        # isolation_level=None: we open transactions ourselves, so each step commits exactly once.
        self._db = sqlite3.connect(db_path, isolation_level=None, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self.path = db_path

    def documents(self) -> list[DocumentRow]:
        rows = self._db.execute("SELECT path, source, sha256, version_id, chunks, indexed_at "
                                "FROM documents ORDER BY source").fetchall()
        return [DocumentRow(*row) for row in rows]

    def has_documents(self) -> bool:
        return self._db.execute("SELECT 1 FROM documents LIMIT 1").fetchone() is not None

    def text(self, sha256: str) -> str | None:
        row = self._db.execute("SELECT text FROM texts WHERE sha256 = ?", (sha256,)).fetchone()
        return zlib.decompress(row[0]).decode("utf-8") if row else None

    def journalled(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT version_id FROM journal")]

    def begin_versions(self, versions: list[tuple[DocumentRow, str, list[Chunk]]]) -> None:
        """Step 1: journal new versions (with their extracted text and keyword postings) before any chunk
        reaches the store."""
        with self._transaction():
            for row, text, chunks in versions:
                self._db.execute("INSERT OR IGNORE INTO journal VALUES (?)", (row.version_id,))
                self._db.execute("INSERT OR IGNORE INTO texts VALUES (?, ?)",
                                 (row.sha256, zlib.compress(text.encode("utf-8"))))
                keyword_index.write_postings(self._db, row.version_id, [(c.index, c.text) for c in chunks])

    def versions_without_postings(self) -> list[str]:
        """Live versions indexed before keyword search existed."""
        return keyword_index.versions_without_postings(self._db)

    def add_postings(self, version_id: str, chunks: list[tuple[int, str]]) -> None:
        """Backfill the postings of a live version from its stored (chunk number, text) pairs."""
        with self._transaction():
            keyword_index.write_postings(self._db, version_id, chunks)

    def commit_versions(self, changes: list[tuple[DocumentRow, DocumentRow | None]]) -> None:
        """Step 3: new versions become live; the versions they replace are journalled for deletion."""
        with self._transaction():
            for row, replaced in changes:
                if replaced is not None:
                    self._db.execute("DELETE FROM documents WHERE path = ?", (replaced.path,))
                    self._db.execute("INSERT OR IGNORE INTO journal VALUES (?)", (replaced.version_id,))
                self._db.execute("INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?)",
                                 (row.path, row.source, row.sha256, row.version_id, row.chunks, row.indexed_at))
                self._db.execute("DELETE FROM journal WHERE version_id = ?", (row.version_id,))

    def retire(self, row: DocumentRow) -> None:
        """A document leaves the index: it stops being live and its version is journalled for deletion."""
        with self._transaction():
            self._db.execute("DELETE FROM documents WHERE path = ?", (row.path,))
            self._db.execute("INSERT OR IGNORE INTO journal VALUES (?)", (row.version_id,))

    def forget(self, version_ids: list[str]) -> None:
        """Step 5: these versions' chunks are gone from the store."""
        if not version_ids:
            return
        with self._transaction():
            self._db.executemany("DELETE FROM journal WHERE version_id = ?", [(v,) for v in version_ids])
            # Recovery may forget a journalled version that is live; its postings stay.
            keyword_index.delete_postings(self._db, [v for v in version_ids if not self._db.execute(
                "SELECT 1 FROM documents WHERE version_id = ?", (v,)).fetchone()])
            self._db.execute("DELETE FROM texts WHERE sha256 NOT IN (SELECT sha256 FROM documents)")

    def embedder_identity(self) -> str | None:
        """Which embedder wrote the stored vectors (None: not recorded, an index older than this record)."""
        row = self._db.execute("SELECT value FROM settings WHERE key = 'embedder'").fetchone()
        return row[0] if row else None

    def set_embedder_identity(self, identity: str) -> None:
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('embedder', ?)", (identity,))

    def clear(self) -> None:
        with self._transaction():
            for table in ("documents", "texts", "journal", "keyword_terms", "keyword_chunks", "settings"):
                self._db.execute(f"DELETE FROM {table}")

    def _transaction(self):
        return _Transaction(self._db)

    def close(self) -> None:
        self._db.close()


class DocumentTexts:
    """Read-only access to extracted texts by sha256, for answering (its own connection, so a reader never
    sits inside an indexing run's transaction). A text never changes under its hash, so caching is safe."""

    def __init__(self, db_path: Path):
        self._db = sqlite3.connect(db_path, isolation_level=None, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA query_only = ON")
        self._lock = threading.Lock()
        self.get = lru_cache(maxsize=64)(self._read)

    def _read(self, sha256: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT text FROM texts WHERE sha256 = ?", (sha256,)).fetchone()
        return zlib.decompress(row[0]).decode("utf-8") if row else None


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self):
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb):
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()
