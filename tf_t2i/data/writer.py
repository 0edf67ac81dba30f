"""A sharded, atomic, resumable TFRecord writer for one data set directory.

Conversion proceeds in chunks: chunk i of a split holds the source's inputs
[i * shard_size, (i + 1) * shard_size). Each chunk is written to a hidden
temporary file, fsynced, and renamed to `<split>-<i:05d>.tfrecord.done` when
complete; a small state file (`.convert-state.json`, replaced atomically) then
records it. When every split is done, `finalize` renames the finished chunks
to their public names `<split>-<i:05d>-of-<n:05d>.tfrecord`, writes
skipped.jsonl, writes dataset.json last, and removes the state file.

So a conversion killed at any instant leaves either no manifest, or a manifest
whose every shard is complete. Rerun with the same options, it resumes after
the last recorded chunk; rerun with other options, it refuses unless told to
overwrite, then starts clean.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import re

from tf_t2i.data import schema
from tf_t2i.errors import T2IError
from tf_t2i.files import atomic_write

STATE_FILE = ".convert-state.json"

# every file name this writer may create in a data set directory
_OWN_FILES = re.compile(
    r"^(dataset\.json|skipped\.jsonl|\.convert-state\.json"
    r"|[\w.-]+-\d{5}(-of-\d{5})?\.tfrecord(\.done)?"
    r"|\..+\.tmp)$"
)


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _done_name(split: str, index: int) -> str:
    return f"{split}-{index:05d}.tfrecord.done"


class ShardedWriter:
    """Writes the shards, skipped.jsonl and dataset.json of one directory.

    Args:
        out_dir: the data set directory (created if missing).
        key: a hash of everything that determines the output; a rerun with the
            same key resumes, one with another key needs `overwrite`.
        overwrite: replace a finished or interrupted conversion made with
            other options.

    Attributes:
        up_to_date: the directory already holds a finished conversion with
            this key; nothing needs writing.
    """

    def __init__(self, out_dir: str | os.PathLike, key: str, *, overwrite: bool = False):
        self.out_dir = pathlib.Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.key = key
        self.up_to_date = False
        self._state_path = self.out_dir / STATE_FILE
        manifest_path = self.out_dir / schema.MANIFEST_FILE

        state = self._read_state()
        manifest_key = self._manifest_key(manifest_path)
        if state is not None and state.get("key") == key:
            self.state = state
            self._drop_unfinished()
        elif state is None and manifest_key == key and self._shards_present(manifest_path):
            self.up_to_date = True
            self.state = {"key": key, "splits": {}}
        elif state is None and manifest_key == key:
            # same conversion, but shards were deleted since: redo it
            self._clean()
            self.state = {"key": key, "splits": {}}
            self._write_state()
        elif (state is not None or manifest_path.exists()) and not overwrite:
            what = "an interrupted conversion" if state is not None else "a data set"
            raise T2IError(
                f"{self.out_dir} already holds {what} converted with other options; "
                "pass --overwrite to replace it or choose another --out"
            )
        else:
            self._clean()
            self.state = {"key": key, "splits": {}}
            self._write_state()

    # === reading back progress ===

    def _read_state(self) -> dict | None:
        try:
            return json.loads(self._state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError):
            return {}  # unreadable: treated as another conversion's state

    @staticmethod
    def _manifest_key(path: pathlib.Path) -> str | None:
        try:
            return json.loads(path.read_text(encoding="utf-8")).get("conversion", {}).get("key")
        except (FileNotFoundError, ValueError, UnicodeDecodeError, AttributeError):
            return None

    def _shards_present(self, manifest_path: pathlib.Path) -> bool:
        splits = json.loads(manifest_path.read_text(encoding="utf-8")).get("splits", {})
        return all(
            (self.out_dir / shard["file"]).is_file()
            for info in splits.values()
            for shard in info.get("shards", [])
        )

    def _drop_unfinished(self) -> None:
        """Deletes temporary files and keeps the longest run of intact chunks per split."""
        for path in self.out_dir.glob(".*.tmp"):
            path.unlink()
        for split, info in self.state["splits"].items():
            kept = []
            for i, chunk in enumerate(info["chunks"]):
                if chunk["index"] != i or not self._chunk_intact(split, chunk):
                    break
                kept.append(chunk)
            if len(kept) < len(info["chunks"]):
                info["chunks"] = kept
                info["complete"] = False
        self._write_state()

    def _chunk_intact(self, split: str, chunk: dict) -> bool:
        for name in (_done_name(split, chunk["index"]), chunk.get("file")):
            path = self.out_dir / name if name else None
            if path is not None and path.is_file():
                return file_sha256(path) == chunk["sha256"]
        return False

    def _clean(self) -> None:
        """Removes this writer's files (manifest first), never anything else."""
        manifest = self.out_dir / schema.MANIFEST_FILE
        if manifest.exists():
            manifest.unlink()
        for path in self.out_dir.iterdir():
            if path.is_file() and _OWN_FILES.match(path.name):
                path.unlink()

    def _write_state(self) -> None:
        atomic_write(self._state_path, json.dumps(self.state, indent=1) + "\n")

    def _split_state(self, split: str) -> dict:
        return self.state["splits"].setdefault(split, {"chunks": [], "complete": False})

    def chunks_done(self, split: str) -> int:
        """How many chunks of `split` are already written (resume from there)."""
        return len(self._split_state(split)["chunks"])

    def split_complete(self, split: str) -> bool:
        return self._split_state(split)["complete"]

    def chunks(self, split: str) -> list[dict]:
        return list(self._split_state(split)["chunks"])

    # === writing ===

    def write_chunk(
        self, split: str, index: int, examples: list[bytes], skipped: list[dict], **extra
    ) -> dict:
        """Writes chunk `index` of `split` atomically and records it.

        Args:
            examples: serialized tf.train.Example records.
            skipped: JSON-able descriptions of the chunk's unusable inputs.
            **extra: more JSON-able facts to keep with the chunk (e.g. caption counts).

        Returns:
            The chunk's entry: index, sha256, num_examples, skipped, extra.
        """
        import tensorflow as tf

        if index != self.chunks_done(split):
            raise ValueError(f"chunk {index} of {split!r} written out of order")
        done = self.out_dir / _done_name(split, index)
        tmp = self.out_dir / f".{done.name}.tmp"
        with tf.io.TFRecordWriter(str(tmp)) as writer:
            for example in examples:
                writer.write(example)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        chunk = {
            "index": index,
            "sha256": file_sha256(tmp),
            "num_examples": len(examples),
            "skipped": skipped,
            **extra,
        }
        os.replace(tmp, done)
        self._split_state(split)["chunks"].append(chunk)
        self._write_state()
        return chunk

    def mark_complete(self, split: str) -> None:
        self._split_state(split)["complete"] = True
        self._write_state()

    def finalize(self, manifest: schema.Manifest) -> schema.Manifest:
        """Publishes the shards under their final names, then skipped.jsonl, then the manifest.

        Args:
            manifest: everything but `splits`, `skipped` and `conversion["key"]`,
                which are filled in here.

        Returns:
            The manifest as written.
        """
        skipped_lines = []
        counts: dict[str, int] = {}
        splits = {}
        for split, info in self.state["splits"].items():
            if not info["complete"]:
                raise ValueError(f"split {split!r} is not complete")
            nonempty = [c for c in info["chunks"] if c["num_examples"] > 0]
            shards = []
            for i, chunk in enumerate(nonempty):
                chunk["file"] = schema.shard_name(split, i, len(nonempty))
                self._publish(split, chunk)
                shards.append({k: chunk[k] for k in ("file", "sha256", "num_examples")})
            for chunk in info["chunks"]:
                if chunk["num_examples"] == 0:
                    (self.out_dir / _done_name(split, chunk["index"])).unlink(missing_ok=True)
                for entry in chunk["skipped"]:
                    skipped_lines.append(json.dumps(entry, ensure_ascii=False))
                    counts[entry["reason"]] = counts.get(entry["reason"], 0) + 1
            splits[split] = {
                "num_examples": sum(s["num_examples"] for s in shards),
                "shards": shards,
            }
        self._write_state()  # final names, so a crash below still resumes cleanly
        atomic_write(
            self.out_dir / schema.SKIPPED_FILE, "".join(line + "\n" for line in skipped_lines)
        )
        manifest.splits = splits
        manifest.skipped = dict(sorted(counts.items()))
        manifest.conversion = {**manifest.conversion, "key": self.key}
        schema.write_manifest(self.out_dir, manifest)
        self._state_path.unlink()
        self.up_to_date = True
        return manifest

    def _publish(self, split: str, chunk: dict) -> None:
        done = self.out_dir / _done_name(split, chunk["index"])
        final = self.out_dir / chunk["file"]
        if done.exists():
            os.replace(done, final)
        elif not final.is_file():
            raise T2IError(f"{final}: shard missing; rerun with --overwrite to convert again")
        # a shard's sha256 was taken when it was written; a rename keeps it
