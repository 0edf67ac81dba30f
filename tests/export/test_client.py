"""Client request building (REST body, gRPC PredictRequest) and URL parsing."""

import numpy as np
import pytest
import tensorflow as tf

from tf_t2i.errors import T2IError
from tf_t2i.export.client import (
    GrpcClient,
    ServingError,
    build_predict_request,
    parse_server_url,
    request_body,
)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://localhost:8501/shapes", ("http://localhost:8501", "shapes")),
        ("localhost:8501/shapes/", ("http://localhost:8501", "shapes")),
        ("https://host/v1/models/birds", ("https://host", "birds")),
    ],
)
def test_parse_server_url(url, expected):
    assert parse_server_url(url) == expected


def test_parse_server_url_needs_a_model():
    with pytest.raises(T2IError, match="name the model"):
        parse_server_url("http://localhost:8501")
    assert parse_server_url("http://localhost:8501", "m") == ("http://localhost:8501", "m")


def test_rest_request_body_rows_and_columns():
    inputs = {"text": ["a", "b"], "image": [b"\x89PNG", b"x"], "seed": np.array([1, 2])}
    columns = request_body(inputs, "style_transfer")
    assert columns["signature_name"] == "style_transfer"
    assert columns["inputs"]["image"][0] == {"b64": "iVBORw=="}
    assert columns["inputs"]["seed"] == [1, 2]
    rows = request_body(inputs, columnar=False)["instances"]
    assert rows[1] == {"text": "b", "image": {"b64": "eA=="}, "seed": 2}
    with pytest.raises(T2IError, match="same length"):
        request_body({"text": ["a"], "steps": 3}, columnar=False)


def test_grpc_predict_request_carries_typed_tensors():
    request = build_predict_request(
        "shapes",
        {"text_a": "a red circle", "text_b": "a blue square", "steps": 4, "seed": 7},
        signature="interpolate",
        version=3,
    )
    assert request.model_spec.name == "shapes"
    assert request.model_spec.signature_name == "interpolate"
    assert request.model_spec.version.value == 3
    assert request.inputs["steps"].dtype == tf.int32.as_datatype_enum
    assert request.inputs["seed"].dtype == tf.int64.as_datatype_enum
    assert tf.make_ndarray(request.inputs["text_a"]) == b"a red circle"
    batch = build_predict_request("m", {"text": ["x", "y"], "noise": np.zeros([2, 4])})
    assert batch.inputs["noise"].dtype == tf.float32.as_datatype_enum
    assert list(tf.make_ndarray(batch.inputs["text"])) == [b"x", b"y"]
    assert [d.size for d in batch.inputs["noise"].tensor_shape.dim] == [2, 4]


def test_grpc_client_reports_an_unreachable_server():
    client = GrpcClient("127.0.0.1:1", "shapes", timeout=5)
    with pytest.raises(ServingError, match="gRPC UNAVAILABLE"):
        client.predict({"text": ["a"]})
    client.close()
