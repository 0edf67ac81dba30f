"""Choosing the tf.distribute strategy (`--strategy auto`).

Distribution is tf.distribute only: TPUStrategy, MultiWorkerMirroredStrategy
(cluster from TF_CONFIG), MirroredStrategy, or the default (one device).
"""

from __future__ import annotations

import glob
import json
import os

from tf_t2i.errors import T2IError

STRATEGIES = ("auto", "default", "mirrored", "multi-worker", "tpu")
# Environment variables that name a TPU (Cloud TPU node, Colab, TPU VM).
TPU_ENV_VARS = ("TPU_NAME", "COLAB_TPU_ADDR", "TPU_ACCELERATOR_TYPE")


def tf_config_cluster() -> dict:
    """The cluster spec from TF_CONFIG ({} when unset or naming no other task)."""
    raw = os.environ.get("TF_CONFIG", "")
    if not raw.strip():
        return {}
    try:
        spec = json.loads(raw)
    except json.JSONDecodeError as err:
        raise T2IError(f"TF_CONFIG is not valid JSON: {err}") from None
    cluster = spec.get("cluster") or {}
    tasks = sum(len(addresses) for addresses in cluster.values())
    return cluster if tasks > 1 else {}


def tpu_hinted() -> bool:
    """Whether this host looks like it has a TPU (so auto tries to resolve one).

    Resolving a TPU without any hint would query the cloud metadata server,
    which hangs offline; these cheap checks avoid that.
    """
    return any(os.environ.get(name) for name in TPU_ENV_VARS) or bool(glob.glob("/dev/accel*"))


def resolve_strategy(name: str = "auto"):
    """Builds the tf.distribute strategy called `name`.

    Call it before other TensorFlow work: MultiWorkerMirroredStrategy must
    configure collective ops before the runtime starts.

    Args:
        name: auto | default | mirrored | multi-worker | tpu. `auto` picks
            TPUStrategy when a TPU resolves, MultiWorkerMirroredStrategy when
            TF_CONFIG names a cluster, MirroredStrategy on several GPUs, and the
            default strategy otherwise.

    Returns:
        A tf.distribute.Strategy.
    """
    if name not in STRATEGIES:
        raise T2IError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    import tensorflow as tf

    if name == "auto":
        if tpu_hinted():
            try:
                return _tpu_strategy(tf)
            except T2IError:
                pass  # a hint but no reachable TPU: fall through to the other devices
        if tf_config_cluster():
            return tf.distribute.MultiWorkerMirroredStrategy()
        if len(tf.config.list_physical_devices("GPU")) > 1:
            return tf.distribute.MirroredStrategy()
        return tf.distribute.get_strategy()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return _tpu_strategy(tf)


def _tpu_strategy(tf):
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=os.environ.get("TPU_NAME", "")
        )
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as err:
        raise T2IError(f"--strategy tpu: no TPU could be resolved ({err})") from None
    return tf.distribute.TPUStrategy(resolver)


def num_workers(strategy) -> int:
    """Worker processes in the cluster (1 without a cluster resolver)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return 1
    return max(1, len(resolver.cluster_spec().as_dict().get("worker", [])))


def describe(strategy) -> str:
    """A one-line description: strategy class, replicas, workers."""
    workers = num_workers(strategy)
    import tensorflow as tf

    # public names (MultiWorkerMirroredStrategy's class is CollectiveAllReduceStrategy)
    name = "default strategy"
    for public, cls in (
        ("TPUStrategy", tf.distribute.TPUStrategy),
        ("MultiWorkerMirroredStrategy", tf.distribute.MultiWorkerMirroredStrategy),
        ("MirroredStrategy", tf.distribute.MirroredStrategy),
    ):
        if isinstance(strategy, cls):
            name = public
            break
    return f"{name} ({strategy.num_replicas_in_sync} replica(s), {workers} worker(s))"


def task_info(strategy) -> tuple[bool, int]:
    """(is_chief, worker index) for this process under `strategy`.

    The chief (worker 0 in TF_CONFIG, or the only process) writes the run
    directory; other workers keep their own checkpoints only.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True, 0
    task_type, task_id = resolver.task_type, resolver.task_id or 0
    if task_type in ("chief", None):
        return True, 0
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    is_chief = task_type == "worker" and task_id == 0 and not has_chief
    index = task_id + (1 if has_chief else 0)
    return is_chief, index
