"""The chunk store: a Chroma collection (embedded or a server) behind llama-index's ChromaVectorStore.

Chunks of one version of one document share a `ref_doc_id` (the version id), so a version is added and
deleted as a unit; chunk ids are `<version id>-<chunk number>`, so writing the same version twice
cannot duplicate anything.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from index.manifest import DocumentRow
from index.records import Chunk, StoredChunk, chunk_id

# ChromaVectorStore.add rejects batches much over 5,400 records; stay well below.
_WRITE_BATCH = 4000
_READ_PAGE = 5000
_METADATA_KEYS = ["source", "path", "sha256", "start", "end", "chunk", "text_key"]


class StoreUnavailable(RuntimeError):
    """The Chroma server cannot be reached or the local store cannot be opened."""


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

    def _open_collection(self) -> None:
        from llama_index.vector_stores.chroma import ChromaVectorStore

        # embedding_function=None: vectors always come from our embedder; Chroma's default
        # function would try to download a model.
        self._collection = self._client.get_or_create_collection(
            self._name, embedding_function=None, metadata={"hnsw:space": "cosine"})
        self.vector_store = ChromaVectorStore(chroma_collection=self._collection)

    def add_versions(self, versions: list[tuple[DocumentRow, list[Chunk], list[np.ndarray]]]) -> None:
        """Write the chunks of several document versions, in as few store calls as the store allows."""
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        nodes = []
        for row, chunks, embeddings in versions:
            for chunk, vector in zip(chunks, embeddings):
                node = TextNode(
                    id_=chunk_id(row.version_id, chunk.index), text=chunk.text, embedding=vector.tolist(),
                    metadata={"source": row.source, "path": row.path, "sha256": row.sha256, "start": chunk.start,
                              "end": chunk.end, "chunk": chunk.index, "text_key": text_key(chunk.text)},
                    # Only the text is embedded; metadata would eat into the embedder's 256 word pieces.
                    excluded_embed_metadata_keys=_METADATA_KEYS,
                )
                node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=row.version_id)
                nodes.append(node)
        for first in range(0, len(nodes), _WRITE_BATCH):
            self.vector_store.add(nodes[first:first + _WRITE_BATCH])

    def delete_versions(self, version_ids: list[str]) -> None:
        if version_ids:
            self._collection.delete(where={"document_id": {"$in": list(version_ids)}})

    def count(self) -> int:
        return self._collection.count()

    def chunk_counts(self) -> Counter:
        """Chunks per version id, read from the store itself (for consistency checks)."""
        counts: Counter = Counter()
        for offset in range(0, self.count(), _READ_PAGE):
            page = self._collection.get(include=["metadatas"], limit=_READ_PAGE, offset=offset)
            counts.update(meta.get("document_id", "") for meta in page["metadatas"])
        return counts

    def vectors_by_text(self, version_ids: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors of these versions' chunks, keyed by text_key (for reuse without re-embedding)."""
        if not version_ids:
            return {}
        found = self._collection.get(where={"document_id": {"$in": list(version_ids)}},
                                     include=["metadatas", "embeddings"])
        return {meta["text_key"]: np.asarray(vector, dtype=np.float32)
                for meta, vector in zip(found["metadatas"], found["embeddings"]) if "text_key" in meta}

    def chunk_texts(self, version_ids: list[str]) -> dict[str, list[tuple[int, str]]]:
        """(chunk number, text) of these versions' stored chunks, per version id."""
        found = self._collection.get(where={"document_id": {"$in": list(version_ids)}},
                                     include=["metadatas", "documents"])
        out: dict[str, list[tuple[int, str]]] = {}
        for meta, text in zip(found["metadatas"], found["documents"]):
            out.setdefault(meta["document_id"], []).append((int(meta["chunk"]), text))
        return out

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

    def search(self, query_embedding: np.ndarray, top_k: int) -> list[StoredChunk]:
        from llama_index.core.vector_stores.types import VectorStoreQuery

        if self.count() == 0:
            return []
        result = self.vector_store.query(
            VectorStoreQuery(query_embedding=query_embedding.tolist(), similarity_top_k=top_k))
        out = []
        for node, similarity in zip(result.nodes, result.similarities):
            # ChromaVectorStore reports exp(-distance); with cosine space distance = 1 - cosine.
            cosine = 1.0 + math.log(max(similarity, 1e-12))
            out.append(_stored_chunk(node.node_id, node.metadata, node.get_content(), cosine))
        return out

    def reset(self) -> None:
        """Drop every chunk (for --rebuild)."""
        self._client.delete_collection(self._name)
        self._open_collection()


def _stored_chunk(chunk_id: str, meta: dict, text: str, cosine: float) -> StoredChunk:
    return StoredChunk(chunk_id=chunk_id, source=meta["source"], path=meta["path"], sha256=meta["sha256"],
                       start=int(meta["start"]), end=int(meta["end"]), text=text, score=cosine)
