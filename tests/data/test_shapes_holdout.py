"""Shapes with colour x kind combinations held out of the train split (zero-shot)."""

import pytest

from tf_t2i.cli.main import cli
from tf_t2i.data.convert import convert
from tf_t2i.data.schema import read_manifest
from tf_t2i.data.sources import get_source
from tf_t2i.data.sources.holdout import held_out_classes
from tf_t2i.data.sources.shapes import COLORS, SHAPES
from tf_t2i.errors import T2IError


@pytest.mark.parametrize("count", [1, 8, 20, 40])
def test_held_out_combinations_leave_every_colour_and_kind_seen(count):
    held = held_out_classes(list(COLORS), SHAPES, count)
    assert len(held) == len(set(held)) == count
    pairs = [name.split(" ") for name in held]
    for color in COLORS:
        assert sum(c == color for c, _ in pairs) < len(SHAPES)
    for kind in SHAPES:
        assert sum(k == kind for _, k in pairs) < len(COLORS)
    assert held == held_out_classes(list(COLORS), SHAPES, count)  # deterministic


def test_eight_held_out_take_each_colour_once():
    held = held_out_classes(list(COLORS), SHAPES, 8)
    assert sorted(name.split(" ")[0] for name in held) == sorted(COLORS)
    assert held[:2] == ["red circle", "green square"]


@pytest.mark.parametrize(
    "count, names, message",
    [
        (41, None, r"leaves no training image of the colour\(s\) red"),
        (0, "red circle, red square, red triangle, red diamond, red star, red cross", "red"),
        (0, "red circle,blue blob", "'blue blob' are not classes"),
        (2, "red circle", "not both"),
        (-1, None, "whole number"),
    ],
)
def test_bad_holdouts_are_refused(count, names, message):
    with pytest.raises(T2IError, match=message):
        held_out_classes(list(COLORS), SHAPES, count, names)


def test_train_split_has_no_held_out_combination_and_test_keeps_them():
    source = get_source("shapes", None, num_images=400, image_size=16, holdout=8)
    held = set(source.info().held_out_classes)
    assert len(held) == 8
    train = list(source.examples("train"))
    test = list(source.examples("test"))
    assert not {r.label_text for r in train} & held
    assert {r.label_text for r in test} & held
    assert len(test) == 40  # the test split is the same as without holdout
    plain = get_source("shapes", None, num_images=400, image_size=16)
    assert [r.image_id for r in plain.examples("test")] == [r.image_id for r in test]
    assert len(train) < 360
    # images of other combinations are the same as without holdout
    kept = {r.image_id: r for r in plain.examples("train")}
    for record in train[:20]:
        assert (record.image == kept[record.image_id].image).all()
        assert record.captions == kept[record.image_id].captions


def test_the_holdout_split_holds_the_train_images_of_held_out_classes():
    source = get_source("shapes", None, num_images=200, image_size=16, holdout=8)
    assert source.info().splits == ["train", "test", "holdout"]
    held = set(source.held_out)
    holdout = list(source.examples("holdout"))
    train = list(source.examples("train"))
    assert holdout and {r.label_text for r in holdout} <= held
    assert len(holdout) + len(train) == 180
    assert not {r.image_id for r in holdout} & {r.image_id for r in train}
    plain = get_source("shapes", None, num_images=200, image_size=16)
    assert plain.info().splits == ["train", "test"]
    with pytest.raises(T2IError, match="not 'holdout'"):
        next(plain.examples("holdout"))


def test_with_several_shapes_no_train_image_shows_a_held_out_one():
    source = get_source("shapes", None, num_images=200, image_size=16, max_shapes=3, holdout=8)
    held = source.held_out
    for record in source.examples("train"):
        assert not any(name in caption for name in held for caption in record.captions)


def test_the_manifest_records_the_held_out_classes(tmp_path, hash_encoder):
    source = get_source("shapes", None, num_images=40, image_size=16, holdout_classes="blue star")
    convert(source, tmp_path / "d", encoder=hash_encoder, image_size=16, progress=False)
    manifest = read_manifest(tmp_path / "d")
    assert manifest.held_out_classes == ["blue star"]
    assert manifest.style_groups == ["background"]
    assert manifest.source["options"]["holdout_classes"] == "blue star"
    plain = get_source("shapes", None, num_images=40, image_size=16)
    assert "holdout" not in plain.info().options  # earlier conversions keep their key


def test_convert_refuses_a_bad_holdout_before_any_work(runner, tmp_path):
    for option, message in [
        ("holdout=48", "hold out fewer"),
        ("holdout_classes=red blob", "'red blob' are not classes"),
    ]:
        result = runner.invoke(cli, ["convert", "shapes", "--out", str(tmp_path), "-o", option])
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output
