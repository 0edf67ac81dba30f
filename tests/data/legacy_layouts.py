"""Writers of the field's on-disk layouts, for the tests: StackGAN's Python 2
pickles, Reed's Torch7 .t7 files, AttnGAN's DAMSM pickle, CUB's annotation files.

Each writes the real format (pickle protocol 2 as Python 2 wrote it, Torch7's
binary serialisation) from small in-memory data, so the sources are tested on
the bytes users download, not on a reimplementation of the reader.
"""

from __future__ import annotations

import io
import pathlib
import pickle
import struct

import numpy as np

CUB_CLASSES = {"train": ["001.Black_footed_Albatross", "002.Laysan_Albatross"],
               "test": ["003.Sooty_Albatross"]}  # fmt: skip
IMAGES_PER_CLASS = 3
COLOURS = {"001": (200, 30, 30), "002": (30, 200, 30), "003": (30, 30, 200)}


def _png(colour, size=(24, 20)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def dump_py2(obj, path: pathlib.Path) -> None:
    """Pickles with protocol 2, the highest Python 2 wrote."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj, protocol=2))


def cub_keys(split: str) -> list[str]:
    return [
        f"{cls}/{cls.split('.')[1]}_{i:04d}_{100 + i}"
        for cls in CUB_CLASSES[split]
        for i in range(IMAGES_PER_CLASS)
    ]


def captions_for(key: str) -> list[str]:
    colour = {"001": "red", "002": "green", "003": "blue"}[key[:3]]
    return [f"a {colour} bird number {j} with {key[-3:]} feathers" for j in range(10)]


def embedding_for(key: str, dim: int) -> np.ndarray:
    """float32 [10, dim] that depends on the key (a stand-in for char-CNN-RNN's vectors)."""
    seed = sum(map(ord, key))
    return np.random.default_rng(seed).standard_normal((10, dim)).astype(np.float32)


def write_cub_images(root: pathlib.Path, keys) -> None:
    """CUB_200_2011/images/<key>.jpg (PNG bytes: PIL decodes by content) plus
    images.txt and bounding_boxes.txt."""
    cub = root / "CUB_200_2011"
    lines, boxes = [], []
    for number, key in enumerate(keys, start=1):
        path = cub / "images" / f"{key}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_png(COLOURS[key[:3]]))
        lines.append(f"{number} {key}.jpg")
        boxes.append(f"{number} 4.0 3.0 10.0 8.0")
    (cub / "images.txt").write_text("\n".join(lines) + "\n")
    (cub / "bounding_boxes.txt").write_text("\n".join(boxes) + "\n")


def write_text_c10(root: pathlib.Path, keys) -> None:
    for key in keys:
        path = root / "text_c10" / f"{key}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(captions_for(key)) + "\n")


def make_stackgan(root: pathlib.Path, dim: int = 16) -> pathlib.Path:
    """StackGAN's birds layout: 6 train and 3 test images, 10 captions and embeddings each."""
    all_keys = []
    for split in ("train", "test"):
        keys = cub_keys(split)
        all_keys += keys
        dump_py2(keys, root / split / "filenames.pickle")
        dump_py2([int(k[:3]) for k in keys], root / split / "class_info.pickle")
        array = np.stack([embedding_for(k, dim) for k in keys])  # [N, 10, dim]
        dump_py2(array, root / split / "char-CNN-RNN-embeddings.pickle")
    write_cub_images(root, all_keys)
    write_text_c10(root, all_keys)
    return root


def make_damsm(root: pathlib.Path) -> pathlib.Path:
    """DF-GAN's birds layout: captions_DAMSM.pickle + filenames pickles + CUB images."""
    words = ["<end>"] + sorted({w for s in ("train", "test") for k in cub_keys(s)
                                for c in captions_for(k) for w in c.split()})  # fmt: skip
    wordtoix = {w: i for i, w in enumerate(words)}
    ixtoword = dict(enumerate(words))
    lists = {}
    for split in ("train", "test"):
        keys = cub_keys(split)
        dump_py2(keys, root / split / "filenames.pickle")
        dump_py2([int(k[:3]) for k in keys], root / split / "class_info.pickle")
        lists[split] = [[wordtoix[w] for w in c.split()] for k in keys for c in captions_for(k)]
    dump_py2([lists["train"], lists["test"], ixtoword, wordtoix], root / "captions_DAMSM.pickle")
    write_cub_images(root, cub_keys("train") + cub_keys("test"))
    return root


# === Torch7 binary serialisation (torch7/File.lua writeObject) ===

_NUMBER, _STRING, _TABLE, _TORCH = 1, 2, 3, 4
_TENSORS = {np.dtype(np.float32): "Float", np.dtype(np.uint8): "Byte",
            np.dtype(np.int64): "Long"}  # fmt: skip


class T7Writer:
    """Writes Lua tables of strings, numbers and tensors in Torch7's binary format."""

    def __init__(self):
        self.out = io.BytesIO()
        self.index = 0

    def _int(self, v):
        self.out.write(struct.pack("<i", v))

    def _long(self, v):
        self.out.write(struct.pack("<q", v))

    def _string(self, s: bytes):
        self._int(len(s))
        self.out.write(s)

    def _torch_header(self, cls: str):
        self._int(_TORCH)
        self.index += 1
        self._int(self.index)
        self._string(b"V 1")
        self._string(cls.encode())

    def write(self, value):
        if isinstance(value, str):
            self._int(_STRING)
            self._string(value.encode())
        elif isinstance(value, (int, float)):
            self._int(_NUMBER)
            self.out.write(struct.pack("<d", float(value)))
        elif isinstance(value, np.ndarray):
            array = np.ascontiguousarray(value)
            kind = _TENSORS[array.dtype]
            self._torch_header(f"torch.{kind}Tensor")
            self._int(array.ndim)
            for n in array.shape:
                self._long(n)
            for s in array.strides:
                self._long(s // array.itemsize)
            self._long(1)  # storage offset, 1-based
            self._torch_header(f"torch.{kind}Storage")
            self._long(array.size)
            self.out.write(array.tobytes())
        elif isinstance(value, dict):
            self._int(_TABLE)
            self.index += 1
            self._int(self.index)
            self._int(len(value))
            for k, v in value.items():
                self.write(k)
                self.write(v)
        else:
            raise TypeError(type(value))
        return self

    def save(self, path: pathlib.Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.out.getvalue())


def encode_chars(captions: list[str], length: int = 201) -> np.ndarray:
    """Captions -> Reed's char tensor uint8 [length, n] of 1-based alphabet ids."""
    from tf_t2i.data.sources.reed_t7 import ALPHABET

    chars = np.zeros((length, len(captions)), np.uint8)
    for j, caption in enumerate(captions):
        for i, ch in enumerate(caption[:length]):
            chars[i, j] = ALPHABET.index(ch) + 1
    return chars


def make_reed_t7(root: pathlib.Path, dim: int = 16, text_c10: bool = False) -> pathlib.Path:
    """Reed's cub_icml layout: ROOT/<class>/<image>.t7, class lists, images under ROOT/images."""
    keys = cub_keys("train") + cub_keys("test")
    for key in keys:
        table = {"img": f"{key}.jpg", "txt": embedding_for(key, dim),
                 "char": encode_chars(captions_for(key))}  # fmt: skip
        T7Writer().write(table).save(root / f"{key}.t7")
        image = root / "images" / f"{key}.jpg"
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(_png(COLOURS[key[:3]]))
    (root / "trainvalclasses.txt").write_text("\n".join(CUB_CLASSES["train"]) + "\n")
    (root / "testclasses.txt").write_text("\n".join(CUB_CLASSES["test"]) + "\n")
    if text_c10:
        write_text_c10(root, keys)
    return root
