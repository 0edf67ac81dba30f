"""Shared settings of the training tests: a tiny, fast version of the default job."""

import pathlib

import numpy as np

# The default recipe shrunk: 96 shapes at 32 px, an 8-wide GAN, batch 16.
TINY = [
    "--image-size",
    "32",
    "--batch-size",
    "16",
    "--set",
    "data.options.num_images=96",
    "--set",
    "model.ngf=8",
    "--set",
    "model.ndf=8",
    "--set",
    "train.log_every=1",
    # the recipe's style-encoder phase adds 500 steps: the tests that need it turn it on
    "--set",
    "model.style_encoder=false",
]


def tiny_config(*overrides):
    """The default recipe shrunk like TINY (the CLI flags turned into --set keys)."""
    keys = [item for item in TINY if "=" in item]
    keys += [
        "model.image_size=32",
        "data.options.image_size=32",
        "train.batch_size=16",
        "train.sample_captions=[]",  # grid rows from the data: no encoder load
        "train.sample_rows=2",
        "train.samples_per_caption=2",
        "train.tensorboard=false",
    ]
    from tf_t2i.config import load_config

    return load_config("shapes", [*keys, *overrides])


def checkpoint_weights(prefix) -> dict[str, np.ndarray]:
    """Every tensor of a checkpoint (networks, optimizer slots, step, RNG) by key."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(prefix))
    skip = ("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter/.ATTRIBUTES/VARIABLE_VALUE")
    return {
        key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map() if key not in skip
    }


def latest(run_dir) -> str:
    import tensorflow as tf

    return tf.train.latest_checkpoint(str(pathlib.Path(run_dir) / "checkpoints"))
