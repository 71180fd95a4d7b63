"""The chunk store: a Chroma collection (embedded or a server), written and read with Chroma's own calls.

Chunks of one version of one document share a `document_id` (the version id), so a version is added and
deleted as a unit; chunk ids are `<version id>-<chunk number>`, so writing the same version twice
cannot duplicate anything. Records written by older versions through llama-index's ChromaVectorStore also
hold its copy of each node, which nothing reads; importing llama-index to write them took over 2 s a run.
"""

from __future__ import annotations

import functools
import hashlib
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from index.manifest import DocumentRow
from index.records import Chunk, StoredChunk, chunk_id

# Chroma rejects batches much over 5,400 records; stay well below.
_WRITE_BATCH = 4000
_READ_PAGE = 5000


class StoreUnavailable(RuntimeError):
    """The Chroma server cannot be reached or the local store cannot be opened."""


def _server_errors(method):
    """A Chroma server that stops answering mid-run (killed, restarted, network gone) raises the HTTP client's
    transport errors from deep inside chromadb; the user gets StoreUnavailable instead: one line saying which
    server failed and what to do. Nothing is lost by stopping there: a write cut short is journalled, and the
    next `assistant index` removes its partial chunks (index/manifest.py)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        import httpx  # here, not at the top: the CLI imports this module for StoreUnavailable alone

        try:
            return method(self, *args, **kwargs)
        except httpx.TransportError as exc:
            raise StoreUnavailable(
                f"the Chroma server at {self.location} stopped answering ({type(exc).__name__}: {exc}): start it "
                "again on the same data path and port (`chroma run --path DIR --port PORT`) and retry; an "
                "interrupted `assistant index` is repaired by running it again") from exc

    return wrapper


def text_key(text: str) -> str:
    """Key of a chunk's text: equal texts have equal embeddings, so vectors can be reused by it."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class ChunkStore:
    def __init__(self, collection: str, persist_dir: Path | None = None, url: str | None = None):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        self.location = url or str(persist_dir)
        try:
            if url:
                parsed = urlparse(url if "://" in url else f"http://{url}")
                client = chromadb.HttpClient(
                    host=parsed.hostname or "localhost",
                    port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                    ssl=parsed.scheme == "https", settings=chroma_settings)
            else:
                persist_dir.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(path=str(persist_dir), settings=chroma_settings)
            self._client, self._name = client, collection
            self._open_collection()
        except Exception as exc:
            hint = ("is the server running? start one with `chroma run --path DIR --port PORT`"
                    if url else "is another program holding it, or the folder unwritable?")
            raise StoreUnavailable(f"cannot open the Chroma store at {self.location}: {exc} ({hint})") from exc

    @_server_errors
    def collection_names(self) -> list[str]:
        """Every collection in this Chroma store (a home's named collections; on a server, maybe others')."""
        return sorted(c.name if hasattr(c, "name") else str(c) for c in self._client.list_collections())

    def _open_collection(self) -> None:
        # embedding_function=None: vectors always come from our embedder; Chroma's default
        # function would try to download a model.
        self._collection = self._client.get_or_create_collection(
            self._name, embedding_function=None, metadata={"hnsw:space": "cosine"})

    @_server_errors
    def add_versions(self, versions: list[tuple[DocumentRow, list[Chunk], list[np.ndarray]]]) -> None:
        """Write the chunks of several document versions, in as few store calls as the store allows."""
        ids, vectors, metadatas, texts = [], [], [], []
        for row, chunks, embeddings in versions:
            for chunk, vector in zip(chunks, embeddings):
                ids.append(chunk_id(row.version_id, chunk.index))
                vectors.append(vector)
                metadatas.append({"source": row.source, "path": row.path, "sha256": row.sha256, "start": chunk.start,
                                  "end": chunk.end, "chunk": chunk.index, "text_key": text_key(chunk.text),
                                  "document_id": row.version_id})
                texts.append(chunk.text)
        for first in range(0, len(ids), _WRITE_BATCH):
            end = first + _WRITE_BATCH
            self._collection.add(ids=ids[first:end], embeddings=np.asarray(vectors[first:end], dtype=np.float32),
                                 metadatas=metadatas[first:end], documents=texts[first:end])

    @_server_errors
    def delete_versions(self, version_ids: list[str]) -> None:
        if version_ids:
            self._collection.delete(where={"document_id": {"$in": list(version_ids)}})

    @_server_errors
    def count(self) -> int:
        return self._collection.count()

    @_server_errors
    def chunk_counts(self) -> Counter:
        """Chunks per version id, read from the store itself (for consistency checks)."""
        counts: Counter = Counter()
        for offset in range(0, self.count(), _READ_PAGE):
            page = self._collection.get(include=["metadatas"], limit=_READ_PAGE, offset=offset)
            counts.update(meta.get("document_id", "") for meta in page["metadatas"])
        return counts

    @_server_errors
    def vectors_by_text(self, version_ids: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors of these versions' chunks, keyed by text_key (for reuse without re-embedding)."""
        if not version_ids:
            return {}
        found = self._collection.get(where={"document_id": {"$in": list(version_ids)}},
                                     include=["metadatas", "embeddings"])
        return {meta["text_key"]: np.asarray(vector, dtype=np.float32)
                for meta, vector in zip(found["metadatas"], found["embeddings"]) if "text_key" in meta}

    @_server_errors
    def chunk_texts(self, version_ids: list[str]) -> dict[str, list[tuple[int, str]]]:
        """(chunk number, text) of these versions' stored chunks, per version id."""
        found = self._collection.get(where={"document_id": {"$in": list(version_ids)}},
                                     include=["metadatas", "documents"])
        out: dict[str, list[tuple[int, str]]] = {}
        for meta, text in zip(found["metadatas"], found["documents"]):
            out.setdefault(meta["document_id"], []).append((int(meta["chunk"]), text))
        return out

    @_server_errors
    def all_texts(self) -> tuple[list[str], list[str]]:
        """Every chunk's id and text (for re-embedding with another embedder)."""
        ids: list[str] = []
        texts: list[str] = []
        for offset in range(0, self.count(), _READ_PAGE):
            page = self._collection.get(include=["documents"], limit=_READ_PAGE, offset=offset)
            ids += page["ids"]
            texts += page["documents"]
        return ids, texts

    @_server_errors
    def dimension(self) -> int | None:
        """Length of the stored vectors (None when the store is empty)."""
        found = self._collection.get(limit=1, include=["embeddings"])
        return len(found["embeddings"][0]) if len(found["ids"]) else None

    @_server_errors
    def replace_vectors(self, ids: list[str], vectors: np.ndarray) -> None:
        """New vectors for existing chunks; their texts and metadata stay."""
        for first in range(0, len(ids), _WRITE_BATCH):
            self._collection.update(ids=ids[first:first + _WRITE_BATCH],
                                    embeddings=vectors[first:first + _WRITE_BATCH])

    @_server_errors
    def get_chunks(self, ids: list[str], query_vector: np.ndarray) -> list[StoredChunk]:
        """These chunks (in the order asked, missing ones left out), each scored by its cosine with query_vector."""
        if not ids:
            return []
        found = self._collection.get(ids=list(ids), include=["documents", "metadatas", "embeddings"])
        vectors = np.asarray(found["embeddings"], dtype=np.float32)
        cosines = vectors @ query_vector / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query_vector))
        by_id = {cid: _stored_chunk(cid, meta, text, float(cosine))
                 for cid, meta, text, cosine in zip(found["ids"], found["metadatas"], found["documents"], cosines)}
        return [by_id[cid] for cid in ids if cid in by_id]

    @_server_errors
    def search(self, query_embedding: np.ndarray, top_k: int, version_ids: list[str] | None = None) -> list[StoredChunk]:
        """The nearest chunks; with version_ids, only those versions' chunks (a question scoped to documents)."""
        if self.count() == 0 or version_ids == []:
            return []
        where = {"document_id": {"$in": list(version_ids)}} if version_ids is not None else None
        found = self._collection.query(query_embeddings=[query_embedding.tolist()], n_results=top_k, where=where,
                                       include=["documents", "metadatas", "distances"])
        # In cosine space Chroma's distance is 1 - cosine.
        return [_stored_chunk(cid, meta, text, 1.0 - distance) for cid, meta, text, distance
                in zip(found["ids"][0], found["metadatas"][0], found["documents"][0], found["distances"][0])]

    @_server_errors
    def reset(self) -> None:
        """Drop every chunk (for --rebuild)."""
        self._client.delete_collection(self._name)
        self._open_collection()


def _stored_chunk(chunk_id: str, meta: dict, text: str, cosine: float) -> StoredChunk:
    return StoredChunk(chunk_id=chunk_id, source=meta["source"], path=meta["path"], sha256=meta["sha256"],
                       start=int(meta["start"]), end=int(meta["end"]), text=text, score=cosine)
