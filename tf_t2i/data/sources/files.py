"""Small file-reading helpers shared by the on-disk sources (reed, celeba, sun, folder).

Each helper turns what a source can see without decoding (a missing file, a
zero-byte file, a caption file that is not UTF-8) into a `Skipped`, and a
missing root or required annotation file into a `T2IError` naming the path.
"""

from __future__ import annotations

import hashlib
import pathlib
import re

from tf_t2i.data.record import Skipped
from tf_t2i.errors import T2IError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


def require_dir(path: str | pathlib.Path, what: str) -> pathlib.Path:
    """Returns `path` as a Path, or raises T2IError naming it if it is not a folder.

    Args:
        path: the folder.
        what: what the folder is, for the message ("CelebA root", "image folder").
    """
    path = pathlib.Path(path)
    if not path.is_dir():
        raise T2IError(f"{what} not found: {path} is not a folder")
    return path


def require_file(path: str | pathlib.Path, what: str) -> pathlib.Path:
    """Returns `path` as a Path, or raises T2IError naming it if it is not a file."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise T2IError(f"{what} not found: {path}")
    return path


def read_image(path: pathlib.Path, split: str) -> bytes | Skipped:
    """Reads an image file's encoded bytes without decoding them.

    Returns:
        the bytes, or a Skipped with reason missing_image (absent) or
        empty_image (zero bytes). Undecodable bytes are left to convert.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Skipped("missing_image", str(path), "listed but not on disk", split)
    except IsADirectoryError:
        return Skipped("missing_image", str(path), "is a folder, not an image", split)
    if not data:
        return Skipped("empty_image", str(path), "zero-byte file", split)
    return data


def decode_lines(data: bytes, file: str, split: str = "") -> list[str] | Skipped:
    """Splits UTF-8 bytes into lines; a Skipped naming the first bad line otherwise.

    Args:
        data: file contents.
        file: the file name, for the Skipped.
        split: the split the file belongs to.

    Returns:
        the lines without line endings, or Skipped(bad_caption_encoding, "file:LINE").
    """
    lines = data.splitlines()
    decoded = []
    for number, line in enumerate(lines, start=1):
        try:
            decoded.append(line.decode("utf-8"))
        except UnicodeDecodeError as err:
            return Skipped(
                "bad_caption_encoding", f"{file}:{number}", f"not UTF-8 ({err.reason})", split
            )
    return decoded


def read_captions(path: pathlib.Path, split: str) -> list[str] | Skipped:
    """Reads a one-caption-per-line text file (blank lines dropped).

    Returns:
        the captions, or a Skipped: missing_annotation (no file),
        bad_caption_encoding (not UTF-8, naming the line), no_captions (empty).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Skipped("missing_annotation", str(path), "caption file not found", split)
    lines = decode_lines(data, str(path), split)
    if isinstance(lines, Skipped):
        return lines
    captions = [line.strip() for line in lines if line.strip()]
    if not captions:
        return Skipped("no_captions", str(path), "caption file has no captions", split)
    return captions


def readable_class_name(name: str) -> str:
    """ "001.Black_footed_Albatross" -> "Black footed Albatross"; other names unchanged."""
    match = re.fullmatch(r"\d+\.(.+)", name)
    if match is None:
        return name
    return match.group(1).replace("_", " ")


def stable_fraction(key: str) -> float:
    """A number in [0, 1) fixed by `key` (SHA-1), for splits that must not move between runs."""
    digest = hashlib.sha1(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def hash_split(key: str, val_fraction: float, test_fraction: float) -> str:
    """Assigns `key` to "test", "val" or "train" by its stable fraction."""
    fraction = stable_fraction(key)
    if fraction < test_fraction:
        return "test"
    if fraction < test_fraction + val_fraction:
        return "val"
    return "train"


def option_bool(value, name: str) -> bool:
    """Reads a boolean option given as a bool or as text from the command line."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise T2IError(f"option {name}: expected true/false, got {value!r}")


def option_number(value, name: str, kind=float, low=None, high=None):
    """Reads a numeric option given as a number or text; checks it lies in [low, high]."""
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise T2IError(f"option {name}: expected a {kind.__name__}, got {value!r}") from None
    if (low is not None and number < low) or (high is not None and number > high):
        raise T2IError(f"option {name}: {number} is outside [{low}, {high}]")
    return number


def rotated(items: list, shift: int, count: int) -> list:
    """Up to `count` items starting at position `shift` (mod len), wrapping around.

    Successive captions of one image use successive shifts, so together they
    mention more of its attributes than any one of them does.
    """
    if not items:
        return []
    shift %= len(items)
    return (items[shift:] + items[:shift])[:count]


def join_phrases(phrases: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c"."""
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def article(word: str) -> str:
    """ "a" or "an" for the word that follows."""
    return "an" if word[:1].lower() in "aeiou" else "a"
