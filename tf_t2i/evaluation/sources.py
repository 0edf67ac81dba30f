"""What `t2i evaluate` evaluates, and where its figures go.

A SOURCE is a `t2i fit` run directory (its latest checkpoint, drawn with
G_ema where trained) or an exported SavedModel (a version dir, or a TF Serving
model dir: its latest version). Either becomes a generate function for the
protocol of evaluate.py; the figures are written to `--out` and, for a run
directory, appended to its metrics.jsonl tagged `"event": "evaluate"`.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib

import numpy as np

from tf_t2i.errors import T2IError
from tf_t2i.evaluation import evaluate, style


def is_run_dir(path: pathlib.Path) -> bool:
    """A `t2i fit` run directory has config.json and checkpoints/."""
    return (path / "config.json").is_file() and (path / "checkpoints").is_dir()


def resolve_saved_model(path: pathlib.Path) -> pathlib.Path | None:
    """A SavedModel dir, or the highest numeric version under a TF Serving model dir."""
    if (path / "saved_model.pb").is_file():
        return path
    versions = [p for p in path.glob("*") if p.name.isdigit() and (p / "saved_model.pb").is_file()]
    return max(versions, key=lambda p: int(p.name)) if versions else None


def saved_model_generate_fn(loaded) -> tuple[evaluate.GenerateFn, list[str], int]:
    """Wraps an exported SavedModel as a GenerateFn.

    Text models are fed the data set's stored caption embeddings through
    `from_embedding` (no re-encoding); attribute / class models through
    `serving_default`. Served images are uint8 and mapped back to [-1, 1].
    """
    import tensorflow as tf

    name = "from_embedding" if "from_embedding" in loaded.signatures else "serving_default"
    signature = loaded.signatures.get(name)
    if signature is None:
        raise T2IError("the SavedModel has no serving_default signature; export it with t2i export")
    specs = signature.structured_input_signature[1]
    unsupported = sorted(set(specs) & {"text", "mask"})
    if unsupported or "noise" not in specs:
        raise T2IError(
            f"the SavedModel's {name} signature takes {sorted(specs)}; evaluation needs "
            f"embeddings / attributes / label inputs and noise (evaluate the run directory instead)"
        )
    z_dim = int(specs["noise"].shape[-1])
    # serving input name -> (model condition, input-pipeline key)
    served = {
        "embeddings": ("text", "embeddings"),
        "attributes": ("attributes", "attributes"),
        "label": ("class", "labels"),
    }
    conditions = [served[k][0] for k in specs if k in served]

    def generate(conditions_batch, noise):
        feed = {
            k: tf.constant(conditions_batch[served[k][1]], specs[k].dtype)
            for k in specs
            if k in served
        }
        feed["noise"] = tf.constant(noise, tf.float32)
        if "seed" in specs:  # ignored when noise is given
            feed["seed"] = tf.zeros([0], specs["seed"].dtype)
        images = signature(**feed)["images"].numpy()
        return images.astype(np.float32) / 127.5 - 1.0  # uint8 [0, 255] -> [-1, 1]

    return generate, conditions, z_dim


def evaluate_source(
    source: str | os.PathLike,
    data_dir: str | os.PathLike,
    split: str = "test",
    num_samples: int = 1000,
    seed: int = 0,
    evaluator_path: str | os.PathLike | None = None,
    features: str = "evaluator",
    inception_weights: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    use_ema: bool = True,
    truncation: float | None = None,
) -> dict:
    """`t2i evaluate`: evaluates a run directory or a SavedModel and records the figures.

    The figures go to `out` (JSON) and, for a run directory, are appended as
    one line to its metrics.jsonl (with "event": "evaluate"). A run with
    model.ema_decay draws with G_ema unless `use_ema` is False; a SavedModel
    holds only the generator it was exported with. Noise is sampled at the model's
    own truncation (a run's model.truncation; what an export's model card records,
    0 without one) unless `truncation` says otherwise: 0 for plain N(0, 1), else the
    scale (evaluate.run_protocol).

    Returns:
        The figures dict written to `out`.
    """
    source = pathlib.Path(source)
    if not source.exists():
        raise T2IError(f"SOURCE: no such run or SavedModel directory: {source}")
    evaluator = evaluate.get_evaluator(data_dir, evaluator_path, features, inception_weights)
    saved_model = None if is_run_dir(source) else resolve_saved_model(source)
    if not use_ema and not is_run_dir(source):
        raise T2IError(
            f"SOURCE {source}: --raw-generator needs a run directory; a SavedModel holds "
            "only the generator it was exported with"
        )
    if is_run_dir(source):
        from tf_t2i.training.run_dir import load_run

        run = load_run(source)
        check_encoder(run.manifest, data_dir, source)
        truncation = evaluate.sampling_truncation(truncation, run.model_config.truncation)
        results = evaluate.run_gan(
            run.gan, data_dir, evaluator, split, num_samples, seed, use_ema, truncation
        )
    elif saved_model is not None:
        import tensorflow as tf
        import tensorflow_text  # noqa: F401  (SentencePiece ops of the embedded encoder)

        from tf_t2i.export.model_card import read_model_card, sampling_truncation

        own = sampling_truncation(read_model_card(saved_model))
        truncation = evaluate.sampling_truncation(truncation, own)
        loaded = tf.saved_model.load(str(saved_model))
        generate_fn, conditions, z_dim = saved_model_generate_fn(loaded)
        results = evaluate.run_protocol(
            generate_fn, conditions, z_dim, data_dir, evaluator, split, num_samples, seed,
            transfer_fn=style.saved_model_transfer_fn(loaded), truncation=truncation,
        )  # fmt: skip
    else:
        raise T2IError(
            f"SOURCE {source} is neither a run directory (config.json + checkpoints/) "
            f"nor a SavedModel (saved_model.pb)"
        )
    return record_results(source, data_dir, results, out)


def record_results(source: pathlib.Path, data_dir, results: dict, out=None) -> dict:
    """Adds source, data and time to the figures, writes them to `out` (JSON) and,
    for a run directory, appends them to its metrics.jsonl. Returns them."""
    results = {
        "source": str(source),
        "data": str(data_dir),
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **results,
    }
    if out is not None:
        pathlib.Path(out).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if is_run_dir(source):
        append_metrics(source / "metrics.jsonl", results)
    return results


def append_metrics(path: str | os.PathLike, results: dict) -> None:
    """Appends the figures as one JSON line tagged "event": "evaluate"."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"event": "evaluate", **results}) + "\n")


def check_encoder(run_manifest, data_dir, source) -> None:
    """The data set's caption embeddings must come from the encoder the run trained with."""
    if run_manifest is None:
        return
    from tf_t2i.data.schema import read_manifest

    trained = run_manifest.encoder.get("fingerprint")
    given = read_manifest(data_dir).encoder.get("fingerprint")
    if trained and given and trained != given:
        raise T2IError(
            f"{data_dir}/dataset.json: captions were embedded with encoder {given}, but the run "
            f"{source} was trained on embeddings from {trained}; evaluate with its own data set"
        )
