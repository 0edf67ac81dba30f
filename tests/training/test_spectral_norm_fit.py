"""`t2i fit` with model.spectral_norm: u is checkpointed and a resumed run equals an unbroken one."""

import numpy as np
from fit_testing import checkpoint_weights, tiny_config

from tf_t2i.training.fit import fit


def test_spectral_norm_run_resumes_with_equal_weights_and_u(tmp_path):
    every = ("train.checkpoint_every=2", "model.spectral_norm=true")
    whole = fit(tiny_config("train.steps=4", *every), tmp_path / "a", log=lambda _: None)
    fit(tiny_config("train.steps=2", *every), tmp_path / "b", log=lambda _: None)
    second = fit(tiny_config("train.steps=4", *every), tmp_path / "b", log=lambda _: None)
    assert (second.start_step, second.step) == (2, 4)

    expected, resumed = checkpoint_weights(whole.checkpoint), checkpoint_weights(second.checkpoint)
    u_keys = [key for key in expected if "spectral_u" in key]
    assert len(u_keys) >= 5  # D's three convs, its joint and logit convs, the projection
    initial = checkpoint_weights(tmp_path / "b" / "checkpoints" / "ckpt-2")
    moved = [key for key in u_keys if not np.array_equal(initial[key], expected[key])]
    # u moved, except the logit conv's: one output, so u is +-1 from the start
    assert [key for key in u_keys if key not in moved and expected[key].size > 1] == []
    assert len(moved) == len(u_keys) - 1
    assert expected.keys() == resumed.keys()
    for key in expected:
        np.testing.assert_allclose(resumed[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)
