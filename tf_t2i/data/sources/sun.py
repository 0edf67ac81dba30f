"""The SUN Attribute dataset: scenes with 102 crowd-sourced attributes.

Layout, as distributed (SUNAttributeDB_Images.tar.gz and SUNAttributeDB.tar.gz):

    ROOT/images/a/abbey/sun_aaalbzqrimafwbiv.jpg ...
    ROOT/SUNAttributeDB/images.mat       `images`: N x 1 cell of paths relative to images/
    ROOT/SUNAttributeDB/attributes.mat   `attributes`: 102 x 1 cell of attribute names
    ROOT/SUNAttributeDB/attributeLabels_continuous.mat
                                         `labels_cv`: N x 102, the fraction of the three
                                         annotators who saw each attribute (0, 1/3, 2/3, 1)

Thresholding: an attribute is present (1.0) when at least `threshold` of the
annotators voted for it (default 0.5, i.e. two of three, the convention of
Patterson and Hays); `continuous=True` stores the raw fractions instead.
Captions name the scene category (the folder below the letter, e.g. "abbey",
"outdoor apartment building") and the present attributes, strongest first.
SUN Attribute has no official split: each image is assigned by a hash of its
path (default 80/10/10), so the split never changes between runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np

from tf_t2i.data.record import Record, Skipped
from tf_t2i.data.sources import files
from tf_t2i.data.sources.base import Source, SourceInfo
from tf_t2i.errors import T2IError

MAT_FILES = {
    "images": "images.mat",
    "attributes": "attributes.mat",
    "labels_cv": "attributeLabels_continuous.mat",
}
# Attributes mentioned per caption: things seen, and activities the place affords.
MAX_PHRASES = 3
MAX_ACTIVITIES = 2
# Function / affordance attributes that do not end in "-ing" ("a place for research").
ACTIVITIES = {"research", "exercise", "sports", "medical activity"}
# "-ing" attribute phrases that name things, not activities.
NOT_ACTIVITIES = {"fencing", "railing", "running water", "electric or indoor lighting"}
# Surface-property and mood attributes read as adjectives of the scene ("a rusty, cold coast").
ADJECTIVES = {
    "aged/worn": "aged",
    "glossy": "glossy",
    "matte": "matte",
    "sterile": "sterile",
    "moist/damp": "damp",
    "dry": "dry",
    "dirty": "dirty",
    "rusty": "rusty",
    "warm": "warm",
    "cold": "cold",
    "natural": "natural",
    "man-made": "man-made",
    "symmetrical": "symmetrical",
    "scary": "scary",
    "soothing": "soothing",
    "stressful": "stressful",
    "ruggedscene": "rugged",
    "clutteredspace": "cluttered",
}


class SunSource(Source):
    """SUN Attribute in its distributed layout (see the module docstring).

    Args:
        path: the root folder holding `images/` and `SUNAttributeDB/`.
        threshold: vote fraction at or above which an attribute is present.
        continuous: store the raw vote fractions in [0, 1] as attributes.
        captions_per_image: captions composed per image.
        val_fraction, test_fraction: shares of images hashed into val / test.
    """

    name = "sun"

    def __init__(
        self,
        path,
        *,
        threshold=0.5,
        continuous=False,
        captions_per_image=5,
        val_fraction=0.1,
        test_fraction=0.1,
    ):
        self.root = files.require_dir(path, "SUN Attribute root")
        self.images_dir = files.require_dir(self.root / "images", "SUN image folder")
        self.threshold = files.option_number(threshold, "threshold", float, 0.0, 1.0)
        self.continuous = files.option_bool(continuous, "continuous")
        self.captions_per_image = files.option_number(
            captions_per_image, "captions_per_image", int, low=1
        )
        self.val_fraction = files.option_number(val_fraction, "val_fraction", float, 0.0, 1.0)
        self.test_fraction = files.option_number(test_fraction, "test_fraction", float, 0.0, 1.0)
        if self.val_fraction + self.test_fraction > 1.0:
            raise T2IError("sun: val_fraction + test_fraction must not exceed 1")
        self._options = {
            "threshold": self.threshold,
            "continuous": self.continuous,
            "captions_per_image": self.captions_per_image,
            "val_fraction": self.val_fraction,
            "test_fraction": self.test_fraction,
        }
        self._load()

    def _load(self):
        """Reads the three .mat files and checks that they agree."""
        import scipy.io  # only this source needs scipy at import time

        db = files.require_dir(self.root / "SUNAttributeDB", "SUN attribute database folder")
        mats = {}
        for key, file_name in MAT_FILES.items():
            path = files.require_file(db / file_name, "SUN attribute file")
            try:
                content = scipy.io.loadmat(str(path))
            except (ValueError, OSError, TypeError) as err:
                raise T2IError(f"{path}: not a readable .mat file ({err})") from None
            if key not in content:
                raise T2IError(f"{path}: no variable {key!r}")
            mats[key] = (path, content[key])

        self.image_file = mats["images"][0]
        self.image_paths = [_cell_string(cell) for cell in mats["images"][1].ravel()]
        self.attribute_names = [_cell_string(cell) for cell in mats["attributes"][1].ravel()]
        labels_file, labels = mats["labels_cv"]
        self.labels_file = labels_file
        self.labels = np.asarray(labels, dtype=np.float32)
        expected = (len(self.image_paths), len(self.attribute_names))
        if self.labels.shape != expected:
            raise T2IError(
                f"{labels_file}: labels_cv has shape {self.labels.shape}, expected {expected} "
                f"(images x attributes)"
            )
        self._kinds = [_attribute_kind(name) for name in self.attribute_names]
        self.categories = sorted({_category(p) for p in self.image_paths if _category(p)})
        self.splits = {
            index: files.hash_split(path, self.val_fraction, self.test_fraction)
            for index, path in enumerate(self.image_paths)
        }

    def info(self) -> SourceInfo:
        return SourceInfo(
            name=self.name,
            splits=["train", "val", "test"],
            class_names=[_readable_category(c) for c in self.categories],
            attribute_names=list(self.attribute_names),
            captions_per_image=self.captions_per_image,
            options=dict(self._options),
        )

    def examples(self, split: str) -> Iterator[Record | Skipped]:
        """Yields the split's images in the order of images.mat."""
        if split not in ("train", "val", "test"):
            raise T2IError(f"sun: no split {split!r}; splits: train, val, test")
        labels = {category: index for index, category in enumerate(self.categories)}
        for index, relative in enumerate(self.image_paths):
            if self.splits[index] != split:
                continue
            row = self.labels[index]
            where = f"{self.image_file}:{index + 1}"
            category = _category(relative)
            if not category:
                yield Skipped("bad_annotation", where, f"bad image path {relative!r}", split)
                continue
            if not np.all((row >= 0.0) & (row <= 1.0)):  # also rejects NaN
                yield Skipped(
                    "bad_annotation",
                    f"{self.labels_file}:{index + 1}",
                    "labels_cv values must lie in [0, 1]",
                    split,
                )
                continue
            image_path = self.images_dir / relative
            image = files.read_image(image_path, split)
            if isinstance(image, Skipped):
                yield image
                continue
            present = row >= self.threshold
            yield Record(
                image=image,
                image_id=relative,
                split=split,
                captions=self._captions(_readable_category(category), row, present),
                label=labels[category],
                label_text=_readable_category(category),
                attributes=row.copy() if self.continuous else present.astype(np.float32),
                source_file=str(image_path),
            )

    def _captions(self, scene: str, row: np.ndarray, present: np.ndarray) -> list[str]:
        # Strongest votes first; ties keep the database order (stable sort).
        kinds = [self._kinds[i] for i in np.argsort(-row, kind="stable") if present[i]]
        adjectives = [phrase for kind, phrase in kinds if kind == "adjective"]
        uses = [phrase for kind, phrase in kinds if kind in ("doing", "use")]  # "hiking"
        doings = [phrase for kind, phrase in kinds if kind == "doing"]  # after "people ..."
        things = [phrase for kind, phrase in kinds if kind == "thing"]  # "trees", "open area"
        captions = []
        for i in range(self.captions_per_image):
            described = " ".join([", ".join(files.rotated(adjectives, i, 2)), scene]).strip()
            described = f"{files.article(described)} {described}"
            shown = files.join_phrases(files.rotated(things, i, MAX_PHRASES))
            used = files.join_phrases(files.rotated(uses, i, MAX_ACTIVITIES))
            template = i % 3
            if template == 0:
                caption = f"a photo of {described}" + (f" with {shown}" if shown else "")
                caption += f", a place for {used}" if used else ""
            elif template == 1:
                caption = f"{described} scene" + (f" showing {shown}" if shown else "")
                caption += f", used for {used}" if used else ""
            elif doings:
                done = files.join_phrases(files.rotated(doings, i, MAX_ACTIVITIES))
                caption = f"people {done} in {files.article(scene)} {scene}"
            else:
                caption = f"{shown} in {described}" if shown else f"a picture of {described}"
            captions.append(caption)
        return captions


def _cell_string(cell) -> str:
    """The string in one MATLAB cell as loaded by scipy (a nested array of str)."""
    value = np.asarray(cell)
    while value.dtype == object and value.size == 1:
        value = np.asarray(value.ravel()[0])
    if value.size == 0:
        return ""
    return str(value.ravel()[0]).strip().replace("\\", "/")


def _category(relative: str) -> str:
    """ "a/apartment_building/outdoor/sun_x.jpg" -> "apartment_building/outdoor"."""
    parts = relative.split("/")
    if len(parts) < 3 or not parts[-1]:
        return ""
    return "/".join(parts[1:-1])


def _readable_category(category: str) -> str:
    """ "apartment_building/outdoor" -> "outdoor apartment building"."""
    parts = [p.replace("_", " ") for p in category.split("/")]
    return " ".join([*parts[1:], parts[0]])


def _attribute_phrase(name: str) -> str:
    """ "sailing/ boating" -> "sailing or boating"; "wood (not part of a tree)" -> "wood"."""
    name = re.sub(r"\s*\(.*?\)", "", name)
    return " or ".join(part.strip() for part in name.split("/") if part.strip())


def _key(name: str) -> str:
    """An attribute name without spaces or case, to match ADJECTIVES ("aged/ worn")."""
    return re.sub(r"\s+", "", name).lower()


def _attribute_kind(name: str) -> tuple[str, str]:
    """An attribute name -> (kind, caption phrase); kind is "adjective" ("rusty"),
    "doing" ("hiking"), "use" ("research") or "thing" ("trees")."""
    if _key(name) in ADJECTIVES:
        return "adjective", ADJECTIVES[_key(name)]
    phrase = _attribute_phrase(name)
    if phrase in ACTIVITIES:
        return "use", phrase
    if phrase and phrase not in NOT_ACTIVITIES and phrase.split()[0].endswith("ing"):
        return "doing", phrase
    return "thing", phrase
