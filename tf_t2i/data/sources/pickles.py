"""Reading the Python 2 pickles that StackGAN, AttnGAN and DF-GAN circulate.

They were written by Python 2 (`filenames.pickle`, `class_info.pickle`,
`char-CNN-RNN-embeddings.pickle`) and hold str keys, int lists and numpy
arrays; Python 3 reads them with `encoding="latin1"`. Unpickling can run code,
so only builtin containers and numpy arrays are let through: anything else is
an error naming the file, as is a truncated or corrupt file.
"""

from __future__ import annotations

import pathlib
import pickle

from tf_t2i.data.sources import files
from tf_t2i.errors import T2IError

_SAFE_BUILTINS = frozenset(
    "object list dict tuple set frozenset int float complex str bytes bytearray bool slice range"
    .split()
)  # fmt: skip


class _DataUnpickler(pickle.Unpickler):
    """An Unpickler that builds numpy arrays and builtin containers, nothing else."""

    def find_class(self, module, name):
        if module.split(".")[0] == "numpy":
            return super().find_class(module, name)
        # protocol 2 spells an array's raw bytes as _codecs.encode(latin1 text)
        if (module, name) in (("copyreg", "_reconstructor"), ("copy_reg", "_reconstructor"),
                              ("_codecs", "encode")):  # fmt: skip
            return super().find_class(module, name)
        if module in ("builtins", "__builtin__") and name in _SAFE_BUILTINS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not plain data")


def load_pickle(path: str | pathlib.Path, what: str):
    """Loads a Python 2 (or 3) data pickle.

    Args:
        path: the .pickle file.
        what: what it is, for messages ("StackGAN filenames").

    Returns:
        The unpickled object.

    Raises:
        T2IError: the file is missing, truncated, corrupt or holds more than data.
    """
    path = files.require_file(path, what)
    try:
        with open(path, "rb") as f:
            return _DataUnpickler(f, encoding="latin1").load()
    except EOFError:
        raise T2IError(
            f"{path}: truncated pickle (the file ends early); download it again"
        ) from None
    except pickle.UnpicklingError as err:
        if "truncated" in str(err):
            raise T2IError(
                f"{path}: truncated pickle (the file ends early); download it again"
            ) from None
        raise T2IError(f"{path}: not a readable {what} pickle ({err})") from None
    except (ValueError, TypeError, IndexError, KeyError, AttributeError,
            ImportError, MemoryError) as err:  # fmt: skip
        raise T2IError(
            f"{path}: not a readable {what} pickle ({type(err).__name__}: {err})"
        ) from None


def as_text(value, path, index: int) -> str:
    """A pickled key as str (Python 3 pickles may hold bytes)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        raise T2IError(f"{path}: entry {index} is {type(value).__name__}, expected a file name")
    return value


def string_list(path: pathlib.Path, what: str) -> list[str]:
    """A pickled list of names (filenames.pickle)."""
    value = load_pickle(path, what)
    if not isinstance(value, (list, tuple)):
        raise T2IError(f"{path}: holds a {type(value).__name__}, expected a list of names")
    return [as_text(v, path, i) for i, v in enumerate(value)]


def int_list(path: pathlib.Path, what: str) -> list[int]:
    """A pickled list of class ids (class_info.pickle)."""
    value = load_pickle(path, what)
    try:
        return [int(v) for v in value]
    except (TypeError, ValueError):
        raise T2IError(f"{path}: expected a list of integer class ids") from None
