"""The grids `t2i fit` draws: samples, style transfer and GAN-INT interpolation.

- samples/step_XXXXXX.png: fixed captions in rows, fixed noise in columns
  (`sample_conditions`, drawn by grids.SampleGrids during training);
- samples/style_transfer.png: real style images in rows, captions in columns,
  each cell G(S(x), t) (Reed et al. Fig. 6), when the run trains a style encoder;
- samples/interpolation.png: one noise vector per row, the caption moving from
  the first sample caption to another along the row (GAN-INT, Reed et al. Fig. 8),
  so that the style stays while the content changes.

The samples and interpolation grids draw their noise as the model samples
(`grid_noise`: model.truncation); the style-transfer grid's noise is S(x).
"""

from __future__ import annotations

import io
import pathlib

import numpy as np

from tf_t2i.config import Config
from tf_t2i.errors import T2IError
from tf_t2i.models.config import TRUNCATION_BOUND

STYLE_ROWS = 6  # real style images in the style-transfer grid
STYLE_COLUMNS = 6  # captions in the style-transfer grid
INTERPOLATION_ROWS = 6  # noise vectors in the interpolation grid
INTERPOLATION_STEPS = 8  # images from caption A to caption B


def grid_noise(config: Config, seed: int, rows: int) -> np.ndarray:
    """float32 [rows, Z] noise from `seed`, as the model samples: N(0, 1), or with
    model.truncation s, N(0, 1) redrawn beyond +-2, times s."""
    from tf_t2i.evaluation.published import truncated_noise

    scale = config.model.truncation or None
    shape = (rows, config.model.z_dim)
    return truncated_noise(np.random.default_rng(seed), shape, scale, TRUNCATION_BOUND)


def held_out_split(config: Config, manifest) -> str:
    """data.sample_split if the data set has it (non-empty), else the training split."""
    split = config.data.sample_split
    if split not in manifest.splits or manifest.num_examples(split) == 0:
        return config.data.split
    return split


def _first_batch(config: Config, manifest, data_dir, size: int) -> dict:
    """The first `size` examples of the held-out split, as numpy arrays (no augmentation)."""
    from tf_t2i.data.input import make_dataset

    dataset = make_dataset(
        data_dir,
        held_out_split(config, manifest),
        size,
        image_size=config.model.image_size,
        training=False,
        seed=config.train.seed,
        repeat=True,
        drop_remainder=True,
    )
    return {key: value.numpy() for key, value in next(iter(dataset)).items()}


def sample_conditions(config: Config, gan, manifest, data_dir):
    """The fixed conditions and noise of the sample grids.

    Rows are `train.sample_captions` (text models, encoded with the data set's
    encoder) or the first examples of `data.sample_split`; other conditions
    (attributes, labels, masks) come from those examples. Columns are fixed
    noise vectors from `train.seed`.

    Returns:
        (sample_fn, rows, cols, labels): sample_fn() -> float32
        [rows*cols, H, W, C] in [-1, 1].
    """
    train, model = config.train, config.model
    split = held_out_split(config, manifest)
    captions = list(train.sample_captions) if "text" in model.conditions else []
    if not has_text_encoder(manifest):
        captions = []  # no encoder for new text: the grids show the data's own captions
    rows = len(captions) or min(train.sample_rows, manifest.num_examples(split))
    batch = _first_batch(config, manifest, data_dir, rows)
    conditions = {key: batch[key] for key in model.condition_keys}
    labels = [text.decode("utf-8") for text in batch["captions"]]
    if captions:
        conditions["embeddings"] = encode_captions(captions, manifest)
        labels = captions
    if not model.conditions:
        labels = []
    cols = train.samples_per_caption
    repeated = {key: np.repeat(value, cols, axis=0) for key, value in conditions.items()}
    noise = np.tile(grid_noise(config, train.seed, cols), (rows, 1))  # the same in every row

    def sample_fn():
        return np.asarray(gan.generate(repeated, noise=noise, num_images=rows * cols))

    return sample_fn, rows, cols, labels


def style_transfer_images(config: Config, gan, manifest, data_dir, embeddings: np.ndarray):
    """Reed's style transfer on held-out images: G(S(x), t) for style x and caption t.

    Args:
        embeddings: float32 [len(train.sample_captions), D], the sample captions encoded.

    Returns:
        (images float32 [rows * (1 + cols), H, W, C] in [-1, 1], rows, 1 + cols,
        column labels): row r is the real style image x_r, then x_r's style drawn with
        each of the first STYLE_COLUMNS sample captions.
    """
    if gan.style_encoder is None or "text" not in config.model.conditions:
        raise T2IError("style transfer needs a text model with model.style_encoder on")
    captions = list(config.train.sample_captions)[:STYLE_COLUMNS]
    if not captions:
        raise T2IError("style transfer grid: train.sample_captions is empty")
    batch = _first_batch(config, manifest, data_dir, STYLE_ROWS)
    styles = batch["images"]  # [rows, H, W, C] in [-1, 1]
    embeddings = embeddings[: len(captions)]  # [cols, D]
    rows, cols = len(styles), len(captions)
    noise = np.asarray(gan.style_encoder(styles, training=False), np.float32)  # S(x)
    conditions = {key: np.repeat(batch[key], cols, axis=0) for key in config.model.condition_keys}
    conditions["embeddings"] = np.tile(embeddings, (rows, 1))
    drawn = np.asarray(gan.generate(conditions, noise=np.repeat(noise, cols, axis=0)))
    drawn = drawn.reshape((rows, cols) + drawn.shape[1:])
    grid = np.concatenate([styles[:, None].astype(np.float32), drawn], axis=1)
    return grid.reshape((-1,) + grid.shape[2:]), rows, cols + 1, ["style image", *captions]


def interpolation_images(config: Config, gan, embeddings: np.ndarray):
    """GAN-INT strips: each row one z, the caption embedding moving from A to B.

    A is the first sample caption and B the third (or the last of two): another
    colour and kind in the default recipe.

    Args:
        embeddings: float32 [len(train.sample_captions), D], the sample captions encoded.

    Returns:
        (images float32 [rows * steps, H, W, C] in [-1, 1], rows, steps, column labels).
    """
    captions = list(config.train.sample_captions)
    if "text" not in config.model.conditions or len(captions) < 2:
        raise T2IError("interpolation grid: needs a text model and two sample captions")
    if len(config.model.conditions) > 1:
        raise T2IError("interpolation grid: only for models conditioned on text alone")
    end = min(len(captions) - 1, 2)
    first, last = captions[0], captions[end]
    a, b = embeddings[0], embeddings[end]
    steps, rows = INTERPOLATION_STEPS, INTERPOLATION_ROWS
    beta = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    line = (1.0 - beta) * a + beta * b  # [steps, D]
    noise = grid_noise(config, config.train.seed + 1, rows)
    images = gan.generate(
        {"embeddings": np.tile(line, (rows, 1))}, noise=np.repeat(noise, steps, axis=0)
    )
    labels = [first] + [""] * (steps - 2) + [last]
    return np.asarray(images), rows, steps, labels


def write_final_grids(config: Config, gan, manifest, data_dir, samples_dir) -> list[pathlib.Path]:
    """Writes style_transfer.png (with a style encoder) and interpolation.png (text models).

    Returns:
        The paths written.
    """
    from tf_t2i.files import atomic_write
    from tf_t2i.training.grids import image_grid

    samples_dir = pathlib.Path(samples_dir)
    samples_dir.mkdir(parents=True, exist_ok=True)
    written = []
    model = config.model
    jobs = []
    if not has_text_encoder(manifest):  # precomputed embeddings: no new captions to draw
        return written
    captions = list(config.train.sample_captions)
    if model.style_encoder and "text" in model.conditions and captions:
        jobs.append(
            (
                "style_transfer.png",
                lambda e: style_transfer_images(config, gan, manifest, data_dir, e),
            )
        )
    if model.conditions == ["text"] and len(captions) >= 2:
        jobs.append(("interpolation.png", lambda e: interpolation_images(config, gan, e)))
    embeddings = encode_captions(captions, manifest) if jobs else None  # one encoder load
    for name, make in jobs:
        images, rows, cols, column_labels = make(embeddings)
        grid = image_grid(images, rows, cols, column_labels=column_labels)
        buffer = io.BytesIO()
        grid.save(buffer, format="PNG")
        atomic_write(samples_dir / name, buffer.getvalue())
        written.append(samples_dir / name)
    return written


def has_text_encoder(manifest) -> bool:
    """False when the data set's embeddings were precomputed (no encoder for new text)."""
    from tf_t2i.text.precomputed import is_precomputed

    return not is_precomputed(manifest.encoder.get("spec"))


def encode_captions(captions: list[str], manifest) -> np.ndarray:
    """Encodes captions with the encoder that made the data set's embeddings.

    Raises:
        T2IError: the encoder loaded now is not the one recorded in the manifest.
    """
    from tf_t2i.text.encoder import load_encoder

    spec = manifest.encoder["spec"]
    encoder = load_encoder(spec)
    expected = manifest.encoder.get("fingerprint")
    if expected and encoder.fingerprint != expected:
        raise T2IError(
            f"text encoder {spec!r} has fingerprint {encoder.fingerprint}, but the data set's "
            f"embeddings were made by fingerprint {expected}: reconvert the data"
        )
    return np.asarray(encoder.encode(captions), dtype=np.float32)
