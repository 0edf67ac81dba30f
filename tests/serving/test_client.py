"""Client request building (REST body, gRPC PredictRequest) and URL parsing."""

import numpy as np
import pytest
import tensorflow as tf

from tf_t2i.errors import T2IError
from tf_t2i.serving.client import (
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


def test_grpc_client_round_trip_against_t2i_serve_grpc(server):
    from tf_t2i.serving.client import RestClient
    from tf_t2i.serving.grpc_server import make_grpc_server

    grpc_server, port = make_grpc_server(server.registry, port=0, max_batch=4)
    try:
        client = GrpcClient(f"127.0.0.1:{port}", "tiny")
        inputs = {"text": ["a red circle", "a blue square"], "seed": [5, 6]}
        out = client.predict(inputs)
        assert out["images"].dtype == np.uint8 and out["images"].shape == (2, 32, 32, 3)
        rest = RestClient(server.url, "tiny").predict(inputs)
        np.testing.assert_array_equal(out["images"], rest["images"])
        assert list(out["png_bytes"]) == list(rest["png_bytes"])
        strip = client.predict({"text_a": "a", "text_b": "b", "steps": 3}, signature="interpolate")
        assert strip["images"].shape == (3, 32, 32, 3)
        with pytest.raises(ServingError, match="INVALID_ARGUMENT: input 'text': batch of 5"):
            client.predict({"text": ["a"] * 5})
        with pytest.raises(ServingError, match="INVALID_ARGUMENT: unknown input 'caption'"):
            client.predict({"caption": ["a"]})
        with pytest.raises(ServingError, match="NOT_FOUND"):
            GrpcClient(f"127.0.0.1:{port}", "nope").predict({"text": ["a"]})
        client.close()
    finally:
        grpc_server.stop(grace=None)
