"""Retrains a finished shapes run's style encoder (G frozen) with other loss weights.

Is style transfer's lost background S's fault? Each variant restores the run, trains
S STEPS more steps (fresh Adam 2e-4, beta1 0.5, batch 32) on Reed's ||z - S(G(z, c))||^2
plus w_rec * |G(S(x), c_x) - x| on real images (the recipe has w_rec = 1, next to an L2
term summed over 100 dimensions) and w_cyc * |G(S(G(z, c)), c) - G(z, c)|, then reads
the background of G(S(x), t) off the pixels (bench/background_patches.py) for every
test image x with another image's caption t.

    python -m bench.style_encoder_variants RUN STEPS --data DIR
    python -m bench.style_encoder_variants RUN 0 --data DIR --refine 10 30 100

Prints one line per variant (recorded by hand in bench/results/background_patches.md).
With --refine N..., instead: z starts at S(x) and takes N Adam steps (lr 0.05) on
|G(z, c_x) - x|, the inversion-by-optimisation that refines an encoder's guess; does
G(z, t) then keep x's background?
"""

import argparse
import pathlib
import time

import keras
import numpy as np
import tensorflow as tf

from bench.background_patches import backgrounds
from tf_t2i import losses
from tf_t2i.data.input import make_dataset
from tf_t2i.data.sources import shapes
from tf_t2i.evaluation.evaluate import _collect_real
from tf_t2i.training.run_dir import load_run

VARIANTS = [("control rec 1", 1.0, 0.0), ("rec 100", 100.0, 0.0),
            ("rec 100 + cycle 100", 100.0, 100.0)]  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("steps", type=int)
    parser.add_argument("--data", required=True)
    parser.add_argument("--refine", type=int, nargs="+", default=[])
    args = parser.parse_args(argv)
    data = pathlib.Path(args.data).expanduser()
    real = _collect_real(data, "test", 10**6)
    truth = backgrounds(real["images"], real["masks"], 4)
    other = np.roll(np.arange(len(truth)), 1)
    if args.refine:
        refine(args.run, real, truth, other, args.refine)
        return
    for name, w_rec, w_cyc in VARIANTS:
        gan = load_run(args.run).gan
        encoder, generator = gan.style_encoder, gan.inference_generator
        optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
        batches = iter(make_dataset(data, "train", 32, training=True, repeat=True, seed=0))
        z_dim = gan.model_config.z_dim

        @tf.function
        def step(batch, encoder=encoder, generator=generator, optimizer=optimizer,
                 w_rec=w_rec, w_cyc=w_cyc, z_dim=z_dim):  # fmt: skip
            z = tf.random.normal((tf.shape(batch["images"])[0], z_dim))
            c = {"embeddings": batch["embeddings"]}
            fake = generator({"noise": z, **c}, training=False)
            with tf.GradientTape() as tape:
                loss = losses.style_encoder_loss(z, encoder(fake, training=True))
                style = encoder(batch["images"], training=True)
                redrawn = generator({"noise": style, **c}, training=False)
                rec = losses.reconstruction_loss(batch["images"], redrawn)
                loss += w_rec * rec
                if w_cyc:
                    cycled = generator({"noise": encoder(fake, training=True), **c}, training=False)
                    loss += w_cyc * losses.reconstruction_loss(fake, cycled)
                loss = tf.reduce_mean(loss)
            variables = encoder.trainable_variables
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
            return loss, tf.reduce_mean(rec)

        started = time.time()
        for _ in range(args.steps):
            loss, rec = step(next(batches))
        _kept(
            f"{name}: {args.steps} more S steps in {time.time() - started:.0f}s, loss "
            f"{float(loss):.1f}, rec {float(rec):.3f}",
            gan,
            encoder(real["images"], training=False),
            real,
            truth,
            other,
        )


def _kept(name, gan, style, real, truth, other):
    """Prints how often G(style, t) keeps x's background, overall and per background
    (with `style` = S(x), this is style transfer)."""
    moved = np.asarray(
        gan.inference_generator(
            {
                "noise": tf.convert_to_tensor(style),
                "embeddings": tf.constant(real["embeddings"][other]),
            },
            training=False,
        )
    )
    kept = backgrounds(moved, real["masks"][other], 4) == truth
    norms = np.linalg.norm(np.asarray(style), axis=1)
    per = " ".join(
        f"{b} {kept[truth == k].mean():.2f} (|z| {norms[truth == k].mean():.1f})"
        for k, b in enumerate(shapes.BACKGROUNDS)
    )
    print(f"{name}: keeps bg overall {kept.mean():.3f}: {per}", flush=True)


def refine(run_dir, real, truth, other, checkpoints):
    gan = load_run(run_dir).gan
    images = tf.constant(real["images"])
    conditions = {"embeddings": tf.constant(real["embeddings"])}
    z = tf.Variable(gan.style_encoder(images, training=False))
    optimizer = keras.optimizers.Adam(0.05)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            drawn = gan.inference_generator(
                {"noise": tf.convert_to_tensor(z), **conditions}, training=False
            )
            loss = tf.reduce_mean(tf.abs(drawn - images))
        optimizer.apply_gradients([(tape.gradient(loss, z), z)])
        return loss

    _kept("S(x)", gan, z, real, truth, other)
    for i in range(1, max(checkpoints) + 1):
        loss = step()
        if i in checkpoints:
            _kept(
                f"refined {i} steps (|G(z, c_x) - x| {float(loss):.3f})", gan, z, real, truth, other
            )


if __name__ == "__main__":
    main()
