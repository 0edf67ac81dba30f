"""Checkpoints that are verified when written and again before they are restored.

Next to each `ckpt-N.index` / `ckpt-N.data-*` written by `t2i fit`, a small
`ckpt-N.sha256.json` lists the sha256 and size of each of its files, hashed
by reading them back from disk once the save returned. Before a restore,
`verify` compares them again (a checkpoint from before these manifests is
read tensor by tensor instead). `newest_good` walks the checkpoints from the
newest and returns the first intact one with the damaged ones named, so a
truncated or corrupt latest checkpoint costs the steps since the previous one,
not the run.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil

from tf_t2i.errors import T2IError

MANIFEST_SUFFIX = ".sha256.json"
DAMAGED_DIR = "damaged"
SUPERSEDED_DIR = "superseded"


def _files(prefix: str) -> list[pathlib.Path]:
    """The files of a checkpoint: PREFIX.index and PREFIX.data-*-of-*."""
    prefix = pathlib.Path(prefix)
    pattern = re.compile(re.escape(prefix.name) + r"\.(index|data-\d+-of-\d+)$")
    if not prefix.parent.is_dir():
        return []
    return sorted(p for p in prefix.parent.iterdir() if pattern.match(p.name))


def _sha256(path: pathlib.Path) -> str:
    from tf_t2i.data.writer import file_sha256

    return file_sha256(path)


def record(prefix: str) -> pathlib.Path:
    """Hashes a just-written checkpoint (read back from disk) into PREFIX.sha256.json.

    Also removes the manifests of checkpoints that no longer exist (the
    CheckpointManager deletes old ones).

    Raises:
        T2IError: the checkpoint just written has no index file (OSError: a file cannot be read).
    """
    from tf_t2i.files import atomic_write

    files = _files(prefix)
    if not any(p.name.endswith(".index") for p in files):
        raise T2IError(f"{prefix}: the checkpoint just written has no index file")
    entries = {p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size} for p in files}
    manifest = pathlib.Path(f"{prefix}{MANIFEST_SUFFIX}")
    # the hashes above are the read-back check: every byte was read from disk once
    atomic_write(manifest, json.dumps(entries, indent=1, sort_keys=True) + "\n")
    for other in manifest.parent.glob(f"*{MANIFEST_SUFFIX}"):
        stem = other.name[: -len(MANIFEST_SUFFIX)]
        if not (other.parent / f"{stem}.index").exists():
            other.unlink(missing_ok=True)
    return manifest


def save(manager, step: int) -> str:
    """Saves a CheckpointManager checkpoint as ckpt-STEP and records its hashes (`record`).

    Returns:
        The checkpoint's prefix.
    """
    prefix = manager.save(checkpoint_number=step)
    record(prefix)  # hashed as read back from disk; checked again before a restore
    return prefix


def verify(prefix: str) -> str | None:
    """Why the checkpoint at `prefix` cannot be restored, or None if it is intact."""
    manifest = pathlib.Path(f"{prefix}{MANIFEST_SUFFIX}")
    if manifest.is_file():
        try:
            entries = json.loads(manifest.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            return f"{manifest.name} is not valid JSON"
        for name, entry in sorted(entries.items()):
            path = manifest.parent / name
            if not path.is_file():
                return f"{name} is missing"
            size = path.stat().st_size
            if size != entry["bytes"]:
                return f"{name} has {size} bytes, {entry['bytes']} were written"
            if _sha256(path) != entry["sha256"]:
                return f"{name} does not match the sha256 recorded when it was written"
        return None
    return _read_every_tensor(prefix)


def _read_every_tensor(prefix: str) -> str | None:
    """Legacy checkpoints (no manifest): every tensor must read back."""
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(str(prefix))
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as err:  # truncated data: IndexError, DataLossError, OutOfRange, ...
        lines = str(err).strip().splitlines() or [type(err).__name__]
        return f"{type(err).__name__}: {lines[0][:200]}"
    return None


def prefixes(directory) -> list[str]:
    """The checkpoint prefixes in a directory, newest first."""
    import tensorflow as tf

    directory = pathlib.Path(directory)
    if not directory.is_dir():
        return []
    state = tf.train.get_checkpoint_state(str(directory))
    found = []
    if state is not None:
        # TensorFlow has already joined relative entries to the directory as given
        # (joining again doubled a relative run directory: runs/x/checkpoints/runs/x/...)
        found += [os.path.normpath(path) for path in state.all_model_checkpoint_paths]
    for index in directory.glob("ckpt-*.index"):  # also those the index file forgot
        prefix = os.path.normpath(index.with_suffix(""))
        if prefix not in found:
            found.append(prefix)
    return sorted(found, key=step_of, reverse=True)


def step_of(prefix: str) -> int:
    """The global step in a checkpoint prefix (ckpt-N), or -1."""
    try:
        return int(str(prefix).rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return -1


def newest_good(directory) -> tuple[str | None, list[tuple[str, str]]]:
    """(the newest intact checkpoint prefix or None, [(damaged prefix, reason)] newer than it)."""
    damaged = []
    for prefix in prefixes(directory):
        problem = verify(prefix)
        if problem is None:
            return prefix, damaged
        damaged.append((prefix, problem))
    return None, damaged


def describe(damaged) -> str:
    return "; ".join(f"{prefix} is damaged ({reason})" for prefix, reason in damaged)


def fall_back(directory, log) -> str | None:
    """Makes the newest intact checkpoint the latest one, for resuming training.

    Damaged checkpoints newer than it move to DIRECTORY/damaged/ (kept for
    inspection, out of the CheckpointManager's way) and the `checkpoint`
    index file is rewritten; `log` says what happened.

    Returns:
        The prefix to resume from, or None if the directory has no checkpoint.

    Raises:
        T2IError: there are checkpoints, but none is intact.
    """
    good, damaged = newest_good(directory)
    if not damaged:
        return good
    if good is None:
        raise T2IError(f"no intact checkpoint to resume from: {describe(damaged)}")
    aside = _move_aside(directory, [prefix for prefix, _ in damaged], DAMAGED_DIR)
    log(f"warning: {describe(damaged)}; moved to {aside}; resuming from {good}")
    return good


def supersede(directory, step: int, log) -> list[str]:
    """Moves the checkpoints numbered above `step` out of the way of a run restarting at `step`.

    Checkpoints are numbered by global step and `t2i generate` / `t2i export`
    take the highest-numbered intact one. A finished run with a style phase,
    continued with a larger --steps, trains again from its last GAN step, below
    its old final checkpoint; until the new run passed it, that old checkpoint
    would stay "newest". Like metrics.jsonl, the directory keeps one history:
    the newer checkpoints move to DIRECTORY/superseded/step-STEP/ and the
    `checkpoint` index file is rewritten; `log` says what moved.

    Returns:
        The prefixes moved (none if no checkpoint is numbered above `step`).
    """
    newer = [prefix for prefix in prefixes(directory) if step_of(prefix) > step]
    if newer:
        aside = _move_aside(directory, newer, os.path.join(SUPERSEDED_DIR, f"step-{step}"))
        names = ", ".join(os.path.basename(prefix) for prefix in sorted(newer, key=step_of))
        log(f"training again from step {step}: the later {names} moved to {aside}")
    return newer


def _move_aside(directory, moved: list[str], subdirectory: str) -> pathlib.Path:
    """Moves checkpoints into DIRECTORY/SUBDIRECTORY and rewrites the index to the rest.

    The highest-numbered checkpoint left becomes the latest one.
    """
    import tensorflow as tf

    directory = pathlib.Path(directory)
    aside = directory / subdirectory
    aside.mkdir(parents=True, exist_ok=True)
    for prefix in moved:
        for path in [*_files(prefix), pathlib.Path(f"{prefix}{MANIFEST_SUFFIX}")]:
            if path.exists():
                shutil.move(str(path), str(aside / path.name))
    # the index file still lists the moved ones
    kept = sorted((p for p in prefixes(directory) if _files(p)), key=step_of)
    if kept:
        # an absolute directory: with a relative one TensorFlow writes the entries relative
        # to the working directory's view of it ("../../ckpt-6000"), which nothing can restore
        tf.compat.v1.train.update_checkpoint_state(
            str(directory.resolve()),
            os.path.basename(kept[-1]),
            all_model_checkpoint_paths=[os.path.basename(p) for p in kept],
        )
    else:
        (directory / "checkpoint").unlink(missing_ok=True)
    return aside
