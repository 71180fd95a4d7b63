"""Which documents a removal means, decided before anything is deleted: a removal states its target exactly.

An empty name, '.', '/' or 'corpus/..' all resolve to a folder that holds everything; a typo there must not
empty the index. So a target that is empty, the file system's root, the user's home folder, or the working
folder (or a folder above it) is refused, and only an explicit "every document" (`assistant remove --all`)
removes all. Through the web API a target is matched as /documents lists the documents, never resolved
against the server's working folder: one document by its source, or a folder written as its sources begin.
"""

from __future__ import annotations

import os
from pathlib import Path

from index.manifest import DocumentRow


class RemovalRefused(ValueError):
    pass


def too_broad(path: str) -> str | None:
    """Why removing everything under path is refused, or None when it is a real target."""
    if not path.strip():
        return "an empty name would match every document"
    target = os.path.abspath(path)
    if target == os.path.dirname(target):
        return f"{target} is the file system's root"
    if target == os.path.abspath(Path.home()):
        return f"{target} is the home folder"
    here = os.getcwd()
    if here == target or here.startswith(target.rstrip(os.sep) + os.sep):
        return f"{path!r} is {target}, the working folder" + ("" if here == target else " or above it")
    return None


def refuse_too_broad(path: str) -> None:
    """RemovalRefused when removing everything under path would be an accident (see too_broad)."""
    why = too_broad(path)
    if why:
        raise RemovalRefused(f"refusing to remove {path!r}: {why}. Name a document, or a folder that holds "
                             "documents (`assistant docs` lists them); `assistant remove --all` removes every one")


def listed_rows(rows: list[DocumentRow], path: str) -> list[DocumentRow]:
    """As the web API removes: path is a source as /documents lists it, or a folder its sources begin with
    (never resolved against the server's working folder)."""
    folder = path.rstrip("/") + "/"
    return [row for row in rows if row.source == path or row.source.startswith(folder)]
