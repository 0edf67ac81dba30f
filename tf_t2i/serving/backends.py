"""Where `t2i generate` gets images from: a run dir, a SavedModel, or a server.

All three expose the same signatures (names, inputs, outputs), because a run
dir is wrapped in the very ServingModule that `t2i export` saves.
"""

import pathlib

import numpy as np

from tf_t2i.errors import T2IError


class Backend:
    """Runs serving signatures. Subclasses set `self._functions` or override."""

    description = ""

    def signatures(self) -> list[str]:
        """The signature names offered."""
        return sorted(self._functions)

    def input_names(self, signature) -> list[str]:
        """The input names of a signature."""
        return [spec.name for spec in self._function(signature).input_signature]

    def noise_dim(self, signature) -> int | None:
        """The size Z of the signature's `noise` input ([N, Z]), None if it takes none."""
        for spec in self._function(signature).input_signature:
            if spec.name == "noise":
                return int(spec.shape[-1])
        return None

    def run(self, signature, inputs):
        """Runs a signature.

        Args:
            signature: its name.
            inputs: dict input name -> np.ndarray (optional inputs may be left out).

        Returns:
            dict output name -> np.ndarray (images uint8 [N, H, W, C], png_bytes).
        """
        import tensorflow as tf

        from tf_t2i.serving.server import short_tf_message

        tensors = {name: tf.constant(value) for name, value in inputs.items()}
        try:
            outputs = self._function(signature)(**tensors)
        except (tf.errors.InvalidArgumentError, TypeError, ValueError) as err:
            raise T2IError(f"{self.description}: {short_tf_message(err)}") from None
        return {name: value.numpy() for name, value in outputs.items()}

    def _function(self, signature):
        if signature not in self._functions:
            raise T2IError(
                f"{self.description}: this model has no {signature!r} signature "
                f"(it has {self.signatures()})"
            )
        return self._functions[signature]


class RunBackend(Backend):
    """A training run's latest checkpoint, wrapped in the export's ServingModule."""

    def __init__(self, run_dir):
        from tf_t2i.export.savedmodel import load_run_for_serving

        self.description = str(run_dir)
        _, _, module = load_run_for_serving(run_dir)
        self._functions = module.signatures


class SavedModelBackend(Backend):
    """An exported SavedModel (a version dir, or a model dir: its latest version)."""

    def __init__(self, path):
        import tensorflow as tf
        import tensorflow_text  # noqa: F401  (ops the text encoder needs)

        from tf_t2i.export.layout import resolve_savedmodel

        path = resolve_savedmodel(path)
        self.description = str(path)
        loaded = tf.saved_model.load(str(path))
        # The endpoint functions (not `.signatures`) apply the inputs' defaults.
        self._functions = {
            name: getattr(loaded, name) for name in loaded.signatures if hasattr(loaded, name)
        }
        self._loaded = loaded  # keeps the functions' resources alive


class ServerBackend(Backend):
    """A TF Serving (or `t2i serve`) REST endpoint."""

    def __init__(self, url):
        from tf_t2i.serving.client import RestClient, parse_server_url

        base, model = parse_server_url(url)
        self.description = f"{base} model {model!r}"
        self._client = RestClient(base, model)
        self._defs = self._client.signatures()

    def signatures(self):
        return sorted(self._defs)

    def input_names(self, signature):
        if signature not in self._defs:
            raise T2IError(
                f"{self.description}: no {signature!r} signature (has {self.signatures()})"
            )
        return sorted(self._defs[signature]["inputs"])

    def noise_dim(self, signature):
        self.input_names(signature)
        noise = self._defs[signature]["inputs"].get("noise")
        if noise is None:
            return None
        return int(noise["tensor_shape"]["dim"][-1]["size"])

    def run(self, signature, inputs):
        self.input_names(signature)
        return self._client.predict(inputs, signature=signature)


def open_backend(source=None, server=None) -> Backend:
    """The backend for a `t2i generate` SOURCE or `--server URL[/MODEL]`.

    Raises:
        T2IError: if SOURCE is neither a run dir nor a SavedModel / model dir.
    """
    if server:
        return ServerBackend(server)
    if source is None:
        raise T2IError("give a SOURCE (run dir or SavedModel dir) or --server URL/MODEL")
    path = pathlib.Path(source)
    if not path.exists():
        raise T2IError(f"{source}: no such run dir or SavedModel dir")
    if (path / "config.json").is_file():
        return RunBackend(path)
    return SavedModelBackend(path)


def save_images(images, out, grid=False, columns=None, overwrite=False):
    """Writes uint8 images as PNG files.

    Args:
        images: uint8 [N, H, W, C], C in (1, 3).
        out: output path; with several images and no grid, OUT-<i>.png.
        grid: one grid image instead of one file per image.
        columns: grid width (default: N, one row).
        overwrite: replace existing files (otherwise T2IError, nothing written).

    Returns:
        list of pathlib.Path written.
    """
    from tf_t2i.data.images import encode

    images = np.asarray(images, np.uint8)
    out = pathlib.Path(out)
    if not out.parent.is_dir():
        raise T2IError(f"{out}: the folder {out.parent} does not exist")
    if grid:
        columns = columns or len(images)
        rows = -(-len(images) // columns)
        n, h, w, c = images.shape
        canvas = np.full((rows * h, columns * w, c), 255, np.uint8)
        for i, image in enumerate(images):
            r, col = divmod(i, columns)
            canvas[r * h : (r + 1) * h, col * w : (col + 1) * w] = image
        images, paths = canvas[None], [out]
    elif len(images) == 1:
        paths = [out]
    else:
        paths = [out.with_name(f"{out.stem}-{i}{out.suffix or '.png'}") for i in range(len(images))]
    existing = [str(p) for p in paths if p.exists()]
    if existing and not overwrite:
        shown = ", ".join(existing[:3]) + (" ..." if len(existing) > 3 else "")
        raise T2IError(f"{shown}: exists already; pass --overwrite to replace it")
    for image, path in zip(images, paths, strict=True):
        path.write_bytes(encode(image, "png", compress_level=6))
    return paths
