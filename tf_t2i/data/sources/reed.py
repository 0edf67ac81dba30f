"""CUB-200-2011 and Oxford-102 with Reed et al.'s ten captions per image.

Layout (one root folder; the caption archive unpacked, the image archive beside it):

    ROOT/text_c10/<class>/<image>.txt      ten captions, one per line
    ROOT/images/<class>/<image>.jpg        CUB-200-2011 (CUB_200_2011/images)
    ROOT/jpg/<image>.jpg                   Oxford-102 (102flowers.tgz), flat
    ROOT/trainclasses.txt, valclasses.txt, testclasses.txt, trainvalclasses.txt
                                           class-split files, one class per line

The captions may also stay where Reed's archive unpacked them
(`cvpr2016_cub/`, `cvpr2016_flowers/`, each holding `text_c10/` and the split
files): pass that folder as the `captions_dir` option and the images' root as
PATH, e.g. `t2i convert reed CUB_200_2011 -o captions_dir=cvpr2016_cub`.

Classes are the folders of `text_c10` ("001.Black_footed_Albatross",
"class_00001"), sorted; the label is the index in that order. Reed et al.
split by class (zero-shot): the split files say which classes go where. When
they are absent, classes are split by a hash of their names (60/20/20).
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

from tf_t2i.data.record import Record, Skipped
from tf_t2i.data.sources import files
from tf_t2i.data.sources.base import Source, SourceInfo
from tf_t2i.errors import T2IError

SPLIT_FILES = {"train": "trainclasses.txt", "val": "valclasses.txt", "test": "testclasses.txt"}
TRAINVAL_FILE = "trainvalclasses.txt"
# Fractions of classes in val and test when no split files exist.
HASH_VAL_FRACTION = 0.2
HASH_TEST_FRACTION = 0.2


class ReedSource(Source):
    """Reed et al.'s CUB / Oxford-102 caption layout.

    Args:
        path: the root folder (see the module docstring).
        images_dir: image folder, relative to `path` or absolute; default
            `images` if present, else `jpg`.
        captions_dir: the folder holding `text_c10/` and the class-split
            files, relative to `path` or absolute; default `path`.
        trainval: train on `trainvalclasses.txt` (train + val classes, as
            Reed et al. did for the GAN) and produce no val split.

    Example:
        >>> source = ReedSource("data/cub")
        >>> next(source.examples("train")).captions[0]
        'this bird has a white belly and black wings.'
    """

    name = "reed"

    def __init__(self, path, *, images_dir=None, captions_dir=None, trainval=False):
        self.root = files.require_dir(path, "Reed data root")
        # The class-split files sit beside text_c10 in Reed's archives.
        self.split_dir = files.require_dir(self.root / (captions_dir or "."), "Reed caption root")
        self.text_dir = files.require_dir(self.split_dir / "text_c10", "Reed caption folder")
        self.trainval = files.option_bool(trainval, "trainval")
        if images_dir is None:
            images_dir = "images" if (self.root / "images").is_dir() else "jpg"
        self.images_dir = files.require_dir(self.root / images_dir, "Reed image folder")
        # CUB nests images in class folders; Oxford-102 keeps them flat.
        self.nested = any(child.is_dir() for child in self.images_dir.iterdir())
        if not self.nested and not any(
            child.suffix.lower() in files.IMAGE_SUFFIXES for child in self.images_dir.iterdir()
        ):
            # e.g. the images/ of Reed's caption archive, which holds .t7 features
            raise T2IError(
                f"no images in {self.images_dir}: point images_dir at CUB_200_2011/images "
                "or at Oxford-102's jpg/"
            )
        self.class_names = sorted(p.name for p in self.text_dir.iterdir() if p.is_dir())
        if not self.class_names:
            raise T2IError(f"no class folders in {self.text_dir}")
        self.split_classes = self._read_splits()
        self._options = {
            "images_dir": str(images_dir),
            "captions_dir": None if captions_dir is None else str(captions_dir),
            "trainval": self.trainval,
        }

    def info(self) -> SourceInfo:
        return SourceInfo(
            name=self.name,
            splits=list(self.split_classes),
            class_names=[files.readable_class_name(c) for c in self.class_names],
            captions_per_image=10,
            options=dict(self._options),
        )

    def examples(self, split: str) -> Iterator[Record | Skipped]:
        """Yields the records of the split's classes, class by class, file by file."""
        if split not in self.split_classes:
            raise T2IError(f"reed: no split {split!r} here; splits: {list(self.split_classes)}")
        labels = {name: index for index, name in enumerate(self.class_names)}
        for class_name, where in self.split_classes[split]:
            if class_name not in labels:
                yield Skipped(
                    "missing_annotation",
                    where,
                    f"class {class_name!r} not in {self.text_dir}",
                    split,
                )
                continue
            yield from self._class_examples(class_name, labels[class_name], split)

    def _class_examples(self, class_name, label, split):
        caption_files = sorted((self.text_dir / class_name).glob("*.txt"))
        if self.nested:
            # Images of the class with no caption file cannot be used.
            stems = {p.stem for p in caption_files}
            for image in sorted((self.images_dir / class_name).glob("*")):
                if image.suffix.lower() in files.IMAGE_SUFFIXES and image.stem not in stems:
                    yield Skipped("no_captions", str(image), "no caption file in text_c10", split)
        for caption_file in caption_files:
            captions = files.read_captions(caption_file, split)
            if isinstance(captions, Skipped):
                yield captions
                continue
            image_path = self._image_path(class_name, caption_file.stem)
            image = files.read_image(image_path, split)
            if isinstance(image, Skipped):
                yield image
                continue
            yield Record(
                image=image,
                image_id=str(image_path.relative_to(self.images_dir)),
                split=split,
                captions=captions,
                label=label,
                label_text=files.readable_class_name(class_name),
                source_file=str(image_path),
            )

    def _image_path(self, class_name: str, stem: str) -> pathlib.Path:
        folder = self.images_dir / class_name if self.nested else self.images_dir
        for suffix in (".jpg", ".jpeg", ".png"):
            if (folder / (stem + suffix)).exists():
                return folder / (stem + suffix)
        return folder / (stem + ".jpg")

    def _read_splits(self) -> dict[str, list[tuple[str, str]]]:
        """Split -> [(class name, "file:line" it was listed at)], from the split files."""
        folder = self.split_dir
        present = {s: folder / f for s, f in SPLIT_FILES.items() if (folder / f).is_file()}
        trainval = folder / TRAINVAL_FILE
        if self.trainval or ("test" in present and "train" not in present):
            if not trainval.is_file() or "test" not in present:
                raise T2IError(f"reed: trainval needs {trainval} and {folder / 'testclasses.txt'}")
            return {"train": _read_class_list(trainval), "test": _read_class_list(present["test"])}
        if present:
            missing = [str(folder / SPLIT_FILES[s]) for s in SPLIT_FILES if s not in present]
            if missing:
                raise T2IError(f"reed: incomplete class-split files; missing {', '.join(missing)}")
            return {split: _read_class_list(path) for split, path in present.items()}
        return self._hash_splits()

    def _hash_splits(self) -> dict[str, list[tuple[str, str]]]:
        # Rank classes by a hash of their name so the split is fixed and unbiased by order.
        ranked = sorted(self.class_names, key=files.stable_fraction)
        n = len(ranked)
        n_test = round(n * HASH_TEST_FRACTION) if n >= 3 else 0
        n_val = round(n * HASH_VAL_FRACTION) if n >= 3 else 0
        groups = {
            "train": ranked[n_test + n_val :],
            "val": ranked[n_test : n_test + n_val],
            "test": ranked[:n_test],
        }
        where = str(self.text_dir)
        return {
            split: [(c, where) for c in sorted(classes)]
            for split, classes in groups.items()
            if classes
        }


def _read_class_list(path: pathlib.Path) -> list[tuple[str, str]]:
    """Class names listed one per line, each with its "file:line"."""
    lines = files.decode_lines(path.read_bytes(), str(path))
    if isinstance(lines, Skipped):
        raise T2IError(f"class-split file is not UTF-8: {lines.file}")
    return [
        (line.strip(), f"{path}:{number}")
        for number, line in enumerate(lines, start=1)
        if line.strip()
    ]
