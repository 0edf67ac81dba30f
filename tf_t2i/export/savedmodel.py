"""`t2i export`: a trained run -> `savedmodels/NAME/<version>/` for TF Serving.

The SavedModel carries the text encoder inside its graph (raw text in, images
out), uses only core TensorFlow and tensorflow-text ops, tracks its raw
variables so the TF1/C++ loader of TF Serving finds them, and ships warm-up
requests and a model card. A version is written under a temporary name and
renamed into place, so TF Serving never sees a half-written version and an
existing version is never overwritten.
"""

import dataclasses
import os
import pathlib
import shutil
import uuid

from tf_t2i.errors import T2IError
from tf_t2i.export import layout
from tf_t2i.export.model_card import build_model_card, write_model_card
from tf_t2i.export.warmup import example_inputs, write_warmup_requests


@dataclasses.dataclass
class ExportResult:
    """Where an export went and what it offers."""

    path: pathlib.Path
    name: str
    version: int
    signatures: list[str]


def signature_specs(module):
    """dict signature -> ({input name: TensorSpec}, {output name: TensorSpec})."""
    import tensorflow as tf

    specs = {}
    for name, fn in module.signatures.items():
        inputs = {spec.name: spec for spec in fn.input_signature}
        outputs = fn.get_concrete_function().structured_outputs
        specs[name] = (
            inputs,
            {k: tf.TensorSpec(v.shape, v.dtype, name=k) for k, v in outputs.items()},
        )
    return specs


def load_run_for_serving(run_dir, caption_limits=None):
    """Loads a run and its text encoder and wraps them in a ServingModule.

    Returns:
        (run, encoder or None, ServingModule).

    Raises:
        T2IError: if the run's data set was encoded by another encoder.
    """
    import tensorflow_text  # noqa: F401  (SentencePiece ops used by the encoder)

    from tf_t2i.export.serving_module import ServingModule
    from tf_t2i.text.precomputed import is_precomputed
    from tf_t2i.text.precomputed import refusal as text_refusal
    from tf_t2i.training.run_dir import load_run

    run = load_run(run_dir)
    encoder = refusal = None
    if "text" in run.model_config.conditions and is_precomputed(run.encoder_spec):
        refusal = text_refusal(run.encoder_spec)  # no encoder exists for these embeddings
    elif "text" in run.model_config.conditions:
        from tf_t2i.text.encoder import load_encoder

        encoder = load_encoder(run.encoder_spec)
        expected = (run.manifest.encoder or {}).get("fingerprint") if run.manifest else None
        if expected and expected != encoder.fingerprint:
            raise T2IError(
                f"{run_dir}: the data set was encoded with encoder fingerprint {expected}, "
                f"but {run.encoder_spec!r} now has {encoder.fingerprint}; export would serve "
                "embeddings the generator never saw"
            )
    module = ServingModule(
        run.gan.inference_generator,
        run.model_config,
        text_encoder=encoder.module if encoder else None,
        style_encoder=getattr(run.gan, "style_encoder", None),
        text_refusal=refusal,
        caption_limits=caption_limits,
    )
    return run, encoder, module


def write_savedmodel(module, out_root, name, version=None, card=None):
    """Saves a ServingModule as `out_root/name/<version>/`, atomically.

    Args:
        module: the ServingModule.
        out_root: the export root (TF Serving's model base path parent).
        name: the model name.
        version: int, or None for 1 + the highest existing version.
        card: callable(version, specs) -> model card dict, or None.

    Returns:
        ExportResult.

    Raises:
        T2IError: if that version exists already.
    """
    import tensorflow as tf

    model_dir = pathlib.Path(out_root, name)
    created = [p for p in (model_dir, *model_dir.parents) if not p.exists()]
    try:
        model_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise T2IError(
            f"{model_dir}: cannot create the export directory ({_reason(err)})"
        ) from None
    version = layout.next_version(model_dir) if version is None else int(version)
    if version < 1:
        raise T2IError(f"--version: must be a positive integer, got {version}")
    final = model_dir / str(version)
    if final.exists():
        raise T2IError(f"{final}: version {version} exists already; exports never overwrite")
    # Not an integer name: TF Serving ignores it until the rename below.
    temp = model_dir / f".incomplete-{version}-{uuid.uuid4().hex[:8]}"
    try:
        tf.saved_model.save(module, str(temp), signatures=module.signatures)
        specs = signature_specs(module)
        warm = getattr(module, "warmup_signatures", list(specs))
        examples = example_inputs(
            {sig: inputs for sig, (inputs, _) in specs.items() if sig in warm},
            image_size=module.image_size,
            channels=module.channels,
        )
        write_warmup_requests(temp, name, examples)
        if card is not None:
            write_model_card(temp, card(version, specs))
        if final.exists():  # another export took the version meanwhile
            raise T2IError(f"{final}: version {version} appeared during the export")
        os.rename(temp, final)
    except (OSError, tf.errors.OpError) as err:  # a full or read-only disk, a lost mount
        raise T2IError(
            f"{final}: cannot write the export ({_reason(err)}); nothing was left behind"
        ) from None
    finally:
        if temp.exists():
            shutil.rmtree(temp, ignore_errors=True)
        for path in created:  # directories this export made and left empty
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    return ExportResult(final, name, version, list(module.signatures))


def _reason(err):
    """The short cause of an OSError or a TensorFlow error, e.g. 'No space left on device'."""
    text = getattr(err, "strerror", None) or getattr(err, "message", None) or str(err)
    return text.strip().splitlines()[0] if text.strip() else type(err).__name__


def export_run(run_dir, out_root="savedmodels", name=None, version=None, caption_limits=None):
    """Exports a training run's latest checkpoint for TF Serving.

    Args:
        run_dir: runs/NAME, as written by `t2i fit`.
        out_root: export root; the model goes to out_root/name/<version>/.
        name: model name (default: the run directory's name).
        version: int or None (next free version).
        caption_limits: CaptionLimits the signatures enforce (None: defaults).

    Returns:
        ExportResult.
    """
    run_dir = pathlib.Path(run_dir)
    name = name or run_dir.resolve().name
    if version is not None and pathlib.Path(out_root, name, str(version)).exists():
        # checked again before the rename; this saves loading the run first
        raise T2IError(
            f"{pathlib.Path(out_root, name, str(version))}: version {version} exists already"
        )
    run, encoder, module = load_run_for_serving(run_dir, caption_limits)

    def card(version, specs):
        return build_model_card(
            name=name,
            version=version,
            run=run,
            run_dir=run_dir,
            encoder=encoder,
            signature_inputs={sig: inputs for sig, (inputs, _) in specs.items()},
            signature_outputs={sig: outputs for sig, (_, outputs) in specs.items()},
        )

    return write_savedmodel(module, out_root, name, version, card)
