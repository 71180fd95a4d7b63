"""One writer per assistant home: a second `assistant index` refuses (or waits) instead of corrupting."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path


class IndexBusy(RuntimeError):
    pass


class WriterLock:
    """An advisory flock on <home>/index.lock; the kernel releases it when the holder dies, even by SIGKILL."""

    def __init__(self, path: Path, wait_seconds: float = 0.0):
        self.path = path
        self.wait_seconds = wait_seconds
        self._handle = None

    def __enter__(self) -> "WriterLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    handle.close()
                    raise IndexBusy(
                        f"another indexing run (pid {holder}) is writing to {self.path.parent}; "
                        "wait for it to finish, or pass --wait SECONDS to queue behind it") from None
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()
