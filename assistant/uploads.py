"""Copy uploaded files into <home>/documents under safe names, so they can be indexed and kept."""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from pathlib import Path

from index.loaders import SUPPORTED_SUFFIXES
from index.records import SkippedFile

# Letters and digits of any script, and a few harmless punctuation marks; everything else becomes '_'.
_UNSAFE = re.compile(r"[^\w.\- ()]+", re.UNICODE)
_MAX_NAME = 120


def safe_name(name: str) -> str:
    """A file name that stays inside its folder: no path parts, no leading dot (hidden files are not
    indexed), no control or shell-special characters, bounded length, extension kept."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name))[-1]
    stem, suffix = os.path.splitext(base)
    stem = _UNSAFE.sub("_", stem).strip(" ._") or "upload"
    suffix = _UNSAFE.sub("", suffix).lower()
    return stem[: _MAX_NAME - len(suffix)] + suffix


def save_uploads(files: list[str | Path], folder: Path, max_bytes: int) -> tuple[list[Path], list[SkippedFile]]:
    """Copy each file into folder (a file of the same name is replaced: that is how a document is updated).

    Returns the copies and, for files refused before copying, the reason (format, size).
    """
    folder.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    refused: list[SkippedFile] = []
    for file in map(Path, files):
        name = safe_name(file.name)
        if not name.endswith(SUPPORTED_SUFFIXES):
            refused.append(SkippedFile(path=file.name, reason=f"unsupported format; supported: "
                                                              f"{', '.join(SUPPORTED_SUFFIXES)}"))
            continue
        size = file.stat().st_size
        if size > max_bytes:
            refused.append(SkippedFile(path=file.name, reason=f"over the {max_bytes / 1e6:g} MB limit "
                                                              f"({size / 1e6:.1f} MB; setting max_file_mb)"))
            continue
        target = folder / name
        if target.resolve().parent != folder.resolve():  # safe_name makes this impossible; never trust it alone
            raise ValueError(f"refusing to write outside {folder}: {file.name!r}")
        shutil.copyfile(file, target)
        saved.append(target)
    return saved, refused


def is_upload(source: str, folder: Path) -> bool:
    """Whether an indexed document is a copy this folder holds (removing it also deletes the copy)."""
    return Path(os.path.abspath(source)).parent == Path(os.path.abspath(folder))
