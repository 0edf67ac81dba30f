"""TF Serving's REST JSON tensor format: request decoding and response encoding."""

import base64

import numpy as np
import pytest

from tf_t2i.serving.rest_json import (
    BadRequest,
    InputSpec,
    decode_inputs,
    decode_value,
    encode_outputs,
    encode_value,
)

SPECS = {
    "text": InputSpec("text", object, (None,)),
    "seed": InputSpec("seed", np.int64, (None,), required=False),
    "noise": InputSpec("noise", np.float32, (None, 3), required=False),
}


def test_rows_and_columns_decode_to_the_same_arrays():
    rows, columnar = decode_inputs(
        {"instances": [{"text": "a", "seed": 1}, {"text": {"b64": "Yg=="}, "seed": 2}]}, SPECS, 8
    )
    assert not columnar
    columns, columnar = decode_inputs({"inputs": {"text": ["a", "b"], "seed": [1, 2]}}, SPECS, 8)
    assert columnar
    for name in ("text", "seed"):
        np.testing.assert_array_equal(rows[name], columns[name])
    assert rows["text"].tolist() == [b"a", b"b"] and rows["seed"].dtype == np.int64


def test_single_input_signatures_accept_bare_values():
    specs = {"text": SPECS["text"], "seed": SPECS["seed"]}
    arrays, _ = decode_inputs({"instances": ["a", "b"]}, specs, 8)
    assert arrays["text"].tolist() == [b"a", b"b"]
    arrays, _ = decode_inputs({"inputs": ["c"]}, specs, 8)
    assert arrays["text"].tolist() == [b"c"]


def test_ints_are_accepted_for_float_inputs_but_not_the_reverse():
    arrays, _ = decode_inputs({"inputs": {"text": ["a"], "noise": [[0, 1, 2]]}}, SPECS, 8)
    assert arrays["noise"].dtype == np.float32
    with pytest.raises(BadRequest, match="expected int64 values, got floats"):
        decode_inputs({"inputs": {"text": ["a"], "seed": [0.5]}}, SPECS, 8)
    with pytest.raises(BadRequest, match="ragged"):
        decode_inputs({"inputs": {"text": ["a"], "noise": [[0, 1, 2], [1]]}}, SPECS, 8)


def test_responses_base64_only_bytes_outputs():
    outputs = {
        "images": np.zeros([2, 1, 1, 1], np.uint8),
        "png_bytes": np.array([b"\x89", b"x"], object),
    }
    rows = encode_outputs(outputs, columnar=False)["predictions"]
    assert rows[1] == {"images": [[[0]]], "png_bytes": {"b64": base64.b64encode(b"x").decode()}}
    columns = encode_outputs(outputs, columnar=True)["outputs"]
    assert columns["png_bytes"][0] == {"b64": "iQ=="}
    assert encode_outputs({"names": np.array([b"ok"], object)}, True) == {"outputs": ["ok"]}
    assert encode_outputs({"x": np.arange(2)}, False) == {"predictions": [0, 1]}


def test_client_side_values_round_trip():
    assert encode_value(b"\x00\x01") == {"b64": "AAE="}
    assert encode_value(np.array(["a", "b"])) == ["a", "b"]
    assert encode_value(np.int64(3)) == 3
    decoded = decode_value([{"b64": "AAE="}, "text"], object)
    assert decoded.tolist() == [b"\x00\x01", b"text"]
    assert decode_value([[1, 2]], np.uint8).dtype == np.uint8
