"""Reed et al.'s icml2016 layout: one Torch7 .t7 file per image with its embeddings.

The archive of Reed's text-to-image code (cub_icml/, flowers_icml/):

    ROOT/<class>/<image>.t7      a Lua table: img = "<class>/<image>.jpg" (the
                                 image path), txt = FloatTensor [10, 1024]
                                 (char-CNN-RNN embeddings of the ten captions),
                                 char = [201, 10] character ids of the captions
    ROOT/trainvalclasses.txt     classes the GAN trained on
    ROOT/testclasses.txt         held-out classes

The .t7 files are read with the `torchfile` package. Captions come from
`text_c10/<class>/<image>.txt` under `captions_dir` when it is given (or
present under ROOT), else from the `char` tensor, decoded with Reed's
alphabet. Images live apart (CUB_200_2011/images, Oxford-102's jpg/): pass
their folder as `images_dir`.
"""

from __future__ import annotations

import hashlib
import pathlib
from collections.abc import Iterator

import numpy as np

from tf_t2i.data.record import Record, Skipped
from tf_t2i.data.sources import files
from tf_t2i.data.sources.base import Source, SourceInfo
from tf_t2i.data.sources.reed import _read_class_list
from tf_t2i.errors import T2IError
from tf_t2i.text.precomputed import PrecomputedEmbeddings

SPLIT_FILES = {"train": "trainvalclasses.txt", "test": "testclasses.txt"}
# Reed's char-CNN-RNN alphabet (icml2016 util: alphabet); char id i is ALPHABET[i - 1]
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-,;.!?:'\"/\\|_@#$%^&*~`+-=<>()[]{} "


class ReedT7Source(Source):
    """Reed's .t7 embedding files, one per image, split by class.

    Args:
        path: ROOT (cub_icml/ or flowers_icml/).
        images_dir: the images' root, relative to `path` or absolute (the .t7
            `img` paths are relative to it); default `images` under ROOT.
        captions_dir: the folder holding `text_c10/`; default ROOT if it has
            one, else captions are decoded from the `char` tensors.
        embedding_dim: D of the `txt` tensors; other shapes are skipped.
    """

    name = "reed-t7"

    def __init__(self, path, *, images_dir="images", captions_dir=None, embedding_dim=1024):
        self.root = files.require_dir(path, "Reed icml2016 root")
        self.images_dir = files.require_dir(self.root / images_dir, "image folder (-o images_dir=)")
        text_root = self.root / (captions_dir or ".")
        self.text_dir = text_root / "text_c10" if (text_root / "text_c10").is_dir() else None
        if captions_dir is not None and self.text_dir is None:
            raise T2IError(f"caption folder not found: {text_root}/text_c10")
        self.dim = files.option_number(embedding_dim, "embedding_dim", int, 1)
        self.split_classes = {}
        for split, name in SPLIT_FILES.items():
            self.split_classes[split] = _read_class_list(
                files.require_file(self.root / name, "Reed class-split file")
            )
        self.class_names = sorted(p.name for p in self.root.iterdir() if p.is_dir()
                                  and any(p.glob("*.t7")))  # fmt: skip
        if not self.class_names:
            raise T2IError(f"no class folders with .t7 files in {self.root}")
        self._options = {"images_dir": str(images_dir), "captions_dir": captions_dir,
                         "embedding_dim": self.dim}  # fmt: skip

    def info(self) -> SourceInfo:
        return SourceInfo(
            name=self.name,
            splits=list(SPLIT_FILES),
            class_names=[files.readable_class_name(c) for c in self.class_names],
            captions_per_image=10,
            options=dict(self._options),
        )

    def _t7_files(self, split: str) -> list[tuple[str, pathlib.Path | None, str]]:
        """(class, .t7 file or None if the class has no folder, "file:line") of a split."""
        out = []
        for cls, where in self.split_classes[split]:
            found = sorted((self.root / cls).glob("*.t7"))
            out += [(cls, f, where) for f in found] or [(cls, None, where)]
        return out

    def precomputed_embeddings(self) -> PrecomputedEmbeddings:
        """The `txt` tensors as the data set's encoder; fingerprint: the .t7 files' bytes."""
        digest = hashlib.sha256()
        for split in SPLIT_FILES:
            for _, path, _ in self._t7_files(split):
                if path is not None:
                    digest.update(path.name.encode() + b"\0" + path.read_bytes())
        return PrecomputedEmbeddings("char-cnn-rnn", self.dim, digest.hexdigest()[:16])

    def examples(self, split: str) -> Iterator[Record | Skipped]:
        """Yields the split's images class by class, .t7 file by file."""
        if split not in SPLIT_FILES:
            raise T2IError(f"reed-t7: no split {split!r}; splits: {list(SPLIT_FILES)}")
        labels = {name: i for i, name in enumerate(self.class_names)}
        for cls, path, where in self._t7_files(split):
            if path is None or cls not in labels:
                yield Skipped(
                    "missing_annotation", where, f"no .t7 files in {self.root / cls}", split
                )
                continue
            yield self._example(cls, labels[cls], path, split)

    def _example(self, cls: str, label: int, path: pathlib.Path, split: str):
        table = _load_t7(path)
        if isinstance(table, str):
            return Skipped("bad_annotation", str(path), table, split)
        txt = table.get("txt")
        shape = list(np.shape(txt)) if txt is not None else None
        if shape is None or len(shape) != 2 or shape[1] != self.dim:
            return Skipped(
                "bad_annotation", str(path), f"txt is {shape}, expected [10, {self.dim}]", split
            )
        image_rel = _text(table.get("img")) or f"{cls}/{path.stem}.jpg"
        image_path = self.images_dir / image_rel
        if not image_path.is_file() and (self.images_dir / pathlib.Path(image_rel).name).is_file():
            image_path = self.images_dir / pathlib.Path(image_rel).name  # Oxford-102: flat jpg/
        captions = self._captions(cls, path, table, split)
        if isinstance(captions, Skipped):
            return captions
        image = files.read_image(image_path, split)
        if isinstance(image, Skipped):
            return image
        return Record(
            image=image,
            image_id=image_rel,
            split=split,
            captions=captions,
            label=label,
            label_text=files.readable_class_name(cls),
            source_file=str(path),
            embeddings=np.array(txt, np.float32),
        )

    def _captions(self, cls, path, table, split) -> list[str] | Skipped:
        if self.text_dir is not None:
            return files.read_captions(self.text_dir / cls / f"{path.stem}.txt", split)
        chars = table.get("char")
        if chars is None or np.ndim(chars) != 2:
            return Skipped("no_captions", str(path), "no text_c10 file and no char tensor", split)
        return decode_chars(np.asarray(chars))


def decode_chars(chars: np.ndarray) -> list[str]:
    """Reed's char tensor [length, captions] of 1-based alphabet ids (0: padding) -> captions."""
    captions = []
    for column in np.asarray(chars).T:
        text = "".join(ALPHABET[i - 1] for i in column.tolist() if 0 < i <= len(ALPHABET))
        captions.append(text.strip())
    return captions


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "")


_STORAGES = {"Byte": np.uint8, "Char": np.int8, "Short": np.int16, "Int": np.int32,
             "Long": np.int64, "Float": np.float32, "Double": np.float64}  # fmt: skip


def _checked_storage(dtype):
    """A torchfile storage reader that fails on a short read (torchfile's own would
    hand a truncated storage to numpy's as_strided, which reads past its end)."""

    def read(reader, version):
        size = reader.read_long()
        data = np.fromfile(reader.f, dtype=dtype, count=size)
        if len(data) != size:
            raise EOFError(f"a storage of {size} values ends after {len(data)}: truncated file")
        return data

    return read


def _torchfile():
    try:
        import torchfile
    except ImportError:
        raise T2IError(
            "the reed-t7 source needs the torchfile package: pip install torchfile"
        ) from None
    for kind, dtype in _STORAGES.items():
        torchfile.type_handlers[f"torch.{kind}Storage".encode()] = _checked_storage(dtype)
    return torchfile


def _load_t7(path: pathlib.Path) -> dict | str:
    """The .t7 file's table with str keys, or why it cannot be read."""
    torchfile = _torchfile()
    try:
        table = torchfile.load(str(path))
    except Exception as err:  # torchfile raises struct.error, T7ReaderException, ...
        return f"not a readable Torch7 file ({type(err).__name__}: {err})"
    if not isinstance(table, dict):
        return f"holds a {type(table).__name__}, expected a table with img and txt"
    return {_text(k): v for k, v in table.items()}
