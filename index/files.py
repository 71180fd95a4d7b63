"""Find the files to index under the paths a user gives, and hash them.

Walking follows symlinked folders (users link folders in) but remembers every real folder it has
entered, so a symlink loop is reported once and never followed forever.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from index.records import SkippedFile


@dataclass(frozen=True)
class FoundFile:
    path: str  # absolute, normalised, symlinks kept: the document's identity in the index
    source: str  # the path as the user gave it (normalised): what answers cite


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
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                abs_path = os.path.join(dirpath, name)
                found.setdefault(abs_path, FoundFile(abs_path, _display(given, abs_root, abs_path)))
    return list(found.values()), skipped, roots
