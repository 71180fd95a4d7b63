"""One embedder's vectors per index: a change of embedder (int8 <-> fp32, another model, a server) re-embeds
the stored chunks instead of mixing vectors that do not compare (a common way peer tools break an index).

The manifest records which embedder wrote the vectors. Re-embedding keeps every chunk (its id, text and
metadata: nothing is re-read or re-chunked) and replaces its vector; a text that occurs in several chunks is
embedded once. A crash part-way leaves the record saying so, and the next run starts over (replacing a vector
twice is harmless). Until it finishes, questions are refused with what to run (see `check_embedder`).
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from index.embedder import Embedder
from index.manifest import Manifest
from index.store import ChunkStore, text_key

_PARTLY = "partly re-embedded for "
_BATCH = 256  # texts per embedder call: the progress bar moves often, batches still pad little


class EmbedderMismatch(RuntimeError):
    """The index's vectors come from another embedder than the one configured."""


def recorded_embedder(manifest: Manifest, embedder: Embedder) -> str | None:
    """The identity of what wrote the index's vectors. An index made before identities were recorded was
    written by the torch (fp32) model of the same folder, the only embedder then."""
    recorded = manifest.embedder_identity()
    if recorded is None and manifest.has_documents():
        return f"{embedder.name} fp32"
    return recorded


def check_embedder(manifest: Manifest, embedder: Embedder) -> None:
    """Refuse to search an index whose vectors another embedder wrote: the scores would be meaningless."""
    recorded = recorded_embedder(manifest, embedder)
    if recorded is None or recorded == embedder.identity:
        return
    if recorded.startswith(_PARTLY):
        raise EmbedderMismatch(f"the index is being re-embedded for {recorded[len(_PARTLY):]} (or that was "
                               "interrupted): run `assistant index` to finish it")
    raise EmbedderMismatch(f"the index was embedded by {recorded}, but this run uses {embedder.identity}: run "
                           "`assistant index` to re-embed it, or set the embedder back (embedder_precision, "
                           "embedder_path, embedder_url)")


def match_embedder(store: ChunkStore, manifest: Manifest, embedder: Embedder, progress: bool) -> int:
    """Make the stored vectors the configured embedder's; returns how many distinct chunk texts were
    re-embedded (0: nothing to do)."""
    wanted = embedder.identity
    recorded = recorded_embedder(manifest, embedder)
    if recorded == wanted:
        return 0
    if recorded is None or store.count() == 0:
        manifest.set_embedder_identity(wanted)
        return 0
    ids, texts = store.all_texts()
    keys = [text_key(text) for text in texts]
    pending = list(dict(zip(keys, texts)).items())
    vectors: dict[str, np.ndarray] = {}
    with tqdm(total=len(pending), unit="chunk", desc=f"re-embedding for {wanted}", disable=not progress,
              dynamic_ncols=True) as bar:
        for start in range(0, len(pending), _BATCH):
            batch = pending[start:start + _BATCH]
            embedded = embedder.embed([text for _, text in batch])
            if start == 0:
                if embedded.shape[1] != store.dimension():
                    raise EmbedderMismatch(
                        f"{wanted} writes {embedded.shape[1]}-dimensional vectors, the index holds "
                        f"{store.dimension()}-dimensional ones from {recorded}: re-index from the files with "
                        "`assistant index --rebuild PATHS` (every indexed folder), or set the embedder back")
                manifest.set_embedder_identity(_PARTLY + wanted)
            vectors.update(zip((key for key, _ in batch), embedded))
            bar.update(len(batch))
    store.replace_vectors(ids, np.stack([vectors[key] for key in keys]))
    manifest.set_embedder_identity(wanted)
    return len(pending)
