"""Named collections in one home: each its own Chroma collection, manifest and uploads folder, so a question in
one never sees another's documents. The settings' `collection` is the default one (`--collection` picks
another in the CLI); the web chat opens the others on demand, sharing the embedder and the loaded models.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from assistant.answerers import AnswererChoices
from assistant.library import Library
from assistant.services import Services

# What Chroma accepts as a collection name.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]")


def check_name(name: str) -> str:
    name = name.strip()
    if not _NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"{name!r} cannot name a collection: use 3 to 63 letters, digits, '.', '_' or '-', "
                         "starting and ending with a letter or digit")
    return name


class UnknownCollection(ValueError):
    pass


class Collection:
    """One collection as the web chat uses it: its services, its documents, its answerers."""

    def __init__(self, services: Services, uploads: Path | None, answerers: AnswererChoices | None = None):
        self.services = services
        self.library = Library(services, uploads)
        self.answerers = answerers or AnswererChoices(services)


class Collections:
    def __init__(self, services: Services):
        self.default = services.settings.collection
        self._open = {self.default: Collection(services, None)}
        self._lock = threading.Lock()

    def get(self, name: str | None, create: bool = False) -> Collection:
        """The named collection (the default for None or ""). A read never makes one: an unknown name is an
        UnknownCollection naming the known ones; create=True (an upload) makes it, empty."""
        name = check_name(name) if name else self.default
        if not create and name not in self._open:
            known = self.names()
            if name not in known:
                raise UnknownCollection(f"there is no collection {name!r} (there are: {', '.join(known)}); "
                                        "adding documents to a new name starts it")
        with self._lock:
            if name not in self._open:
                base = self._open[self.default]
                services = base.services.variant(collection=name)
                uploads = services.settings.home / "collections" / name / "documents"
                self._open[name] = Collection(services, uploads, base.answerers.for_services(services))
            return self._open[name]

    def names(self) -> list[str]:
        """The default first, then every other collection in the store, by name."""
        stored = self._open[self.default].services.store.collection_names()
        with self._lock:
            others = (set(stored) | set(self._open)) - {self.default}
        return [self.default, *sorted(others)]
