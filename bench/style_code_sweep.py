"""Does z's first dimension turn a shapes run's shapes? A sweep of it, read off the images.

For each kind with a symmetry, captions "a large {colour} {kind} in the center" for four
colours and --seeds noise vectors each (the run's own sampling, so its truncation); for
each, z's first dimension is set to each of --codes values and the rest kept. The
rotation reader of tf_t2i/evaluation/rotation.py reads every image's angle. Per kind:
the share readable at every code, the correlation of the read angle with the angle the
code asks for under model.style_code_weight (erf(z_0 / sqrt 2) * MAX_ANGLE), its slope
(1 = the code draws exactly that angle), and the spread of the angles over the seeds at
one code (what the rest of z draws). A run without style codes is the control: its z_0
is one noise dimension among many. --grid writes one row per kind (red, the first seed),
one column per code value.

    .venv/bin/python -m bench.style_code_sweep RUN [--seeds 16] [--grid PNG]

For runs on the built-in shapes data.
"""

import argparse
import math

import numpy as np

COLOURS = ("red", "green", "blue", "yellow")
CODES = (-1.5, -0.75, 0.0, 0.75, 1.5)


def sweep(run_dir, seeds: int, codes=CODES):
    """Images and read angles: {kind: (images [colours, seeds, codes, H, W, C],
    angles [colours, seeds, codes])}."""
    import tensorflow as tf

    from tf_t2i.data.sources.shapes import COLORS
    from tf_t2i.evaluation.rotation import SYMMETRY, read_angle
    from tf_t2i.models.sampling import sample_noise
    from tf_t2i.text.encoder import load_encoder
    from tf_t2i.training.run_dir import load_run

    run = load_run(run_dir)
    config = run.gan.model_config
    encoder = load_encoder(run.encoder_spec)
    base = sample_noise([seeds, config.z_dim], config.truncation, seed=0).numpy()  # [S, Z]
    noise = np.repeat(base[:, None], len(codes), axis=1)  # [S, K, Z]
    noise[:, :, 0] = np.asarray(codes)[None]
    out = {}
    for kind in SYMMETRY:
        captions = [f"a large {colour} {kind} in the center" for colour in COLOURS]
        embeddings = np.asarray(encoder.encode(captions))  # [C, D]
        count = len(COLOURS) * seeds * len(codes)
        conditions = {
            "embeddings": tf.constant(np.repeat(embeddings, seeds * len(codes), axis=0), tf.float32)
        }
        flat_noise = np.tile(noise.reshape(-1, config.z_dim), (len(COLOURS), 1))
        images = run.gan.generate(conditions, noise=tf.constant(flat_noise, tf.float32)).numpy()
        images = images.reshape(len(COLOURS), seeds, len(codes), *images.shape[1:])
        angles = np.array(
            [
                read_angle(images[c, s, k], kind, COLORS[colour])
                for c, colour in enumerate(COLOURS)
                for s in range(seeds)
                for k in range(len(codes))
            ]
        ).reshape(len(COLOURS), seeds, len(codes))
        assert angles.size == count
        out[kind] = (images, angles)
    return out


def table(results, codes=CODES) -> list[str]:
    """Markdown lines: one row per kind."""
    from tf_t2i.data.sources.shapes import MAX_ANGLE

    asked = np.array([math.erf(c / math.sqrt(2.0)) * MAX_ANGLE for c in codes])
    lines = [
        "| kind | readable | correlation with the code's angle | slope | angle sd at one code |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, (_, angles) in results.items():
        flat = angles.reshape(-1, len(codes))  # [colours * seeds, K]
        whole = ~np.isnan(flat).any(axis=1)  # read at every code
        if whole.sum() < 3:
            lines.append(f"| {kind} | {whole.mean():.2f} | - | - | - |")
            continue
        read = flat[whole]
        x = np.tile(asked, len(read))
        y = read.reshape(-1)
        correlation = float(np.corrcoef(x, y)[0, 1])
        slope = float(np.polyfit(x, y, 1)[0])
        spread = float(np.mean(np.std(read, axis=0)))
        lines.append(
            f"| {kind} | {whole.mean():.2f} | {correlation:.2f} | {slope:.2f} | {spread:.2f} |"
        )
    return lines


def write_grid(results, path) -> None:
    """One row per kind (the first colour and seed), one column per code value."""
    from PIL import Image

    rows = []
    for images, _ in results.values():
        row = [
            np.pad(image, ((1, 1), (1, 1), (0, 0)), constant_values=1.0) for image in images[0, 0]
        ]
        rows.append(np.concatenate(row, axis=1))
    grid = ((np.concatenate(rows, axis=0) + 1.0) * 127.5).clip(0, 255).astype(np.uint8)
    scale = max(1, 256 // grid.shape[0] * 2)
    Image.fromarray(grid).resize(
        (grid.shape[1] * scale, grid.shape[0] * scale), Image.Resampling.NEAREST
    ).save(path)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--grid", help="write the sweep's grid to this PNG")
    args = parser.parse_args(argv)
    results = sweep(args.run_dir, args.seeds)
    print("\n".join(table(results)))
    if args.grid:
        write_grid(results, args.grid)


if __name__ == "__main__":
    main()
