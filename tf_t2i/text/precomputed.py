"""Caption embeddings that come with the data (StackGAN's char-CNN-RNN), not from an encoder.

Reed et al. embedded CUB and Oxford-102 captions with a char-CNN-RNN trained
jointly with images; StackGAN and the papers after it circulate those vectors
as pickles (or Reed's .t7 files) but not a network that makes new ones. A
source that reads them attaches them to its records (`Record.embeddings`), and
`t2i convert --encoder precomputed` stores them as they are. The manifest then
names them as their own encoder:

    {"spec": "char-cnn-rnn (precomputed, 1024-d)", "dim": 1024,
     "fingerprint": <sha256 of the embedding content, 16 hex digits>}

A model trained on them can generate from stored or supplied embeddings
(`from_embedding`) but not from new text: no encoder exists to embed it.
"""

from __future__ import annotations

import hashlib

import numpy as np

from tf_t2i.errors import T2IError

# the --encoder value that asks for the source's own embeddings
PRECOMPUTED = "precomputed"
_MARK = "(precomputed, "
_FINGERPRINT_CHARS = 16


def precomputed_spec(name: str, dim: int) -> str:
    """The manifest's encoder spec: "char-cnn-rnn (precomputed, 1024-d)"."""
    return f"{name} {_MARK}{int(dim)}-d)"


def is_precomputed(spec: str | None) -> bool:
    """Whether an encoder spec names published embeddings rather than a loadable encoder."""
    return spec == PRECOMPUTED or _MARK in str(spec or "")


def spec_matches(wanted: str, recorded: str) -> bool:
    """Whether a config's data.encoder accepts a manifest's encoder spec.

    "precomputed" accepts any precomputed spec; every other spec must be equal.
    """
    if wanted == PRECOMPUTED:
        return is_precomputed(recorded)
    return wanted == recorded


def refusal(spec: str) -> str:
    """Why a model trained on precomputed embeddings cannot take raw text."""
    return (
        f"this model was trained on precomputed caption embeddings ({spec}); no text encoder "
        "exists for them, so it cannot embed new text: send embeddings to the from_embedding "
        "signature, or reconvert the captions with --encoder use-m3 and retrain"
    )


class EmbeddingHasher:
    """Accumulates a fingerprint of embedding arrays in the order they are given."""

    def __init__(self):
        self._digest = hashlib.sha256()

    def update(self, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array, dtype=np.float32)
        self._digest.update(f"{array.shape}|".encode())
        self._digest.update(array.tobytes())

    def hexdigest(self) -> str:
        return self._digest.hexdigest()[:_FINGERPRINT_CHARS]


class PrecomputedEmbeddings:
    """Stands where a TextEncoder stands in `convert`: spec, dim, fingerprint.

    Args:
        name: what made the vectors ("char-cnn-rnn").
        dim: D, their size.
        fingerprint: a hash of their content (16 hex digits).
    """

    def __init__(self, name: str, dim: int, fingerprint: str):
        self.name = name
        self.dim = int(dim)
        self.fingerprint = fingerprint
        self.spec = precomputed_spec(name, dim)
        self.path = None

    def encode(self, texts, batch_size: int = 256) -> np.ndarray:
        raise T2IError(refusal(self.spec))

    def __repr__(self):
        return f"PrecomputedEmbeddings(spec={self.spec!r}, fingerprint={self.fingerprint!r})"


def source_embeddings(source) -> PrecomputedEmbeddings:
    """The source's published embeddings, or a T2IError saying it has none."""
    provider = getattr(source, "precomputed_embeddings", None)
    embeddings = provider() if provider is not None else None
    if embeddings is None:
        raise T2IError(
            f"source {source.info().name!r} publishes no caption embeddings: "
            "--encoder precomputed needs stackgan or reed-t7; use --encoder use-m3"
        )
    return embeddings


def default_encoder(source) -> str:
    """`t2i convert`'s encoder when none is given: the source's embeddings if it has any."""
    return PRECOMPUTED if callable(getattr(source, "precomputed_embeddings", None)) else "use-m3"


def aligned(captions, embeddings: np.ndarray | None, dim: int):
    """Pairs a record's captions with its published embeddings.

    Args:
        captions: the record's captions (blank ones are dropped with their row).
        embeddings: float [n, D] or None.
        dim: the D every record must have.

    Returns:
        (captions, float32 [m, D]) or (reason, detail) when they cannot pair.
    """
    if embeddings is None:
        return "missing_annotation", "no published embeddings for this image"
    embeddings = np.asarray(embeddings, np.float32)
    if embeddings.ndim != 2 or embeddings.shape[1] != dim:
        return "bad_annotation", f"embeddings are {list(embeddings.shape)}, expected [n, {dim}]"
    if len(embeddings) != len(captions):
        return (
            "bad_annotation",
            f"{len(embeddings)} embeddings but {len(captions)} captions: they pair row by row",
        )
    keep = [i for i, c in enumerate(captions) if isinstance(c, str) and c.strip()]
    if not keep:
        return "no_captions", "no caption for this image"
    return [captions[i].strip() for i in keep], embeddings[keep]
