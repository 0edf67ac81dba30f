"""The field's published layouts end to end, as a user runs them: `t2i convert`
(StackGAN pickles, Reed's .t7 files, DF-GAN's DAMSM pickle), `t2i fit` with the
cub recipe for a few steps, `t2i export`, and `t2i evaluate --protocol` with a
tiny Inception GraphDef and a published-style .npz."""

import json
import pathlib
import sys

import numpy as np
import pytest

from tf_t2i.cli.main import cli

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO_ROOT / "tests" / "data"), str(REPO_ROOT / "tests" / "evaluation")]
from inception_fixture import FEATURES, write_graph  # noqa: E402
from legacy_layouts import make_damsm, make_reed_t7, make_stackgan  # noqa: E402

LAYOUTS = {
    # layout: (writer, convert options, data.encoder for fit)
    "stackgan": (make_stackgan, [], "precomputed"),
    "reed-t7": (make_reed_t7, ["-o", "embedding_dim=16"], "precomputed"),
    "damsm": (make_damsm, [], "use-m3"),
}
TINY_FIT = ["--image-size", "32", "--batch-size", "4", "--steps", "2",
            "--set", "model.ngf=8", "--set", "model.ndf=8"]  # fmt: skip


def _run(runner, args):
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def inception(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inception")
    graph = write_graph(folder / "classify_image_graph_def.pb")
    np.savez(folder / "bird_val.npz", mu=np.full(FEATURES, 0.2), sigma=np.eye(FEATURES) * 0.05)
    return graph, folder / "bird_val.npz"


@pytest.mark.large  # three conversions and trainings: ~30 s each on a busy 2-core host
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_layout_converts_trains_and_evaluates(layout, tmp_path, runner, inception):
    write, options, encoder = LAYOUTS[layout]
    root, data, run = write(tmp_path / "raw"), tmp_path / "data", tmp_path / "run"
    _run(runner, ["convert", layout, str(root), "--out", str(data), "--image-size", "32",
                  "--stored-size", "36", "--quiet", *options])  # fmt: skip
    manifest = json.loads((data / "dataset.json").read_text())
    assert manifest["splits"]["test"]["num_examples"] == 3
    assert (manifest["encoder"]["spec"] == "char-cnn-rnn (precomputed, 16-d)") == (
        encoder == "precomputed")  # fmt: skip
    _run(runner, ["fit", "--config", "cub", "--data", str(data), "--run-dir", str(run),
                  "--set", f"data.encoder={encoder}", *TINY_FIT])  # fmt: skip
    graph, reference = inception
    out = tmp_path / "metrics.json"
    printed = _run(runner, ["evaluate", str(run), "--data", str(data), "--protocol", "dfgan-cub",
                            "--inception-graph", str(graph), "--reference-stats", str(reference),
                            "--out", str(out)])  # fmt: skip
    figures = json.loads(out.read_text())
    assert figures["protocol_line"] in printed and np.isfinite(figures["fid"])
    settings = figures["settings"]
    assert settings["num_samples"] == 30 and settings["truncation"]["scale"] == 0.88
    assert settings["feature_network"]["output"] == "pool_3:0"
    assert settings["reference_stats"]["file"] == str(reference)
    logged = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert logged["event"] == "evaluate" and logged["fid"] == figures["fid"]
