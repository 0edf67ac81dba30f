"""AttnGAN / DF-GAN captions: `captions_DAMSM.pickle` turned back into text.

AttnGAN (Xu et al. 2018) tokenised the captions once and pickled

    [train_captions, test_captions, ixtoword, wordtoix]

where train_captions is a list of token-id lists, `captions_per_image` (10
for CUB and Oxford-102) per image, in the order of `train/filenames.pickle`;
DF-GAN ships the same file as `captions_DAMSM.pickle` (AttnGAN:
`captions.pickle`). This source joins each caption's words with spaces, so any
text encoder can embed them; images and splits are read as in StackGAN's
layout (stackgan.py), which these data sets share.
"""

from __future__ import annotations

from tf_t2i.data.record import Skipped
from tf_t2i.data.sources import files, pickles
from tf_t2i.data.sources.stackgan import StackGanSource
from tf_t2i.errors import T2IError

CAPTIONS_FILE = "captions_DAMSM.pickle"
# the pickle's first two lists, in this order
SPLITS_ORDER = ("train", "test")


class DamsmSource(StackGanSource):
    """Captions from a DAMSM pickle, images and splits from StackGAN's pickles.

    Args:
        path: ROOT holding the captions pickle, train/ and test/.
        images_dir: as for StackGanSource.
        captions_file: the pickle's name in ROOT (AttnGAN: captions.pickle).
        captions_per_image: captions per image in the pickle's lists.
        bbox_crop: as for StackGanSource.

    Example:
        >>> record = next(DamsmSource("data/birds").examples("test"))
        >>> record.captions[0]
        'this bird has a white belly and black wings'
    """

    name = "damsm"
    precomputed_embeddings = None  # token ids only: embed the text with an encoder

    def __init__(self, path, *, images_dir=None, captions_file=CAPTIONS_FILE,
                 captions_per_image=10, bbox_crop=False):  # fmt: skip
        super().__init__(path, images_dir=images_dir, bbox_crop=bbox_crop)
        self.per_image = files.option_number(captions_per_image, "captions_per_image", int, 1)
        self.captions_path = self.root / str(captions_file)
        value = pickles.load_pickle(self.captions_path, "DAMSM captions")
        if not isinstance(value, (list, tuple)) or len(value) != 4:
            raise T2IError(
                f"{self.captions_path}: expected [train_captions, test_captions, ixtoword, "
                f"wordtoix], got a {type(value).__name__}"
                + (f" of {len(value)} items" if isinstance(value, (list, tuple)) else "")
            )
        token_lists = dict(zip(SPLITS_ORDER, value[:2], strict=True))
        self.ixtoword = value[2]
        self.token_lists = {}
        for split in self.splits:
            captions, expected = token_lists[split], len(self.keys[split]) * self.per_image
            if len(captions) != expected:
                raise T2IError(
                    f"{self.captions_path}: {len(captions)} {split} captions, but "
                    f"{self._file(split, 'filenames.pickle')} lists {len(self.keys[split])} "
                    f"images x {self.per_image} captions = {expected}"
                )
            self.token_lists[split] = captions
        self._options = {
            "images_dir": None if images_dir is None else str(images_dir),
            "captions_file": str(captions_file),
            "captions_per_image": self.per_image,
            "bbox_crop": self.bbox_crop,
        }

    def _embeddings_for_examples(self, split):
        return None

    def _captions(self, split: str, index: int, key: str) -> list[str] | Skipped:
        start = index * self.per_image
        captions = []
        for tokens in self.token_lists[split][start : start + self.per_image]:
            words = [self._word(t) for t in tokens]
            if None in words:
                bad = tokens[words.index(None)]
                return Skipped(
                    "bad_annotation", f"{self.captions_path}:{split}[{index}]",
                    f"token id {bad!r} is not in ixtoword", split,
                )  # fmt: skip
            text = " ".join(w for w in words if w and w != "<end>")
            if text:
                captions.append(text)
        if not captions:
            return Skipped("no_captions", f"{self.captions_path}:{split}[{index}]", "", split)
        return captions

    def _word(self, token) -> str | None:
        try:
            word = self.ixtoword[int(token)]
        except (KeyError, IndexError, TypeError, ValueError):
            return None
        return word.decode("utf-8", "replace") if isinstance(word, bytes) else str(word)
