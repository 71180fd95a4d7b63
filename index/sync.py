"""Incremental, crash-safe sync of the index with folders and files on disk.

A run hashes every file it finds (sha256 of the bytes). Unchanged files are skipped; new and changed
files are extracted, chunked and embedded, reusing vectors for any chunk text the index already holds or
this run already embedded (so a renamed or copied file costs no embedding at all); files that disappeared from the given
folders are removed. See manifest.py for the write protocol that survives SIGKILL at any point.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Generator, Iterator

from tqdm import tqdm

from index.chunking import Chunker
from index.files import NOT_UTF8, FoundFile, discover
from index.extraction import ExtractionWorker
from index.loaders import SkipFile, read_file
from index.lock import IndexBusy, WriterLock
from index.removal import listed_rows, refuse_too_broad
from index.manifest import DocumentRow, Manifest, now_iso
from index.records import Chunk, DocumentInfo, IndexReport, SkippedFile
from index.reembed import match_embedder, recorded_embedder
from index.store import text_key

if TYPE_CHECKING:
    from index.embedder import Embedder
    from index.store import ChunkStore

log = logging.getLogger(__name__)


def version_id(path: str, source: str, sha256: str) -> str:
    """One id per version of a document: the document_id its chunks share in the store. The displayed
    source is part of it, so re-indexing the same file under another spelling never reuses the id of
    the version it replaces (whose chunks are deleted right after)."""
    return hashlib.sha1(f"{path}\0{source}\0{sha256}".encode()).hexdigest()[:24]


@dataclass
class _Prepared:
    found: FoundFile
    sha256: str
    text: str = ""
    ocr_pages: int = 0
    chunks: list[Chunk] = field(default_factory=list)
    vectors: dict[str, object] = field(default_factory=dict)  # text_key -> vector
    unchanged: bool = False
    skipped: SkippedFile | None = None


class Indexer:
    """The store and the embedder are opened on first use (seconds each): listing documents, or a run that
    finds nothing changed, needs neither. store_folder is the embedded store's folder (None for a server)."""

    def __init__(self, open_store: Callable[[], ChunkStore], manifest: Manifest, open_embedder: Callable[[], Embedder],
                 lock_path: Path, chunk_tokens: int, overlap_tokens: int, max_file_bytes: int, embed_batch: int = 256,
                 extract_seconds: float = 60.0, extract_memory_mb: int = 2048, store_folder: Path | None = None):
        self._open_store = open_store
        self.manifest = manifest
        self._open_embedder = open_embedder
        self.lock_path = lock_path
        self.chunk_tokens = chunk_tokens
        self.overlap_tokens = overlap_tokens
        self.max_file_bytes = max_file_bytes
        self.embed_batch = embed_batch
        self.extract_seconds = extract_seconds
        self.extract_memory_mb = extract_memory_mb
        self.store_folder = store_folder

    @cached_property
    def store(self) -> ChunkStore:
        return self._open_store()

    @cached_property
    def embedder(self) -> Embedder:
        return self._open_embedder()

    # ----- reading the index -----------------------------------------------------------------------

    def documents(self) -> list[DocumentInfo]:
        return [DocumentInfo(source=row.source, chunks=row.chunks, sha256=row.sha256, indexed_at=row.indexed_at)
                for row in self.manifest.documents()]

    def document_text(self, sha256: str) -> str | None:
        """The extracted text a document's citations point into."""
        return self.manifest.text(sha256)

    # ----- changing the index ----------------------------------------------------------------------

    def sync(self, paths: list[str], rebuild: bool = False, wait_seconds: float = 0.0,
             progress: bool = True, all_or_nothing: bool = False) -> IndexReport:
        """Make the index hold exactly the files under paths. Each batch of documents goes live as soon as it is
        written (a killed run keeps them); with all_or_nothing (an upload) every new version goes live in one
        final commit, so a killed run leaves none of them."""
        started = time.perf_counter()
        with WriterLock(self.lock_path, wait_seconds):
            report = None if rebuild else self._nothing_changed(paths)
            if report is None:
                report = self._sync(paths, rebuild, progress, all_or_nothing)
        report.seconds = time.perf_counter() - started
        return report

    def sync_staged(self, files: list[FoundFile], wait_seconds: float = 0.0, progress: bool = True) -> IndexReport:
        """Index uploads whose bytes wait at `f.staged`, recorded under `f.path` (the stored copy's path, their
        identity), all or nothing; then, still holding the writer lock, settle each: moved onto `f.path` when the
        index now holds its bytes there, deleted otherwise. So a rejected upload never replaces the copy at
        `f.path` and leaves nothing behind, and disk and index agree after the run, failed or not."""
        started = time.perf_counter()
        with WriterLock(self.lock_path, wait_seconds):
            try:
                report = self._sync([f.path for f in files], False, progress, all_or_nothing=True, found=files)
            finally:
                self._settle([(f.staged, f.path) for f in files if f.staged])
        report.seconds = time.perf_counter() - started
        return report

    def settle_staged(self, staged: list[tuple[str, str]]) -> list[str]:
        """Finish what an upload killed before it settled left behind (pairs of staging file, stored copy's path):
        a staging file whose bytes the index holds live for its path was killed between the commit and the move,
        so it is moved into place; any other never went live and is deleted. Returns what was moved into place.
        A run holding the writer lock is alive and its staging files are its own: they are left alone."""
        if not staged:
            return []
        try:
            with WriterLock(self.lock_path):
                return self._settle(staged)
        except IndexBusy:
            return []

    def _settle(self, staged: list[tuple[str, str]]) -> list[str]:
        """With the writer lock held: move each staging file onto its path (os.replace: atomic, so a kill leaves
        either file whole) when the live version at that path has its sha256, else delete it."""
        live = {row.path: row.sha256 for row in self.manifest.documents()}
        moved = []
        for temp, path in staged:
            try:
                sha = _sha256_of(temp)
            except FileNotFoundError:
                continue
            if live.get(path) == sha:
                os.replace(temp, path)
                moved.append(path)
            else:
                os.remove(temp)
        return moved

    def _nothing_changed(self, paths: list[str]) -> IndexReport | None:
        """The report of a run with nothing to do, proved without opening the store or the embedder; None when
        anything may need work (then the full run decides). An empty journal proves no write was left half done,
        so the store holds what the manifest says; a server's store can be changed by others, so it is checked."""
        if self.store_folder is None or not (self.store_folder / "chroma.sqlite3").is_file() \
                or self.manifest.journalled() or self.manifest.versions_without_postings() \
                or recorded_embedder(self.manifest, self.embedder) != self.embedder.identity:
            return None
        files, skipped, roots = discover(paths)
        live = {row.path: row for row in self.manifest.documents()}
        found = {f.path for f in files}
        # A name that is not UTF-8 is skipped by every run alike; any other skip may need the full run's judgement.
        if any(miss.reason != NOT_UTF8 for miss in skipped) \
                or any(_under(path, roots) and path not in found for path in live):
            return None
        report = IndexReport(embedder=self.embedder.identity, skipped=skipped)
        for f in files:
            row = live.get(f.path)
            try:
                if row is None or row.source != f.source \
                        or hashlib.sha256(read_file(f.path, self.max_file_bytes)).hexdigest() != row.sha256:
                    return None
            except Exception:  # unreadable now: the full run says why
                return None
            report.unchanged.append(f.source)
        return report

    def _sync(self, paths: list[str], rebuild: bool, progress: bool, all_or_nothing: bool = False,
              found: list[FoundFile] | None = None) -> IndexReport:
        # found: the files to index (paths are then their paths), instead of discovering them under paths.
        self.embedder.load()  # now: a bad embedder setting or a server that is down stops the run before any file
        report = IndexReport()
        if rebuild:
            self.store.reset()
            self.manifest.clear()
        report.recovered = self._recover()
        report.reembedded = match_embedder(self.store, self.manifest, self.embedder, progress)
        report.embedder = self.embedder.identity
        files, skipped, roots = discover(paths) if found is None else (found, [], list(paths))
        live = {row.path: row for row in self.manifest.documents()}
        for miss in skipped:
            # A given path that vanished is a deletion when the index holds documents under it.
            gone_root = os.path.abspath(miss.path)
            if miss.reason == "no such file or folder" and any(_under(p, [gone_root]) for p in live):
                roots.append(gone_root)
            else:
                report.skipped.append(miss)
        kept, added = self._write_changes(files, live, report, progress, all_or_nothing)
        gone = [row for path, row in live.items() if _under(path, roots) and path not in kept]
        # An added file with the bytes of a file that disappeared is that file, renamed or moved.
        gone_by_sha = {row.sha256: row for row in gone}
        for row in added:
            old = gone_by_sha.pop(row.sha256, None)
            if old is not None:
                report.renamed.append((old.source, row.source))
            else:
                report.added.append(row.source)
        for row in gone:
            self._delete(row)
        report.removed = sorted(row.source for row in gone_by_sha.values())
        return report

    def remove(self, path: str | None, wait_seconds: float = 0.0, as_listed: bool = False,
               by: str = "unknown") -> list[str]:
        """Remove the document at path, or every document under a folder path (None: every document); return their
        sources. A target that would match everything by accident is refused (index/removal.py); as_listed: path
        is spelled as the sources are listed, not resolved on disk. Each removal is logged with who asked."""
        with WriterLock(self.lock_path, wait_seconds):
            if path is None:
                rows = self.manifest.documents()
            else:
                refuse_too_broad(path)
                rows = listed_rows(self.manifest.documents(), path) if as_listed else self.matching(path)
            for row in rows:
                self._delete(row)
        if rows:
            log.warning("removed %d document(s) (target %s, asked by %s): %s", len(rows),
                        "every document" if path is None else repr(path), by, ", ".join(r.source for r in rows))
        return [row.source for row in rows]

    def recover_interrupted(self) -> list[str]:
        """Undo now what a killed run (an upload cut short by a crashed server, a killed `assistant index`) left
        half done, instead of at the next write: a restarted server then holds exactly what its manifest says.
        Costs one query when the journal is empty; a run holding the writer lock is alive, not interrupted, and
        its journal is its own (it is left alone)."""
        if not self.manifest.journalled():
            return []
        try:
            with WriterLock(self.lock_path):
                return self._recover()
        except IndexBusy:
            return []

    def matching(self, path: str) -> list[DocumentRow]:
        """The live document at path (its source as indexed, or the file itself), or every one under a folder."""
        target_abs, target_src = os.path.abspath(path), os.path.normpath(path)
        return [row for row in self.manifest.documents() if row.source == target_src or _under(row.path, [target_abs])]

    # ----- internals -------------------------------------------------------------------------------

    def _recover(self) -> list[str]:
        """Undo what a killed run left half done, then check the store agrees with the manifest."""
        notes = []
        live_ids = {row.version_id for row in self.manifest.documents()}
        interrupted = self.manifest.journalled()
        if interrupted:
            self.store.delete_versions([vid for vid in interrupted if vid not in live_ids])
            self.manifest.forget(interrupted)
            notes.append(f"removed the partial chunks of an interrupted run ({len(interrupted)} version(s))")
        rows = self.manifest.documents()
        if self.store.count() != sum(row.chunks for row in rows):
            # Should not happen with the journal; if the store lost or kept writes, repair from truth.
            counts = self.store.chunk_counts()
            expected = {row.version_id: row for row in rows}
            orphans = set(counts) - set(expected)
            self.store.delete_versions(list(orphans))
            notes += [f"deleted {counts[vid]} orphan chunks of version {vid}" for vid in orphans]
            for vid, row in expected.items():
                if counts.get(vid, 0) != row.chunks:
                    self._delete(row)
                    notes.append(f"{row.source}: store held {counts.get(vid, 0)} of {row.chunks} chunks; "
                                 "removed it so it is indexed again")
        unposted = self.manifest.versions_without_postings()
        if unposted:
            # Indexed before keyword search existed: postings come from the chunks the store holds.
            for vid, chunks in self.store.chunk_texts(unposted).items():
                self.manifest.add_postings(vid, chunks)
            notes.append(f"built keyword postings for {len(unposted)} document(s) indexed before keyword search")
        return notes

    def _write_changes(self, files: list[FoundFile], live: dict[str, DocumentRow], report: IndexReport,
                       progress: bool, all_or_nothing: bool) -> tuple[set[str], list[DocumentRow]]:
        """Index new and changed files; return the paths that stay live and the rows of new documents.
        Batch N is written (Chroma, manifest) by a writer thread while batch N+1 is embedded: otherwise the
        cores would wait on the writes, which take a tenth of an int8 run."""
        kept: set[str] = set()
        added: list[DocumentRow] = []
        run_vectors: dict[str, object] = {}  # text_key -> vector embedded earlier in this run
        written: Future | None = None
        staged: list[tuple[DocumentRow, DocumentRow | None]] = []  # all_or_nothing: written, not yet live
        bar = tqdm(total=len(files), unit="file", desc="indexing", disable=not progress, dynamic_ncols=True)
        # An error or Ctrl-C here waits for the write under way: the journal then holds whole batches only.
        with bar, ThreadPoolExecutor(1, thread_name_prefix="index-writer") as writer:
            for batch in self._batches(files, live, report, kept, bar):
                embedded = self._embed(batch, live, report, run_vectors)
                if written is not None:
                    added += written.result()  # one write in flight: memory stays at two batches
                written = writer.submit(self._write, embedded, live, report, staged if all_or_nothing else None)
            if written is not None:
                added += written.result()
        if staged:
            added += self._publish(staged, live, report)
        return kept, added

    def _batches(self, files: list[FoundFile], live: dict[str, DocumentRow], report: IndexReport, kept: set[str],
                 bar: tqdm) -> Iterator[list[_Prepared]]:
        """The changed files, prepared, in batches of about `embed_batch` chunks; the rest goes in the report."""
        by_sha: dict[str, list[DocumentRow]] = {}
        for row in live.values():
            by_sha.setdefault(row.sha256, []).append(row)
        pending: list[_Prepared] = []
        for item in _in_background(self._prepare(files, live)):
            bar.update(1)
            # A file that became unreadable keeps its last good version rather than vanish.
            kept.add(item.found.path)
            if item.skipped:
                report.skipped.append(item.skipped)
            elif item.unchanged:
                report.unchanged.append(item.found.source)
            else:
                if item.ocr_pages:
                    report.read_by_ocr[item.found.source] = item.ocr_pages
                reuse_from = [row.version_id for row in by_sha.get(item.sha256, [])]
                if item.found.path in live:
                    reuse_from.append(live[item.found.path].version_id)
                item.vectors = self.store.vectors_by_text(reuse_from)
                pending.append(item)
                if sum(len(p.chunks) for p in pending) >= self.embed_batch:
                    yield pending
                    pending = []
                    bar.set_postfix(chunks=report.chunks_written)
        if pending:
            yield pending

    def _prepare(self, files: list[FoundFile], live: dict[str, DocumentRow]) -> Iterator[_Prepared]:
        # Both built on first need: a run where nothing changed starts no worker and loads no tokenizer.
        chunker = None
        worker = ExtractionWorker(self.extract_seconds, self.extract_memory_mb)
        with worker:
            for found in files:
                try:
                    data = read_file(found.staged or found.path, self.max_file_bytes)
                    sha = hashlib.sha256(data).hexdigest()
                    if found.path in live and live[found.path].sha256 == sha \
                            and live[found.path].source == found.source:
                        yield _Prepared(found, sha, unchanged=True)
                        continue
                    extracted = worker.extract(found.path, data)
                    chunker = chunker or Chunker(self.embedder.word_pieces,
                                                 min(self.chunk_tokens, self.embedder.max_tokens), self.overlap_tokens)
                    yield _Prepared(found, sha, text=extracted.text, ocr_pages=extracted.ocr_pages,
                                    chunks=chunker.chunk(extracted.text))
                except SkipFile as skip:
                    yield _Prepared(found, "", skipped=SkippedFile(path=found.source, reason=str(skip)))
                except Exception as exc:  # one odd file must not stop the run; say which and why
                    reason = f"unexpected error: {type(exc).__name__}: {exc}"
                    yield _Prepared(found, "", skipped=SkippedFile(path=found.source, reason=reason))

    def _embed(self, pending: list[_Prepared], live: dict[str, DocumentRow], report: IndexReport,
               run_vectors: dict[str, object]) -> list[tuple[_Prepared, DocumentRow, DocumentRow | None]]:
        """Embed what neither the store nor this run has embedded; each file's new row and the row it replaces."""
        missing = list({chunk.text: None for p in pending for chunk in p.chunks
                        if text_key(chunk.text) not in p.vectors and text_key(chunk.text) not in run_vectors})
        run_vectors.update(zip(map(text_key, missing), self.embedder.embed(missing)))
        report.chunks_embedded += len(missing)
        batch = []
        for item in pending:
            item.vectors.update((text_key(c.text), run_vectors[text_key(c.text)]) for c in item.chunks
                                if text_key(c.text) not in item.vectors)
            row = DocumentRow(path=item.found.path, source=item.found.source, sha256=item.sha256,
                              version_id=version_id(item.found.path, item.found.source, item.sha256), chunks=len(item.chunks),
                              indexed_at=now_iso())
            batch.append((item, row, live.get(item.found.path)))
        return batch

    def _write(self, batch: list[tuple[_Prepared, DocumentRow, DocumentRow | None]], live: dict[str, DocumentRow],
               report: IndexReport, staged: list[tuple[DocumentRow, DocumentRow | None]] | None) -> list[DocumentRow]:
        """Write embedded files by the journal protocol and make them live; return the rows of new documents.
        With `staged`, they are only journalled and written, and added to it for _publish to make live."""
        self.manifest.begin_versions([(row, item.text, item.chunks) for item, row, _ in batch])
        self.store.add_versions([(row, item.chunks, [item.vectors[text_key(c.text)] for c in item.chunks])
                                 for item, row, _ in batch])
        written = [(row, replaced) for _, row, replaced in batch]
        if staged is not None:
            staged += written
            return []
        return self._publish(written, live, report)

    def _publish(self, written: list[tuple[DocumentRow, DocumentRow | None]], live: dict[str, DocumentRow],
                 report: IndexReport) -> list[DocumentRow]:
        """Make written versions live in one commit (the versions they replace retire in it), then delete what
        they replaced; return the rows of new documents."""
        added = []
        self.manifest.commit_versions(written)
        replaced_ids = [replaced.version_id for _, replaced in written if replaced is not None]
        self.store.delete_versions(replaced_ids)
        self.manifest.forget(replaced_ids)
        for row, replaced in written:
            if replaced is not None:
                report.updated.append(row.source)
            else:
                added.append(row)
            live[row.path] = row
            report.chunks_written += row.chunks
        return added

    def _delete(self, row: DocumentRow) -> None:
        self.manifest.retire(row)
        self.store.delete_versions([row.version_id])
        self.manifest.forget([row.version_id])


def _sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _in_background(items: Generator, depth: int = 64) -> Iterator:
    """Run a generator in a thread so reading and parsing overlap with embedding. A consumer that stops early (a
    write failed: Chroma went down) stops the producer too and closes its generator, so a long-running server
    keeps neither a thread blocked on a full buffer nor the extraction worker process behind each failed run."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    failure: list[BaseException] = []
    stopped = threading.Event()

    def offer(item) -> bool:
        while not stopped.is_set():
            try:
                buffer.put(item, timeout=0.2)
                return True
            except queue.Full:
                pass
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    break
        except BaseException as exc:  # re-raised in the consumer
            failure.append(exc)
        finally:
            items.close()  # runs the generator's own cleanup (the worker process) when it was cut short
            offer(done)

    threading.Thread(target=produce, name="index-reader", daemon=True).start()
    try:
        while (item := buffer.get()) is not done:
            yield item
    finally:
        stopped.set()
    if failure:
        raise failure[0]
