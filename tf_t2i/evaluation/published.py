"""FID the way published tables compute it, with every setting written beside the number.

Published text-to-image FIDs differ in the feature network, the reference
statistics, the number of samples, the image size and resizing, and the noise
truncation; a figure means something only with all of them. Here

    1. the features are pool_3 of TF's 2015 Inception graph (inception_graph.py);
    2. the reference is a published .npz of `mu` and `sigma` (DF-GAN's
       bird_val256_FIDK0.npz) or, without one, the statistics of the data set's
       real images of the split;
    3. the generator draws `passes` images per held-out example, pass p from
       the example's caption p mod n (DF-GAN: 10 passes over CUB's 2,933 test
       images), with noise from `numpy.random.default_rng(seed)`, optionally
       truncated (|z| <= bound, then scaled, as DF-GAN's `truncated_noise`);
    4. images [-1, 1] -> [0, 255] (rounded to uint8 when `quantize`, as a saved
       PNG is), fed at the generator's size; the graph resizes them
       bilinearly to 299.

A named protocol (`PROTOCOLS`) fixes these settings at once; options override
them, and metrics.json records what was used and a one-line summary.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import time

import numpy as np

from tf_t2i.data.writer import file_sha256
from tf_t2i.errors import T2IError
from tf_t2i.evaluation import metrics
from tf_t2i.evaluation.inception_graph import InceptionGraph


@dataclasses.dataclass(frozen=True)
class FidProtocol:
    """The settings that change a FID.

    Attributes:
        name: the protocol's name ("dfgan-cub", "ttur", "custom").
        passes: generated images per held-out example.
        split: the held-out split whose captions condition the generator.
        truncation: scale of the truncated noise (DF-GAN: 0.88); None = plain N(0, 1).
        truncation_bound: |z| beyond this is redrawn before scaling.
        quantize: round images to uint8 before the features (images saved as PNG).
        reference_required: the protocol is defined by a published .npz.
        cite: where the settings come from.
    """

    name: str
    passes: int = 1
    split: str = "test"
    truncation: float | None = None
    truncation_bound: float = 2.0
    quantize: bool = True
    reference_required: bool = False
    cite: str = ""


PROTOCOLS = {
    # DF-GAN (Tao et al., CVPR 2022), code/src/test.py and cfg/bird.yml: 10 passes
    # (sample_times) over the 2,933 test captions, truncation True with trunc_rate
    # 0.88 on truncnorm(-2, 2), generated tensors fed without saving,
    # reference ../data/birds/npz/bird_val256_FIDK0.npz.
    "dfgan-cub": FidProtocol(
        "dfgan-cub", passes=10, truncation=0.88, quantize=False, reference_required=True,
        cite="DF-GAN (Tao et al. 2022) test.py, cfg/bird.yml",
    ),
    # Heusel et al.'s TTUR fid.py: one image per caption, saved as PNG, plain noise.
    "ttur": FidProtocol("ttur", passes=1, cite="Heusel et al. 2017, TTUR fid.py"),
}  # fmt: skip


def protocol_settings(name: str | None, **overrides) -> FidProtocol:
    """A named protocol with options that override it (None values are ignored)."""
    if name is not None and name not in PROTOCOLS:
        raise T2IError(f"--protocol {name!r}: choose one of {', '.join(PROTOCOLS)}")
    base = PROTOCOLS[name] if name else FidProtocol("custom")
    changed = {k: v for k, v in overrides.items() if v is not None}
    if changed.get("truncation") == 0:
        changed["truncation"] = None
    settings = dataclasses.replace(base, **changed)
    if changed and name:
        settings = dataclasses.replace(settings, name=f"{name} (modified: {', '.join(changed)})")
    if settings.passes < 1:
        raise T2IError("--passes must be at least 1")
    return settings


def truncated_noise(rng: np.random.Generator, shape, scale: float | None, bound: float):
    """float32 noise of `shape`: N(0, 1), or N(0, 1) redrawn beyond +-bound times `scale`."""
    return truncate(rng.standard_normal(shape), scale, bound, rng)


def truncate(z: np.ndarray, scale: float | None, bound: float, rng: np.random.Generator):
    """float32 `z` (N(0, 1) draws) truncated: entries beyond +-bound redrawn, then times `scale`.

    DF-GAN's truncation (truncnorm(-bound, bound) * scale) applied to noise already
    drawn, so that a protocol keeps its noise stream; None leaves `z` as it is.
    """
    z = np.array(z, np.float64)
    if scale is None:
        return z.astype(np.float32)
    outside = np.abs(z) > bound
    while outside.any():
        z[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(z) > bound
    return (scale * z).astype(np.float32)


def load_reference(path: str | os.PathLike, feature_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """mu [F], sigma [F, F] from a published .npz.

    Raises:
        T2IError: missing file or keys, or statistics of another size than the features.
    """
    path = pathlib.Path(path).expanduser()
    if not path.is_file():
        raise T2IError(f"--reference-stats: no such file: {path}")
    try:
        with np.load(path) as stats:
            mu, sigma = stats["mu"], stats["sigma"]
    except KeyError:
        raise T2IError(f"{path}: expected arrays 'mu' and 'sigma' in the .npz") from None
    except (OSError, ValueError) as err:
        raise T2IError(f"{path}: not a readable .npz ({err})") from None
    if mu.shape != (feature_dim,) or sigma.shape != (feature_dim, feature_dim):
        raise T2IError(
            f"{path}: statistics of shape mu {list(mu.shape)}, sigma {list(sigma.shape)}, but "
            f"the feature network gives {feature_dim} features: they come from another network"
        )
    return mu.astype(np.float64), sigma.astype(np.float64)


def caption_embeddings(data_dir, split: str) -> list[np.ndarray]:
    """Every caption embedding of every example of a split, in file order: [n_i, D] each."""
    import tensorflow as tf

    from tf_t2i.data import schema

    manifest = schema.read_manifest(data_dir)
    spec = {schema.EMBEDDINGS: tf.io.VarLenFeature(tf.float32)}
    rows = []
    for raw in tf.data.TFRecordDataset(manifest.shard_files(data_dir, split)):
        values = tf.io.parse_single_example(raw, spec)[schema.EMBEDDINGS].values.numpy()
        rows.append(values.reshape(-1, manifest.embedding_dim))
    return rows


def to_pixels(images: np.ndarray, quantize: bool) -> np.ndarray:
    """float [N, H, W, C] in [-1, 1] -> float32 [N, H, W, 3] in [0, 255]."""
    pixels = (np.clip(images, -1.0, 1.0) + 1.0) * 127.5
    if quantize:
        pixels = np.round(pixels)
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    return pixels.astype(np.float32)


def published_fid(generate_fn, z_dim: int, data_dir, network: InceptionGraph,
                  settings: FidProtocol, reference=None, seed: int = 0) -> dict:  # fmt: skip
    """Runs the protocol (module docstring) for a text generator.

    Args:
        generate_fn: ({"embeddings": float32 [B, D]}, noise float32 [B, z_dim]) ->
            images float32 [B, H, W, C] in [-1, 1].
        z_dim: the generator's noise size.
        data_dir: the converted data set (its `settings.split` gives the captions).
        network: the feature network.
        settings: the FidProtocol.
        reference: a published .npz path, or None for the split's real images.
        seed: seeds the noise.

    Returns:
        {"fid", "settings": {...}, "protocol_line"}.
    """
    from tf_t2i.evaluation.evaluate import _generate_all
    from tf_t2i.evaluation.evaluator import real_batches

    started = time.perf_counter()
    if settings.reference_required and reference is None:
        raise T2IError(
            f"protocol {settings.name} compares with its published statistics: "
            "give --reference-stats (e.g. DF-GAN's bird_val256_FIDK0.npz)"
        )
    captions = caption_embeddings(data_dir, settings.split)
    if len(captions) < 2:
        raise T2IError(f"{data_dir}: split {settings.split!r} has {len(captions)} examples")
    rng = np.random.default_rng(seed)
    features, image_shape = [], None
    for p in range(settings.passes):
        chosen = np.stack([c[p % len(c)] for c in captions])  # [N, D]
        noise = truncated_noise(rng, (len(chosen), z_dim), settings.truncation,
                                settings.truncation_bound)  # fmt: skip
        images = _generate_all(generate_fn, {"embeddings": chosen}, noise)
        image_shape = images.shape[1:]
        features.append(network(to_pixels(images, settings.quantize)))
    fake = np.concatenate(features)
    if reference is not None:
        mu, sigma = load_reference(reference, network.feature_dim)
        ref = {"file": str(reference), "sha256": file_sha256(reference)}
    else:
        real = np.concatenate(
            [
                network(to_pixels(b["images"], True))
                for b in real_batches(data_dir, settings.split, 64)
            ]
        )
        mu, sigma = metrics.gaussian_stats(real)
        ref = {"computed_from": f"{data_dir} split {settings.split}", "num_images": len(real)}
    fid = metrics.frechet_distance(*metrics.gaussian_stats(fake), mu, sigma)
    recorded = {
        "protocol": settings.name,
        "cite": settings.cite,
        "feature_network": network.description(),
        "reference_stats": ref,
        "split": settings.split,
        "num_samples": len(fake),
        "passes": settings.passes,
        "captions": f"pass p uses caption p mod n of each of the {len(captions)} examples",
        "image_size": list(image_shape),
        "resize": f"none before the graph; {network.description()['resize']}",
        "quantize_uint8": settings.quantize,
        "truncation": None if settings.truncation is None else
        {"scale": settings.truncation, "bound": settings.truncation_bound},
        "seed": seed,
    }  # fmt: skip
    return {
        "fid": fid,
        "settings": recorded,
        "protocol_line": protocol_line(fid, recorded),
        "seconds": round(time.perf_counter() - started, 2),
    }


def protocol_line(fid: float, s: dict) -> str:
    """One line that says what the number is."""
    ref = s["reference_stats"]
    ref_text = (f"{pathlib.Path(ref['file']).name} sha256:{ref['sha256'][:12]}" if "file" in ref
                else f"{ref['num_images']} real {s['split']} images")  # fmt: skip
    trunc = s["truncation"]
    trunc_text = "none" if trunc is None else f"{trunc['scale']} (|z|<={trunc['bound']})"
    size = "x".join(map(str, s["image_size"][:2]))
    return (
        f"FID {fid:.2f} | protocol {s['protocol']} | TF Inception 2015 pool_3 "
        f"sha256:{s['feature_network']['sha256'][:12]} | ref {ref_text} | "
        f"{s['num_samples']} samples = {s['passes']} x {s['num_samples'] // s['passes']} "
        f"{s['split']} captions | {size} px, {s['resize'].split('; ')[-1]}"
        f"{', uint8' if s['quantize_uint8'] else ''} | truncation {trunc_text} | seed {s['seed']}"
    )


def evaluate_published(source, data_dir, settings: FidProtocol, inception_graph, reference=None,
                       seed: int = 0, out=None, use_ema: bool = True) -> dict:  # fmt: skip
    """`t2i evaluate --protocol ...`: a run directory or SavedModel -> metrics.json.

    Run directories also get the figures appended to their metrics.jsonl.
    """
    from tf_t2i.evaluation import evaluate as ev
    from tf_t2i.evaluation import sources

    source = pathlib.Path(source)
    network = InceptionGraph(inception_graph)
    if sources.is_run_dir(source):
        from tf_t2i.training.run_dir import load_run

        run = load_run(source)
        sources.check_encoder(run.manifest, data_dir, source)
        if list(run.model_config.conditions) != ["text"]:
            raise T2IError(f"{source}: published FID protocols need a caption-conditioned model")
        generate_fn, z_dim = ev.gan_generate_fn(run.gan, use_ema), run.model_config.z_dim
    elif (saved := sources.resolve_saved_model(source)) is not None:
        import tensorflow as tf
        import tensorflow_text  # noqa: F401  (SentencePiece ops of an embedded encoder)

        generate_fn, conditions, z_dim = sources.saved_model_generate_fn(
            tf.saved_model.load(str(saved))
        )
        if conditions != ["text"]:
            raise T2IError(f"{source}: published FID protocols need a caption-conditioned model")
    else:
        raise T2IError(f"SOURCE {source} is neither a run directory nor a SavedModel")
    figures = published_fid(generate_fn, z_dim, data_dir, network, settings, reference, seed)
    return sources.record_results(source, data_dir, figures, out)
