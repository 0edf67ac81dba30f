"""TF Serving's on-disk layout: `ROOT/NAME/<version>/saved_model.pb`.

TF Serving loads only children of a model directory whose names are integers,
so an export in progress lives under a dotted temporary name and is renamed
into place when complete.
"""

import pathlib

from tf_t2i.errors import T2IError


def is_savedmodel(path) -> bool:
    """True if `path` is a SavedModel directory."""
    path = pathlib.Path(path)
    return (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file()


def versions(model_dir) -> list[int]:
    """The complete versions under a model directory, ascending."""
    model_dir = pathlib.Path(model_dir)
    if not model_dir.is_dir():
        return []
    return sorted(
        int(child.name)
        for child in model_dir.iterdir()
        if child.name.isdigit() and is_savedmodel(child)
    )


def next_version(model_dir) -> int:
    """1 + the highest integer-named child (complete or not), or 1."""
    model_dir = pathlib.Path(model_dir)
    taken = (
        [int(c.name) for c in model_dir.iterdir() if c.name.isdigit()] if model_dir.is_dir() else []
    )
    return max(taken, default=0) + 1


def resolve_savedmodel(path) -> pathlib.Path:
    """A SavedModel dir, or a model dir (its latest version) -> the SavedModel dir.

    Raises:
        T2IError: if `path` holds neither.
    """
    path = pathlib.Path(path)
    if is_savedmodel(path):
        return path
    found = versions(path)
    if found:
        return path / str(found[-1])
    raise T2IError(f"{path}: not a SavedModel (no saved_model.pb) nor a model dir with versions")


def discover_models(root) -> dict[str, dict[int, pathlib.Path]]:
    """Models under an export root: {name: {version: SavedModel dir}}.

    `root` may be the export root (NAME/<version>/ below it) or one model
    directory (<version>/ below it; the model is named after the directory).
    """
    root = pathlib.Path(root)
    if not root.is_dir():
        raise T2IError(f"{root}: no such directory")
    if versions(root):
        return {root.resolve().name: {v: root / str(v) for v in versions(root)}}
    models = {}
    for child in sorted(root.iterdir()):
        found = versions(child) if child.is_dir() else []
        if found:
            models[child.name] = {v: child / str(v) for v in found}
    return models
