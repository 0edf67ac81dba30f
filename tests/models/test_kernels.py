"""The kernels gate (models/kernels.py): auto | cpu | stock, interchangeable checkpoints,
the same outputs for the same weights, and Adam's slots under either optimizer."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import make_batch, tiny_config

from tf_t2i.errors import T2IError
from tf_t2i.models.build import build_gan
from tf_t2i.models.cpu_conv import CpuConv2D, CpuConv2DTranspose
from tf_t2i.models.kernels import jit_compile, resolve_kernels
from tf_t2i.models.layers import CpuNoiseRotation, FusedBatchNormalization, NoiseRotation
from tf_t2i.models.optimizers import FusedAdam
from tf_t2i.training.run_dir import make_checkpoint


def _layer_types(gan) -> set:
    models = [gan.generator, gan.discriminator.get_layer("d_trunk")]
    if gan.style_encoder is not None:
        models.append(gan.style_encoder)
    return {type(layer) for model in models for layer in model.layers}


def test_auto_is_cpu_without_an_accelerator():
    assert not tf.config.list_logical_devices("GPU") and not tf.config.list_logical_devices("TPU")
    assert resolve_kernels("auto") == "cpu"
    assert resolve_kernels("stock") == "stock" and resolve_kernels("cpu") == "cpu"
    assert jit_compile("auto") is False and jit_compile("stock") == "auto"


def test_unknown_setting_is_a_clear_error():
    with pytest.raises(T2IError, match="model.kernels: 'gpu' is not one of auto, cpu, stock"):
        tiny_config(kernels="gpu").validate()
    with pytest.raises(T2IError, match="model.kernels: unknown value 'fast'"):
        resolve_kernels("fast")


def test_each_setting_builds_its_own_layers_and_optimizers():
    cpu = build_gan(tiny_config(kernels="auto", style_encoder=True))
    stock = build_gan(tiny_config(kernels="stock", style_encoder=True))
    assert {CpuConv2D, CpuConv2DTranspose, FusedBatchNormalization} <= _layer_types(cpu)
    assert type(cpu.g_optimizer) is FusedAdam and cpu.jit_compile is False
    types = _layer_types(stock)
    assert not types & {CpuConv2D, CpuConv2DTranspose, FusedBatchNormalization}
    assert {keras.layers.Conv2D, keras.layers.Conv2DTranspose} <= types
    assert keras.layers.BatchNormalization in types
    assert type(stock.g_optimizer) is keras.optimizers.Adam
    assert type(stock.s_optimizer) is keras.optimizers.Adam
    # The same weights and optimizer slots, by name, shape and order.
    for a, b in [(cpu, stock), (cpu.g_optimizer, stock.g_optimizer)]:
        assert [(v.path, v.shape) for v in a.variables] == [(v.path, v.shape) for v in b.variables]


def test_style_rotation_turns_by_the_compiled_layer_with_the_cpu_kernels_only():
    cpu = build_gan(tiny_config(kernels="cpu", style_rotation=0.25))
    stock = build_gan(tiny_config(kernels="stock", style_rotation=0.25))
    assert type(cpu.generator.get_layer("g_rotate")) is CpuNoiseRotation
    assert type(stock.generator.get_layer("g_rotate")) is NoiseRotation
    assert [(v.path, v.shape) for v in cpu.variables] == [
        (v.path, v.shape) for v in stock.variables
    ]


def _values(gan) -> list:
    objects = [gan, gan.d_optimizer, gan.g_optimizer]
    return [v.numpy() for obj in objects for v in obj.variables]


def _train(gan, steps, seed):
    for i in range(steps):
        logs = gan.train_step(make_batch(gan.model_config, batch_size=8, seed=seed + i))
    assert np.isfinite(float(logs["d_loss"])) and np.isfinite(float(logs["g_loss"]))


def test_checkpoints_interchange_cpu_stock_cpu(tmp_path):
    # Trained with the CPU kernels, continued with stock, then with the CPU kernels again:
    # every weight, optimizer slot and counter restores, and training goes on from them.
    settings = ["cpu", "stock", "cpu"]
    saved, expected = None, []
    for round_, kernels in enumerate(settings):
        gan = build_gan(tiny_config(kernels=kernels), seed=round_)
        checkpoint = make_checkpoint(gan)
        if saved is not None:
            checkpoint.restore(saved).assert_existing_objects_matched()
            for a, b in zip(expected, _values(gan), strict=True):
                np.testing.assert_array_equal(a, b)
            assert int(gan.step) == 2 * round_ and int(gan.g_optimizer.iterations) == 2 * round_
        _train(gan, 2, seed=10 * round_)
        expected = _values(gan)
        saved = checkpoint.save(str(tmp_path / "ckpt"))
    assert int(gan.step) == 6


def _copy(source, target):
    target.set_weights(source.get_weights())


@pytest.mark.parametrize(("policy", "tolerance"), [("float32", 1e-4), ("mixed_bfloat16", 0.03)])
def test_both_settings_give_the_same_outputs(policy, tolerance, float32_policy):
    # Tolerances relative to the largest output: float32 1e-4 (summation order);
    # bfloat16 3% (each layer rounds to 8 significant bits, a different order per kernel).
    keras.mixed_precision.set_dtype_policy(policy)
    config = dict(conditions=["text"], image_size=32)
    cpu = build_gan(tiny_config(kernels="cpu", **config), seed=0)
    stock = build_gan(tiny_config(kernels="stock", **config), seed=0)
    _copy(cpu.generator, stock.generator)
    _copy(cpu.discriminator, stock.discriminator)
    batch = make_batch(cpu.model_config, batch_size=8, seed=3, with_noise=True)
    g_inputs = {"noise": batch["noise"], "embeddings": batch["embeddings"]}
    d_inputs = {"images": batch["images"], "embeddings": batch["embeddings"]}
    for training in (True, False):
        for network, inputs in (("generator", g_inputs), ("discriminator", d_inputs)):
            a = getattr(cpu, network)(inputs, training=training)
            b = getattr(stock, network)(inputs, training=training)
            scale = float(tf.reduce_max(tf.abs(a)))
            np.testing.assert_allclose(a, b, atol=tolerance * scale, err_msg=network)
    # And the same gradients of D's loss for D's weights (the CPU kernels' backward passes).
    grads = []
    for gan in (cpu, stock):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(gan.discriminator(d_inputs, training=True) ** 2)
        grads.append(tape.gradient(loss, gan.discriminator.trainable_variables))
    # Relative norms: float32 1e-4; bfloat16 10%, because stock Keras sums the bias
    # gradient in bfloat16 (cpu_conv.bias_add sums it in float32).
    for a, b, v in zip(*grads, cpu.discriminator.trainable_variables, strict=True):
        relative = float(tf.norm(a - b) / tf.norm(a))
        assert relative < (1e-4 if policy == "float32" else 0.1), (v.path, relative)


def test_adam_slots_restore_across_fused_and_stock(tmp_path):
    variables = [tf.Variable(tf.ones([3, 2])), tf.Variable(tf.zeros([2]))]
    fused = FusedAdam(1e-3, beta_1=0.5, name="g_adam")
    fused.apply_gradients(zip([tf.ones([3, 2]), tf.ones([2])], variables, strict=True))
    path = tf.train.Checkpoint(optimizer=fused).save(str(tmp_path / "opt"))
    stock = keras.optimizers.Adam(1e-3, beta_1=0.5, name="g_adam")
    stock.build(variables)
    assert [v.path for v in stock.variables] == [v.path for v in fused.variables]
    tf.train.Checkpoint(optimizer=stock).restore(path).assert_existing_objects_matched()
    for a, b in zip(fused.variables, stock.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
