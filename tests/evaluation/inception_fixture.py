"""A tiny stand-in for classify_image_graph_def.pb with the real graph's tensor names.

Like the 2015 graph it starts at a JPEG decoder (`DecodeJpeg/contents` ->
`DecodeJpeg` -> `Cast` -> `ExpandDims`), resizes bilinearly (`ResizeBilinear`,
to 16 px here instead of 299), normalises (`Sub`, `Mul`), and ends in
`pool_3` [N, 1, 1, F], `pool_3/_reshape` and `softmax`; one fixed 3x3
convolution stands for the network.
"""

import pathlib

import numpy as np

FEATURES = 8
SIZE = 16


def write_graph(path: pathlib.Path, features: int = FEATURES) -> pathlib.Path:
    import tensorflow as tf

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        contents = v1.placeholder(tf.string, [], name="DecodeJpeg/contents")
        image = tf.io.decode_jpeg(contents, channels=3, name="DecodeJpeg")
        x = tf.cast(image, tf.float32, name="Cast")
        x = tf.expand_dims(x, 0, name="ExpandDims")
        x = tf.raw_ops.ResizeBilinear(images=x, size=[SIZE, SIZE], name="ResizeBilinear")
        x = tf.subtract(x, 128.0, name="Sub")
        x = tf.multiply(x, 1.0 / 128.0, name="Mul")
        kernel = np.random.default_rng(0).standard_normal((3, 3, 3, features)) * 0.3
        x = tf.nn.relu(tf.nn.conv2d(x, tf.constant(kernel, tf.float32), 1, "SAME"), name="conv")
        pool = tf.nn.avg_pool2d(x, SIZE, 1, "VALID", name="pool_3")  # [N, 1, 1, F]
        flat = tf.reshape(pool, [-1, features], name="pool_3/_reshape")
        logits = tf.matmul(flat, tf.constant(np.ones((features, 4)), tf.float32))
        tf.nn.softmax(logits, name="softmax")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(graph.as_graph_def().SerializeToString())
    return path
