"""Files every part of tf_t2i writes or reads: atomic writes and a run's metrics.jsonl.

    atomic_write(path, data)        a file, old or new, never half-written
    atomic_build(path, build_fn)    a directory, absent or complete
    read_metrics(path)              the records of a metrics.jsonl

Light on purpose (standard library only), so the CLI, the data writer, the
training loop and the export can all share it.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import tempfile
import time

# Temporary build directories older than this are leftovers of a crashed build.
STALE_BUILD_SECONDS = 3600


def atomic_write(path: str | os.PathLike, data: bytes | str) -> None:
    """Writes `data` to `path` so that a reader sees the old file or the new one, never half.

    The data goes to a temporary file beside `path`, is fsynced and renamed
    over `path`; on any error the temporary file is removed.

    Args:
        path: the file to write (its folder must exist).
        data: bytes, or str (written as UTF-8).
    """
    path = pathlib.Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes it private; data sets and runs are shared files
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """The records of a metrics.jsonl, in file order: training lines and
    `"event": "evaluate"` lines alike.

    A line that does not parse (cut short by a crash mid-write) or is not a JSON
    object is ignored; a missing file has no records.

    Args:
        path: the metrics.jsonl file (not its run directory).

    Returns:
        list of dicts.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def atomic_build(path: pathlib.Path, build_fn) -> pathlib.Path:
    """Builds a directory so that `path` is either absent or complete.

    `build_fn(tmp_dir)` writes into a fresh temporary directory next to `path`
    (same file system), which is then renamed to `path` in one step. A crash
    leaves only a hidden temporary directory (removed by a later build once
    stale); of concurrent builders, the first rename wins and the others
    discard their copy and use the winner's.

    Args:
        path: the final directory.
        build_fn: callable taking the temporary directory (a pathlib.Path).

    Returns:
        `path`.
    """
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(parent, path.name)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.building-", dir=parent))
    try:
        build_fn(tmp)
        # mkdtemp makes the directory private (0700); give it the usual mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        try:
            os.rename(tmp, path)
        except OSError:
            # Another process finished first (rename onto a non-empty directory
            # fails); its directory is complete, so keep it and drop ours.
            if not path.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def _remove_stale_builds(parent: pathlib.Path, name: str) -> None:
    now = time.time()
    for leftover in parent.glob(f".{name}.building-*"):
        try:
            if now - leftover.stat().st_mtime > STALE_BUILD_SECONDS:
                shutil.rmtree(leftover, ignore_errors=True)
        except FileNotFoundError:
            pass
