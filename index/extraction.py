"""Readers run in a worker process under a time and a memory budget, so no file can hang or sink a run.

Parsers of PDFs, office zips and images are big C and Python libraries fed untrusted bytes: a crafted file can
make one loop for minutes, recurse without end or inflate to gigabytes. The worker reads one file at a time;
when a file takes more than `seconds` without progress (an OCR'd page counts as progress), or twenty times
that in all (a million blank pages would each be progress), the worker and everything it started (Tesseract)
are killed and the file is skipped with that reason; an address-space limit
turns a memory blow-up into a skip as well. The next file gets a fresh worker. Indexing goes on either way.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from multiprocessing.connection import Connection

from index.loaders import SkipFile
from index.records import Extracted

_TOTAL_FACTOR = 20  # a file may take this many times the no-progress budget in all (default: 20 minutes)
_START_SECONDS = 60  # a cold start on a busy two-core machine takes a few seconds


class ExtractionWorker:
    def __init__(self, seconds: float, memory_mb: int):
        self.seconds = seconds
        self.memory_mb = memory_mb
        self._process: subprocess.Popen | None = None
        self._conn: Connection | None = None

    def extract(self, path: str, data: bytes) -> Extracted:
        """What index.loaders.extract returns for this file, or SkipFile when it fails or overruns its budget."""
        if self._process is not None and self._process.poll() is not None:
            self.close()  # it died between files
        if self._process is None:
            self._start()
        self._conn.send((path, data))
        deadline = time.monotonic() + _TOTAL_FACTOR * self.seconds
        while True:
            if not self._conn.poll(min(self.seconds, max(0.0, deadline - time.monotonic()))):
                self.close()
                if time.monotonic() >= deadline:
                    raise SkipFile(f"reading it took over {_TOTAL_FACTOR * self.seconds:g} s in all, so it was "
                                   f"stopped ({_TOTAL_FACTOR} x setting extract_seconds); if the file is sound, "
                                   "raise it")
                raise SkipFile(f"reading it took over {self.seconds:g} s without progress, so it was stopped "
                               "(setting extract_seconds); if the file is sound, raise it")
            try:
                kind, value = self._conn.recv()
            except (EOFError, OSError):
                self.close()
                raise SkipFile(f"its reader crashed or needed over {self.memory_mb} MB of memory (setting "
                               "extract_memory_mb); if the file is sound, raise it") from None
            if kind == "page":
                continue  # progress: the budget starts again
            if kind == "ok":
                return value
            raise SkipFile(value)

    def close(self) -> None:
        if self._process is None:
            return
        self._conn.close()  # a worker waiting for work sees the end of its input and exits
        try:
            self._process.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            # Busy or hung. It leads its own process group: this ends Tesseract or anything else it started.
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._process.wait()
        self._process = self._conn = None

    def __enter__(self) -> "ExtractionWorker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        # A new interpreter, not a fork: the indexing process has threads (torch, the UI's server) that a fork
        # would copy in whatever state they are in; and not multiprocessing's spawn, which re-runs the caller's
        # main script in the child.
        ours, theirs = socket.socketpair()
        self._process = subprocess.Popen([sys.executable, "-m", "index.extraction", str(theirs.fileno()),
                                          str(self.memory_mb)], pass_fds=[theirs.fileno()], start_new_session=True)
        theirs.close()
        self._conn = Connection(ours.detach())
        # Its start (a new interpreter, the readers' imports) is not the first file's time to read.
        if not self._conn.poll(_START_SECONDS) or self._conn.recv() != ("ready", None):
            self.close()
            raise RuntimeError(f"the extraction worker did not start within {_START_SECONDS} s")


def _serve(conn: Connection, memory_mb: int) -> None:
    import resource

    from index import loaders, ocr

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    ocr.page_done = lambda: conn.send(("page", None))
    conn.send(("ready", None))
    while True:
        try:
            path, data = conn.recv()
        except EOFError:  # the indexer is done (or gone)
            return
        try:
            conn.send(("ok", loaders.extract(path, data)))
        except SkipFile as skip:
            conn.send(("skip", str(skip)))
        except MemoryError:
            conn.send(("skip", f"reading it needed over {memory_mb} MB of memory (setting extract_memory_mb)"))
        except RecursionError:
            conn.send(("skip", "its structure nests too deeply to read"))
        except Exception as exc:  # one odd file must not stop the run; say which and why
            conn.send(("skip", f"unexpected error: {type(exc).__name__}: {exc}"[:200]))


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])), int(sys.argv[2]))
