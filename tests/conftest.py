"""Shared fixtures: a sample corpus of every supported format (built here, not shipped), a real
embedder, real Chroma stores in temporary homes and a real `chroma run` server that a test can kill and restart."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from assistant.services import Services, derived_models_dir, quiet_offline_environment
from assistant.settings import load_settings
from index.embedder import Embedder, build_embedder

quiet_offline_environment()
# Extractive answers unless a test asks for a model: the few model-backed tests say so explicitly
# (settings passed as arguments beat the environment), and everything else stays fast.
os.environ.setdefault("ASSISTANT_LLM", "none")

# One distinct fact per document, so every answer and quote can be checked exactly.
HARBOR_TXT = (
    "Veltria harbour report\n\n"
    "The Port of Veltria handled 4.2 million containers in 2023. "
    "Its new crane terminal opened in March after two years of building work. "
    "Dock workers voted to accept a three-year wage deal in October.\n"
)
VOLCANO_MD = (
    "# Mount Orrin\n\n"
    "Mount Orrin last erupted in 1931, burying the village of Kesh under ash.\n\n"
    "- The summit stands 3,120 metres above sea level.\n"
    "- Geologists monitor it from a station on the northern ridge.\n"
)
ORCHESTRA_HTML = (
    "<html><head><title>Lindqvist Orchestra</title><style>p { color: red; }</style>"
    "<script>var secret = 'SCRIPT_TEXT_MUST_NOT_BE_INDEXED';</script></head><body>"
    "<h1>Season news</h1><p>The Lindqvist Orchestra appointed <b>Mara Oyelaran</b> as its principal "
    "conductor in 2022.</p><p>The orchestra tours Japan every second autumn.</p>"
    "<noscript>NOSCRIPT_TEXT_MUST_NOT_BE_INDEXED</noscript></body></html>"
)
BAKERY_PDF_LINES = [
    "The Halvard Bakery sells 900 loaves of rye bread every Saturday.",
    "It was founded by Ingrid Halvard in 1958.",
]
ROVER_DOCX_PARAGRAPHS = [
    "The Tessel rover drove 14 kilometres across the crater floor during its first year.",
    "Its drill collected eleven rock samples for return to Earth.",
]


def write_pdf(path: Path, lines: list[str]) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    for line in lines:
        pdf.multi_cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))


def write_blank_pdf(path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.output(str(path))


def write_docx(path: Path, paragraphs: list[str]) -> None:
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    document.save(str(path))


def build_good_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "harbor.txt").write_text(HARBOR_TXT, encoding="utf-8")
    (folder / "volcano.md").write_text(VOLCANO_MD, encoding="utf-8")
    (folder / "orchestra.html").write_text(ORCHESTRA_HTML, encoding="utf-8")
    write_pdf(folder / "bakery.pdf", BAKERY_PDF_LINES)
    write_docx(folder / "rover.docx", ROVER_DOCX_PARAGRAPHS)
    return folder


# file name -> the words its skip reason must contain
HOSTILE_REASONS = {
    "empty.txt": "empty file",
    "binary.txt": "binary content",
    "undecodable.txt": "undecodable bytes",
    "corrupt.pdf": "not a readable PDF",
    "scanned.pdf": "no text to index",
    "corrupt.docx": "not a readable .docx",
    "huge.txt": "over the",
    "image.png": "not a readable image",
    "tool.exe": "unsupported format",
    "dangling.txt": "broken symlink",
    "loop-a.txt": "symlink loop",
    "loop-b.txt": "symlink loop",
    "whitespace.md": "no text to index",
    "fifo.txt": "not a regular file",
}
HUGE_BYTES = 2_000_000  # the tests set max_file_mb=1


def add_hostile_files(folder: Path) -> None:
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02PK\x03\x04" * 100)
    (folder / "undecodable.txt").write_bytes(b"caf\xc3 \x81\x8d\x03\x04 r\xe9sum\x90 \x1b[0m")
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.4\n this is not really a pdf \x00\xff")
    write_blank_pdf(folder / "scanned.pdf")
    (folder / "corrupt.docx").write_bytes(b"PK\x03\x04 not a zip archive at all")
    (folder / "huge.txt").write_text("word " * (HUGE_BYTES // 5), encoding="utf-8")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    (folder / "tool.exe").write_bytes(b"MZ\x90\x00" + b"\x00" * 64)
    os.symlink(folder / "missing-target.txt", folder / "dangling.txt")
    os.symlink(folder / "loop-b.txt", folder / "loop-a.txt")
    os.symlink(folder / "loop-a.txt", folder / "loop-b.txt")
    (folder / "whitespace.md").write_text("   \n\n\t\n", encoding="utf-8")
    os.mkfifo(folder / "fifo.txt")
    # A folder symlink pointing back up: must be walked once, not forever.
    os.symlink(folder, folder / "subdir-loop")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real packaged MiniLM (the default: int8), loaded once for the whole session."""
    model = build_embedder(None, "int8", derived_models_dir())
    model.load()  # now, not inside the first timed step
    return model


def indexed_texts(base: Path, embedder: Embedder, files: dict[str, str], **settings) -> Services:
    """Files {name: text} written to base/news and indexed into base/home (extractive unless told)."""
    folder = base / "news"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    services = Services(load_settings(home=str(base / "home"), **{"llm": "none", **settings}))
    services.embedder = embedder
    services.indexer.sync([str(folder)], progress=False)
    return services


def indexed_sample(base: Path, embedder: Embedder, **settings) -> tuple[Services, Path]:
    """The sample corpus built under base/docs and indexed into base/home; returns (services, corpus)."""
    corpus = build_good_corpus(base / "docs")
    services = Services(load_settings(home=str(base / "home"), **settings))
    services.embedder = embedder
    services.indexer.sync([str(corpus)], progress=False)
    return services, corpus


@pytest.fixture
def make_services(tmp_path, embedder):
    """Services on a fresh home with the shared real embedder; call with setting overrides."""

    def factory(home: Path | None = None, **overrides) -> Services:
        settings = load_settings(home=str(home or tmp_path / "home"), **overrides)
        services = Services(settings)
        services.embedder = embedder  # the model is read-only: sharing it only saves load time
        return services

    return factory


@pytest.fixture
def good_corpus(tmp_path) -> Path:
    return build_good_corpus(tmp_path / "docs")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ChromaServer:
    """A real `chroma run` process on a free loopback port and its own data folder; it can be killed (SIGKILL, as a
    crash would) and started again on the same folder and port."""

    def __init__(self, data: Path):
        self.data, self.port = data, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> "ChromaServer":
        chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
        # Its own process group: a kill reaches whatever it started too.
        self.process = subprocess.Popen([chroma, "run", "--path", str(self.data), "--host", "127.0.0.1",
                                         "--port", str(self.port)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1)
                return self
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.kill()
                    pytest.fail("chroma server did not start")
                time.sleep(0.1)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def chroma_server(tmp_path):
    """A running Chroma server (ChromaServer: .url, .kill(), .start()), stopped after the test."""
    server = ChromaServer(tmp_path / "server-data").start()
    yield server
    server.stop()
