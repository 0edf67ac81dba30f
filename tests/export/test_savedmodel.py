"""The real export of a run: layout, model card, warm-up, saved_model_cli, a fresh process."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from tf_t2i.cli.main import cli
from tf_t2i.export.model_card import read_model_card
from tf_t2i.export.warmup import read_warmup_requests

VENV_BIN = os.path.dirname(sys.executable)


@pytest.fixture(scope="module")
def loaded(exported):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401

    return tf.saved_model.load(str(exported / "tiny" / "1"))


def _in_a_fresh_process(tmp_path, script_text, export_dir) -> np.ndarray:
    """The images `script_text` (FRESH, FRESH_LABELS) draws from an export in a new Python."""
    script = tmp_path / "fresh.py"
    script.write_text(script_text)
    npy = tmp_path / "fresh.npy"
    proc = subprocess.run(
        [sys.executable, str(script), str(export_dir), str(npy)],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return np.load(npy)


def test_export_writes_tf_serving_layout_and_model_card(exported, tiny_run):
    version = exported / "tiny" / "1"
    assert sorted(p.name for p in (exported / "tiny").iterdir()) == ["1"]  # no temp dir left
    assert (version / "variables" / "variables.index").is_file()
    card = read_model_card(version)
    assert card["name"] == "tiny" and card["version"] == 1
    assert card["run"] == {"dir": str(tiny_run), "step": 5}
    assert card["encoder"]["spec"] == "use-m3" and card["encoder"]["dim"] == 512
    assert len(card["encoder"]["fingerprint"]) == 16
    assert card["model_config"]["image_size"] == 32 and card["model_config"]["ngf"] == 8
    assert card["sampling"] == {"truncation": 0.0, "bound": 2.0}  # seeded noise is N(0, 1)
    assert card["training_config"]["name"] == "tiny"
    assert card["dataset"]["examples"] == {"train": 32, "test": 8}
    assert card["dataset"]["encoder"] == card["encoder"]
    assert card["dataset"]["class_names"] == ["circle", "square"]
    assert card["metrics"]["last_training"] == {"step": 5, "d_loss": 1.25, "g_loss": 0.75}
    assert card["metrics"]["evaluation"] == [{"event": "evaluate", "step": 5, "fid": 321.0}]
    assert sorted(card["signatures"]) == [
        "from_embedding",
        "interpolate",
        "serving_default",
        "style_transfer",
    ]
    default = card["signatures"]["serving_default"]
    assert default["inputs"]["noise"] == {"dtype": "float32", "shape": [-1, 16]}
    assert default["outputs"]["images"] == {"dtype": "uint8", "shape": [-1, 32, 32, 3]}


def test_warmup_requests_replay_on_the_export(exported, loaded):
    import tensorflow as tf

    requests = read_warmup_requests(exported / "tiny" / "1")
    assert {r.model_spec.signature_name for r in requests} == set(loaded.signatures)
    for request in requests:
        assert request.model_spec.name == "tiny"
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        out = getattr(loaded, request.model_spec.signature_name)(**inputs)
        assert out["images"].dtype == tf.uint8 and out["images"].shape[1:] == (32, 32, 3)


def test_exporting_into_an_existing_version_is_refused(exported, tiny_run, runner):
    result = runner.invoke(cli, ["export", str(tiny_run), "--out", str(exported), "--version", "1"])
    assert result.exit_code == 2
    assert "version 1 exists already" in result.output


def test_saved_model_cli_run_prints_images(exported, tmp_path):
    # saved_model_cli has no flag to load custom op libraries; TF Serving ships
    # tensorflow-text's ops, saved_model_cli needs them imported at start-up.
    (tmp_path / "sitecustomize.py").write_text("import tensorflow_text  # noqa: F401\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path), TF_CPP_MIN_LOG_LEVEL="2")
    command = [
        os.path.join(VENV_BIN, "saved_model_cli"),
        "run",
        "--dir",
        str(exported / "tiny" / "1"),
        "--tag_set",
        "serve",
        "--signature_def",
        "serving_default",
        "--input_exprs",
        'text=["a red circle"]',
    ]
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Result for output key images:" in out.stdout
    assert "Result for output key png_bytes:" in out.stdout
    assert "\\x89PNG" in out.stdout


FRESH = textwrap.dedent(
    """
    import sys
    import numpy as np
    import tensorflow as tf
    import tensorflow_text  # noqa: F401
    model = tf.saved_model.load(sys.argv[1])
    texts = tf.constant(["a red circle", "a red circle", "a blue square", "a blue square"])
    out = model.serving_default(text=texts, seed=tf.constant([7, 7, 7, 7], tf.int64))
    np.save(sys.argv[2], out["images"].numpy())
    assert not any(m.startswith("tf_t2i") for m in sys.modules), "tf_t2i was imported"
    """
)


def _t2i_generate(runner, out_dir, name, *source_and_conditions) -> np.ndarray:
    """`t2i generate SOURCE C1 C2 -n 2 --seed 7 -o OUT_DIR/NAME.png`: its four images, uint8."""
    out = out_dir / f"{name}.png"
    out_dir.mkdir(exist_ok=True)  # generate -o creates no folders
    args = ["generate", *map(str, source_and_conditions), "-n", "2", "--seed", "7", "-o", str(out)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    return np.stack([np.asarray(Image.open(out_dir / f"{name}-{i}.png")) for i in range(4)])


def test_fresh_process_reproduces_t2i_generate_from_the_run_dir(
    exported, tiny_run, tmp_path, runner
):
    from_run = _t2i_generate(
        runner, tmp_path / "gen", "out", tiny_run, "a red circle", "a blue square"
    )
    from_export = _in_a_fresh_process(tmp_path, FRESH, exported / "tiny" / "1")
    assert from_export.shape == (4, 32, 32, 3) and from_export.std() > 1.0
    np.testing.assert_array_equal(from_export, from_run)
    assert not np.array_equal(from_export[0], from_export[1])  # two seeds-rows, two images


FRESH_LABELS = textwrap.dedent(
    """
    import sys
    import numpy as np
    import tensorflow as tf
    model = tf.saved_model.load(sys.argv[1])
    labels = tf.constant([0, 0, 2, 2], tf.int64)
    out = model.serving_default(label=labels, seed=tf.constant([7, 7, 7, 7], tf.int64))
    np.save(sys.argv[2], out["images"].numpy())
    assert not any(m.startswith("tf_t2i") for m in sys.modules), "tf_t2i was imported"
    """
)


def test_a_truncated_run_samples_alike_in_process_in_the_export_and_through_the_server(
    tmp_path, runner
):
    from export_testing import TINY, running_server, write_run

    from tf_t2i.models.config import ModelConfig

    # class-conditioned: no text encoder to load; near-zero truncation: one image per class
    config = ModelConfig(conditions=["class"], num_classes=3, truncation=0.001, **TINY)
    write_run(tmp_path / "narrow", config)
    root = tmp_path / "savedmodels"
    result = runner.invoke(cli, ["export", str(tmp_path / "narrow"), "--out", str(root)])
    assert result.exit_code == 0, result.output
    card = read_model_card(root / "narrow" / "1")
    assert card["sampling"] == {"truncation": 0.001, "bound": 2.0}
    assert card["model_config"]["truncation"] == 0.001

    def generate(name, *source_and_extra):
        return _t2i_generate(runner, tmp_path / "gen", name, *source_and_extra)

    from_run = generate("run", str(tmp_path / "narrow"), "0", "2")
    np.testing.assert_array_equal(
        _in_a_fresh_process(tmp_path, FRESH_LABELS, root / "narrow" / "1"), from_run
    )
    with running_server(root) as server:
        remote = generate("remote", "--server", f"{server.url}/narrow", "0", "2")
    np.testing.assert_array_equal(remote, from_run)
    # |z| <= 0.002: both rows of a class give one image, to rounding; plain noise does not
    assert np.abs(from_run[0].astype(int) - from_run[1]).max() <= 2
    plain = generate("plain", str(tmp_path / "narrow"), "0", "2", "--truncation", "0")
    assert np.abs(plain[0].astype(int) - plain[1]).max() > 10


def test_export_refuses_a_run_whose_data_came_from_another_encoder(tmp_path, runner):
    from export_testing import TINY, write_manifest, write_run

    from tf_t2i.models.config import ModelConfig

    data_dir = write_manifest(tmp_path / "data", fingerprint="0123456789abcdef")
    write_run(tmp_path / "stale", ModelConfig(conditions=["text"], **TINY), data_dir=data_dir)
    out = tmp_path / "savedmodels"
    result = runner.invoke(cli, ["export", str(tmp_path / "stale"), "--out", str(out)])
    assert result.exit_code == 2
    assert "encoder fingerprint 0123456789abcdef" in result.output
    assert not (out / "stale").exists() or list((out / "stale").iterdir()) == []


def test_export_of_a_non_run_is_a_clear_error(tmp_path, runner):
    result = runner.invoke(cli, ["export", str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "not a tf_t2i run directory" in result.output
    assert not (tmp_path / "out" / tmp_path.name).exists() or not any(
        (tmp_path / "out" / tmp_path.name).iterdir()
    )


OPS_SCRIPT = textwrap.dedent(
    """
    import sys
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow.python.framework import op_def_registry
    saved = saved_model_pb2.SavedModel.FromString(open(sys.argv[1], "rb").read())
    graph = saved.meta_graphs[0].graph_def
    ops = {node.op for node in graph.node}
    for function in graph.library.function:
        ops |= {node.op for node in function.node_def}
    print(" ".join(sorted(op for op in ops if op_def_registry.get(op) is None)))
    """
)


def test_graph_uses_only_core_and_tensorflow_text_ops(exported, tmp_path):
    # A process with core TensorFlow only: every op it does not know must be
    # one of tensorflow-text's (which TF Serving's model server links in).
    script = tmp_path / "ops.py"
    script.write_text(OPS_SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script), str(exported / "tiny" / "1" / "saved_model.pb")],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    unknown = set(proc.stdout.split())
    assert unknown == {"SentencepieceOp", "SentencepieceTokenizeOp"}


def test_style_transfer_agrees_across_run_dir_export_and_server(
    exported, tiny_run, server, tmp_path, runner
):
    styles = []
    for name, value in (("dark", 20), ("light", 235)):
        path = tmp_path / f"{name}.png"
        pixels = np.full((40, 40, 3), value, np.uint8)
        pixels[10:30, 10:30] = 255 - value  # a square on the style's background
        Image.fromarray(pixels).save(path)
        styles += ["--style-from", str(path)]
    captions = ["a red circle", "a blue square in the center"]
    grids = []
    for source in ([str(tiny_run)], [str(exported / "tiny")], ["--server", f"{server.url}/tiny"]):
        out = tmp_path / f"styled-{len(grids)}.png"
        result = runner.invoke(
            cli, ["generate", *source, *styles, *captions, "--grid", "-o", str(out)]
        )
        assert result.exit_code == 0, result.output
        grids.append(np.asarray(Image.open(out)))
    assert grids[0].shape == (2 * 32, 2 * 32, 3)  # a row per style image, a column per caption
    np.testing.assert_array_equal(grids[0], grids[1])
    np.testing.assert_array_equal(grids[1], grids[2])
    dark, light = grids[0][:32].astype(int), grids[0][32:].astype(int)
    assert np.abs(dark - light).mean() > 1.0  # the style image changes the drawing
    assert not np.array_equal(dark[:, :32], dark[:, 32:])  # and so does the caption


def test_sampling_truncation_reads_the_card_and_is_plain_without_one():
    from tf_t2i.export.model_card import sampling_truncation

    assert sampling_truncation({"sampling": {"truncation": 0.7, "bound": 2.0}}) == 0.7
    assert sampling_truncation({"name": "old", "model_config": {}}) == 0.0  # before the record
    assert sampling_truncation(None) == 0.0  # an export without a card


def test_a_style_rotation_run_draws_alike_in_the_export_in_a_fresh_process(tmp_path, runner):
    from export_testing import TINY, write_run

    from tf_t2i.models.config import ModelConfig
    from tf_t2i.training.run_dir import load_run

    # G's turn by an angle of z (NoiseRotation) is a layer of its own: it must reach the graph
    config = ModelConfig(conditions=["class"], num_classes=3, style_rotation=0.25, **TINY)
    write_run(tmp_path / "turned", config)
    generator = load_run(tmp_path / "turned").gan.inference_generator
    assert "g_rotate" in [layer.name for layer in generator.layers]
    root = tmp_path / "savedmodels"
    result = runner.invoke(cli, ["export", str(tmp_path / "turned"), "--out", str(root)])
    assert result.exit_code == 0, result.output
    # the CPU kernels turn by an XLA function in training only: none may reach TF Serving
    graph = (root / "turned" / "1" / "saved_model.pb").read_bytes()
    assert b"NoiseRotation" in graph or b"g_rotate" in graph
    assert b"_XlaMustCompile" not in graph
    from_run = _t2i_generate(runner, tmp_path / "gen", "run", tmp_path / "turned", "0", "2")
    from_export = _in_a_fresh_process(tmp_path, FRESH_LABELS, root / "turned" / "1")
    assert from_export.std() > 1.0
    np.testing.assert_array_equal(from_export, from_run)
