"""Keep the index in step with folders on disk: watch them and re-sync after each burst of changes.

Every run is a full `Indexer.sync` of all the watched paths, not of the changed files alone: a sync hashes
what is there, so it also reconciles changes the OS failed to report (a lost event, a full inotify queue),
and a rename whose two halves arrive in different batches is still seen whole, as a rename.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable

from watchfiles import watch

from index.records import IndexReport
from index.sync import Indexer

# A watched change queues this long behind another writer (an upload, `assistant index`) before giving up.
SYNC_WAIT_SECONDS = 120.0
QUIET_MS = 200  # a burst is over once no new change arrived for this long (watchfiles' `step`)
TICK_MS = 1000  # how often, with no changes, missing paths are looked for and failed syncs retried
RETRY_SECONDS = (5.0, 60.0)  # after a failed sync: first wait, then doubled up to the second


def changed(report: IndexReport) -> bool:
    """Whether a sync changed what the index holds (a file touched but not altered changes nothing)."""
    return bool(report.added or report.updated or report.renamed or report.removed)


class ChangeFilter:
    """Keeps the changes the index cares about: the rule of index/files.py (nothing hidden, i.e. no part of
    the path below the watched root starts with '.'), and nothing in the assistant's home when it lies in a
    watched folder: the index writes its own files there, and watching them would re-sync forever."""

    def __init__(self, roots: list[str], home: str | Path | None):
        self.roots = sorted(roots, key=len, reverse=True)  # deepest first: the root a path belongs to
        self.ignored = []
        if home is not None:
            home_abs, home_real = os.path.abspath(home), os.path.realpath(home)
            self.ignored.append(home_abs)
            # Events are spelled from the watched root as given; a root reached through a symlink spells
            # the home through it too.
            for root in roots:
                if _under(home_real, os.path.realpath(root)):
                    self.ignored.append(os.path.join(root, os.path.relpath(home_real, os.path.realpath(root))))

    def __call__(self, change, path: str) -> bool:
        root = next((r for r in self.roots if _under(path, r)), None)
        if root is None:
            return not os.path.basename(path).startswith(".")
        if any(_under(path, home) and not _under(root, home, strictly=True) for home in self.ignored):
            return False
        return path == root or not any(part.startswith(".") for part in os.path.relpath(path, root).split(os.sep))


def watch_and_sync(indexer: Indexer, paths: list[str], on_report: Callable[[IndexReport], None],
                   stop_event: threading.Event, *, debounce_ms: int = 1000,
                   wait_seconds: float = SYNC_WAIT_SECONDS, on_error: Callable[[str], None] = print,
                   home: str | Path | None = None) -> None:
    """Until stop_event is set: after each burst of changes under `paths`, sync them and pass the report to
    on_report (only reports that changed the index, or that skipped a file after a change). Problems (the
    index busy beyond wait_seconds, a failing store, a missing path) go to on_error and the watch goes on.

    One sync runs as soon as the watch is live: it catches what changed between the caller's own sync and
    now (nothing is said unless it changed the index). Call it in a thread; it returns once stopped.
    """
    roots = [os.path.abspath(p) for p in paths]
    keep = ChangeFilter(roots, home)
    pending, reason = True, "start"
    retry_at, delay = None, RETRY_SECONDS[0]

    def run_sync() -> None:
        nonlocal pending, retry_at, delay
        try:
            report = indexer.sync(paths, wait_seconds=wait_seconds, progress=False)
        except Exception as exc:  # busy index, unreachable store, ...: say so, keep watching, retry later
            on_error(f"re-index of {', '.join(paths)} failed ({exc}); retrying in {delay:.0f} s")
            pending, retry_at, delay = True, time.monotonic() + delay, min(delay * 2, RETRY_SECONDS[1])
            return
        pending, retry_at, delay = False, None, RETRY_SECONDS[0]
        if changed(report) or (report.skipped and reason == "changes"):
            on_report(report)

    reported_missing: set[str] = set()
    while not stop_event.is_set():
        # A path that does not exist (yet), or stopped existing, cannot be watched (the OS watches inodes):
        # rather than watch a parent recursively (that could be a whole disk), look for it again on every
        # tick, and re-create the watcher once it appears.
        present = [r for r in roots if os.path.exists(r)]
        for missing in set(roots) - set(present) - reported_missing:
            on_error(f"{missing}: no such file or folder; it will be indexed when it appears")
        reported_missing = set(roots) - set(present)
        # A watched file is watched by inode: once an editor saves it by renaming a new file over it, the
        # old watch is dead, so a change to a watched file re-creates the watcher too.
        files = {r for r in present if not os.path.isdir(r)}
        try:
            for changes in watch(*present, watch_filter=keep, debounce=debounce_ms, step=min(QUIET_MS, debounce_ms),
                                 stop_event=stop_event, rust_timeout=TICK_MS, yield_on_timeout=True,
                                 raise_interrupt=False):
                if changes:
                    pending, reason, retry_at = True, "changes", None
                if (any(os.path.exists(r) != (r in present) for r in roots)
                        or any(path in files for _, path in changes)):
                    pending, reason = True, "changes"  # re-watch first; the new watcher's first tick syncs
                    break
                # The watcher is live here, so a sync started now misses nothing that happens during it:
                # those changes are gathered meanwhile and make the next batch.
                if pending and (retry_at is None or time.monotonic() >= retry_at):
                    run_sync()
        except Exception as exc:  # e.g. the OS limit on watches reached: say so, try again shortly
            on_error(f"watching {', '.join(paths)} failed ({exc}); trying again in {RETRY_SECONDS[0]:.0f} s")
            stop_event.wait(RETRY_SECONDS[0])


def _under(path: str, root: str, strictly: bool = False) -> bool:
    return (path == root and not strictly) or path.startswith(root.rstrip(os.sep) + os.sep)
