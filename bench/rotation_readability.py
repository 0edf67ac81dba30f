"""Which of a shapes run's kinds show a rotation, and how much of its images' power is speckle.

`t2i evaluate` gives one share of unreadable rotations over the held-out captions. This
table splits it by kind and size: for each kind with a symmetry, captions
"a {size} {colour} {kind} {where}" for four colours, --seeds images each (fixed seeds, the
run's own sampling, so its truncation), read by the rotation reader of
tf_t2i/evaluation/rotation.py. A readable kind whose angles barely vary (sd far under the
real 0.14 of a uniform +-0.25 rad) is drawn upright; one whose sd is far above it is read
as noise. The last line is the share of the images' power at the 2-pixel period (the
speckle; the built-in 32x32 real images hold 0.0014).

    .venv/bin/python -m bench.rotation_readability RUN [--seeds 32]

For runs on the built-in shapes data.
"""

import argparse

import numpy as np

COLOURS = ("red", "green", "blue", "yellow")
PLACES = (("large", "in the center"), ("small", "in the top left corner"))


def period2_share(images: np.ndarray) -> float:
    """Share of the images' power (mean removed per image) at the 2-pixel period."""
    centred = images - images.mean(axis=(1, 2), keepdims=True)
    power = (np.abs(np.fft.fft2(centred, axes=(1, 2))) ** 2).mean(axis=(0, 3))
    rows, cols = power.shape
    highest = np.maximum.outer(np.abs(np.fft.fftfreq(rows)), np.abs(np.fft.fftfreq(cols)))
    return float(power[highest == 0.5].sum() / power.sum())


def table(run_dir, seeds: int) -> list[str]:
    """Markdown lines: one row per (size, kind)."""
    import tensorflow as tf

    from tf_t2i.data.sources.shapes import COLORS
    from tf_t2i.evaluation.rotation import SYMMETRY, read_angle
    from tf_t2i.text.encoder import load_encoder
    from tf_t2i.training.run_dir import load_run

    run = load_run(run_dir)
    encoder = load_encoder(run.encoder_spec)
    lines = ["| size | kind | readable | angle sd (rad) |", "|---|---|---:|---:|"]
    drawn = []
    for size, where in PLACES:
        for kind in SYMMETRY:
            captions = [f"a {size} {colour} {kind} {where}" for colour in COLOURS]
            embeddings = np.repeat(np.asarray(encoder.encode(captions)), seeds, axis=0)
            conditions = {"embeddings": tf.constant(embeddings, tf.float32)}
            images = run.gan.generate(conditions, seed=0).numpy()
            drawn.append(images)
            colours = np.repeat(COLOURS, seeds)
            angles = np.array(
                [
                    read_angle(image, kind, COLORS[c])
                    for image, c in zip(images, colours, strict=True)
                ]
            )
            read = ~np.isnan(angles)
            spread = f"{np.std(angles[read]):.2f}" if read.any() else "-"
            lines.append(f"| {size} | {kind} | {read.mean():.2f} | {spread} |")
    lines.append(f"\nPower at the 2-pixel period: {period2_share(np.concatenate(drawn)):.4f}")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--seeds", type=int, default=32)
    args = parser.parse_args(argv)
    print("\n".join(table(args.run_dir, args.seeds)))


if __name__ == "__main__":
    main()
