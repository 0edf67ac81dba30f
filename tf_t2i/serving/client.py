"""Clients for TF Serving (or `t2i serve`): REST and gRPC.

    client = RestClient("http://localhost:8501", "shapes")
    out = client.predict({"text": ["a red circle"], "seed": [7]})
    out["images"]       # uint8 [1, H, W, C]
    out["png_bytes"]    # object [1] of PNG bytes

    client = GrpcClient("localhost:8500", "shapes")   # same predict()

Both return numpy arrays keyed by output name. The REST client needs only the
standard library and numpy; the gRPC client imports tensorflow-serving-api.
"""

import json
import re
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

from tf_t2i.errors import T2IError
from tf_t2i.serving import rest_json


class ServingError(T2IError):
    """The server refused or failed a request; the message is its `error`."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


def parse_server_url(url, model=None):
    """'http://host:8501/shapes' -> ('http://host:8501', 'shapes').

    Args:
        url: the server's base URL, optionally followed by /MODEL (or
            /v1/models/MODEL).
        model: the model name if not in the URL.

    Raises:
        T2IError: if no model name is given either way.
    """
    if "://" not in url:
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    path = parts.path.strip("/")
    if path.startswith("v1/models/"):
        path = path[len("v1/models/") :]
    name = model or path or None
    if not name or "/" in name:
        raise T2IError(f"--server {url}: name the model, e.g. http://localhost:8501/MODEL")
    return f"{parts.scheme}://{parts.netloc}", name


class RestClient:
    """TF Serving's REST API (port 8501).

    Args:
        url: base URL, e.g. http://localhost:8501.
        model: model name.
        version: a specific version, or None for the latest.
        timeout: seconds per request.
    """

    def __init__(self, url, model, version=None, timeout=120.0):
        self.url = url.rstrip("/")
        self.model = model
        self.version = version
        self.timeout = timeout
        self.max_batch = None  # the server's batch limit, once it told us
        self._output_dtypes = {}

    @property
    def model_url(self):
        base = f"{self.url}/v1/models/{urllib.parse.quote(self.model)}"
        return base if self.version is None else f"{base}/versions/{int(self.version)}"

    def status(self):
        """GetModelStatus: {"model_version_status": [...]}."""
        return self._call("GET", self.model_url)

    def metadata(self):
        """GetModelMetadata: the SignatureDef map."""
        return self._call("GET", self.model_url + "/metadata")

    def signatures(self):
        """dict signature name -> SignatureDef JSON (inputs, outputs, method_name)."""
        return self.metadata()["metadata"]["signature_def"]["signature_def"]

    def predict(self, inputs, signature="serving_default", columnar=True):
        """Runs a signature.

        Args:
            inputs: dict input name -> value (list, numpy array, str, bytes;
                bytes travel base64-encoded).
            signature: signature name.
            columnar: send `"inputs"` (True) or row-format `"instances"`.

        Returns:
            dict output name -> np.ndarray (strings as object arrays of bytes).

        A batch larger than the server's limit (learnt from its first "batch
        of N exceeds the limit of M" answer) is sent in parts of M rows. The
        serving signatures number rows per request when they draw noise from
        seeds, so rows past the first part get other noise than one big
        request would give them.
        """
        n = _batch_size(inputs)
        if self.max_batch and n > self.max_batch:
            return self._predict_in_parts(inputs, signature, columnar, n)
        try:
            return self._predict_once(inputs, signature, columnar)
        except ServingError as err:
            limit = re.search(r"batch of \d+ exceeds the limit of (\d+)", str(err))
            if err.status != 400 or not limit or int(limit.group(1)) >= n:
                raise
            self.max_batch = int(limit.group(1))
            return self._predict_in_parts(inputs, signature, columnar, n)

    def _predict_in_parts(self, inputs, signature, columnar, n):
        parts = []
        for start in range(0, n, self.max_batch):
            part = {
                name: value[start : start + self.max_batch] if _rows(value) == n else value
                for name, value in inputs.items()
            }
            parts.append(self._predict_once(part, signature, columnar))
        return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}

    def _predict_once(self, inputs, signature, columnar):
        body = request_body(inputs, signature, columnar)
        answer = self._call("POST", self.model_url + ":predict", body)
        dtypes = self._dtypes(signature)
        if columnar:
            outputs = answer["outputs"]
            if not isinstance(outputs, dict) or set(outputs) - set(dtypes):
                outputs = {next(iter(dtypes)): outputs}
        else:
            rows = answer["predictions"]
            if rows and isinstance(rows[0], dict) and set(rows[0]) <= set(dtypes):
                outputs = {name: [row[name] for row in rows] for name in rows[0]}
            else:
                outputs = {next(iter(dtypes)): rows}
        return {name: rest_json.decode_value(v, dtypes[name]) for name, v in outputs.items()}

    def _dtypes(self, signature):
        if signature not in self._output_dtypes:
            outputs = self.signatures()[signature]["outputs"]
            self._output_dtypes[signature] = {
                name: rest_json.numpy_dtype(info["dtype"]) for name, info in outputs.items()
            }
        return self._output_dtypes[signature]

    def _call(self, method, url, body=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            text = err.read().decode("utf-8", "replace")
            try:
                message = json.loads(text)["error"]
            except (ValueError, KeyError, TypeError):
                message = text or err.reason
            raise ServingError(f"{url}: HTTP {err.code}: {message}", err.code) from None
        except urllib.error.URLError as err:
            raise ServingError(f"{url}: cannot reach the server ({err.reason})") from None


def _rows(value):
    """The first dimension of a list or array input, or 0 for scalars and strings."""
    if isinstance(value, (str, bytes)):
        return 0
    if isinstance(value, np.ndarray):
        return value.shape[0] if value.ndim else 0
    return len(value) if isinstance(value, (list, tuple)) else 0


def _batch_size(inputs):
    return max((_rows(v) for v in inputs.values()), default=0)


def request_body(inputs, signature="serving_default", columnar=True):
    """The JSON body of a REST predict request.

    Args:
        inputs: dict name -> value; for row format every value needs the
            same first dimension.
    """
    encoded = {name: rest_json.encode_value(value) for name, value in inputs.items()}
    body = {"signature_name": signature}
    if columnar:
        body["inputs"] = encoded
    else:
        sizes = {len(v) for v in encoded.values() if isinstance(v, list)}
        if len(sizes) != 1 or any(not isinstance(v, list) for v in encoded.values()):
            raise T2IError("row format needs every input as a list of the same length")
        n = sizes.pop()
        body["instances"] = [{name: v[i] for name, v in encoded.items()} for i in range(n)]
    return body


def build_predict_request(model, inputs, signature="serving_default", version=None):
    """A tensorflow_serving PredictRequest for gRPC.

    Args:
        model: model name.
        inputs: dict name -> value (str and bytes become DT_STRING; Python ints
            become DT_INT64 for `seed`/`label`, DT_INT32 for `steps`).
        signature: signature name.
        version: int or None (latest).
    """
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = int(version)
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(_grpc_array(name, value)))
    return request


_GRPC_DTYPES = {"seed": np.int64, "label": np.int64, "steps": np.int32}


def _grpc_array(name, value):
    """A Python value -> numpy array with the dtype the signature expects."""
    if isinstance(value, str):
        return np.array(value.encode("utf-8"), dtype=object)
    if isinstance(value, bytes):
        return np.array(value, dtype=object)
    array = np.asarray(value)
    if array.dtype.kind in "US":
        return np.vectorize(
            lambda s: s.encode("utf-8") if isinstance(s, str) else s, otypes=[object]
        )(array)
    if name in _GRPC_DTYPES:
        return array.astype(_GRPC_DTYPES[name])
    if array.dtype.kind == "f":
        return array.astype(np.float32)
    return array


class GrpcClient:
    """TF Serving's gRPC PredictionService (port 8500).

    Args:
        target: host:port.
        model: model name.
        version: a specific version, or None.
        timeout: seconds per call.
    """

    def __init__(self, target, model, version=None, timeout=120.0):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        self.model = model
        self.version = version
        self.timeout = timeout
        self._channel = grpc.insecure_channel(target)
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)

    def predict(self, inputs, signature="serving_default"):
        """Runs a signature; returns dict output name -> np.ndarray."""
        import grpc
        import tensorflow as tf

        request = build_predict_request(self.model, inputs, signature, self.version)
        try:
            response = self._stub.Predict(request, timeout=self.timeout)
        except grpc.RpcError as err:
            raise ServingError(f"gRPC {err.code().name}: {err.details()}") from None
        return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}

    def close(self):
        self._channel.close()
