"""Which of a shapes run's kinds show a rotation, and how much of its images' power is speckle.

`t2i evaluate` gives one share of unreadable rotations over the held-out captions. This
table splits it by kind and size: for each kind with a symmetry, captions
"a {size} {colour} {kind} {where}" for four colours, --seeds images each (fixed seeds, the
run's own sampling, so its truncation), read by the rotation reader of
tf_t2i/evaluation/rotation.py. A readable kind whose angles barely vary (sd far under the
real 0.14 of a uniform +-0.25 rad) is drawn upright; one whose sd is far above it is read
as noise. The last line is the share of the images' power at the 2-pixel period (the
speckle; the built-in 32x32 real images hold 0.0014).

For a run with `model.style_rotation` (G turns its image by an angle theta(z) that z
alone sets), the last column says whether the shapes follow that turn: the correlation
of the angles read off the images with theta(z), over the readable ones, and the slope
(-1: the shape turns with G's layer, the reader counting angles the other way round;
0: G's drawing undoes the turn).

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
    from tf_t2i.models.sampling import sample_noise
    from tf_t2i.text.encoder import load_encoder
    from tf_t2i.training.run_dir import load_run

    run = load_run(run_dir)
    encoder = load_encoder(run.encoder_spec)
    generator, config = run.gan.inference_generator, run.gan.model_config
    turn = generator.get_layer("g_rotate") if config.style_rotation > 0 else None
    lines = ["| size | kind | readable | angle sd (rad) | follows G's turn: corr (slope) |"]
    lines.append("|---|---|---:|---:|---:|")
    noise = sample_noise((seeds, config.z_dim), config.truncation, seed=0)
    noise = tf.tile(noise, [len(COLOURS), 1])  # the same seeds for every colour
    theta = turn.angles(noise).numpy() if turn is not None else None
    drawn = []
    for size, where in PLACES:
        for kind in SYMMETRY:
            captions = [f"a {size} {colour} {kind} {where}" for colour in COLOURS]
            embeddings = np.repeat(np.asarray(encoder.encode(captions)), seeds, axis=0)
            conditions = {"embeddings": tf.constant(embeddings, tf.float32)}
            images = run.gan.generate(conditions, noise=noise).numpy()
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
            follows = "-"
            if theta is not None and read.sum() >= 8:
                corr = np.corrcoef(theta[read], angles[read])[0, 1]
                follows = f"{corr:+.2f} ({np.polyfit(theta[read], angles[read], 1)[0]:+.2f})"
            lines.append(f"| {size} | {kind} | {read.mean():.2f} | {spread} | {follows} |")
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
