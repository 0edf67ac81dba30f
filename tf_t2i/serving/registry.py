"""The models a server offers: which versions are loaded, which failed and why.

`t2i serve` (REST and gRPC) loads versions under a policy, as TF Serving does:
`latest` serves the newest version that loads, `all` every version that
loads. A version whose SavedModel cannot be loaded (a truncated
saved_model.pb, a missing variables file) is reported by path and reason and
skipped, so an older good version keeps serving; only a model none of whose
versions loads stops the start-up, with every failure named.
"""

import inspect
import pathlib
import threading

from tf_t2i.errors import T2IError
from tf_t2i.export import layout
from tf_t2i.serving import rest_json

POLICIES = ("latest", "all")


class HttpError(Exception):
    """An error answered as `{"error": message}` with an HTTP status."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class LoadedVersion:
    """One SavedModel version, loaded, with its signatures' input specs.

    Args:
        name, version: model name and version number.
        path: the SavedModel directory.
    """

    def __init__(self, name, version, path):
        import tensorflow as tf
        import tensorflow_text  # noqa: F401  (ops the text encoder needs)

        self.name, self.version, self.path = name, version, pathlib.Path(path)
        self.model = tf.saved_model.load(str(path))
        self.signature_defs = _signature_defs(self.path)
        self.specs = {sig: self._input_specs(sig) for sig in self.signature_defs}

    def _input_specs(self, signature):
        """dict input name -> rest_json.InputSpec; optional = has a default."""
        fn = getattr(self.model, signature, None)
        optional = set()
        if fn is not None and hasattr(fn, "function_type"):
            optional = {
                p.name
                for p in fn.function_type.parameters.values()
                if p.default is not inspect.Parameter.empty
            }
        specs = {}
        for name, info in self.signature_defs[signature]["inputs"].items():
            dims = info.get("tensor_shape", {}).get("dim", [])
            shape = tuple(None if int(d["size"]) < 0 else int(d["size"]) for d in dims)
            dtype = rest_json.numpy_dtype(info["dtype"])
            specs[name] = rest_json.InputSpec(name, dtype, shape, required=name not in optional)
        return specs

    def predict(self, signature, arrays):
        """Runs a signature; missing optional inputs take their defaults.

        Returns:
            dict output name -> np.ndarray.
        """
        import tensorflow as tf

        tensors = {name: tf.constant(value) for name, value in arrays.items()}
        fn = getattr(self.model, signature, None)
        if fn is None or not hasattr(fn, "function_type"):
            fn = self.model.signatures[signature]  # takes every input
        outputs = fn(**tensors)
        return {name: value.numpy() for name, value in outputs.items()}


def _signature_defs(path):
    """The serving SignatureDefs of a SavedModel as TF Serving's JSON dicts."""
    from google.protobuf import json_format
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel.FromString((path / "saved_model.pb").read_bytes())
    for meta_graph in saved.meta_graphs:
        if "serve" in meta_graph.meta_info_def.tags:
            return {
                key: json_format.MessageToDict(value, preserving_proto_field_name=True)
                for key, value in meta_graph.signature_def.items()
                if not key.startswith("__")
            }
    raise ValueError(f"{path}: no MetaGraph tagged 'serve'")


class ModelRegistry:
    """The models under an export root and their loaded versions.

    Args:
        root: the export root (NAME/<version>/ below it) or one model dir.
        preload: load versions now (as TF Serving does), under `policy`.
        policy: "latest" (the newest version that loads; others load on
            first use) or "all" (every version, now).

    Attributes:
        models: {name: {version: SavedModel dir}} found on disk.
        failed: {(name, version): reason} of versions that did not load.

    Raises:
        T2IError: at preload, if no version of some model loads.
    """

    def __init__(self, root, preload=True, policy="latest"):
        if policy not in POLICIES:
            raise T2IError(f"version policy {policy!r}: choose one of {', '.join(POLICIES)}")
        self.models = layout.discover_models(root)
        self.policy = policy
        self.failed = {}
        self._loaded = {}
        self._lock = threading.Lock()
        if preload:
            dead = []
            for name, found in self.models.items():
                if policy == "all":
                    for version in sorted(found, reverse=True):
                        self._try_load(name, version)
                else:
                    self._latest(name)
                if not any(key[0] == name for key in self._loaded):
                    dead.append(name)
            if dead:
                raise T2IError(
                    "no version of "
                    + "; ".join(f"model {n!r} loads ({self.failures(n)})" for n in dead)
                )

    def failures(self, name):
        """'version 2 (PATH: reason), ...' for the model's failed versions."""
        return ", ".join(
            f"version {v} ({self.models[n][v]}: {reason})"
            for (n, v), reason in sorted(self.failed.items())
            if n == name
        )

    def loaded_versions(self, name):
        """The versions of `name` loaded so far, ascending."""
        return sorted(v for (n, v) in self._loaded if n == name)

    def _try_load(self, name, version):
        """The LoadedVersion, or None after recording why it failed (caller holds no lock)."""
        with self._lock:  # one load per version even under concurrent requests
            key = (name, version)
            if key in self._loaded:
                return self._loaded[key]
            if key in self.failed:
                return None
            try:
                self._loaded[key] = LoadedVersion(name, version, self.models[name][version])
            except Exception as err:  # any damage: truncated protobuf, missing files, bad ops
                lines = str(err).strip().splitlines() or [""]
                self.failed[key] = f"{type(err).__name__}: {lines[0][:300]}"
                return None
            return self._loaded[key]

    def _latest(self, name):
        """The newest version of `name` that loads (loading it if needed), or None."""
        for version in sorted(self.models[name], reverse=True):
            loaded = self._try_load(name, version)
            if loaded is not None:
                return loaded
        return None

    def get(self, name, version=None):
        """The LoadedVersion for NAME (latest good if version is None), or HttpError 404."""
        found = self.models.get(name)
        if not found:
            raise HttpError(404, f"Servable not found for request: Latest({name})")
        if version is None:
            loaded = self._latest(name)
            if loaded is None:
                raise HttpError(
                    404, f"Servable not found for request: Latest({name}): {self.failures(name)}"
                )
            return loaded
        version = int(version)
        if version not in found:
            raise HttpError(404, f"Servable not found for request: Specific({name}, {version})")
        loaded = self._try_load(name, version)
        if loaded is None:
            raise HttpError(
                404,
                f"Servable not found for request: Specific({name}, {version}): version "
                f"{version} failed to load ({found[version]}: {self.failed[(name, version)]})",
            )
        return loaded

    def status(self, name, version=None):
        """TF Serving's GetModelStatus JSON (failed versions in state END with the reason)."""
        found = self.models.get(name)
        if not found or (version is not None and int(version) not in found):
            self.get(name, version)  # raises the 404
        shown = sorted(found, reverse=True) if version is None else [int(version)]
        return {"model_version_status": [self._version_status(name, v) for v in shown]}

    def _version_status(self, name, version):
        reason = self.failed.get((name, version))
        if reason is None:
            return {
                "version": str(version),
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        return {
            "version": str(version),
            "state": "END",
            "status": {"error_code": "UNKNOWN", "error_message": reason},
        }

    def metadata(self, name, version=None):
        """TF Serving's GetModelMetadata JSON (the SignatureDef map)."""
        loaded = self.get(name, version)
        return {
            "model_spec": {"name": name, "signature_name": "", "version": str(loaded.version)},
            "metadata": {
                "signature_def": {
                    "signature_def": loaded.signature_defs,
                    "@type": "type.googleapis.com/tensorflow.serving.SignatureDefMap",
                }
            },
        }
