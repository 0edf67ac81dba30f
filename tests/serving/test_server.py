"""The local TF-Serving-compatible REST server, through the REST client and raw HTTP."""

import base64
import concurrent.futures
import http.client
import io
import json

import numpy as np
import pytest
from PIL import Image

from tf_t2i.serving.client import RestClient, ServingError


def _raw(server, method, path, body=None, headers=None):
    """One HTTP request; returns (status, parsed JSON)."""
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=120)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    payload = json.loads(response.read())
    connection.close()
    return response.status, payload


@pytest.fixture(scope="module")
def client(server):
    return RestClient(server.url, "tiny")


def test_status_and_metadata_follow_tf_serving(server, client):
    status = client.status()["model_version_status"]
    assert status == [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
    ]
    assert RestClient(server.url, "tiny", version=1).status() == client.status()
    meta = client.metadata()
    assert meta["model_spec"] == {"name": "tiny", "signature_name": "", "version": "1"}
    defs = meta["metadata"]["signature_def"]["signature_def"]
    assert sorted(defs) == ["from_embedding", "interpolate", "serving_default", "style_transfer"]
    inputs = defs["serving_default"]["inputs"]
    assert inputs["text"]["dtype"] == "DT_STRING"
    assert defs["serving_default"]["outputs"]["images"]["dtype"] == "DT_UINT8"
    assert defs["serving_default"]["method_name"] == "tensorflow/serving/predict"


def test_predict_round_trip_rows_and_columns_agree(client):
    inputs = {"text": ["a red circle", "a blue square"], "seed": [1, 2]}
    columns = client.predict(inputs)
    rows = client.predict(inputs, columnar=False)
    assert columns["images"].dtype == np.uint8 and columns["images"].shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(columns["images"], rows["images"])
    # the PNG output is the same picture as the uint8 output
    png = np.asarray(Image.open(io.BytesIO(columns["png_bytes"][1])))
    np.testing.assert_array_equal(png, columns["images"][1])


def test_row_format_answers_predictions_with_b64_pngs(server):
    body = json.dumps({"instances": [{"text": "a red circle", "seed": 3}]})
    status, payload = _raw(server, "POST", "/v1/models/tiny:predict", body)
    assert status == 200
    (row,) = payload["predictions"]
    assert set(row) == {"images", "png_bytes"}
    assert base64.b64decode(row["png_bytes"]["b64"]).startswith(b"\x89PNG")
    assert np.array(row["images"]).shape == (32, 32, 3)


def test_interpolate_and_from_embedding_signatures(client):
    strip = client.predict(
        {"text_a": "a red circle", "text_b": "a blue square", "steps": 4, "seed": 5},
        signature="interpolate",
    )
    assert strip["images"].shape == (4, 32, 32, 3)
    out = client.predict({"embeddings": np.zeros([2, 512], np.float32)}, signature="from_embedding")
    assert out["images"].shape == (2, 32, 32, 3)


def test_concurrent_requests_get_their_own_answers(client):
    seeds = list(range(8))
    expected = {
        s: client.predict({"text": ["a green triangle"], "seed": [s]})["images"] for s in seeds
    }
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(lambda s: client.predict({"text": ["a green triangle"], "seed": [s]}), seeds)
        )
    for s, answer in zip(seeds, answers, strict=True):
        np.testing.assert_array_equal(answer["images"], expected[s])
    assert not np.array_equal(expected[0], expected[1])


BAD_REQUESTS = {
    "unknown signature": (
        {"signature_name": "nope", "inputs": {"text": ["a"]}},
        "not found in signature def",
    ),
    "signature not a string": (
        {"signature_name": ["x"], "inputs": {"text": ["a"]}},
        "must be a string",
    ),
    "unknown input": ({"inputs": {"caption": ["a"]}}, "unknown input 'caption'"),
    "missing input": ({"inputs": {"seed": [1]}}, "missing input(s) ['text']"),
    "wrong dtype": ({"inputs": {"text": ["a"], "seed": ["one"]}}, "input 'seed': expected int64"),
    "float seed": ({"inputs": {"text": ["a"], "seed": [1.5]}}, "input 'seed': expected int64"),
    "wrong shape": ({"inputs": {"text": [["a"]]}}, "input 'text': expected rank 1"),
    "wrong noise width": (
        {"inputs": {"text": ["a"], "noise": [[0.0] * 3]}},
        "dimension 1 must be 16",
    ),
    "text not strings": ({"inputs": {"text": [1, 2]}}, "input 'text': expected strings"),
    "empty text list": ({"inputs": {"text": []}}, "input 'text': empty text list"),
    "empty instances": ({"instances": []}, '"instances" is empty'),
    "non-UTF-8 text": (
        {"inputs": {"text": [{"b64": base64.b64encode(b"\xff\xfe bad").decode()}]}},
        "not valid UTF-8",
    ),
    "bad base64": ({"inputs": {"text": [{"b64": "%%%"}]}}, "invalid base64"),
    "oversized batch": ({"inputs": {"text": ["a"] * 17}}, "batch of 17 exceeds the limit of 16"),
    "seed count mismatch": ({"inputs": {"text": ["a", "b"], "seed": [1]}}, "give one seed per row"),
    "both formats": ({"inputs": {"text": ["a"]}, "instances": [{"text": "a"}]}, "exactly one of"),
    "mixed instances": ({"instances": [{"text": "a"}, {"text": "b", "seed": 1}]}, "instance 1 has"),
    "interpolate steps": (
        {"signature_name": "interpolate", "inputs": {"text_a": "a", "text_b": "b", "steps": 1}},
        "steps: give at least 2",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_input_is_a_400_and_the_server_keeps_serving(server, client, case):
    body, message = BAD_REQUESTS[case]
    status, payload = _raw(server, "POST", "/v1/models/tiny:predict", json.dumps(body))
    assert status == 400, payload
    assert set(payload) == {"error"} and message in payload["error"], payload
    assert client.predict({"text": ["still alive"], "seed": [0]})["images"].shape == (1, 32, 32, 3)


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{not json", "JSON Parse error"),
        (b"[1, 2]", "must be an object"),
        (b"\xff\xfe", "JSON Parse"),
    ],
)
def test_malformed_json_is_a_400(server, body, message):
    status, payload = _raw(server, "POST", "/v1/models/tiny:predict", body)
    assert status == 400 and message in payload["error"]


def test_oversized_body_is_refused_before_it_is_read(server, client):
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=60)
    connection.putrequest("POST", "/v1/models/tiny:predict")
    connection.putheader("Content-Length", str((1 << 20) + 1))
    connection.endheaders()  # the body never comes: the server must not wait for it
    response = connection.getresponse()
    assert response.status == 413
    assert "exceeds the limit of 1048576" in json.loads(response.read())["error"]
    connection.close()
    assert client.predict({"text": ["a"]})["images"].shape == (1, 32, 32, 3)


def test_unknown_model_and_bad_paths(server, client):
    assert _raw(server, "GET", "/v1/models/nope")[0] == 404
    assert _raw(server, "GET", "/v1/models/tiny/versions/9")[0] == 404
    assert _raw(server, "GET", "/v2/whatever")[0] == 404
    assert _raw(server, "POST", "/v1/models/tiny:classify", b"{}")[0] == 404
    with pytest.raises(ServingError, match="HTTP 404") as err:
        RestClient(server.url, "nope").status()
    assert err.value.status == 404
    assert client.status()["model_version_status"][0]["state"] == "AVAILABLE"
