"""Print what a home's store really holds, as JSON, from a fresh process (used by the crash tests).

{"store": {source: chunks counted in Chroma}, "manifest": {source: chunks}, "ids_unique": bool}
"""

import json
import sys
from collections import Counter

from assistant.services import Services
from assistant.settings import load_settings

services = Services(load_settings(home=sys.argv[1]))
stored = services.store._collection.get(include=["metadatas"])
print(json.dumps({
    "store": Counter(meta["source"] for meta in stored["metadatas"]),
    "manifest": {doc.source: doc.chunks for doc in services.indexer.documents()},
    "ids_unique": len(set(stored["ids"])) == len(stored["ids"]),
}))
