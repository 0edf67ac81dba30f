"""Run as a script: train steps (one, or "steps" of the JSON) under MirroredStrategy (2 logical CPUs) vs one device.

Prints the largest absolute difference between the two updated weight sets, as JSON.
Run in its own process: logical devices must be set before TensorFlow initialises, and a
second MirroredStrategy in one process fails.
"""

import json
import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

import keras  # noqa: E402
import numpy as np  # noqa: E402
from conftest import make_batch, tiny_config  # noqa: E402

from tf_t2i.models.conditional_gan import ConditionalGAN  # noqa: E402
from tf_t2i.training.gan_step import gan_step  # noqa: E402


def sgd_gan(config):
    """SGD, unlike Adam's sign-like first step, moves weights in proportion to the gradient."""
    gan = ConditionalGAN(config, seed=0)
    style = keras.optimizers.SGD(0.1) if config.style_encoder else None
    gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1), style)
    return gan


def main():
    options = json.loads(sys.argv[1])
    steps = options.pop("steps", 1)
    # Seeded weights, so that every run gives the same verdict: with fresh weights each
    # run the difference was 3e-8 to 1.2e-7, but once 3.7e-5 (in CI), likely a unit near
    # a kink (leaky ReLU at 0) where the replicas' summation order decides the branch.
    keras.utils.set_random_seed(0)
    config = tiny_config(**options)
    batch = make_batch(config, batch_size=4, with_noise=True)

    single = sgd_gan(config)
    weights = single.get_weights()
    single_step = tf.function(single.train_step)
    for _ in range(steps):
        single_step(batch)

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        mirrored = sgd_gan(config)
    mirrored.set_weights(weights)
    dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(batch))
    distributed = next(iter(dataset))
    # as t2i fit runs it: strategy.run inside one tf.function
    mirrored_step = tf.function(lambda batch: gan_step(strategy, mirrored, batch))
    for _ in range(steps):
        logs = mirrored_step(distributed)
    n_replicas = strategy.num_replicas_in_sync
    diffs = [
        float(np.max(np.abs(a.numpy() - b.numpy()), initial=0.0))
        for a, b in zip(single.weights, mirrored.weights, strict=True)
    ]
    moved = [
        float(np.max(np.abs(a - b.numpy()), initial=0.0))
        for a, b in zip(weights, single.weights, strict=True)
    ]
    print(
        json.dumps(
            {
                "replicas": n_replicas,
                "max_diff": max(diffs),
                "max_moved": max(moved),
                "step": int(mirrored.step.numpy()),
                "d_loss": float(logs["d_loss"]),
            }
        )
    )


if __name__ == "__main__":
    main()
