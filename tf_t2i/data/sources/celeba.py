"""CelebA (aligned and cropped faces) with captions composed from its 40 attributes.

Layout, as distributed:

    ROOT/img_align_celeba/000001.jpg ...
    ROOT/list_attr_celeba.txt        line 1: image count; line 2: the 40 attribute
                                     names; then "000001.jpg -1  1 ..." (-1 / 1)
    ROOT/list_eval_partition.txt     "000001.jpg 0" (0 train, 1 val, 2 test)

Attributes are stored as 0/1 floats in file order. CelebA has no captions, so
several are composed per image from the attributes ("a smiling woman with
blond hair and eyeglasses"), deterministically.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from tf_t2i.data.record import Record, Skipped
from tf_t2i.data.sources import files
from tf_t2i.data.sources.base import Source, SourceInfo
from tf_t2i.errors import T2IError

PARTITIONS = {"0": "train", "1": "val", "2": "test"}

# Attribute -> adjective before the noun ("a smiling young woman").
ADJECTIVES = {
    "Smiling": "smiling",
    "Young": "young",
    "Attractive": "attractive",
    "Chubby": "chubby",
}
# Attribute -> "with ..." phrase, in the order they are mentioned (most visible first).
FEATURES = {
    "Eyeglasses": "eyeglasses",
    "Wearing_Hat": "a hat",
    "Bald": "a bald head",
    "Bangs": "bangs",
    "Mustache": "a mustache",
    "Goatee": "a goatee",
    "Heavy_Makeup": "heavy makeup",
    "Wearing_Lipstick": "lipstick",
    "Wearing_Earrings": "earrings",
    "Wearing_Necklace": "a necklace",
    "Wearing_Necktie": "a necktie",
    "Sideburns": "sideburns",
    "5_o_Clock_Shadow": "a five o'clock shadow",
    "Rosy_Cheeks": "rosy cheeks",
    "High_Cheekbones": "high cheekbones",
    "Bushy_Eyebrows": "bushy eyebrows",
    "Arched_Eyebrows": "arched eyebrows",
    "Big_Lips": "big lips",
    "Big_Nose": "a big nose",
    "Pointy_Nose": "a pointy nose",
    "Narrow_Eyes": "narrow eyes",
    "Bags_Under_Eyes": "bags under the eyes",
    "Double_Chin": "a double chin",
    "Pale_Skin": "pale skin",
    "Oval_Face": "an oval face",
    "Receding_Hairline": "a receding hairline",
    "Mouth_Slightly_Open": "a slightly open mouth",
}
HAIR_COLOURS = {
    "Blond_Hair": "blond",
    "Black_Hair": "black",
    "Brown_Hair": "brown",
    "Gray_Hair": "gray",
}
HAIR_TEXTURES = {"Wavy_Hair": "wavy", "Straight_Hair": "straight"}
# Phrases per caption; more than this reads like a list, not a description.
MAX_PHRASES = 4


def compose_captions(attributes: Mapping[str, bool], count: int = 5) -> list[str]:
    """Paraphrased captions of a face from CelebA attribute flags.

    Args:
        attributes: CelebA attribute name -> present (unknown names ignored,
            missing names read as absent).
        count: how many captions to return.

    Returns:
        `count` distinct-where-possible captions; caption i mentions the
        feature phrases rotated by i, so together they cover more attributes.
    """
    on = {name for name, value in attributes.items() if value}
    noun = "man" if "Male" in on else "woman"
    pronoun = "he" if "Male" in on else "she"
    adjectives = [word for name, word in ADJECTIVES.items() if name in on]
    phrases = _hair_phrases(on)
    phrases += [phrase for name, phrase in FEATURES.items() if name in on]
    if "Male" in on and "No_Beard" in attributes and "No_Beard" not in on:
        phrases.insert(1, "a beard")

    captions = []
    for i in range(count):
        chosen = files.rotated(phrases, i, MAX_PHRASES)
        with_text = files.join_phrases(chosen)
        described = " ".join([*adjectives[: 1 + i % 2], noun])
        template = i % 5
        if template == 0 or not chosen:
            caption = f"{files.article(described)} {described}"
            caption += f" with {with_text}" if chosen else ""
        elif template == 1:
            caption = " ".join(["this", ", ".join(adjectives), noun]).replace("  ", " ")
            caption += f" has {with_text}"
        elif template == 2:
            caption = f"a photo of {files.article(described)} {described} who has {with_text}"
        elif template == 3:
            caption = f"{pronoun} has {with_text}"
        else:
            caption = f"a portrait of {files.article(described)} {described} with {with_text}"
        captions.append(caption)
    return captions


def _hair_phrases(on: set[str]) -> list[str]:
    colours = [word for name, word in HAIR_COLOURS.items() if name in on]
    textures = [word for name, word in HAIR_TEXTURES.items() if name in on]
    if "Bald" in on or not (colours or textures):
        return []
    return [" ".join([*textures[:1], *colours[:1], "hair"])]


class CelebASource(Source):
    """CelebA in its distributed layout (see the module docstring).

    Args:
        path: the root folder.
        captions_per_image: captions composed per image.
        images_dir: the image folder relative to `path`.
    """

    name = "celeba"

    def __init__(self, path, *, captions_per_image=5, images_dir="img_align_celeba"):
        self.root = files.require_dir(path, "CelebA root")
        self.images_dir = files.require_dir(self.root / images_dir, "CelebA image folder")
        self.attr_file = files.require_file(self.root / "list_attr_celeba.txt", "CelebA attributes")
        self.partition_file = files.require_file(
            self.root / "list_eval_partition.txt", "CelebA partition"
        )
        self.captions_per_image = files.option_number(
            captions_per_image, "captions_per_image", int, low=1
        )
        self._options = {
            "captions_per_image": self.captions_per_image,
            "images_dir": str(images_dir),
        }
        self.attribute_names = self._read_attribute_names()

    def info(self) -> SourceInfo:
        return SourceInfo(
            name=self.name,
            splits=["train", "val", "test"],
            attribute_names=list(self.attribute_names),
            captions_per_image=self.captions_per_image,
            options=dict(self._options),
        )

    def examples(self, split: str) -> Iterator[Record | Skipped]:
        """Yields the split's images in the order of list_attr_celeba.txt."""
        if split not in PARTITIONS.values():
            raise T2IError(f"celeba: no split {split!r}; splits: train, val, test")
        partition, bad_partition_lines = self._read_partition()
        for where, _ in bad_partition_lines:
            # A line that names no usable split is reported once, with train.
            if split == "train":
                yield Skipped("bad_annotation", where, "expected 'FILE 0|1|2'", "")
        seen = set()
        for where, file_name, values in self._attribute_lines():
            file_split = partition.get(file_name)
            seen.add(file_name)
            if file_split is None:
                if split == "train":
                    yield Skipped(
                        "missing_annotation", where, f"{file_name} not in {self.partition_file}"
                    )
                continue
            if file_split != split:
                continue
            if isinstance(values, str):
                yield Skipped("bad_annotation", where, values, split)
                continue
            yield self._record(file_name, values, split)
        for file_name, file_split in partition.items():
            if file_split == split and file_name not in seen:
                yield Skipped(
                    "missing_annotation", file_name, f"not in {self.attr_file}", file_split
                )

    def _record(self, file_name: str, values: np.ndarray, split: str) -> Record | Skipped:
        image_path = self.images_dir / file_name
        image = files.read_image(image_path, split)
        if isinstance(image, Skipped):
            return image
        flags = dict(zip(self.attribute_names, values > 0.5, strict=True))
        return Record(
            image=image,
            image_id=file_name,
            split=split,
            captions=compose_captions(flags, self.captions_per_image),
            attributes=values,
            source_file=str(image_path),
        )

    def _read_attribute_names(self) -> list[str]:
        with open(self.attr_file, "rb") as f:
            f.readline()  # the image count
            names = f.readline().decode("utf-8", "replace").split()
        if not names:
            raise T2IError(f"{self.attr_file}:2: expected the attribute names")
        return names

    def _attribute_lines(self):
        """Yields ("file:line", image file, 0/1 float32 [A] or an error message)."""
        n = len(self.attribute_names)
        with open(self.attr_file, "rb") as f:
            for number, raw in enumerate(f, start=1):
                if number <= 2 or not raw.strip():
                    continue
                where = f"{self.attr_file}:{number}"
                fields = raw.decode("utf-8", "replace").split()
                if len(fields) != n + 1:
                    yield where, fields[0], f"expected a file name and {n} values"
                    continue
                if any(value not in ("1", "-1") for value in fields[1:]):
                    yield where, fields[0], "attribute values must be -1 or 1"
                    continue
                values = np.array([value == "1" for value in fields[1:]], dtype=np.float32)
                yield where, fields[0], values

    def _read_partition(self) -> tuple[dict[str, str], list[tuple[str, str]]]:
        """Image file -> split, and the ("file:line", file) of lines that do not parse."""
        partition, bad = {}, []
        with open(self.partition_file, "rb") as f:
            for number, raw in enumerate(f, start=1):
                fields = raw.decode("utf-8", "replace").split()
                if not fields:
                    continue
                if len(fields) != 2 or fields[1] not in PARTITIONS:
                    bad.append((f"{self.partition_file}:{number}", fields[0]))
                    continue
                partition[fields[0]] = PARTITIONS[fields[1]]
        return partition, bad
