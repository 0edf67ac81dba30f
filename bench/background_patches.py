"""How patchy are a shapes model's backgrounds? One background level per image, or a mix?

A shapes image has one background (black, gray or white). For each of the first
--captions test captions, 8 samples are drawn (G_ema, seeded noise); the pixels
away from the caption's shape (outside the real example's mask, dilated by
--margin pixels) are each put to the nearest background level, and an image's
*purity* is the share of its commonest level. The real images score 1.0. A
patchy image (purity < 0.9) is one the evaluator may read as either background,
which costs style transfer's "keeps the background".

    python -m bench.background_patches --data DIR RUN [RUN ...]

It also asks, for runs with a style encoder, where style transfer loses the
background: per background of the style image x, the norm of S(x) and how often
G(S(x), t) keeps x's background.

writes bench/results/background_patches.md.
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np

from bench.machine import section_header
from tf_t2i.data.sources import shapes

RESULTS = pathlib.Path(__file__).parent / "results" / "background_patches.md"
SAMPLES = 8
PATCHY = 0.9


def level_counts(images: np.ndarray, masks: np.ndarray, margin: int) -> np.ndarray:
    """How many pixels away from the shape are nearest each background level.

    Args:
        images: float [N, H, W, 3] in [-1, 1].
        masks: float [N, H, W, 1], the real shape's mask (> 0 on the shape).
        margin: pixels the mask is grown by.

    Returns:
        int [N, len(shapes.BACKGROUNDS)].
    """
    import scipy.ndimage

    levels = np.array([v[0] for v in shapes.BACKGROUNDS.values()], np.float32)  # grey levels
    grey = (images.mean(axis=-1) + 1.0) * 127.5  # [N, H, W]
    nearest = np.argmin(np.abs(grey[..., None] - levels), axis=-1)
    return np.stack(
        [
            np.bincount(level[~scipy.ndimage.binary_dilation(mask, iterations=margin)],
                        minlength=len(levels))
            for level, mask in zip(nearest, masks[..., 0] > 0, strict=True)
        ]
    )  # fmt: skip


def purity(images: np.ndarray, masks: np.ndarray, margin: int) -> np.ndarray:
    """float [N]: the share of the commonest background level away from the shape."""
    counts = level_counts(images, masks, margin)
    return counts.max(axis=1) / np.maximum(counts.sum(axis=1), 1)


def backgrounds(images: np.ndarray, masks: np.ndarray, margin: int) -> np.ndarray:
    """int [N]: the commonest background level (index into shapes.BACKGROUNDS) away from the shape."""
    return level_counts(images, masks, margin).argmax(axis=1)


def transfer_rows(name: str, run, real: dict, margin: int, shifts: int) -> tuple[list, list]:
    """Per style-image background: |S(x)| and how often G(S(x), t) keeps x's background.

    t is x's own caption, or the caption of the test image `shift` places on, for shift
    1..`shifts` (other content; every x meets `shifts` other captions).

    Returns:
        (rows of the per-background table, rows of the table by the other caption's colour)
    """
    style = np.asarray(run.gan.style_encoder(real["images"], training=False))
    truth = backgrounds(real["images"], real["masks"], margin)
    colours = real["attributes"][:, : len(shapes.COLORS)].argmax(axis=1)
    own = _transfer(run, real["images"], real["embeddings"])
    kept_own = backgrounds(own, real["masks"], margin) == truth
    kept_other, other_colour = [], []
    for shift in range(1, shifts + 1):
        other = np.roll(np.arange(len(truth)), shift)
        moved = _transfer(run, real["images"], real["embeddings"][other])
        kept_other.append(backgrounds(moved, real["masks"][other], margin) == truth)
        other_colour.append(colours[other])
    kept_other, other_colour = np.stack(kept_other), np.stack(other_colour)  # [shifts, N]
    norms = np.linalg.norm(style, axis=1)
    rows, by_colour = [], []
    for k, background in enumerate(shapes.BACKGROUNDS):
        chosen = truth == k
        rows.append(
            f"| {name} | {background} | {chosen.sum()} | {norms[chosen].mean():.2f} "
            f"| {kept_own[chosen].mean():.2f} | {kept_other[:, chosen].mean():.2f} |"
        )
        cells = [
            kept_other[:, chosen][other_colour[:, chosen] == c].mean()
            for c in range(len(shapes.COLORS))
        ]
        by_colour.append(
            f"| {name} | {background} | " + " | ".join(f"{v:.2f}" for v in cells) + " |"
        )
    return rows, by_colour


def _transfer(run, images: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """G(S(x), t), float [N, H, W, C]."""
    return _batched(lambda x, t: run.gan.transfer_style(x, {"embeddings": t}), images, embeddings)


def _generate(run, embeddings: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """G(z, t), float [N, H, W, C]."""
    return _batched(lambda t, z: run.gan.generate({"embeddings": t}, noise=z), embeddings, noise)


def _batched(fn, *arrays: np.ndarray, size: int = 64) -> np.ndarray:
    """fn on `size` rows of every array at a time, the results concatenated."""
    n = len(arrays[0])
    return np.concatenate(
        [np.asarray(fn(*(a[i : i + size] for a in arrays))) for i in range(0, n, size)]
    )


def _row(name: str, values: np.ndarray, step) -> str:
    return (
        f"| {name} | {step} | {values.mean():.3f} | {np.mean(values < PATCHY):.3f} "
        f"| {len(values)} |"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run directories of shapes models")
    parser.add_argument("--data", required=True, help="the converted shapes data set")
    parser.add_argument("--captions", type=int, default=100)
    parser.add_argument("--margin", type=int, default=4)
    parser.add_argument(
        "--shifts", type=int, default=8, help="other captions per style image, for transfer"
    )
    args = parser.parse_args(argv)
    from tf_t2i.evaluation.evaluate import _collect_real
    from tf_t2i.training.run_dir import load_run

    data_dir = pathlib.Path(args.data).expanduser()
    real = _collect_real(data_dir, "test", args.captions)
    real_all, transfers, by_colour = _collect_real(data_dir, "test", 10**6), [], []
    rows = [_row("real test images", purity(real["images"], real["masks"], args.margin), "—")]
    print(rows[-1], flush=True)
    masks = np.repeat(real["masks"], SAMPLES, axis=0)
    embeddings = np.repeat(real["embeddings"], SAMPLES, axis=0)
    for run_dir in args.runs:
        run = load_run(run_dir)
        noise = np.random.default_rng(0).standard_normal(
            (len(embeddings), run.gan.model_config.z_dim)
        )
        images = _generate(run, embeddings, noise.astype("f4"))
        rows.append(_row(f"`{run_dir}`", purity(images, masks, args.margin), run.step))
        print(rows[-1], flush=True)
        if run.gan.style_encoder is not None:
            per_background, per_colour = transfer_rows(
                f"`{run_dir}` ({run.step})", run, real_all, args.margin, args.shifts
            )
            transfers += per_background
            by_colour += per_colour
    text = "\n".join(
        [
            *section_header(
                "Patchy backgrounds in shapes samples", "bench.background_patches", argv
            ),
            f"{SAMPLES} samples for each of the first {args.captions} test captions; purity ="
            " share of the commonest background level (black, gray, white) among the pixels"
            f" more than {args.margin} px from the real shape; patchy = purity < {PATCHY}.",
            "",
            "| images | step | mean purity | patchy share | images |",
            "|---|---|---|---|---|",
            *rows,
            "",
            "Style transfer by the style image's background (every test image as x; the"
            " background read off the pixels as above, not by the evaluator): the norm of"
            " S(x) (z ~ N(0, 1) in 100 dimensions has norm about 10), and the share of"
            " G(S(x), t) on x's background, with t x's own caption or another image's"
            f" ({args.shifts} other captions per style image).",
            "",
            "| run (step) | style background | images | mean norm of S(x) "
            "| keeps it, own caption | keeps it, other caption |",
            "|---|---|---|---|---|---|",
            *transfers,
            "",
            "Keeps it, other caption, by the other caption's colour (the data never draws"
            " yellow or cyan on white):",
            "",
            "| run (step) | style background | " + " | ".join(shapes.COLORS) + " |",
            "|---|---|" + "---|" * len(shapes.COLORS),
            *by_colour,
            "",
        ]
    )
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
