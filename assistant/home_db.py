"""The home's small SQLite files beside the index (conversations, feedback): one connection, shared by the web
server's threads under a lock, the file first brought to its database's schema (index/migrations)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from index.migrations import migrate


def open_home_db(path: Path, database: str) -> tuple[sqlite3.Connection, threading.Lock]:
    """database: which schema the file holds, "conversations" or "feedback"."""
    path.parent.mkdir(parents=True, exist_ok=True)
    migrate(path, database)
    db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
    return db, threading.Lock()
