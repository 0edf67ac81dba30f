"""Bad input that used to cost memory or escape as 500s; slow clients; broken versions."""

import http.client
import json
import os
import shutil
import socket
import time

import pytest
from export_testing import running_server, toy_export

from tf_t2i.cli.main import cli
from tf_t2i.errors import T2IError
from tf_t2i.serving.client import RestClient
from tf_t2i.serving.registry import ModelRegistry
from tf_t2i.text.limits import CaptionLimits


def _post(server, body, path="/v1/models/tiny:predict"):
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=120)
    connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    payload = json.loads(response.read())
    connection.close()
    return response.status, payload


@pytest.mark.parametrize(
    "body, message",
    [
        (
            '{"inputs": {"text": ["' + "a" * ((1 << 20) - 100) + '"]}}',
            "over the limit of 2048 bytes",
        ),
        ('{"inputs": {"text": ["' + "a " * 300 + '"]}}', "over the limit of 256 tokens"),
        ('{"inputs": {"text": ["\\ud800 red"]}}', "not valid Unicode"),
        ('{"inputs": {"text": ["a red circle"], "seed": [' + "9" * 5000 + "]}}", "digits"),
        ('{"inputs": {"text": ["a red circle"], "seed": [9223372036854775808]}}', "outside int64"),
        ('{"inputs": {"text": ["a red circle"], "seed": [-9223372036854775809]}}', "outside int64"),
    ],
    ids=["1MiB-word", "300-words", "lone-surrogate", "5000-digit-seed", "2**63", "-2**63-1"],
)
def test_bad_captions_and_seeds_are_400s_naming_the_problem(server, body, message):
    status, payload = _post(server, body.encode("utf-8"))
    assert status == 400 and message in payload["error"], payload
    ok, _ = _post(server, b'{"inputs": {"text": ["a red circle"], "seed": [1]}}')
    assert ok == 200  # and the server keeps serving


def test_the_signature_itself_refuses_long_captions(exported):
    """TF Serving runs the graph without our Python checks: the limit is in it too."""
    from tf_t2i.serving.backends import SavedModelBackend

    backend = SavedModelBackend(exported / "tiny")
    with pytest.raises(T2IError, match="over the limit of 2048 bytes"):
        backend.run("serving_default", {"text": [b"a" * 5000]})
    with pytest.raises(T2IError, match="over the limit of 256 tokens"):
        backend.run("serving_default", {"text": [b"a " * 300]})


def test_a_slow_header_client_is_dropped_and_others_are_served(exported):
    with running_server(exported, request_timeout=1.0) as server:
        slow = socket.create_connection(server.server_address[:2])
        slow.sendall(b"POST /v1/models/tiny:predict HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        closed = False
        while time.monotonic() - start < 10:
            try:
                slow.sendall(b"X-Slow: 1\r\n")
                slow.settimeout(0.3)
                if slow.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
        slow.close()
        assert closed and time.monotonic() - start < 5
        idle = socket.create_connection(server.server_address[:2])
        idle.settimeout(5)
        assert idle.recv(1024) == b""  # an idle connection is closed too
        idle.close()
        out = RestClient(server.url, "tiny").predict({"text": ["a red circle"], "seed": [1]})
        assert out["images"].shape[0] == 1


def test_a_corrupt_newest_version_is_skipped_and_named(tmp_path, runner):
    root = tmp_path / "savedmodels"
    good = toy_export(root, "toy").path
    broken = root / "toy" / "2"
    shutil.copytree(good, broken)
    data = (broken / "saved_model.pb").read_bytes()
    (broken / "saved_model.pb").write_bytes(data[: len(data) // 3])
    registry = ModelRegistry(root)
    assert registry.get("toy").version == 1
    assert str(broken) in registry.failures("toy")
    states = {s["version"]: s["state"] for s in registry.status("toy")["model_version_status"]}
    assert states == {"2": "END", "1": "AVAILABLE"}
    with running_server(root) as server:
        out = RestClient(server.url, "toy").predict({"text": ["a red circle"], "seed": [1]})
        assert out["images"].shape[0] == 1
    # only when no version loads does start-up fail, naming each failure
    shutil.rmtree(good)
    shutil.copytree(broken, root / "toy" / "1")
    result = runner.invoke(cli, ["serve", str(root), "--port", "0"])
    assert result.exit_code == 2 and "cannot listen" not in result.output
    assert "no version of model 'toy' loads" in result.output
    assert "version 1" in result.output and "version 2" in result.output


def test_caption_limits_are_configurable(exported):
    with running_server(exported, caption_limits=CaptionLimits(10, 2)) as server:
        status, payload = _post(server, b'{"inputs": {"text": ["a red circle"]}}')
    assert status == 400 and "over the limit of 10 bytes" in payload["error"]


def test_export_onto_a_read_only_disk_is_an_error_and_leaves_nothing(tiny_run, tmp_path, runner):
    if os.geteuid() == 0:  # root writes anyway: a monkeypatched full disk stands in below
        pytest.skip("read-only directories do not stop root")
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    result = runner.invoke(cli, ["export", str(tiny_run), "--out", str(out)])
    out.chmod(0o755)
    assert result.exit_code == 2 and result.output.startswith("Error:")
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("code", ["ENOSPC", "EROFS"])  # a full disk; a read-only one, as root
def test_export_onto_a_full_disk_is_an_error_and_leaves_nothing(
    tiny_run, tmp_path, runner, monkeypatch, code
):
    import errno

    from tf_t2i.export import savedmodel

    number = getattr(errno, code)

    def fail(*args, **kwargs):
        raise OSError(number, os.strerror(number))

    monkeypatch.setattr(savedmodel, "write_warmup_requests", fail)
    out = tmp_path / "models"
    result = runner.invoke(cli, ["export", str(tiny_run), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert os.strerror(number) in result.output and "Traceback" not in result.output
    assert not out.exists()  # no half-written version, no empty directories
