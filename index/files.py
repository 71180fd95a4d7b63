"""Find the files to index under the paths a user gives, and hash them.

Walking follows symlinked folders (users link folders in) but remembers every real folder it has
entered, so a symlink loop is reported once and never followed forever.

Names come as the OS gives them: bytes that are not valid UTF-8 reach Python as lone surrogates ('\\udcff'),
which no SQLite, Chroma or JSON write can encode. Such a file (or folder) is skipped with a reason, shown
escaped (`caf\\xff.txt`), and the rest of the run goes on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from index.records import SkippedFile


@dataclass(frozen=True)
class FoundFile:
    path: str  # absolute, normalised, symlinks kept: the document's identity in the index
    source: str  # the path as the user gave it (normalised): what answers cite
    # An upload waiting to replace the file at `path`: its bytes are read from here, and it is moved onto `path`
    # once the index holds them for `path` (Indexer.sync_staged). None: the file at `path` itself.
    staged: str | None = None


NOT_UTF8 = "file name is not valid UTF-8: rename it to index it"


def shown(path: str) -> str:
    """A path as it can be printed and stored: bytes that are not UTF-8 escaped (`caf\\xff.txt`)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _valid(name: str) -> bool:
    try:
        name.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _display(given_root: str, abs_root: str, abs_path: str) -> str:
    if abs_path == abs_root:
        return os.path.normpath(given_root)
    return os.path.normpath(os.path.join(given_root, os.path.relpath(abs_path, abs_root)))


def discover(paths: list[str]) -> tuple[list[FoundFile], list[SkippedFile], list[str]]:
    """Return (files found, paths skipped with a reason, absolute roots that were walked).

    Hidden files and folders (names starting with '.') are passed over silently, like git does,
    so a folder holding a `.git` does not flood the report.
    """
    found: dict[str, FoundFile] = {}
    skipped: list[SkippedFile] = []
    roots: list[str] = []
    for given in paths:
        abs_root = os.path.abspath(given)
        if not _valid(abs_root):
            skipped.append(SkippedFile(path=shown(given), reason=NOT_UTF8))
            continue
        if not os.path.lexists(abs_root):
            skipped.append(SkippedFile(path=given, reason="no such file or folder"))
            continue
        roots.append(abs_root)
        if not os.path.isdir(abs_root):
            found.setdefault(abs_root, FoundFile(abs_root, os.path.normpath(given)))
            continue
        seen_dirs: set[tuple[int, int]] = set()
        for dirpath, dirnames, filenames in os.walk(abs_root, followlinks=True, onerror=None):
            st = os.stat(dirpath)
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:
                skipped.append(SkippedFile(path=_display(given, abs_root, dirpath),
                                           reason="symlink loop: this folder was already walked"))
                dirnames[:] = []
                continue
            seen_dirs.add(key)
            visible = sorted(d for d in dirnames if not d.startswith("."))
            dirnames[:] = [d for d in visible if _valid(d)]
            skipped += [SkippedFile(path=shown(_display(given, abs_root, os.path.join(dirpath, d))), reason=NOT_UTF8)
                        for d in visible if not _valid(d)]
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                abs_path = os.path.join(dirpath, name)
                if not _valid(name):
                    skipped.append(SkippedFile(path=shown(_display(given, abs_root, abs_path)), reason=NOT_UTF8))
                    continue
                found.setdefault(abs_path, FoundFile(abs_path, _display(given, abs_root, abs_path)))
    return list(found.values()), skipped, roots
