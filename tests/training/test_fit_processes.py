"""`t2i fit` in real processes: resume after SIGKILL, two MultiWorkerMirrored workers.

Slow (each process imports TensorFlow and traces the step), so marked `large`.
"""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from fit_testing import TINY, checkpoint_weights, latest

T2I = str(pathlib.Path(sys.executable).parent / "t2i")
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def fit_command(run_dir, steps, *extra):
    return [T2I, "fit", *TINY, "--steps", str(steps), "--run-dir", str(run_dir), *extra]


def last_logged_step(run_dir) -> int:
    path = pathlib.Path(run_dir, "metrics.jsonl")
    steps = [0]
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                steps.append(json.loads(line)["step"])
            except (json.JSONDecodeError, KeyError):
                pass
    return max(steps)


@pytest.mark.large
def test_resume_after_sigkill_matches_an_uninterrupted_run(tmp_path):
    extra = ("--set", "train.checkpoint_every=4", "--set", "train.sample_every=100")
    steps = 14  # 5 steps per epoch: the kill and the resume cross epoch boundaries
    whole = subprocess.run(
        fit_command(tmp_path / "whole", steps, *extra),
        env=ENV, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert whole.returncode == 0, whole.stderr[-3000:]

    run_dir = tmp_path / "killed"
    process = subprocess.Popen(
        fit_command(run_dir, steps, *extra),
        env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 600
    while last_logged_step(run_dir) < 6 and time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it could be killed"
        time.sleep(0.05)
    killed_at = last_logged_step(run_dir)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 6 <= killed_at < steps
    saved = latest(run_dir)
    saved_step = int(saved.rsplit("-", 1)[1])
    assert killed_at - saved_step <= 4  # at most one checkpoint interval is lost

    again = subprocess.run(
        fit_command(run_dir, steps, *extra), env=ENV, capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"resumed from {saved} at step {saved_step}" in again.stderr
    assert f"step {steps}/{steps}" in again.stderr

    expected = checkpoint_weights(latest(tmp_path / "whole"))
    resumed = checkpoint_weights(latest(run_dir))
    assert int(resumed["step/.ATTRIBUTES/VARIABLE_VALUE"]) == steps
    assert expected.keys() == resumed.keys()
    for key in expected:
        np.testing.assert_allclose(resumed[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)
    logged = [
        json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()
    ]
    assert logged == list(range(1, steps + 1))  # no duplicated or missing steps


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.mark.large
def test_two_multi_worker_mirrored_workers_end_with_identical_weights(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        command = fit_command(
            tmp_path / f"w{index}", 4, "--strategy", "auto", "--set", "train.checkpoint_every=2",
            "--set", "train.sample_every=2", "--set", "model.sync_batch_norm=true",
        )  # fmt: skip
        env = dict(ENV, TF_CONFIG=json.dumps(tf_config))
        processes.append(
            subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    outputs = [process.communicate(timeout=600) for process in processes]
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err[-3000:]
    assert "MultiWorkerMirroredStrategy (2 replica(s), 2 worker(s))" in outputs[0][1]

    chief = latest(tmp_path / "w0")
    other = tf_latest(tmp_path / "w1" / "worker-1" / "checkpoints")
    assert chief.endswith("ckpt-4") and other.endswith("ckpt-4")
    first, second = checkpoint_weights(chief), checkpoint_weights(other)
    assert first.keys() == second.keys()
    # with synchronized batch norm even the moving statistics agree (without it
    # each worker keeps the statistics of its own half of the batch)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    initial_step_kernel = [k for k in first if k.startswith("g_optimizer/_trainable_variables/")]
    assert initial_step_kernel
    # the chief alone writes the run directory's outputs
    assert (tmp_path / "w0" / "samples" / "step_000004.png").is_file()
    assert not (tmp_path / "w1" / "samples").exists()


def tf_latest(directory):
    import tensorflow as tf

    return tf.train.latest_checkpoint(str(directory))
