"""The model card written beside each export: what the model is and how it was made."""

import dataclasses
import datetime
import json
import pathlib

import tf_t2i
from tf_t2i import files
from tf_t2i.models.config import TRUNCATION_BOUND

MODEL_CARD_FILE = "model_card.json"


def _as_dict(obj):
    """A config object (dataclass or with to_dict) -> plain dict; None stays None."""
    if obj is None:
        return None
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)
    return dict(obj)


def _spec_dict(spec):
    return {"dtype": spec.dtype.name, "shape": [-1 if d is None else int(d) for d in spec.shape]}


def manifest_summary(manifest):
    """The parts of a data set manifest a model user cares about, or None."""
    if manifest is None:
        return None
    return {
        "source": manifest.source,
        "image_size": manifest.image_size,
        "channels": manifest.channels,
        "examples": {split: info["num_examples"] for split, info in manifest.splits.items()},
        "captions_per_image": manifest.captions_per_image,
        "class_names": list(manifest.class_names),
        "attribute_names": list(manifest.attribute_names),
        "has_masks": manifest.has_masks,
        "encoder": manifest.encoder,
    }


def read_metrics(run_dir):
    """The last training record and the evaluation records of a run's metrics.jsonl.

    `t2i evaluate` appends its figures to the same file, tagged
    `"event": "evaluate"`.

    Returns:
        (dict or None, list of dicts).
    """
    if run_dir is None:
        return None, []
    records = files.read_metrics(pathlib.Path(run_dir, "metrics.jsonl"))
    evaluation = [r for r in records if r.get("event") == "evaluate"]
    training = [r for r in records if r.get("event") != "evaluate"]
    return (training[-1] if training else None), evaluation


def build_model_card(*, name, version, run, run_dir, encoder, signature_inputs, signature_outputs):
    """The model card as a JSON-ready dict.

    Args:
        name, version: where the export goes (savedmodels/NAME/VERSION).
        run: the LoadedRun (config, model_config, step, manifest).
        run_dir: its directory (for metrics.jsonl / evaluation.jsonl), or None.
        encoder: the TextEncoder embedded in the graph, or None.
        signature_inputs, signature_outputs: dict signature -> {name: TensorSpec}.

    "sampling" says how the export draws noise from a seed: `truncation` 0 for
    N(0, 1), else N(0, 1) redrawn beyond +-`bound`, times `truncation`
    (model.truncation); `t2i evaluate` samples at it by default.
    """
    last_metrics, evaluation = read_metrics(run_dir)
    return {
        "name": name,
        "version": int(version),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "tf_t2i_version": tf_t2i.__version__,
        "run": {"dir": str(run_dir) if run_dir else None, "step": int(run.step)},
        "encoder": None
        if encoder is None
        else {"spec": encoder.spec, "dim": encoder.dim, "fingerprint": encoder.fingerprint},
        "signatures": {
            sig: {
                "inputs": {k: _spec_dict(v) for k, v in signature_inputs[sig].items()},
                "outputs": {k: _spec_dict(v) for k, v in signature_outputs[sig].items()},
            }
            for sig in signature_inputs
        },
        "sampling": {
            "truncation": float(run.model_config.truncation),
            "bound": TRUNCATION_BOUND,
        },
        "model_config": _as_dict(run.model_config),
        "training_config": _as_dict(run.config),
        "dataset": manifest_summary(run.manifest),
        "metrics": {"last_training": last_metrics, "evaluation": evaluation},
    }


def write_model_card(export_dir, card):
    """Writes `model_card.json` into an export directory; returns its path."""
    path = pathlib.Path(export_dir, MODEL_CARD_FILE)
    path.write_text(
        json.dumps(card, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8"
    )
    return path


def read_model_card(export_dir):
    """The model card of an export, or None if it has none."""
    path = pathlib.Path(export_dir, MODEL_CARD_FILE)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def sampling_truncation(card) -> float:
    """The truncation an export draws its seeded noise at, from its model card.

    Args:
        card: the model card dict, or None.

    Returns:
        The scale; 0.0 (N(0, 1)) without a card, or for a card written before
        exports recorded it (their noise was N(0, 1)).
    """
    if card is None:
        return 0.0
    return float((card.get("sampling") or {}).get("truncation", 0.0))
