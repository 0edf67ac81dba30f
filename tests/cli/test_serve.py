"""`t2i serve` as a user runs it: a real subprocess answering TF Serving's REST API."""

import pathlib
import signal
import subprocess
import sys

import numpy as np

from tf_t2i.cli.main import cli
from tf_t2i.serving.client import GrpcClient, RestClient

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "export"))
from export_testing import toy_export  # noqa: E402

T2I = str(pathlib.Path(sys.executable).parent / "t2i")


def test_serve_subprocess_answers_predict_and_stops_on_ctrl_c(tmp_path):
    toy_export(tmp_path / "savedmodels", "toy")
    proc = subprocess.Popen(
        [
            T2I,
            "serve",
            str(tmp_path / "savedmodels"),
            "--port",
            "0",
            "--grpc-port",
            "0",
            "--max-batch",
            "4",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("serving on "):
                break
        assert lines and lines[-1].startswith("serving on "), "".join(lines) + proc.stderr.read()
        assert lines[0].startswith("gRPC PredictionService on 127.0.0.1:")
        assert lines[1].startswith("toy: versions [1] loaded at http://127.0.0.1:")
        url = lines[-1].split()[2]
        grpc_client = GrpcClient(lines[0].split()[-1], "toy")
        by_grpc = grpc_client.predict({"text": ["a red circle"], "seed": [1]})["images"]
        grpc_client.close()
        client = RestClient(url, "toy")
        out = client.predict({"text": ["a red circle"], "seed": [1]})
        assert out["images"].shape == (1, 32, 32, 3) and out["images"].dtype == np.uint8
        np.testing.assert_array_equal(out["images"], by_grpc)
        # the server refuses a batch of 5 ("exceeds the limit of 4"); the client splits it
        assert client.predict({"text": ["a"] * 5})["images"].shape[0] == 5
        assert client.max_batch == 4
    finally:
        proc.send_signal(signal.SIGINT)
        # communicate() drains the pipes, so a chatty server cannot block on a full one.
        _, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr[-2000:]


def test_serve_an_empty_root_is_a_clear_error(tmp_path, runner):
    result = runner.invoke(cli, ["serve", str(tmp_path), "--port", "0"])
    assert result.exit_code == 2
    assert "no exported models" in result.output
