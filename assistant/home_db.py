"""The home's small SQLite files beside the index (conversations, feedback): one connection, shared by the web
server's threads under a lock, with its table created on first use."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


def open_home_db(path: Path, schema: str) -> tuple[sqlite3.Connection, threading.Lock]:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
    db.execute(schema)
    return db, threading.Lock()
