"""The TF 2015 Inception graph behind the original FID (Heusel et al.'s TTUR code).

`classify_image_graph_def.pb` (from inception-2015-12-05.tgz, the file TTUR's
`fid.py` downloads) is a frozen GraphDef: a JPEG decoder feeding
`ExpandDims:0` (float [1, H, W, 3] in [0, 255]), then `ResizeBilinear` to
299 x 299, normalisation and the network, whose `pool_3:0` ([N, 1, 1, 2048])
are the features FID compares. This module imports it with TensorFlow's
GraphDef importer, maps a batch of images onto `ExpandDims:0`, and fetches
`pool_3:0`. The file must be on disk; it is never downloaded.
"""

from __future__ import annotations

import os
import pathlib

import numpy as np

from tf_t2i.data.writer import file_sha256
from tf_t2i.errors import T2IError

INPUT_TENSOR = "ExpandDims:0"
FEATURE_TENSOR = "pool_3:0"
GRAPH_FILE = "classify_image_graph_def.pb"
BATCH = 50  # TTUR's batch size; the features do not depend on it


class InceptionGraph:
    """Images -> pool_3 features of a frozen Inception GraphDef.

    Args:
        path: the .pb file (classify_image_graph_def.pb).

    Attributes:
        path, sha256: the file and its hash, recorded beside every figure.
        feature_dim: F, the size of pool_3 (2048 for the real graph).

    Example:
        >>> net = InceptionGraph("inception-2015-12-05/classify_image_graph_def.pb")
        >>> net(images_0_255).shape   # float [N, H, W, 3] in [0, 255]
        (N, 2048)
    """

    def __init__(self, path: str | os.PathLike):
        import tensorflow as tf

        self.path = pathlib.Path(path).expanduser()
        if not self.path.is_file():
            raise T2IError(
                f"--inception-graph: no such file: {self.path} (the {GRAPH_FILE} of "
                "inception-2015-12-05.tgz; tf_t2i does not download it)"
            )
        graph_def = tf.compat.v1.GraphDef()
        try:
            graph_def.ParseFromString(self.path.read_bytes())
        except Exception as err:  # protobuf's DecodeError
            raise T2IError(f"{self.path}: not a TensorFlow GraphDef ({err})") from None
        nodes = {node.name for node in graph_def.node}
        missing = [t for t in (INPUT_TENSOR, FEATURE_TENSOR) if t.split(":")[0] not in nodes]
        if missing:
            raise T2IError(
                f"{self.path}: the graph has no {' or '.join(missing)}: expected TF's 2015 "
                f"Inception graph ({GRAPH_FILE})"
            )
        self.sha256 = file_sha256(self.path)
        self.resize = _resize_size(graph_def)

        def features(images):
            (pool,) = tf.compat.v1.import_graph_def(
                graph_def,
                input_map={INPUT_TENSOR: images},
                return_elements=[FEATURE_TENSOR],
                name="inception",
            )
            return tf.reshape(pool, [tf.shape(images)[0], -1])

        spec = tf.TensorSpec([None, None, None, 3], tf.float32)
        try:
            self._forward = tf.compat.v1.wrap_function(features, [spec])
        except (ValueError, tf.errors.OpError) as err:
            raise T2IError(f"{self.path}: cannot import the graph: {err}") from None
        self.feature_dim = int(self._forward(tf.zeros([1, 8, 8, 3])).shape[-1])

    def __call__(self, images: np.ndarray, batch_size: int = BATCH) -> np.ndarray:
        """float [N, H, W, 3] in [0, 255] -> float64 [N, F] pool_3 features."""
        import tensorflow as tf

        outputs = [
            self._forward(tf.constant(images[start : start + batch_size], tf.float32)).numpy()
            for start in range(0, len(images), batch_size)
        ]
        if not outputs:
            return np.zeros((0, self.feature_dim))
        return np.concatenate(outputs).astype(np.float64)

    def description(self) -> dict:
        """What metrics.json records about the network."""
        return {
            "name": "TF Inception 2015-12-05 (TTUR's FID graph)",
            "file": str(self.path),
            "sha256": self.sha256,
            "input": INPUT_TENSOR,
            "output": FEATURE_TENSOR,
            "feature_dim": self.feature_dim,
            "resize": f"the graph's ResizeBilinear to {self.resize}" if self.resize else "none",
        }


def _resize_size(graph_def) -> str | None:
    """ "299x299" from the graph's ResizeBilinear size constant, None if it has none."""
    import tensorflow as tf

    nodes = {node.name: node for node in graph_def.node}
    resize = next((n for n in graph_def.node if n.op == "ResizeBilinear"), None)
    if resize is None or len(resize.input) < 2:
        return None
    size = nodes.get(resize.input[1].split(":")[0])
    if size is None or size.op != "Const":
        return None
    return "x".join(str(v) for v in tf.make_ndarray(size.attr["value"].tensor).tolist())
