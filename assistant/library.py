"""The document side of the web app: add uploaded files, re-index the configured folders, remove, list,
and fetch the text a citation points into.

Writes go through their own Services (their own manifest connection): a chat reading the index while an
upload is being indexed never reads inside the writer's open transaction, only what is committed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from assistant.records import Answer, Citation
from assistant.services import Services
from assistant.uploads import discard, is_upload, stage_uploads, staged_leftovers
from index.lock import IndexBusy
from index.pdf import PageImage, draw_page
from index.records import PAGE_BREAK, DocumentInfo, IndexReport, page_at
from index.watch import watch_and_sync

# A write started from the page queues this long behind another indexing run (e.g. `assistant index`).
WRITE_WAIT_SECONDS = 120.0


class Library:
    def __init__(self, services: Services, folder: Path | None = None):
        """folder: where uploads are kept (<home>/documents unless told)."""
        self.reader = services
        self.writer = Services(services.settings)
        self.writer.embedder = services.embedder  # read-only model: one copy in memory
        self.folder = folder or services.settings.home / "documents"
        self._text = lru_cache(maxsize=16)(self.reader.indexer.document_text)  # by sha256: never stale
        # What watching the configured folders last did (see start_watching); read by the page.
        self.watching: threading.Event | None = None  # set it to stop watching
        self.last_change: tuple[datetime, IndexReport] | None = None
        self.last_problem: tuple[datetime, str] | None = None
        self.watch_events = 0  # bumped on each of the above: the page redraws only when it moved
        self._settle_leftovers()

    def _settle_leftovers(self) -> None:
        """Start-up sweep of the uploads folder: the staging copies an upload killed mid-way left behind are moved
        into place when their version went live before the kill, and deleted otherwise."""
        leftovers = staged_leftovers(self.folder)
        if leftovers:
            moved = self.writer.indexer.settle_staged(leftovers)
            logging.getLogger(__name__).warning(
                "uploads folder %s: settled %d staging file(s) left by an interrupted upload (%d moved into place)",
                self.folder, len(leftovers), len(moved))

    def documents(self) -> list[DocumentInfo]:
        return self.reader.indexer.documents()

    def add(self, files: list[str], progress: bool = True) -> IndexReport:
        """Stage files in <home>/documents (safe names, size limit), index them, and only then move each over its
        stored copy (a refused one is deleted, the stored copy untouched); more files than max_upload_files at once
        is a ValueError, before anything is copied."""
        limit = self.reader.settings.max_upload_files
        if len(files) > limit:
            raise ValueError(f"{len(files)} files in one upload; at most {limit} may be added at once (setting "
                             "max_upload_files): add them in smaller batches")
        staged, refused = stage_uploads(files, self.folder, int(self.reader.settings.max_file_mb * 1e6))
        report = IndexReport()
        if staged:
            # All or nothing: a server killed mid-upload leaves none of it live, and the same upload again is whole.
            # Once it holds the writer lock, sync_staged settles every staging copy, failed or not (one it could not
            # is settled by the next start-up sweep); without the lock, none of them can have gone live.
            try:
                report = self.writer.indexer.sync_staged(staged, wait_seconds=WRITE_WAIT_SECONDS, progress=progress)
            except IndexBusy:
                discard(staged)
                raise
        report.skipped = refused + report.skipped
        return report

    def reindex(self, progress: bool = True) -> IndexReport:
        """Sync the configured folders (settings.sources), as `assistant index` with no paths does."""
        return self.writer.indexer.sync(self.reader.settings.sources, wait_seconds=WRITE_WAIT_SECONDS,
                                        progress=progress)

    def start_watching(self) -> threading.Event:
        """Re-index settings.sources after every change to their files, in a background thread, through the
        same writer (and writer lock) as the page's uploads; first catches up with what changed while no one
        watched. Returns the event that stops it."""
        settings = self.reader.settings
        stop = threading.Event()

        def changed(report: IndexReport) -> None:
            self.last_change = (datetime.now(), report)
            self.watch_events += 1

        def problem(message: str) -> None:
            logging.getLogger(__name__).warning("watching the sources: %s", message)
            self.last_problem = (datetime.now(), message)
            self.watch_events += 1

        def watch() -> None:
            self.writer.embedder.load()  # loaded now, in the background: not by the first change's re-index
            watch_and_sync(self.writer.indexer, settings.sources, changed, stop, debounce_ms=settings.watch_debounce_ms,
                           wait_seconds=WRITE_WAIT_SECONDS, on_error=problem, home=settings.home)

        threading.Thread(target=watch, name="index-watch", daemon=True).start()
        self.watching = stop
        return stop

    def remove(self, source: str, by: str = "unknown") -> list[str]:
        """Un-index a document by its source as listed, or the documents of a folder as their sources begin
        (index/removal.py refuses a target that would match everything); an uploaded copy is deleted too (a
        folder's own files are left alone). by: who asked, for the log."""
        removed = self.writer.indexer.remove(source, wait_seconds=WRITE_WAIT_SECONDS, as_listed=True, by=by)
        for gone in removed:
            if is_upload(gone, self.folder) and os.path.isfile(gone):
                os.remove(gone)
        return removed

    def display_name(self, source: str) -> str:
        """A document as its reader knows it: an upload by its file name, not the copy's place in the home."""
        return os.path.basename(source) if is_upload(source, self.folder) else source

    def cited_text(self, citation: Citation) -> str | None:
        """The document text the citation's offsets point into, or None when the document was removed or has
        changed since the answer (its quote is no longer at those offsets)."""
        for doc in self.documents():
            if doc.source == citation.source:
                text = self._text(doc.sha256)
                if text is not None and text[citation.start:citation.end] == citation.quote:
                    return text
        return None

    def relocated(self, answers: list[Answer]) -> list[Answer]:
        """A saved conversation's answers with every citation checked against the index as it is now: still at
        its place, re-located by its quote in its changed document, or no longer there (`Citation.status`)."""
        sha_of = {doc.source: doc.sha256 for doc in self.documents()}
        cited = {c.source for answer in answers for c in answer.citations}
        texts = {source: self._text(sha_of[source]) for source in cited if source in sha_of}  # the cited ones only
        return [answer.model_copy(update={"citations": [_relocate(c, texts.get(c.source)) for c in answer.citations]})
                for answer in answers]

    def cited_page(self, citation: Citation) -> PageImage:
        """The PDF page a citation is on, drawn, with the quote's place marked; PageUnavailable says why not."""
        if citation.page is None or not citation.source.lower().endswith(".pdf"):
            raise PageUnavailable("only a PDF citation has a page to show")
        text = self.cited_text(citation)
        row = next((row for row in self.reader.manifest.documents() if row.source == citation.source), None)
        if text is None or row is None:
            raise PageUnavailable("this document was removed or has changed since the answer")
        try:
            with open(row.path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise PageUnavailable(f"cannot read {citation.source}: {exc.strerror}") from None
        if hashlib.sha256(data).hexdigest() != row.sha256:
            raise PageUnavailable(f"{citation.source} has changed since it was indexed: re-index it to see its pages")
        # Offsets within the page: its text starts after the page break before the quote.
        page_start = text.rfind(PAGE_BREAK, 0, citation.start) + 1
        page_end = text.find(PAGE_BREAK, citation.start)
        end = min(citation.end, page_end if page_end >= 0 else len(text))
        return draw_page(data, citation.page, citation.start - page_start, end - page_start)


def _relocate(citation: Citation, text: str | None) -> Citation:
    if text is None:
        return citation.model_copy(update={"status": "removed"})
    if text[citation.start:citation.end] == citation.quote:
        return citation.model_copy(update={"status": "current"})
    at = text.find(citation.quote)
    if at < 0:
        return citation.model_copy(update={"status": "changed"})
    return citation.model_copy(update={"status": "moved", "start": at, "end": at + len(citation.quote),
                                       "page": page_at(text, at)})


class PageUnavailable(Exception):
    """Why a citation's page cannot be shown, in words for the person who asked."""
