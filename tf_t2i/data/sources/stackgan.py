"""CUB-200-2011 and Oxford-102 in StackGAN's layout, with the char-CNN-RNN embeddings.

The files StackGAN (Zhang et al. 2017) published, and that StackGAN++,
AttnGAN, DM-GAN and DF-GAN reuse (birds.zip / flowers.zip), unpacked in ROOT:

    ROOT/train/filenames.pickle      ["002.Laysan_Albatross/Laysan_Albatross_0002_1027", ...]
                                     (Oxford-102: ["jpg/image_06734", ...])
    ROOT/train/class_info.pickle     [2, ...]: the class id of each file name
    ROOT/train/char-CNN-RNN-embeddings.pickle
                                     float32 [N, 10, 1024]: Reed et al.'s
                                     embeddings of the ten captions of each image
    ROOT/test/...                    the same for the test split (CUB: 8,855
                                     train and 2,933 test images, disjoint classes)
    ROOT/text_c10/<key>.txt          the ten captions (Reed's cvpr2016 archive;
                                     for Oxford-102 found by the image's name)
    ROOT/CUB_200_2011/images/<key>.jpg, or ROOT/<key>.jpg (Oxford-102's jpg/)

The pickles are Python 2 pickles, read with encoding="latin1". Row i of the
embeddings goes with the i-th caption of the image's text file. With
`bbox_crop=true` (CUB) images are cropped as StackGAN did (cub_boxes.py).
"""

from __future__ import annotations

import functools
import pathlib
from collections.abc import Iterator

import numpy as np

from tf_t2i.data.record import Record, Skipped
from tf_t2i.data.sources import cub_boxes, files, pickles
from tf_t2i.data.sources.base import Source, SourceInfo
from tf_t2i.errors import T2IError
from tf_t2i.text.precomputed import EmbeddingHasher, PrecomputedEmbeddings

SPLITS = ("train", "test")
FILENAMES = "filenames.pickle"
CLASS_INFO = "class_info.pickle"
EMBEDDINGS = "char-CNN-RNN-embeddings.pickle"
EMBEDDING_NAME = "char-cnn-rnn"


class StackGanSource(Source):
    """StackGAN's pickled splits, images and (optionally) its precomputed embeddings.

    Args:
        path: ROOT (see the module docstring).
        images_dir: image root, relative to `path` or absolute; default
            `CUB_200_2011/images` if present, else `images`, else `path`.
        captions_dir: the folder holding `text_c10/` (or `text/`); default `path`.
        bbox_crop: crop CUB images to StackGAN's square around the bird's
            bounding box (needs CUB_200_2011/bounding_boxes.txt and images.txt).
        embeddings_file: the embedding pickle's name in each split folder.

    Example:
        >>> source = StackGanSource("data/birds")
        >>> record = next(source.examples("test"))
        >>> record.embeddings.shape
        (10, 1024)
    """

    name = "stackgan"

    def __init__(self, path, *, images_dir=None, captions_dir=None, bbox_crop=False,
                 embeddings_file=EMBEDDINGS):  # fmt: skip
        self.root = files.require_dir(path, f"{self.name} data root")
        self.splits = [s for s in SPLITS if (self.root / s / FILENAMES).is_file()]
        if not self.splits:
            raise T2IError(
                f"{self.name}: no {FILENAMES} in {self.root}/train or {self.root}/test: "
                f"PATH must be the folder that holds train/ and test/"
            )
        self.images_dir = files.require_dir(self._images_dir(images_dir), "image folder")
        self.caption_root = files.require_dir(self.root / (captions_dir or "."), "caption root")
        self.text_dir = next(
            (
                self.caption_root / n
                for n in ("text_c10", "text")
                if (self.caption_root / n).is_dir()
            ),
            self.caption_root / "text_c10",
        )
        self.bbox_crop = files.option_bool(bbox_crop, "bbox_crop")
        self.embeddings_file = str(embeddings_file)
        self.boxes = cub_boxes.read_boxes(self.images_dir.parent) if self.bbox_crop else {}
        self.keys = {
            s: pickles.string_list(self._file(s, FILENAMES), "filenames") for s in self.splits
        }
        self.class_ids = {s: self._class_ids(s) for s in self.splits}
        self._options = {
            "images_dir": None if images_dir is None else str(images_dir),
            "captions_dir": None if captions_dir is None else str(captions_dir),
            "bbox_crop": self.bbox_crop,
            "embeddings_file": self.embeddings_file,
        }

    # === Layout ===

    def _images_dir(self, images_dir) -> pathlib.Path:
        if images_dir is not None:
            return self.root / images_dir
        for candidate in ("CUB_200_2011/images", "images"):
            if (self.root / candidate).is_dir():
                return self.root / candidate
        return self.root

    def _file(self, split: str, name: str) -> pathlib.Path:
        return self.root / split / name

    def _class_ids(self, split: str) -> list[int] | None:
        path = self._file(split, CLASS_INFO)
        if not path.is_file():
            return None
        ids = pickles.int_list(path, "class_info")
        if len(ids) != len(self.keys[split]):
            raise T2IError(
                f"{path}: {len(ids)} class ids for {len(self.keys[split])} file names "
                f"in {self._file(split, FILENAMES)}"
            )
        return ids

    @functools.cached_property
    def _classes(self) -> dict[int, str]:
        """Class id -> name, from the key's class folder (CUB) or the id (Oxford-102)."""
        names = {}
        for split in self.splits:
            for key, cid in zip(self.keys[split], self.class_ids[split] or [], strict=False):
                folder = key.split("/")[0] if "/" in key else ""
                names.setdefault(cid, folder if folder and folder != "jpg" else f"class_{cid:05d}")
        return dict(sorted(names.items()))

    # === Embeddings ===

    def embeddings(self, split: str) -> np.ndarray | None:
        """The split's published embeddings, float32 [N, C, D], or None if the file is absent.

        Raises:
            T2IError: a truncated or corrupt pickle, or a count that differs
                from the split's file names.
        """
        return self._embeddings(split)

    @functools.lru_cache(maxsize=2)  # noqa: B019  (one source object per conversion)
    def _embeddings(self, split: str) -> np.ndarray | None:
        path = self._file(split, self.embeddings_file)
        if not path.is_file():
            return None
        value = pickles.load_pickle(path, "char-CNN-RNN embeddings")
        try:
            array = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError):
            raise T2IError(f"{path}: embeddings of unequal shapes; expected [N, 10, D]") from None
        if array.ndim == 2:  # one embedding per image
            array = array[:, None, :]
        if array.ndim != 3:
            raise T2IError(f"{path}: embeddings are {list(array.shape)}, expected [N, 10, D]")
        names = len(self.keys[split])
        if len(array) != names:
            raise T2IError(
                f"{path}: {len(array)} embeddings but {names} file names in "
                f"{self._file(split, FILENAMES)}: they pair by position, so the files do not match"
            )
        return array

    def precomputed_embeddings(self) -> PrecomputedEmbeddings:
        """The char-CNN-RNN embeddings as the data set's encoder (spec, dim, fingerprint)."""
        hasher, dims = EmbeddingHasher(), set()
        for split in self.splits:
            array = self._embeddings(split)
            if array is None:
                raise T2IError(
                    f"{self._file(split, self.embeddings_file)} not found: --encoder precomputed "
                    "needs StackGAN's embeddings; embed the captions instead with --encoder use-m3"
                )
            hasher.update(array)
            dims.add(array.shape[-1])
        if len(dims) != 1:
            raise T2IError(f"{self.root}: the splits' embeddings differ in size: {sorted(dims)}")
        return PrecomputedEmbeddings(EMBEDDING_NAME, dims.pop(), hasher.hexdigest())

    # === Source ===

    def info(self) -> SourceInfo:
        return SourceInfo(
            name=self.name,
            splits=list(self.splits),
            class_names=[files.readable_class_name(n) for n in self._classes.values()],
            captions_per_image=10,
            options=dict(self._options),
        )

    def examples(self, split: str) -> Iterator[Record | Skipped]:
        """Yields the split's images in the order of its filenames.pickle."""
        if split not in self.splits:
            raise T2IError(f"{self.name}: no split {split!r} here; splits: {self.splits}")
        embeddings = self._embeddings_for_examples(split)
        labels = {cid: i for i, cid in enumerate(self._classes)}
        class_ids = self.class_ids[split]
        for index, key in enumerate(self.keys[split]):
            captions = self._captions(split, index, key)
            if isinstance(captions, Skipped):
                yield captions
                continue
            image_path = self._image_path(key)
            if image_path is None:
                where = self.images_dir / f"{key}.jpg"
                detail = f"{self._file(split, FILENAMES)} lists {key!r} but there is no image"
                yield Skipped("missing_image", str(where), detail, split)
                continue
            image = self._image(image_path, key, split)
            if isinstance(image, Skipped):
                yield image
                continue
            cid = class_ids[index] if class_ids else None
            yield Record(
                image=image,
                image_id=key,
                split=split,
                captions=captions,
                label=labels[cid] if cid is not None else -1,
                label_text=files.readable_class_name(self._classes[cid]) if cid is not None else "",
                source_file=str(image_path),
                embeddings=None if embeddings is None else embeddings[index],
            )

    def _embeddings_for_examples(self, split: str) -> np.ndarray | None:
        return self._embeddings(split)

    def _captions(self, split: str, index: int, key: str) -> list[str] | Skipped:
        """The image's captions from text_c10 (by key, else by the image's name)."""
        path = self.text_dir / f"{key}.txt"
        if not path.is_file():
            path = self._text_by_name.get(key.rsplit("/", 1)[-1], path)
        return files.read_captions(path, split)

    @functools.cached_property
    def _text_by_name(self) -> dict[str, pathlib.Path]:
        """Oxford-102 keys (jpg/image_06734) lack the class folder text_c10 files sit in."""
        if not self.text_dir.is_dir():
            return {}
        return {p.stem: p for p in sorted(self.text_dir.glob("*/*.txt"))}

    def _image_path(self, key: str) -> pathlib.Path | None:
        name = key.rsplit("/", 1)[-1]
        for base in (key, name):
            for suffix in (".jpg", ".jpeg", ".png"):
                path = self.images_dir / f"{base}{suffix}"
                if path.is_file():
                    return path
        return None

    def _image(self, path: pathlib.Path, key: str, split: str):
        data = files.read_image(path, split)
        if isinstance(data, Skipped) or not self.bbox_crop:
            return data
        box = self.boxes.get(key)
        if box is None:
            return Skipped(
                "missing_annotation", str(path), "no bounding box in bounding_boxes.txt", split
            )
        try:
            return cub_boxes.crop(data, box)
        except ValueError as err:
            return Skipped("corrupt_image", str(path), str(err), split)
