"""bench/quality's --set: recipe overrides reach the timed fit and name its run and results."""

import sys

import pytest

from bench import quality


@pytest.fixture
def captured(monkeypatch):
    calls = {"fits": [], "sections": []}

    def fake_fit(name, fit_args, budget, num_samples, root, log):
        calls["fits"].append((name, fit_args))
        return {"class_accuracy": 0.98, "diversity_ratio": 0.7}

    monkeypatch.setattr(quality, "timed_budget", lambda minutes, log: (60.0, "speed"))
    monkeypatch.setattr(quality, "fit_and_evaluate", fake_fit)
    monkeypatch.setattr(
        quality,
        "write_section",
        lambda name, title, body, runs, log, args: calls["sections"].append((name, title, body)),
    )
    return calls


def _main(monkeypatch, *argv):
    monkeypatch.setattr(sys, "argv", ["quality", *argv])
    quality.main()


def test_overrides_go_to_the_fit_after_the_recipe_and_name_the_run(monkeypatch, captured):
    _main(monkeypatch, "--only", "digits", "--set", "model.mode_seeking_weight=2.0",
          "--set", "train.seed=1")  # fmt: skip
    [(name, fit_args)] = captured["fits"]
    assert name == "digits-model-mode-seeking-weight-2-0-train-seed-1"
    assert fit_args[: len(quality.DIGITS)] == quality.DIGITS
    overrides = ["--set", "model.mode_seeking_weight=2.0", "--set", "train.seed=1"]
    assert fit_args[len(quality.DIGITS) : len(quality.DIGITS) + 4] == overrides
    assert fit_args[-2:] == ["--steps", quality.FOREVER]
    [(section, title, body)] = captured["sections"]
    assert section == "digits_model_mode_seeking_weight_2_0_train_seed_1"
    assert title.endswith("with model.mode_seeking_weight=2.0, train.seed=1")
    assert "| digit accuracy | 0.980 | >= 0.97 | yes |" in body


def test_without_overrides_the_names_are_the_experiments_own(monkeypatch, captured):
    _main(monkeypatch, "--only", "shapes-64")
    [(name, fit_args)] = captured["fits"]
    assert name == "shapes-64"
    assert fit_args == [*quality.SHAPES_64, "--steps", quality.FOREVER]
    [(section, title, _)] = captured["sections"]
    assert (section, title) == ("shapes_64", "shapes-64, 30 min at full speed")
