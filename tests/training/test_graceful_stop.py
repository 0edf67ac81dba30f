"""SIGTERM and Ctrl-C stop `t2i fit` after the current step, with that step checkpointed."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

import pytest

from tf_t2i.training.stop import GracefulStop

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fit_testing import TINY, latest  # noqa: E402

T2I = pathlib.Path(sys.executable).parent / "t2i"
# checkpoints and grids far apart, so only the stop can save the step it ends at
SPARSE = ["--set", "train.checkpoint_every=100000", "--set", "train.sample_every=100000"]


def _logged_steps(run_dir) -> list[int]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    lines = path.read_text().splitlines()
    return [json.loads(line)["step"] for line in lines if '"step"' in line]


def _as_a_foreground_job():
    # a job a non-interactive shell put in the background (`make test &`, nohup, some
    # CI runners) inherits SIGINT ignored, and t2i fit rightly keeps it ignored; the
    # child here is the terminal's foreground job that Ctrl-C reaches
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(run_dir, steps, cwd):
    command = [str(T2I), "fit", *TINY, *SPARSE, "--steps", str(steps), "--run-dir", str(run_dir)]
    return subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_a_foreground_job,
    )


def _signal_after_steps(process, run_dir, signum, steps=3, timeout=300):
    deadline = time.monotonic() + timeout
    while len(_logged_steps(run_dir)) < steps:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no training steps were logged"
        time.sleep(0.2)
    process.send_signal(signum)
    return process.communicate(timeout=120)


def test_sigterm_checkpoints_the_current_step_and_a_rerun_continues_from_it(tmp_path):
    run_dir = tmp_path / "run"
    process = _start(run_dir, 100000, tmp_path)
    out, err = _signal_after_steps(process, run_dir, signal.SIGTERM)
    assert process.returncode == 128 + signal.SIGTERM, err[-3000:]

    step = _logged_steps(run_dir)[-1]  # the last step that ran, as metrics.jsonl has it
    assert step >= 3
    assert latest(run_dir).endswith(f"ckpt-{step}")  # saved, though checkpoint_every is 100000
    assert f"stopped by SIGTERM: step {step}/100000" in out
    assert f"stopped by SIGTERM at step {step} of 100000" in err
    assert "rerun the same command to continue" in err
    assert "Traceback" not in err
    assert not (run_dir / "samples" / "interpolation.png").exists()  # a stopped run: no final grids

    # the same command, with a budget just past the stop, continues from the saved step
    done = subprocess.run(
        [str(T2I), "fit", *TINY, *SPARSE, "--steps", str(step + 2), "--run-dir", str(run_dir)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"at step {step}" in done.stderr
    assert f"done: step {step + 2}/{step + 2} (2 steps" in done.stdout
    assert _logged_steps(run_dir)[-2:] == [step + 1, step + 2]
    assert (run_dir / "samples" / "interpolation.png").is_file()  # a finished run has them


def test_ctrl_c_stops_after_the_step_with_the_shells_status(tmp_path):
    run_dir = tmp_path / "run"
    process = _start(run_dir, 100000, tmp_path)
    out, err = _signal_after_steps(process, run_dir, signal.SIGINT, steps=2)
    assert process.returncode == 128 + signal.SIGINT, err[-3000:]
    step = _logged_steps(run_dir)[-1]
    assert latest(run_dir).endswith(f"ckpt-{step}")
    assert f"stopped by SIGINT: step {step}/100000" in out
    assert "KeyboardInterrupt" not in err and "Traceback" not in err


# === GracefulStop itself, in this process ===


def test_the_first_signal_is_recorded_and_the_second_stops_at_once():
    # Python's own Ctrl-C handler, also when pytest runs as a background job (SIGINT ignored)
    outer = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with GracefulStop() as stop:
            assert stop.requested is None
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # the handler runs between bytecodes of the main thread
            assert stop.requested == "SIGTERM" and stop.signum == signal.SIGTERM
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    finally:
        signal.signal(signal.SIGINT, outer)


def test_an_ignored_signal_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with GracefulStop() as stop:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            assert stop.requested is None
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_outside_the_main_thread_it_installs_nothing():
    seen = {}

    def body():
        stop = GracefulStop()
        with stop:
            seen["enabled"] = stop.enabled
            seen["handler"] = signal.getsignal(signal.SIGTERM)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == {"enabled": False, "handler": signal.getsignal(signal.SIGTERM)}
