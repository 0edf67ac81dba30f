"""A MirroredStrategy step over two logical CPUs equals the one-device step."""

import json
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def test_mirrored_step_matches_one_device():
    # Own process: logical devices must exist before TF starts; one MirroredStrategy per process.
    config = {
        "conditions": ["text"],
        "cls": True,
        "interp": True,
        "sync_batch_norm": True,
        "ema_decay": 0.9,  # G_ema's update runs in cross-replica context: compared too
    }
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
    assert report["step"] == 1
    assert report["max_moved"] > 1e-3  # the step really changed the weights...
    assert report["max_diff"] < 1e-5  # ...identically on one device and on two replicas
