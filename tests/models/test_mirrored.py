"""A MirroredStrategy step over two logical CPUs equals the one-device step."""

import json
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent


MIRRORED_CASES = {
    "one step": {
        "conditions": ["text"],
        "cls": True,
        "interp": True,
        "sync_batch_norm": True,
        "ema_decay": 0.9,  # G_ema's update runs in cross-replica context: compared too
    },
    # a D-only step, then a D and G step: the updates sit in tf.cond's branches
    "d_steps 2": {
        "conditions": ["text"],
        "d_steps": 2,
        "ema_decay": 0.9,
        "sync_batch_norm": True,
        "steps": 2,
    },
    # spectral norm: each replica advances D's u from the same weights (D's u compared too)
    "spectral norm": {
        "conditions": ["text"],
        "spectral_norm": True,
        "projection": True,
        "sync_batch_norm": True,
    },
    # G turns its images by an angle of z: with the CPU kernels an XLA function and its
    # written-out gradients, called in each replica
    "style rotation": {
        "conditions": ["text"],
        "style_rotation": 0.25,
        "sync_batch_norm": True,
    },
    # S trains with G on the latent-regression term: S's weights are compared too
    "latent regression": {
        "conditions": ["text"],
        "style_encoder": True,
        "latent_regression_weight": 1.0,
        "sync_batch_norm": True,
    },
}


@pytest.mark.parametrize("case", sorted(MIRRORED_CASES))
def test_mirrored_step_matches_one_device(case):
    # Own process: logical devices must exist before TF starts; one MirroredStrategy per process.
    config = MIRRORED_CASES[case]
    result = subprocess.run(
        [sys.executable, str(HERE / "mirrored_step.py"), json.dumps(config)],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert report["step"] == config.get("steps", 1)
    assert report["max_moved"] > 1e-3  # the step really changed the weights...
    assert report["max_diff"] < 1e-5  # ...identically on one device and on two replicas
