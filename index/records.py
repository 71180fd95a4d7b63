"""Typed records that leave the index package."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field, computed_field


@dataclass(frozen=True)
class Span:
    """A character span [start, end) in a document's extracted text."""

    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """A piece of a document, cut on sentence boundaries, short enough for the embedder."""

    index: int
    start: int
    end: int
    text: str
    tokens: int


# Between the pages of a PDF or the slides of a deck, as pdftotext writes it: a page's number is one more
# than the page breaks before it, so a citation finds its page from the extracted text alone.
PAGE_BREAK = "\f"


@dataclass(frozen=True)
class Extracted:
    """A file's extracted text (what quotes are exact spans of) and how much of it came from OCR."""

    text: str
    ocr_pages: int = 0  # pages or images read by OCR


def page_at(text: str, offset: int) -> int | None:
    """The 1-based page of an offset in a paged text (one that holds page breaks), else None."""
    return text.count(PAGE_BREAK, 0, offset) + 1 if PAGE_BREAK in text else None


class SkippedFile(BaseModel):
    path: str
    reason: str


class DocumentInfo(BaseModel):
    """One indexed document, as `assistant docs --json` lists it."""

    source: str = Field(description="the path as given when indexed")
    chunks: int
    sha256: str
    indexed_at: str


class IndexReport(BaseModel):
    """What one `assistant index` run did."""

    added: list[str] = []
    updated: list[str] = []
    renamed: list[tuple[str, str]] = Field(default=[], description="(old source, new source)")
    unchanged: list[str] = []
    removed: list[str] = []
    skipped: list[SkippedFile] = []
    chunks_written: int = 0
    chunks_embedded: int = 0
    recovered: list[str] = Field(default=[], description="what crash recovery repaired first")
    reembedded: int = Field(default=0, description="chunk texts re-embedded because the embedder changed")
    embedder: str = Field(default="", description="what wrote the index's vectors")
    read_by_ocr: dict[str, int] = Field(default={}, description="source -> pages (or images) read by OCR")
    seconds: float = 0.0

    @computed_field
    @property
    def chunks_per_second(self) -> float:
        """Chunks embedded per second of the whole run (reading, chunking and writing included)."""
        return round(self.chunks_embedded / self.seconds, 2) if self.seconds > 0 else 0.0

    def ocr_notes(self) -> list[str]:
        return [f"{source} ({pages} page{'s' * (pages > 1)})" for source, pages in self.read_by_ocr.items()]

    def summary(self) -> str:
        lines = [
            f"added {len(self.added)}, updated {len(self.updated)}, renamed {len(self.renamed)}, "
            f"unchanged {len(self.unchanged)}, removed {len(self.removed)}, skipped {len(self.skipped)}",
            f"chunks written {self.chunks_written}, embedded {self.chunks_embedded} "
            f"in {self.seconds:.1f} s ({self.chunks_per_second:.1f} chunks/s)",
        ]
        lines += [f"renamed: {old} -> {new}" for old, new in self.renamed]
        lines += [f"recovered: {what}" for what in self.recovered]
        if self.reembedded:
            lines.append(f"re-embedded {self.reembedded} chunks: the embedder is now {self.embedder}")
        lines += [f"read by OCR: {note}" for note in self.ocr_notes()]
        lines += [f"skipped: {s.path}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)


def chunk_id(version_id: str, chunk: int) -> str:
    """A chunk's id in the store: its version's id and its number, so re-writing a version never duplicates."""
    return f"{version_id}-{chunk:05d}"


def version_of(chunk_id: str) -> str:
    return chunk_id.rsplit("-", 1)[0]


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as the store returns it, with its place in its document and its retrieval score."""

    chunk_id: str
    source: str
    path: str
    sha256: str
    start: int
    end: int
    text: str
    score: float = 0.0  # cosine of the chunk's embedding with the query's
    fused: float = 0.0  # the retriever's ranking score (hybrid: dense and BM25 fused)
