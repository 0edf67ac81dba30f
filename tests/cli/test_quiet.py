"""cli/quiet.py: TensorFlow's C++ log lines are dropped, every other line of stderr kept."""

import os
import subprocess
import sys

from tf_t2i.cli import quiet

# lines TensorFlow 2.21 prints on this machine (from `t2i fit` before the fix)
LOG_LINES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796318564.061576   27909 port.cc:153] oneDNN custom operations are on.",
    "I0000 00:00:1796318564.061932   27909 cudart_stub.cc:31] Could not find cuda drivers",
    "E0000 00:00:1796318602.134123   27909 cuda_platform.cc:52] failed call to cuInit: INTERNAL",
    "W1203 17:02:11.123456    1234 some_file.cc:12] a warning with a wall-clock time",
]


def test_log_line_pattern():
    assert all(quiet.C_LOG_LINE.match(line) for line in LOG_LINES)
    kept = ["Traceback (most recent call last):", "UserWarning: x", "E: something", "I0000"]
    assert not any(quiet.C_LOG_LINE.match(line) for line in kept)


def test_filtered_stderr_drops_log_lines_and_keeps_the_rest(capfd):
    with quiet._filtered_stderr():
        os.write(2, ("\n".join(LOG_LINES[:3]) + "\nDeprecationWarning: kept\n").encode())
        print("from python", file=sys.stderr)
    captured = capfd.readouterr()
    assert "DeprecationWarning: kept" in captured.err and "from python" in captured.err
    assert "I0000" not in captured.err and "absl" not in captured.err


def test_import_of_tensorflow_is_quiet_and_errors_still_show():
    code = (
        "import sys; from tf_t2i.cli.quiet import set_tensorflow_logging;"
        "set_tensorflow_logging(False); import tensorflow as tf;"
        "print('imported', file=sys.stderr);"
        "tf.reshape(tf.constant([1, 2, 3]), [2, 2])"
    )
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[0] == "imported", done.stderr[:2000]  # nothing from TensorFlow before it
    assert "InvalidArgumentError" in done.stderr and "Input to reshape" in done.stderr
    assert not any(quiet.C_LOG_LINE.match(line) for line in lines)
