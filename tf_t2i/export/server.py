"""A local server that answers TF Serving's REST API for exported models.

For one machine without Docker: `t2i serve savedmodels/` loads the latest
version of each model (other versions on first use) and answers

    GET  /v1/models/NAME[/versions/N]              model status
    GET  /v1/models/NAME[/versions/N]/metadata     SignatureDefs
    POST /v1/models/NAME[/versions/N]:predict      {"instances": ...} or {"inputs": ...}

with TF Serving's JSON, so a client written against it works unchanged
against TF Serving. Requests run concurrently (one thread each, at most
`max_concurrent` inside TensorFlow at once); bodies above `max_bytes` and
batches above `max_batch` are refused. Bad input gets 400 and
`{"error": "..."}`; the server keeps serving.
"""

import http.server
import inspect
import json
import pathlib
import re
import threading

from tf_t2i.export import layout, rest_json

_ROUTE = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?"
    r"(?:(?P<metadata>/metadata)|:(?P<verb>predict))?/?$"
)


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
    """The models under an export root; loads each version once, on demand.

    Args:
        root: the export root (NAME/<version>/ below it) or one model dir.
        preload: load every model's latest version now (as TF Serving does).
    """

    def __init__(self, root, preload=True):
        self.models = layout.discover_models(root)
        self._loaded = {}
        self._lock = threading.Lock()
        if preload:
            for name, found in self.models.items():
                self.get(name, max(found))

    def get(self, name, version=None):
        """The LoadedVersion for NAME (latest if version is None), or HttpError 404."""
        found = self.models.get(name)
        if not found:
            raise HttpError(404, f"Servable not found for request: Latest({name})")
        version = max(found) if version is None else int(version)
        if version not in found:
            raise HttpError(404, f"Servable not found for request: Specific({name}, {version})")
        with self._lock:  # one load per version even under concurrent requests
            if (name, version) not in self._loaded:
                self._loaded[(name, version)] = LoadedVersion(name, version, found[version])
            return self._loaded[(name, version)]

    def status(self, name, version=None):
        """TF Serving's GetModelStatus JSON."""
        found = self.models.get(name)
        if not found or (version is not None and int(version) not in found):
            self.get(name, version)  # raises the 404
        shown = sorted(found, reverse=True) if version is None else [int(version)]
        return {
            "model_version_status": [
                {
                    "version": str(v),
                    "state": "AVAILABLE",
                    "status": {"error_code": "OK", "error_message": ""},
                }
                for v in shown
            ]
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


class ServingHandler(http.server.BaseHTTPRequestHandler):
    """Routes one HTTP request; configuration lives on the server object."""

    server_version = "tf_t2i-serve"
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self._answer(self._get)

    def do_POST(self):
        self._answer(self._post)

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)

    def _route(self):
        match = _ROUTE.match(self.path.split("?", 1)[0])
        if not match:
            raise HttpError(404, f"Malformed request: {self.command} {self.path}")
        return match

    def _get(self):
        match = self._route()
        if match["verb"]:
            raise HttpError(405, f"use POST for :{match['verb']}")
        registry = self.server.registry
        if match["metadata"]:
            return registry.metadata(match["name"], match["version"])
        return registry.status(match["name"], match["version"])

    def _post(self):
        match = self._route()
        body = self._read_body()  # read before any error, so the connection stays usable
        if match["verb"] != "predict":
            raise HttpError(404, f"Malformed request: POST {self.path}")
        loaded = self.server.registry.get(match["name"], match["version"])
        payload = rest_json.parse_body(body)
        signature = payload.get("signature_name", "serving_default")
        if not isinstance(signature, str):
            raise rest_json.BadRequest('"signature_name" must be a string')
        if signature not in loaded.specs:
            raise rest_json.BadRequest(
                f'Serving signature name: "{signature}" not found in signature def; '
                f"this model has {sorted(loaded.specs)}"
            )
        arrays, columnar = rest_json.decode_inputs(
            payload, loaded.specs[signature], self.server.max_batch
        )
        with self.server.compute_slots:
            outputs = run_signature(loaded, signature, arrays)
        return rest_json.encode_outputs(outputs, columnar)

    def _read_body(self):
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise HttpError(411, "a Content-Length header is required")
        length = int(length)
        if length > self.server.max_bytes:
            self.close_connection = True  # the unread body would garble the next request
            raise HttpError(
                413, f"request body of {length} bytes exceeds the limit of {self.server.max_bytes}"
            )
        return self.rfile.read(length)

    def _answer(self, route):
        try:
            status, payload = 200, route()
        except rest_json.BadRequest as err:
            status, payload = 400, {"error": str(err)}
        except HttpError as err:
            status, payload = err.status, {"error": str(err)}
        except Exception as err:  # the server must survive anything a request triggers
            status, payload = 500, {"error": f"{type(err).__name__}: {err}"}
        data = json.dumps(payload).encode("utf-8")
        if status >= 400 and self.command == "POST":
            # the body may be unread (bad path, too large): do not reuse the connection
            self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def run_signature(loaded, signature, arrays):
    """Calls the model; TensorFlow's argument errors become BadRequest (400s)."""
    import tensorflow as tf

    try:
        return loaded.predict(signature, arrays)
    except (tf.errors.InvalidArgumentError, TypeError, ValueError) as err:
        raise rest_json.BadRequest(short_tf_message(err)) from None


_NOISE_LINES = ("Graph execution error", "Detected at node", "<stack traces", "[[{{node")


def short_tf_message(err):
    """The one line of a TensorFlow error that tells the user what was wrong.

    Graph errors carry node names and stack banners; an assertion's own
    message (e.g. "seed: give one seed per row") is what a client needs.
    """
    text = getattr(err, "message", None) or str(err)
    # in process, the Python stack of the failing op comes before the assertion
    assertion = re.search(r"assertion failed: \[(.*?)\]", text)
    if assertion:
        return assertion.group(1)
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(_NOISE_LINES):
            continue
        assertion = re.match(r"assertion failed: \[(.*?)\]", line)
        if assertion:
            return assertion.group(1)
        if line.startswith("Invalid formatting on input string"):
            return "text: not valid UTF-8"
        return line.split(" [[{{node")[0]
    return text.strip()


class ServingServer(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer holding the model registry and the request limits.

    Args:
        address: (host, port); port 0 picks a free one.
        registry: ModelRegistry.
        max_batch: largest batch accepted per request.
        max_bytes: largest request body accepted.
        max_concurrent: requests computing inside TensorFlow at once.
        verbose: log each request to stderr.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address, registry, max_batch=64, max_bytes=16 << 20, max_concurrent=4, verbose=False
    ):
        super().__init__(address, ServingHandler)
        self.registry = registry
        self.max_batch = max_batch
        self.max_bytes = max_bytes
        self.compute_slots = threading.BoundedSemaphore(max_concurrent)
        self.verbose = verbose

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


def make_server(root, host="127.0.0.1", port=8501, **limits):
    """Loads the models under `root` and returns a ServingServer (not yet serving).

    Call `serve_forever()` on it (or run that in a thread).
    """
    return ServingServer((host, port), ModelRegistry(root), **limits)
