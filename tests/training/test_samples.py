"""The noise of the grids `t2i fit` draws: as the model samples (model.truncation)."""

import numpy as np
import pytest
from fit_testing import tiny_config

from tf_t2i.training import samples


class NoiseRecorder:
    """A stand-in GAN whose generate() keeps the noise it was given."""

    def generate(self, conditions, noise=None, **kwargs):
        self.noise = np.asarray(noise)
        return self.noise


def test_grid_noise_of_a_plain_model_is_the_standard_normal_stream_of_before():
    config = tiny_config("model.truncation=0")  # the shapes recipe samples at 0.7
    expected = np.random.default_rng(3).standard_normal((4, config.model.z_dim))
    np.testing.assert_array_equal(samples.grid_noise(config, 3, 4), expected.astype(np.float32))


@pytest.mark.parametrize("truncation", [0.0, 0.5])
def test_interpolation_grid_samples_at_the_model_truncation(truncation):
    config = tiny_config(f"model.truncation={truncation}", "train.sample_captions=[a, b]")
    gan = NoiseRecorder()
    samples.interpolation_images(config, gan, np.zeros((2, 512), np.float32))
    rows, steps = samples.INTERPOLATION_ROWS, samples.INTERPOLATION_STEPS
    assert gan.noise.shape == (rows * steps, config.model.z_dim)
    assert gan.noise.dtype == np.float32
    first_of_each_row = gan.noise[::steps]
    expected = samples.grid_noise(config, config.train.seed + 1, rows)
    np.testing.assert_array_equal(first_of_each_row, expected)
    largest = np.abs(gan.noise).max()
    if truncation:
        assert truncation < largest <= 2.0 * truncation
    else:
        assert largest > 2.0
