"""The moving average of G's weights (G_ema) that samples, evaluation and export draw from."""

from __future__ import annotations

import keras
import tensorflow as tf


def update_moving_average(average: keras.Model, model: keras.Model, step, decay: float) -> None:
    """average <- average + (1 - d) (model - average) for every weight (batch-norm statistics too).

    d = min(decay, (1 + t) / (10 + t)) at step t, so that early averages do not hold on to the
    initial weights. Runs in cross-replica context (merge_call), like an optimizer's apply, so
    that each replica's copy gets the same update.

    Args:
        average: G_ema, a model with the same weights as `model`.
        model: G.
        step: int tensor or variable, the training step t.
        decay: the configured decay, in [0, 1).
    """
    pairs = [(a.value, w.value) for a, w in zip(average.weights, model.weights, strict=True)]

    def update(strategy, pairs):
        t = tf.cast(step, tf.float32)
        rate = 1.0 - tf.minimum(decay, (1.0 + t) / (10.0 + t))
        for target, weight in pairs:
            strategy.extended.update(
                target,
                lambda a, w: a.assign_add(tf.cast(rate, a.dtype) * (w - a)),
                args=(weight,),
                group=False,
            )

    tf.__internal__.distribute.interim.maybe_merge_call(update, tf.distribute.get_strategy(), pairs)
