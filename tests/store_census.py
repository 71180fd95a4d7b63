"""Print what a home's store really holds, as JSON, from a fresh process (used by the crash tests).

{"store": {source: chunks counted in Chroma}, "manifest": {source: chunks}, "ids_unique": bool,
 "postings": {source: chunks with BM25 postings}, "stray_postings": chunks with postings but no live version}
"""

import json
import sqlite3
import sys
from collections import Counter

from assistant.services import Services
from assistant.settings import load_settings

services = Services(load_settings(home=sys.argv[1]))
stored = services.store._collection.get(include=["metadatas"])
with sqlite3.connect(services.manifest.path) as db:
    postings = dict(db.execute("SELECT d.source, COUNT(*) FROM keyword_chunks c "
                               "JOIN documents d ON d.version_id = c.version_id GROUP BY d.source"))
    stray = db.execute("SELECT COUNT(*) FROM keyword_chunks "
                       "WHERE version_id NOT IN (SELECT version_id FROM documents)").fetchone()[0]
print(json.dumps({
    "store": Counter(meta["source"] for meta in stored["metadatas"]),
    "manifest": {doc.source: doc.chunks for doc in services.indexer.documents()},
    "ids_unique": len(set(stored["ids"])) == len(stored["ids"]),
    "postings": postings,
    "stray_postings": stray,
}))
