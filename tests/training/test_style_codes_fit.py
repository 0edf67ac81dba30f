"""`t2i fit` with model.style_code_weight on shapes with style values: the style reader
trains with D, is checkpointed, and a resumed run equals an unbroken one; data without
style values is refused before any work, by the CLI without a traceback."""

import numpy as np
from click.testing import CliRunner
from fit_testing import TINY, checkpoint_weights, tiny_config

from tf_t2i.cli.main import cli
from tf_t2i.files import read_metrics
from tf_t2i.training.fit import fit
from tf_t2i.training.run_dir import load_run

CODES = (
    "data.options.style_values=true",
    "model.style_code_weight=1.0",
    "train.checkpoint_every=2",
)


def test_style_code_run_logs_its_terms_and_resumes_with_equal_weights(tmp_path):
    whole = fit(tiny_config("train.steps=4", *CODES), tmp_path / "a", log=lambda _: None)
    fit(tiny_config("train.steps=2", *CODES), tmp_path / "b", log=lambda _: None)
    second = fit(tiny_config("train.steps=4", *CODES), tmp_path / "b", log=lambda _: None)
    assert (second.start_step, second.step) == (2, 4)

    rows = [r for r in read_metrics(tmp_path / "a" / "metrics.jsonl") if "r_loss" in r]
    assert len(rows) == 4
    assert all(0 < r["r_loss"] <= 2 and 0 < r["g_style_codes"] <= 2 for r in rows)
    gan = load_run(tmp_path / "a").gan
    assert gan.model_config.num_style_codes == 1  # from the data's one value, the angle
    # the reader has its own optimizer, checkpointed with its weights
    reader = gan.style_reader.trainable_variables
    assert len(reader) == 8  # three convs and the dense layer, kernels and biases
    expected, resumed = checkpoint_weights(whole.checkpoint), checkpoint_weights(second.checkpoint)
    initial = checkpoint_weights(tmp_path / "b" / "checkpoints" / "ckpt-2")
    assert int(expected["r_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"]) == 4
    for i, variable in enumerate(reader):
        key = f"r_optimizer/_trainable_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE"
        assert expected[key].shape == tuple(variable.shape)
        np.testing.assert_array_equal(variable.numpy(), expected[key])  # restored
        assert not np.array_equal(initial[key], expected[key])  # and trained
    assert expected.keys() == resumed.keys()
    for key in expected:
        np.testing.assert_allclose(resumed[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_data_without_style_values_is_refused_by_name(tmp_path):
    run_dir = tmp_path / "run"
    args = [
        *TINY,
        "--steps",
        "2",
        "--set",
        "model.style_code_weight=1.0",
        "--run-dir",
        str(run_dir),
    ]
    result = CliRunner().invoke(cli, ["fit", *args])
    assert result.exit_code == 2, result.output
    assert "model.style_code_weight needs style values in the data" in result.output
    assert "style_values=true" in result.output and "Traceback" not in result.output
    assert not (run_dir / "checkpoints").exists()
