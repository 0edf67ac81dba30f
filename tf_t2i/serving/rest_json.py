"""TF Serving's REST JSON tensor format, both ways, with no TensorFlow import.

Requests: `{"signature_name": ..., "instances": [...]}` (row format: one entry
per example, a dict when there are several inputs) or `{"inputs": ...}`
(columnar: a dict of whole tensors). Binary strings travel as
`{"b64": "<base64>"}`. Responses: `{"predictions": [...]}` for row requests,
`{"outputs": ...}` for columnar ones; outputs whose name ends in `_bytes` are
base64-encoded, as TF Serving does.

Both the local server (decoding requests, encoding responses) and the client
(the reverse) use this module, so they cannot drift apart.
"""

import base64
import binascii
import dataclasses
import json

import numpy as np

# Inputs that carry human text and therefore must be UTF-8.
TEXT_INPUTS = ("text", "text_a", "text_b")
_NUMPY_DTYPES = {
    "DT_FLOAT": np.float32,
    "DT_DOUBLE": np.float64,
    "DT_HALF": np.float16,
    "DT_INT8": np.int8,
    "DT_INT16": np.int16,
    "DT_INT32": np.int32,
    "DT_INT64": np.int64,
    "DT_UINT8": np.uint8,
    "DT_UINT16": np.uint16,
    "DT_BOOL": np.bool_,
    "DT_STRING": object,
}


class BadRequest(ValueError):
    """A request the server answers with 400 and `{"error": message}`."""


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """What a signature input accepts.

    Attributes:
        name: input name.
        dtype: numpy dtype, or `object` for strings (bytes).
        shape: tuple of int or None (None = any size); () for scalars.
        required: False if the signature has a default for it.
    """

    name: str
    dtype: object
    shape: tuple
    required: bool = True


def numpy_dtype(tf_enum_name):
    """'DT_UINT8' -> np.uint8 (SignatureDef JSON dtype names)."""
    return _NUMPY_DTYPES[tf_enum_name]


# === Server side: request -> arrays ===


def parse_body(body):
    """bytes -> JSON object, or BadRequest."""
    try:
        payload = json.loads(body)
    except ValueError as err:  # also UnicodeDecodeError and ints over 4,300 digits
        raise BadRequest(f"JSON Parse error: {err}") from None
    if not isinstance(payload, dict):
        raise BadRequest("JSON Value: the request body must be an object")
    return payload


def decode_inputs(payload, specs, max_batch, caption_limits=None):
    """A predict request body -> named numpy arrays, checked against the signature.

    Args:
        payload: the parsed JSON object.
        specs: dict input name -> InputSpec.
        max_batch: the largest batch (first dimension) accepted.
        caption_limits: tf_t2i.text.limits.CaptionLimits for the text inputs,
            or None for no limit.

    Returns:
        (dict name -> np.ndarray, columnar: bool).

    Raises:
        BadRequest: naming the input and what is wrong with it.
    """
    has_rows, has_columns = "instances" in payload, "inputs" in payload
    if has_rows == has_columns:
        raise BadRequest('the request must have exactly one of "instances" or "inputs"')
    unknown = set(payload) - {"instances", "inputs", "signature_name"}
    if unknown:
        raise BadRequest(f"unknown request fields: {sorted(unknown)}")
    required = [s.name for s in specs.values() if s.required]
    if has_rows:
        raw = _columns_from_rows(payload["instances"], required)
    else:
        raw = payload["inputs"]
        if not isinstance(raw, dict):
            if len(required) != 1:
                raise BadRequest(f'"inputs" must be an object naming the inputs {sorted(specs)}')
            raw = {required[0]: raw}
    for name in raw:
        if name not in specs:
            raise BadRequest(f"unknown input {name!r}; this signature takes {sorted(specs)}")
    missing = [name for name in required if name not in raw]
    if missing:
        raise BadRequest(f"missing input(s) {missing}; this signature takes {sorted(specs)}")
    arrays = {name: _to_array(value, specs[name], caption_limits) for name, value in raw.items()}
    _check_batch(arrays, specs, max_batch)
    return arrays, has_columns


def _columns_from_rows(instances, required):
    """Row format -> {name: list of per-row values}."""
    if not isinstance(instances, list):
        raise BadRequest('"instances" must be a list, one entry per example')
    if not instances:
        raise BadRequest('"instances" is empty: give at least one example')
    if not all(isinstance(row, dict) and "b64" not in row for row in instances):
        if len(required) != 1 or any(isinstance(r, dict) and "b64" not in r for r in instances):
            raise BadRequest(
                'each instance must be an object naming the inputs, e.g. {"text": ...}'
            )
        return {required[0]: instances}
    keys = set(instances[0])
    for i, row in enumerate(instances):
        if set(row) != keys:
            raise BadRequest(
                f"instance {i} has inputs {sorted(row)}, instance 0 has {sorted(keys)}"
            )
    return {name: [row[name] for row in instances] for name in keys}


def _to_array(value, spec, caption_limits=None):
    """A JSON value -> np.ndarray of the spec's dtype and rank."""
    if spec.dtype is object:
        array = _strings(value, spec, caption_limits)
    else:
        try:
            array = np.array(value)
        except ValueError:
            raise BadRequest(f"input {spec.name!r}: ragged nested lists") from None
        kind = array.dtype.kind
        wanted = np.dtype(spec.dtype).kind
        if wanted in "iu":
            _check_int_range(array, spec)
        ok = kind in "iu" or (kind == "f" and wanted == "f") or (kind == "b" and wanted == "b")
        if array.size and not ok:
            raise BadRequest(
                f"input {spec.name!r}: expected {np.dtype(spec.dtype).name} values, got "
                f"{_json_kind(array)}"
            )
        array = array.astype(spec.dtype)
    if array.ndim != len(spec.shape):
        raise BadRequest(
            f"input {spec.name!r}: expected rank {len(spec.shape)} (shape "
            f"{_shape_text(spec.shape)}), got shape {list(array.shape)}"
        )
    for axis, (got, want) in enumerate(zip(array.shape, spec.shape, strict=True)):
        if want is not None and got != want:
            raise BadRequest(
                f"input {spec.name!r}: dimension {axis} must be {want} (shape "
                f"{_shape_text(spec.shape)}), got shape {list(array.shape)}"
            )
    return array


def _check_int_range(array, spec):
    """BadRequest unless every (integer) value fits the spec's integer dtype."""
    info = np.iinfo(spec.dtype)
    values = array.ravel().tolist() if array.dtype.kind in "iuO" else []
    for v in values:
        if isinstance(v, int) and not isinstance(v, bool) and not info.min <= v <= info.max:
            shown = str(v) if len(str(v)) <= 30 else f"a {len(str(v))}-digit number"
            raise BadRequest(
                f"input {spec.name!r}: {shown} is outside {np.dtype(spec.dtype).name} "
                f"([{info.min}, {info.max}])"
            )


def _strings(value, spec, caption_limits=None):
    """Nested JSON strings / {"b64": ...} -> object array of bytes."""
    count = [0]

    def convert(item):
        if isinstance(item, np.ndarray):  # typed tensors (gRPC) instead of JSON
            item = item.tolist()
        if isinstance(item, list):
            return [convert(x) for x in item]
        if isinstance(item, bytes):
            data = item
        elif isinstance(item, dict) and set(item) == {"b64"} and isinstance(item["b64"], str):
            try:
                data = base64.b64decode(item["b64"], validate=True)
            except binascii.Error:
                raise BadRequest(f"input {spec.name!r}: invalid base64") from None
        elif isinstance(item, str):
            try:
                data = item.encode("utf-8")
            except UnicodeEncodeError as err:  # a lone surrogate such as "\ud800"
                raise BadRequest(
                    f"input {spec.name!r}: text is not valid Unicode ({err.reason} at "
                    f"character {err.start})"
                ) from None
        else:
            raise BadRequest(
                f'input {spec.name!r}: expected strings (or {{"b64": ...}}), got {type(item).__name__}'
            )
        if spec.name in TEXT_INPUTS:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest(f"input {spec.name!r}: text is not valid UTF-8") from None
            problem = caption_limits.problem(data) if caption_limits else None
            if problem:
                raise BadRequest(f"input {spec.name!r}: caption {count[0]} has {problem}")
            count[0] += 1
        return data

    converted = convert(value)
    try:
        return np.array(converted, dtype=object)
    except ValueError:
        raise BadRequest(f"input {spec.name!r}: ragged nested lists") from None


def _check_batch(arrays, specs, max_batch):
    sizes = {}
    for name, array in arrays.items():
        if specs[name].shape and specs[name].shape[0] is None:
            sizes[name] = array.shape[0]
    for name, size in sizes.items():
        if size == 0:
            what = "text list" if name in TEXT_INPUTS else "batch"
            raise BadRequest(f"input {name!r}: empty {what}; give at least one")
        if size > max_batch:
            raise BadRequest(f"input {name!r}: batch of {size} exceeds the limit of {max_batch}")


def _json_kind(array):
    return {"U": "strings", "O": "mixed values", "b": "booleans", "f": "floats"}.get(
        array.dtype.kind, array.dtype.name
    )


def _shape_text(shape):
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"


# === Server side: arrays -> response ===


def _jsonable(name, array):
    """One output tensor -> nested lists, binary strings as {"b64": ...}."""
    if array.dtype.kind in "OS":

        def convert(item):
            if isinstance(item, np.ndarray):
                return [convert(x) for x in item]
            data = bytes(item)
            if name.endswith("_bytes"):
                return {"b64": base64.b64encode(data).decode("ascii")}
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:  # TF Serving would send broken JSON here
                return {"b64": base64.b64encode(data).decode("ascii")}

        return convert(array)
    return array.tolist()


def encode_outputs(outputs, columnar):
    """Named output arrays -> the TF Serving response object.

    Args:
        outputs: dict name -> np.ndarray (all with the batch as first axis
            for row format).
        columnar: True for an `"inputs"` request (answer `"outputs"`).
    """
    if columnar:
        encoded = {name: _jsonable(name, array) for name, array in outputs.items()}
        return {"outputs": next(iter(encoded.values())) if len(encoded) == 1 else encoded}
    rows = {name: _jsonable(name, array) for name, array in outputs.items()}
    if len(rows) == 1:
        return {"predictions": next(iter(rows.values()))}
    n = len(next(iter(rows.values())))
    return {"predictions": [{name: values[i] for name, values in rows.items()} for i in range(n)]}


# === Client side ===


def encode_value(value):
    """A Python / numpy value -> JSON (bytes as {"b64": ...}, str as text)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "OSU":
            return [encode_value(x) for x in value] if value.ndim else encode_value(value.item())
        return value.tolist()
    if isinstance(value, (bytes, bytearray)):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return [encode_value(x) for x in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def decode_value(value, dtype):
    """A JSON output -> np.ndarray of `dtype` (object arrays of bytes for strings)."""
    if dtype is object:

        def convert(item):
            if isinstance(item, list):
                return [convert(x) for x in item]
            if isinstance(item, dict):
                return base64.b64decode(item["b64"])
            return item.encode("utf-8")

        return np.array(convert(value), dtype=object)
    return np.asarray(value, dtype=dtype)
