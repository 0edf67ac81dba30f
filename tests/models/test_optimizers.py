"""FusedAdam updates as keras.optimizers.Adam does, in one kernel per dense variable."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_t2i.models.optimizers import FusedAdam


def _run(optimizer_cls, gradients, **kwargs):
    """The variables after applying each list of gradients in turn."""
    variables = [
        keras.Variable(np.linspace(-1, 1, 12).reshape(3, 4), name="w"),
        keras.Variable(np.arange(5, dtype="float32"), name="b"),
    ]
    optimizer = optimizer_cls(**kwargs)
    for grads in gradients:
        optimizer.apply(grads, variables)
    return [v.numpy() for v in variables], optimizer


def _gradients(steps, sparse=False):
    rng = np.random.default_rng(0)
    out = []
    for _ in range(steps):
        dense = tf.constant(rng.normal(size=(3, 4)), tf.float32)
        if sparse:
            dense = tf.IndexedSlices(tf.gather(dense, [0, 2]), tf.constant([0, 2]), [3, 4])
        out.append([dense, tf.constant(rng.normal(size=5), tf.float32)])
    return out


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(learning_rate=2e-4, beta_1=0.5),  # Reed's
        dict(learning_rate=keras.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5, True)),
        dict(learning_rate=0.05, amsgrad=True),  # Keras's own update
    ],
)
@pytest.mark.parametrize("sparse", [False, True])
def test_updates_equal_keras_adam(kwargs, sparse):
    gradients = _gradients(6, sparse)
    expected, _ = _run(keras.optimizers.Adam, gradients, **kwargs)
    got, optimizer = _run(FusedAdam, gradients, **kwargs)
    assert int(optimizer.iterations) == 6
    for a, b in zip(got, expected, strict=True):  # float32 rounding of steps up to 0.1
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert not np.allclose(got[1], np.arange(5))  # the variables moved


def test_dense_update_is_one_fused_kernel():
    variable = keras.Variable(tf.zeros([4]))
    optimizer = FusedAdam(1e-3)
    optimizer.build([variable])

    @tf.function
    def apply(grad):
        optimizer.apply([grad], [variable])

    graph = apply.get_concrete_function(tf.ones([4])).graph
    types = [op.type for op in graph.get_operations()]
    assert types.count("ResourceApplyAdam") == 1
    assert "Sqrt" not in types  # not Keras's element-wise update


def test_serialization_round_trip():
    optimizer = FusedAdam(2e-4, beta_1=0.5, name="g_adam")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(optimizer))
    assert type(restored) is FusedAdam and restored.get_config() == optimizer.get_config()
