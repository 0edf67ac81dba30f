"""`t2i fit` with model.pair_weight on shapes with pair images: the pair discriminator
trains, is checkpointed, and a resumed run equals an unbroken one; data without pair
images is refused before any work, by the CLI without a traceback."""

import numpy as np
from click.testing import CliRunner
from fit_testing import TINY, checkpoint_weights, tiny_config

from tf_t2i.cli.main import cli
from tf_t2i.files import read_metrics
from tf_t2i.training.fit import fit
from tf_t2i.training.run_dir import load_run

PAIRS = ("data.options.pairs=true", "model.pair_weight=1.0", "train.checkpoint_every=2")


def test_pair_discriminator_run_logs_its_terms_and_resumes_with_equal_weights(tmp_path):
    whole = fit(tiny_config("train.steps=4", *PAIRS), tmp_path / "a", log=lambda _: None)
    fit(tiny_config("train.steps=2", *PAIRS), tmp_path / "b", log=lambda _: None)
    second = fit(tiny_config("train.steps=4", *PAIRS), tmp_path / "b", log=lambda _: None)
    assert (second.start_step, second.step) == (2, 4)

    rows = [r for r in read_metrics(tmp_path / "a" / "metrics.jsonl") if "d_pair" in r]
    assert len(rows) == 4 and all(np.isfinite(r["d_pair"]) and r["g_pair"] > 0 for r in rows)
    expected, resumed = checkpoint_weights(whole.checkpoint), checkpoint_weights(second.checkpoint)
    # the pair D trains with D: its weights are the last of D's optimizer's (d_variables)
    gan = load_run(tmp_path / "a").gan
    pair = gan.pair_discriminator.trainable_variables
    offset = len(gan.d_variables) - len(pair)
    assert len(pair) >= 4  # D's trunk convs (the first with a bias) and the logit conv
    initial = checkpoint_weights(tmp_path / "b" / "checkpoints" / "ckpt-2")
    for i, variable in enumerate(pair):
        key = f"d_optimizer/_trainable_variables/{offset + i}/.ATTRIBUTES/VARIABLE_VALUE"
        np.testing.assert_array_equal(variable.numpy(), expected[key])  # restored
        assert expected[key].shape == tuple(variable.shape)
        assert not np.array_equal(initial[key], expected[key])  # and trained
    assert expected.keys() == resumed.keys()
    for key in expected:
        np.testing.assert_allclose(resumed[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_data_without_pair_images_is_refused_by_name(tmp_path):
    run_dir = tmp_path / "run"
    args = [*TINY, "--steps", "2", "--set", "model.pair_weight=1.0", "--run-dir", str(run_dir)]
    result = CliRunner().invoke(cli, ["fit", *args])
    assert result.exit_code == 2, result.output
    assert "model.pair_weight needs pair images" in result.output
    assert "data.options.pairs: true" in result.output and "Traceback" not in result.output
    assert not (run_dir / "checkpoints").exists()
