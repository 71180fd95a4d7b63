"""The keyword index: BM25 over chunks, its postings kept in the manifest's SQLite database.

Postings live beside the journal so they follow its protocol (index/manifest.py): a version's postings
are written when the version is journalled and deleted when it is forgotten, and a search only counts
postings of LIVE versions (joined with `documents`), so a half-written or half-deleted version never
shows. Nothing is rebuilt per query: document frequencies, the chunk count and the average length are
read from the live postings in one snapshot.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import sqlite3
import sys
import threading
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from index.records import chunk_id, version_of

# Measured on SciFact (docs/retrieval-benchmark.md).
K1, B = 1.2, 0.75

_WORD = re.compile(r"\w+")
# Postings of live versions only: a journalled (half-written or half-deleted) version has no documents row.
_LIVE_POSTINGS = ("keyword_terms t JOIN keyword_chunks c ON c.id = t.chunk_id "
                  "JOIN documents d ON d.version_id = c.version_id")


def content_words(text: str) -> list[str]:
    """Lower-cased words, English stop words dropped."""
    stop = _stop_words()
    return [word for word in _WORD.findall(text.lower()) if word not in stop]


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    """NLTK's English stop words, from the copy llama-index ships (offline). Read as a file: importing
    llama-index for them took seconds of every command's start."""
    package = importlib.util.find_spec("llama_index.core").submodule_search_locations[0]
    return frozenset(Path(package, "_static", "nltk_cache", "corpora", "stopwords", "english").read_text().split())


def terms(text: str) -> list[str]:
    """Content words, stemmed: 'Vaccines' meets 'vaccinated'."""
    return [_stem(word) for word in content_words(text)]


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stemmer().stem(word)


@lru_cache(maxsize=1)
def _stemmer():
    # `import nltk` imports all of NLTK, scikit-learn and SciPy included: 2 of the 2.4 CPU seconds it took went
    # there, at every question's start. NLTK carries on without them (it catches the ImportError), and the
    # stemmer uses neither, so this thread may not import them while NLTK loads; other threads import as usual.
    refuse = _RefuseInThisThread("sklearn", "scipy")
    sys.meta_path.insert(0, refuse)
    try:
        from nltk.stem.snowball import SnowballStemmer
    finally:
        sys.meta_path.remove(refuse)
    return SnowballStemmer("english")


class _RefuseInThisThread:
    """An import finder that fails imports of these packages made by the thread that created it."""

    def __init__(self, *packages: str):
        self.packages, self.thread = packages, threading.get_ident()

    def find_spec(self, name, path=None, target=None):
        if threading.get_ident() == self.thread and name.split(".")[0] in self.packages:
            raise ModuleNotFoundError(f"{name} is not imported while NLTK loads", name=name)
        return None  # the other finders decide


def write_postings(db: sqlite3.Connection, version_id: str, chunks: Iterable[tuple[int, str]]) -> None:
    """Replace one version's postings; chunks are (chunk number, text). Call inside a transaction."""
    delete_postings(db, [version_id])
    for number, text in chunks:
        counts = Counter(terms(text))
        row = db.execute("INSERT INTO keyword_chunks (version_id, chunk, length) VALUES (?, ?, ?)",
                         (version_id, number, sum(counts.values())))
        db.executemany("INSERT INTO keyword_terms VALUES (?, ?, ?)",
                       [(term, row.lastrowid, tf) for term, tf in counts.items()])


def delete_postings(db: sqlite3.Connection, version_ids: list[str]) -> None:
    """Call inside a transaction."""
    for vid in version_ids:
        db.execute("DELETE FROM keyword_terms WHERE chunk_id IN (SELECT id FROM keyword_chunks WHERE version_id = ?)",
                   (vid,))
        db.execute("DELETE FROM keyword_chunks WHERE version_id = ?", (vid,))


def versions_without_postings(db: sqlite3.Connection) -> list[str]:
    """Live versions indexed before keyword postings existed."""
    return [row[0] for row in db.execute(
        "SELECT version_id FROM documents WHERE version_id NOT IN (SELECT version_id FROM keyword_chunks)")]


class KeywordIndex:
    """BM25 search over the live chunks of a manifest database (read-only, its own connection)."""

    def __init__(self, db_path: Path, k1: float = K1, b: float = B):
        self._db = sqlite3.connect(db_path, isolation_level=None, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA query_only = ON")
        self._lock = threading.Lock()  # one read transaction at a time on the shared connection
        self.k1, self.b = k1, b

    def search(self, query: str, top_n: int, version_ids: list[str] | None = None) -> list[tuple[str, float]]:
        """(store chunk id, BM25 score) of the best live chunks, best first; with version_ids, only theirs
        (the term statistics stay the whole index's, so a scope does not change how rare a word is)."""
        query_terms = Counter(terms(query))
        if not query_terms or version_ids == []:
            return []
        with self._lock:
            return self._search(query_terms, top_n, version_ids)

    def _search(self, query_terms: Counter, top_n: int, version_ids: list[str] | None) -> list[tuple[str, float]]:
        marks = ",".join("?" * len(query_terms))
        # One read transaction: statistics and postings from the same snapshot, even while indexing.
        self._db.execute("BEGIN")
        try:
            chunks, avg_length = self._db.execute(
                "SELECT COUNT(*), AVG(c.length) FROM keyword_chunks c "
                "JOIN documents d ON d.version_id = c.version_id").fetchone()
            frequencies = dict(self._db.execute(
                f"SELECT t.term, COUNT(*) FROM {_LIVE_POSTINGS} "
                f"WHERE t.term IN ({marks}) GROUP BY t.term", list(query_terms)))
            if not frequencies:
                return []
            # Lucene's idf, never negative; a term repeated in the query counts that many times.
            weights = [(term, count * (self.k1 + 1) * math.log(1 + (chunks - df + 0.5) / (df + 0.5)))
                       for term, count in query_terms.items() if (df := frequencies.get(term))]
            values = ",".join("(?, ?)" for _ in weights)
            rows = self._db.execute(
                f"WITH query (term, weight) AS (VALUES {values}) "
                "SELECT c.version_id, c.chunk, SUM(q.weight * t.tf / (t.tf + ? * (1 - ? + ? * c.length / ?))) AS score "
                f"FROM query q, {_LIVE_POSTINGS} WHERE t.term = q.term "
                + ("" if version_ids is None else "AND c.version_id IN (SELECT value FROM json_each(?)) ")
                + "GROUP BY c.id ORDER BY score DESC LIMIT ?",
                [x for pair in weights for x in pair] + [self.k1, self.b, self.b, max(avg_length or 1.0, 1.0)]
                + ([] if version_ids is None else [json.dumps(list(version_ids))]) + [top_n],
            ).fetchall()
        finally:
            self._db.execute("COMMIT")
        return [(chunk_id(vid, number), score) for vid, number, score in rows]

    def live(self, chunk_ids: list[str]) -> set[str]:
        """The ids among these whose version is live. Dense search reads Chroma, which can hold a version
        that is being written or deleted right now (or that a crash left behind until the next sync)."""
        versions = sorted({version_of(cid) for cid in chunk_ids})
        if not versions:
            return set()
        with self._lock:
            found = {row[0] for row in self._db.execute(
                f"SELECT version_id FROM documents WHERE version_id IN ({','.join('?' * len(versions))})", versions)}
        return {cid for cid in chunk_ids if version_of(cid) in found}

    def close(self) -> None:
        self._db.close()
