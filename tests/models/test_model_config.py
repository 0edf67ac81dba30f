"""ModelConfig: defaults, geometry, dict round trip, and errors that name the field."""

import pytest

from tf_t2i.errors import T2IError
from tf_t2i.models.config import ModelConfig


def test_defaults_are_reeds():
    config = ModelConfig()
    assert (config.image_size, config.z_dim, config.ngf, config.ndf) == (64, 100, 64, 64)
    assert config.conditions == ["text"] and config.proj_dim == 128
    assert config.cls and config.interp and config.interp_beta == 0.5
    assert config.real_label == 0.9 and config.d_steps == 1
    assert (config.base_size, config.num_blocks) == (4, 4)
    assert config.uses_cls and config.uses_interp


@pytest.mark.parametrize("size, base, blocks", [(28, 7, 2), (32, 4, 3), (64, 4, 4), (128, 4, 5)])
def test_geometry(size, base, blocks):
    config = ModelConfig(image_size=size)
    assert (config.base_size, config.num_blocks) == (base, blocks)


def test_dict_round_trip():
    config = ModelConfig(conditions=["text", "mask"], mask_resolutions=[8, 32], cls=False)
    assert ModelConfig.from_dict(config.to_dict()) == config


def test_mask_resolutions():
    config = ModelConfig(conditions=["mask"])
    assert config.generator_mask_resolutions() == [4, 8, 16, 32]
    assert config.discriminator_mask_resolutions() == [64, 32, 16, 8, 4]
    config = ModelConfig(conditions=["mask"], mask_resolutions=[4, 64])
    assert config.generator_mask_resolutions() == [4]
    assert config.discriminator_mask_resolutions() == [64, 4]
    assert ModelConfig().generator_mask_resolutions() == []


def test_cls_and_interp_need_fitting_conditions():
    assert not ModelConfig(conditions=[]).uses_cls
    assert not ModelConfig(conditions=["mask"]).uses_cls
    assert ModelConfig(conditions=["class"], num_classes=3).uses_cls
    assert not ModelConfig(conditions=["class"], num_classes=3).uses_interp
    assert ModelConfig(conditions=["attributes"], num_attributes=3).uses_interp


@pytest.mark.parametrize(
    "values, field",
    [
        ({"image_size": 48}, "model.image_size"),
        ({"channels": 2}, "model.channels"),
        ({"conditions": ["sound"]}, "model.conditions"),
        ({"conditions": ["attributes"]}, "model.num_attributes"),
        ({"conditions": ["class"]}, "model.num_classes"),
        ({"conditions": ["mask"], "mask_resolutions": [5]}, "model.mask_resolutions"),
        ({"interp_beta": 1.5}, "model.interp_beta"),
        ({"real_label": 0.0}, "model.real_label"),
        ({"d_steps": 0}, "model.d_steps"),
        ({"style_rotation": -0.1}, "model.style_rotation"),
        ({"style_rotation": 1.6}, "model.style_rotation"),
        ({"style_rotation": 0.2, "conditions": ["text", "mask"]}, "model.style_rotation"),
        ({"g_lr": -1.0}, "model.g_lr"),
        ({"colour": 1}, "unknown field"),
    ],
)
def test_errors_name_the_field(values, field):
    with pytest.raises(T2IError, match=field):
        ModelConfig.from_dict(values)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("label_smoothing", "real_label"),
        ("aux_classifier", "aux_weight"),
        ("mode_seeking", "mode_seeking_weight"),
        ("style_reconstruction", "style_reconstruction_weight"),
    ],
)
def test_renamed_fields_are_errors_naming_the_new_field(old, new):
    with pytest.raises(T2IError, match=f"model.{old} was renamed; use model.{new}"):
        ModelConfig.from_dict({old: 0.5})


def test_loss_weights_name_every_term_the_config_turns_on():
    plain = ModelConfig(cls=False, interp=False)
    assert plain.loss_weights() == ({"gan": 1.0}, {"gan": 1.0})
    full = ModelConfig(
        r1_gamma=0.2, aux_weight=0.5, mode_seeking_weight=2.0, num_classes=3
    ).loss_weights()
    assert full[0] == {"gan_cls": 1.0, "aux": 0.5, "r1": 0.1}
    assert full[1] == {"gan": 1.0, "gan_int": 1.0, "aux": 0.5, "mode_seeking": 2.0}


def test_truncation_defaults_to_plain_noise_and_must_be_in_0_1():
    assert ModelConfig().truncation == 0.0
    assert ModelConfig.from_dict({"truncation": 0.7}).truncation == 0.7
    assert ModelConfig.from_dict({"truncation": 1.0}).truncation == 1.0
    for bad in (-0.5, 1.5, float("nan")):
        with pytest.raises(T2IError, match=rf"model\.truncation: .* got {bad}"):
            ModelConfig.from_dict({"truncation": bad})
