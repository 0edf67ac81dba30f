"""--precision auto and --strategy auto: the device rules and the TF_CONFIG parsing."""

import json

import pytest

from tf_t2i.errors import T2IError
from tf_t2i.training import precision
from tf_t2i.training.precision import cpu_has_native_bf16, resolve_precision
from tf_t2i.training.strategy import resolve_strategy, task_info, tf_config_cluster

FLAGS = "flags\t\t: fpu vme sse sse2 avx2 avx512f {extra}\n"


@pytest.mark.parametrize(
    "extra, native", [("avx512_bf16", True), ("amx_bf16 amx_tile", True), ("avx512_vnni", False)]
)
@pytest.mark.parametrize("bf16_faster", [True, False])
def test_bf16_is_detected_from_cpu_flags(tmp_path, monkeypatch, extra, native, bf16_faster):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\n" + FLAGS.format(extra=extra))
    monkeypatch.setattr(precision, "cpu_bf16_is_faster", lambda: bf16_faster)
    assert cpu_has_native_bf16(cpuinfo) is native
    expected = "mixed_bfloat16" if native and bf16_faster else "float32"
    assert resolve_precision("auto", cpuinfo=cpuinfo) == expected  # no GPU/TPU here


def test_bf16_speed_is_measured_once_and_remembered(tmp_path):
    calls = []

    def probe(dtype):
        calls.append(dtype)
        return {"float32": 2.0, "bfloat16": 1.0}[dtype]

    cache_file = tmp_path / "precision.json"
    assert precision.cpu_bf16_is_faster(cache_file, probe) is True
    assert calls == ["float32", "bfloat16"]
    assert precision.cpu_bf16_is_faster(cache_file, probe) is True  # from the cache
    assert calls == ["float32", "bfloat16"]
    (entry,) = json.loads(cache_file.read_text()).values()
    assert entry["seconds"] == {"float32": 2.0, "bfloat16": 1.0}

    slower = tmp_path / "slower.json"
    assert precision.cpu_bf16_is_faster(slower, {"float32": 1.0, "bfloat16": 3.0}.get) is False


def test_the_conv_probe_times_both_dtypes():
    for dtype in ("float32", "bfloat16"):
        seconds = precision.conv_probe_seconds(dtype, repeats=2)
        assert 0 < seconds < 10


def test_unreadable_cpuinfo_means_float32(tmp_path):
    assert not cpu_has_native_bf16(tmp_path / "missing")
    assert resolve_precision("auto", cpuinfo=tmp_path / "missing") == "float32"


def test_explicit_precisions_pass_and_unknown_is_an_error():
    for name in ("float32", "mixed_float16", "mixed_bfloat16"):
        assert resolve_precision(name) == name
    with pytest.raises(T2IError, match="unknown precision 'half'"):
        resolve_precision("half")


def test_auto_strategy_without_cluster_or_devices_is_the_default(monkeypatch):
    import tensorflow as tf

    monkeypatch.delenv("TF_CONFIG", raising=False)
    for name in ("TPU_NAME", "COLAB_TPU_ADDR", "TPU_ACCELERATOR_TYPE"):
        monkeypatch.delenv(name, raising=False)
    strategy = resolve_strategy("auto")
    assert strategy is tf.distribute.get_strategy()
    assert task_info(strategy) == (True, 0)
    with pytest.raises(T2IError, match="unknown strategy 'horovod'"):
        resolve_strategy("horovod")


def test_tf_config_cluster(monkeypatch):
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}})
    )
    assert tf_config_cluster() == cluster
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["127.0.0.1:1"]}}))
    assert tf_config_cluster() == {}  # one task is no cluster
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(T2IError, match="TF_CONFIG is not valid JSON"):
        tf_config_cluster()
