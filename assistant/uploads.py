"""Copy uploaded files into <home>/documents under safe names, so they can be indexed and kept.

An upload is staged: copied under a hidden name beside the stored copy, indexed from there, and only then moved
over it (os.replace, atomic) — or deleted when it is refused. A rejected file never replaces a good one and
leaves nothing behind; what a killed upload left is settled when the uploads folder is next opened.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import unicodedata
from pathlib import Path

from index.files import FoundFile, shown
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


# An upload waits under this hidden name in the uploads folder (folder walks and the watcher skip dot files)
# until it is indexed; then it is moved over the stored copy or deleted (Indexer.sync_staged).
_STAGING = re.compile(r"\.upload-[0-9a-f]{8}-(?P<name>[^/]+)")


def stage_uploads(files: list[str | Path], folder: Path, max_bytes: int) -> tuple[list[FoundFile], list[SkippedFile]]:
    """Copy each file into folder under a hidden staging name, next to the copy it may replace (a file of the
    same name is replaced that way, once indexed: that is how a document is updated).

    Returns the staged files (recorded in the index under folder/safe name, read from the staging copy) and, for
    files refused before copying, the reason (format, size, a second file of the same name in this upload).
    """
    folder.mkdir(parents=True, exist_ok=True)
    staged: list[FoundFile] = []
    refused: list[SkippedFile] = []
    names: set[str] = set()
    try:
        for file in map(Path, files):
            name, given = safe_name(file.name), shown(file.name)  # the name as sent, printable whatever its bytes
            if not name.endswith(SUPPORTED_SUFFIXES):
                refused.append(SkippedFile(path=given, reason=f"unsupported format; supported: "
                                                              f"{', '.join(SUPPORTED_SUFFIXES)}"))
                continue
            size = file.stat().st_size
            if size > max_bytes:
                refused.append(SkippedFile(path=given, reason=f"over the {max_bytes / 1e6:g} MB limit "
                                                              f"({size / 1e6:.1f} MB; setting max_file_mb)"))
                continue
            if name in names:
                refused.append(SkippedFile(path=given, reason=f"another file in this upload has the same name "
                                                              f"({name}): upload it on its own, or rename it"))
                continue
            target = folder / name
            if target.resolve().parent != folder.resolve():  # safe_name makes this impossible; never trust it alone
                raise ValueError(f"refusing to write outside {folder}: {file.name!r}")
            names.add(name)
            temp = folder / f".upload-{secrets.token_hex(4)}-{name}"
            staged.append(FoundFile(os.path.abspath(target), os.path.normpath(target), staged=str(temp)))
            with open(file, "rb") as source, open(temp, "xb") as copy:
                shutil.copyfileobj(source, copy)
    except BaseException:
        discard(staged)
        raise
    return staged, refused


def discard(staged: list[FoundFile]) -> None:
    """Delete the staging copies that are still there (the upload failed before they were settled)."""
    for found in staged:
        try:
            os.remove(found.staged)
        except FileNotFoundError:
            pass


def staged_leftovers(folder: Path) -> list[tuple[str, str]]:
    """The staging copies in folder (left by an upload killed before it settled), each with the stored copy's
    path it was staged for."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return [(os.path.join(folder, name), os.path.abspath(os.path.join(folder, match["name"])))
            for name in sorted(names) if (match := _STAGING.fullmatch(name))]


def is_upload(source: str, folder: Path) -> bool:
    """Whether an indexed document is a copy this folder holds (removing it also deletes the copy)."""
    return Path(os.path.abspath(source)).parent == Path(os.path.abspath(folder))
