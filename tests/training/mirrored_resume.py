"""Run as a script: exact resume of `fit` under MirroredStrategy on 2 logical CPUs.

Trains 4 steps uninterrupted into ARGV[1]/a, and 2 steps then 2 more (resumed) into
ARGV[1]/b, both with one MirroredStrategy over two logical CPU devices; prints the
largest absolute difference between the two final checkpoints, as JSON. Run in its own
process: logical devices must be set before TensorFlow initialises, and a second
MirroredStrategy in one process fails.
"""

import json
import pathlib
import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

import numpy as np  # noqa: E402
from fit_testing import checkpoint_weights  # noqa: E402
from test_fit_loop import tiny_config  # noqa: E402

import tf_t2i.training.strategy as strategy_module  # noqa: E402
from tf_t2i.training.fit import fit  # noqa: E402

STRATEGY = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def main():
    root = pathlib.Path(sys.argv[1])
    strategy_module.resolve_strategy = lambda name: STRATEGY  # one strategy for every fit

    def run(steps, name):
        config = tiny_config(f"train.steps={steps}", "train.checkpoint_every=2")
        return fit(config, root / name, log=lambda message: None)

    whole = run(4, "a")
    run(2, "b")
    resumed = run(4, "b")
    expected, got = checkpoint_weights(whole.checkpoint), checkpoint_weights(resumed.checkpoint)
    diff = max(
        float(np.max(np.abs(got[key].astype(np.float64) - expected[key])))
        for key in expected
        if expected[key].dtype.kind == "f"
    )
    print(json.dumps({"replicas": STRATEGY.num_replicas_in_sync, "start": resumed.start_step,
                      "step": resumed.step, "max_abs_diff": diff}))  # fmt: skip


if __name__ == "__main__":
    main()
