"""The document side of the web app: add uploaded files, re-index the configured folders, remove, list,
and fetch the text a citation points into.

Writes go through their own Services (their own manifest connection): a chat reading the index while an
upload is being indexed never reads inside the writer's open transaction, only what is committed.
"""

from __future__ import annotations

import os
from functools import lru_cache

from assistant.records import Citation
from assistant.services import Services
from assistant.uploads import is_upload, save_uploads
from index.records import DocumentInfo, IndexReport

# A write started from the page queues this long behind another indexing run (e.g. `assistant index`).
WRITE_WAIT_SECONDS = 120.0


class Library:
    def __init__(self, services: Services):
        self.reader = services
        self.writer = Services(services.settings)
        self.writer.embedder = services.embedder  # read-only model: one copy in memory
        self.folder = services.settings.home / "documents"
        self._text = lru_cache(maxsize=16)(self.reader.indexer.document_text)  # by sha256: never stale

    def documents(self) -> list[DocumentInfo]:
        return self.reader.indexer.documents()

    def add(self, files: list[str], progress: bool = True) -> IndexReport:
        """Copy files into <home>/documents (safe names, size limit) and index them."""
        saved, refused = save_uploads(files, self.folder, int(self.reader.settings.max_file_mb * 1e6))
        report = IndexReport()
        if saved:
            report = self.writer.indexer.sync([str(path) for path in saved], wait_seconds=WRITE_WAIT_SECONDS,
                                              progress=progress)
        report.skipped = refused + report.skipped
        return report

    def reindex(self, progress: bool = True) -> IndexReport:
        """Sync the configured folders (settings.sources), as `assistant index` with no paths does."""
        return self.writer.indexer.sync(self.reader.settings.sources, wait_seconds=WRITE_WAIT_SECONDS,
                                        progress=progress)

    def remove(self, source: str) -> list[str]:
        """Un-index a document; an uploaded copy is deleted too (a folder's own files are left alone)."""
        removed = self.writer.indexer.remove(source)
        for gone in removed:
            if is_upload(gone, self.folder) and os.path.isfile(gone):
                os.remove(gone)
        return removed

    def cited_text(self, citation: Citation) -> str | None:
        """The document text the citation's offsets point into, or None when the document was removed or has
        changed since the answer (its quote is no longer at those offsets)."""
        for doc in self.documents():
            if doc.source == citation.source:
                text = self._text(doc.sha256)
                if text is not None and text[citation.start:citation.end] == citation.quote:
                    return text
        return None
