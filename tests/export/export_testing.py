"""Helpers for the export tests: tiny runs, a stand-in text encoder, toy exports, a server thread.

Imported by tests/export/, tests/serving/ and tests/cli/ (as `from export_testing import ...`;
tests/conftest.py puts this folder on sys.path).
"""

import contextlib
import threading

import keras
import tensorflow as tf

from tf_t2i.models.config import ModelConfig

# A 32x32, ngf = ndf = 8 generator: small enough to export in seconds.
TINY = dict(image_size=32, ngf=8, ndf=8, z_dim=16, proj_dim=8)


def write_manifest(data_dir, fingerprint, spec="use-m3", dim=512):
    """A data set manifest (dataset.json) naming the encoder of its embeddings."""
    from tf_t2i.data.schema import Manifest
    from tf_t2i.data.schema import write_manifest as write

    data_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(
        schema_version=1,
        source={"name": "shapes", "options": {"num_images": 40}},
        image_size=32,
        channels=3,
        encoder={"spec": spec, "dim": dim, "fingerprint": fingerprint},
        splits={
            "train": {"num_examples": 32, "shards": []},
            "test": {"num_examples": 8, "shards": []},
        },
        class_names=["circle", "square"],
        captions_per_image=5,
    )
    write(data_dir, manifest)
    return data_dir


def write_run(run_dir, model_config, step=5, seed=0, data_dir=None):
    """Writes a run dir the way `t2i fit` does: config.json + checkpoints/ckpt-STEP.

    The generator's weights are moved away from their initial values (and the
    batch-norm statistics changed) so that a restore that silently failed
    would give different images.

    Returns:
        the ConditionalGAN whose weights were saved.
    """
    from tf_t2i.config import Config
    from tf_t2i.models.build import build_gan
    from tf_t2i.training.run_dir import make_checkpoint, write_config

    keras.mixed_precision.set_global_policy("float32")
    from tf_t2i.config import DataConfig

    config = Config(name=run_dir.name, model=model_config, data=DataConfig(dir=str(data_dir or "")))
    gan = build_gan(model_config, seed=seed)
    perturb(gan, seed)
    gan.step.assign(step)
    write_config(run_dir, config)
    manager = tf.train.CheckpointManager(make_checkpoint(gan), str(run_dir / "checkpoints"), 3)
    manager.save(checkpoint_number=step)
    return gan


def perturb(gan, seed=0):
    """Moves G's (and G_ema's and S's) weights off their initialisation, deterministically."""
    rng = tf.random.Generator.from_seed(seed)
    networks = [gan.generator, gan.generator_ema, gan.style_encoder]
    networks = [network for network in networks if network is not None]
    for network in networks:
        for variable in network.variables:
            if "moving_variance" in variable.path:
                variable.assign(tf.fill(variable.shape, 0.5))
            else:
                variable.assign(variable + 0.05 * rng.normal(variable.shape))


class HashEncoder(tf.Module):
    """A stand-in text encoder: string [N] -> float32 [N, D] by hashing (no USE needed)."""

    def __init__(self, dim):
        super().__init__()
        self.table = tf.Variable(tf.random.stateless_normal([97, dim], seed=[1, 2]))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, text):
        return tf.nn.embedding_lookup(self.table, tf.strings.to_hash_bucket_fast(text, 97))


def toy_module(conditions=("text",), style_encoder=False, **overrides):
    """A ServingModule around a freshly built tiny GAN and the HashEncoder.

    Returns:
        (ServingModule, ModelConfig).
    """
    from tf_t2i.export.serving_module import ServingModule
    from tf_t2i.models.build import build_gan

    keras.mixed_precision.set_global_policy("float32")
    values = dict(TINY, conditions=list(conditions), embedding_dim=16, style_encoder=style_encoder)
    values.update(overrides)
    config = ModelConfig(**values)
    gan = build_gan(config, seed=0)
    perturb(gan)
    encoder = HashEncoder(config.embedding_dim) if "text" in conditions else None
    module = ServingModule(gan.generator, config, encoder, gan.style_encoder)
    return module, config


def toy_export(root, name="toy", **kwargs):
    """Writes a toy SavedModel to root/name/<next version>; returns the ExportResult."""
    from tf_t2i.export.savedmodel import write_savedmodel

    module, _ = toy_module(**kwargs)
    return write_savedmodel(module, root, name)


@contextlib.contextmanager
def running_server(root, **limits):
    """A `t2i serve` server on a free port, serving in a thread; yields it."""
    from tf_t2i.serving.server import make_server

    server = make_server(root, port=0, **limits)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
