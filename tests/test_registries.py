"""Condition, precision and strategy names: one registry each, read by the recipe and the CLI."""

import click
import pytest

from tf_t2i import config
from tf_t2i.cli.fit import fit
from tf_t2i.errors import T2IError
from tf_t2i.models.config import CONDITION_KEYS
from tf_t2i.training import precision, strategy


def _choices(command, name):
    option = next(p for p in command.params if p.name == name)
    assert isinstance(option.type, click.Choice)
    return list(option.type.choices)


def test_the_cli_offers_exactly_the_registered_names():
    assert _choices(fit, "precision") == ["auto", *precision.POLICIES]
    assert _choices(fit, "strategy") == list(strategy.STRATEGIES)
    assert _choices(fit, "condition") == [*CONDITION_KEYS, "none"]


def test_a_recipe_accepts_every_registered_name(tmp_path):
    for name in config.PRECISIONS:
        assert config.load_config("shapes", [f"train.precision={name}"]).train.precision == name
    for name in strategy.STRATEGIES:
        assert config.load_config("shapes", [f"train.strategy={name}"]).train.strategy == name
    for name in CONDITION_KEYS:
        assert name in config.CONDITIONS


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.precision=float64", "train.precision: 'float64' is not one of auto, float32"),
        ("train.strategy=horovod", "train.strategy: 'horovod' is not one of auto, default"),
        ("model.conditions=[colour]", "unknown condition 'colour'; choose among text, attributes"),
    ],
)
def test_an_unregistered_name_is_an_error_listing_the_registry(override, message):
    with pytest.raises(T2IError, match=message):
        config.load_config("shapes", [override])
