"""One GAN step on every replica, with the choice of G's turn made outside strategy.run.

An optimizer's all-reduce may not sit in a tf.cond inside `strategy.run` (TensorFlow
refuses the merge_call), so with `model.d_steps > 1` under several replicas the turn is
picked here, in cross-replica context, and each branch runs `strategy.run` itself.
"""

from __future__ import annotations

import functools

import tensorflow as tf


def replica_mean(strategy, per_replica: dict) -> dict:
    """The mean over replicas of each value of a per-replica dict."""
    return {
        key: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
        for key, value in per_replica.items()
    }


def gan_step(strategy, gan, batch, transform=None) -> dict:
    """Runs one ConditionalGAN step on a distributed batch; returns the replica-mean logs.

    Args:
        strategy: the tf.distribute strategy the GAN was built under.
        gan: a compiled ConditionalGAN.
        batch: a (distributed) batch dict.
        transform: optional function applied to each replica's batch first.

    Returns:
        dict of metric name -> scalar tensor.
    """

    def run(step_fn):
        def replica_fn(replica_batch):
            if transform is not None:
                replica_batch = transform(replica_batch)
            return step_fn(replica_batch)

        return replica_mean(strategy, strategy.run(replica_fn, args=(batch,)))

    if gan.model_config.d_steps == 1 or strategy.num_replicas_in_sync == 1:
        return run(gan.train_step)
    return tf.cond(
        gan.is_generator_turn(),
        lambda: run(functools.partial(gan.train_iteration, generator_turn=True)),
        lambda: run(functools.partial(gan.train_iteration, generator_turn=False)),
    )
