"""Config: recipes, YAML load, `key=value` overrides with type checks, round trips."""

import dataclasses
import json

import pytest

from tf_t2i.config import Config, load_config, pipelines_dir, read_recipe, recipe_names
from tf_t2i.errors import T2IError

RECIPES = [
    "shapes",
    "digits",
    "cub",
    "flowers",
    "celeba-attributes",
    "sun-attributes",
    "mnist-dcgan",
    "shapes-mask",
    "shapes-multilingual",
]


def test_every_recipe_of_the_design_exists():
    assert set(RECIPES) <= set(recipe_names())


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_resolves_and_names_its_source(name):
    config = load_config(name)
    assert config.name == name
    assert config.data.source
    assert config.description
    assert config.train.steps > 0 or config.train.epochs > 0


def test_default_is_text_conditioned_gan_int_cls_on_shapes():
    config = load_config()
    assert config.name == "shapes"
    assert config.data.source == "shapes"
    assert config.model.conditions == ["text"]
    assert config.model.cls and config.model.interp
    assert config.train.sample_captions  # fixed captions for the sample grids


def test_overrides_are_parsed_and_type_checked():
    config = load_config(
        "shapes",
        [
            "train.steps=7",
            "model.conditions=[text, mask]",
            "model.style_rotation=0",  # the recipe's turn would move the image off its mask
            "model.interp_beta=1",
            "train.tensorboard=false",
            "data.options.num_images=50",
            "train.sample_captions=a red circle",
        ],
    )
    assert config.train.steps == 7
    assert config.model.conditions == ["text", "mask"]
    assert config.model.interp_beta == 1.0 and isinstance(config.model.interp_beta, float)
    assert config.train.tensorboard is False
    assert config.data.options["num_images"] == 50
    assert config.data.options["seed"] == 0  # the other options are kept
    assert config.train.sample_captions == ["a red circle"]


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.bogus=1", "unknown key 'train.bogus'"),
        ("modle.ngf=3", "unknown key 'modle.ngf'"),
        ("model.nope=3", "unknown key 'model.nope'"),
        ("train.steps=ten", "train.steps must be an integer"),
        ("train.steps=1.5", "train.steps must be an integer"),
        ("model.cls=maybe", "model.cls must be true or false"),
        ("model.conditions=[text, smell]", "unknown condition 'smell'"),
        ("train.precision=half", "train.precision"),
        ("model.image_size=48", "model.image_size"),
        ("train.steps", "expected key=value"),
        ("model.label_smoothing=0.9", "model.label_smoothing was renamed; use model.real_label"),
        ("model.mode_seeking=0.5", "renamed; use model.mode_seeking_weight"),
    ],
)
def test_bad_overrides_are_errors_naming_the_key(override, message):
    with pytest.raises(T2IError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config("shapes", [override])


def test_unknown_recipe_key_names_file_and_line(tmp_path):
    recipe = tmp_path / "mine.yaml"
    recipe.write_text("data:\n  source: shapes\ntrain:\n  steps: 3\n  batchsize: 8\n")
    with pytest.raises(T2IError, match=r"mine\.yaml:5: unknown key 'train\.batchsize'"):
        load_config(str(recipe))


def test_renamed_recipe_key_names_file_line_and_new_key(tmp_path):
    recipe = tmp_path / "old.yaml"
    recipe.write_text("data:\n  source: shapes\nmodel:\n  aux_classifier: 1.0\n")
    with pytest.raises(T2IError, match=r"old\.yaml:4: .*use model\.aux_weight"):
        load_config(str(recipe))


def test_run_dir_written_before_the_renames_still_reads(tmp_path):
    """A run's config.json is tf_t2i's own file: its old keys read under the new names."""
    from tf_t2i.training.run_dir import read_config

    config = Config.from_dict({"data": {"source": "shapes"}, "model": {"image_size": 32}})
    values = config.to_dict()
    model = values["model"]
    model["label_smoothing"] = model.pop("real_label")
    model["mode_seeking"] = 0.5
    del model["mode_seeking_weight"]
    (tmp_path / "old-run").mkdir()
    (tmp_path / "old-run" / "config.json").write_text(json.dumps(values))
    read = read_config(tmp_path / "old-run")
    assert read.model.real_label == config.model.real_label
    assert read.model.mode_seeking_weight == 0.5
    assert read.name == config.name


def test_truncation_is_a_recipe_key_recorded_in_config_json(tmp_path):
    """model.truncation: a recipe key and a --set override, in config.json; old runs read 0."""
    from tf_t2i.training.run_dir import read_config, write_config

    recipe = tmp_path / "narrow.yaml"
    recipe.write_text("data:\n  source: shapes\nmodel:\n  truncation: 0.7\n")
    assert load_config(str(recipe)).model.truncation == 0.7
    config = load_config("shapes", ["model.truncation=0.5"])
    assert config.model.truncation == 0.5
    write_config(tmp_path / "run", config)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"]["truncation"] == 0.5
    assert read_config(tmp_path / "run").model.truncation == 0.5
    old = config.to_dict()
    del old["model"]["truncation"]  # a run from before the key
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "config.json").write_text(json.dumps(old))
    assert read_config(tmp_path / "old").model.truncation == 0.0
    with pytest.raises(T2IError, match="model.truncation must be a number"):
        load_config("shapes", ["model.truncation=high"])
    with pytest.raises(T2IError, match=r"model\.truncation: .* got 2\.0"):
        load_config("shapes", ["model.truncation=2"])


def test_recipe_path_and_name_agree(tmp_path):
    by_name = load_config("digits")
    by_path = load_config(str(pipelines_dir() / "digits.yaml"))
    assert by_name == by_path


def test_unknown_recipe_lists_the_known_ones():
    with pytest.raises(T2IError, match="unknown recipe 'nope'.*shapes"):
        load_config("nope")


def test_invalid_yaml_is_a_clear_error(tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("train: [1, 2\n")
    with pytest.raises(T2IError, match="bad.yaml: invalid YAML"):
        load_config(str(recipe))


def test_json_round_trip_is_exact(tmp_path):
    config = load_config("shapes-mask", ["model.mask_resolutions=[8, 16]", "train.seed=3"])
    path = tmp_path / "run" / "config.json"
    path.parent.mkdir()
    path.write_text(config.to_json())
    again = read_recipe(path)
    assert again == config
    assert json.loads(path.read_text())["model"]["mask_resolutions"] == [8, 16]


def test_from_dict_checks_like_yaml():
    config = Config.from_dict({"train": {"batch_size": 8}, "model": {"ngf": 16}})
    assert config.train.batch_size == 8 and config.model.ngf == 16
    with pytest.raises(T2IError, match="unknown key 'train.colour'"):
        Config.from_dict({"train": {"colour": 1}})


def test_the_multilingual_recipe_is_the_default_job_with_captions_in_five_languages():
    default, multilingual = load_config("shapes"), load_config("shapes-multilingual")
    assert multilingual.data.options["languages"] == ["en", "fr", "de", "es", "zh"]
    assert {**multilingual.data.options, "languages": None} == {
        **default.data.options,
        "languages": None,
    }
    assert multilingual.model == default.model
    assert dataclasses.replace(multilingual.train, sample_captions=[]) == dataclasses.replace(
        default.train, sample_captions=[]
    )
