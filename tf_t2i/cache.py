"""Where tf_t2i keeps what it builds once: the offline text encoder, built-in data sets.

`TF_T2I_CACHE` overrides the location; otherwise `$XDG_CACHE_HOME/tf_t2i`,
falling back to `~/.cache/tf_t2i`.
"""

import os
import pathlib


def cache_dir(*parts: str) -> pathlib.Path:
    """Returns (and creates) a directory under the tf_t2i cache root."""
    root = os.environ.get("TF_T2I_CACHE")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "tf_t2i")
    path = pathlib.Path(root, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
