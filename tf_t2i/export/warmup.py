"""TF Serving warm-up requests: `assets.extra/tf_serving_warmup_requests`.

TF Serving replays these PredictionLog records when it loads a version, so the
first real request does not pay for graph initialisation.
"""

import pathlib

import numpy as np
import tensorflow as tf

WARMUP_FILE = "tf_serving_warmup_requests"
EXAMPLE_CAPTION = "a red circle"


def _blank_png(size, channels):
    """A mid-grey PNG file as bytes (the example image / mask input)."""
    return tf.io.encode_png(tf.fill([size, size, channels], tf.constant(128, tf.uint8))).numpy()


def example_inputs(signature_inputs, image_size=64, channels=3):
    """One small, valid request per signature.

    Args:
        signature_inputs: dict signature name -> {input name: tf.TensorSpec}
            (the required inputs only are filled, plus `seed`).
        image_size, channels: the model's image shape, for image inputs.

    Returns:
        dict signature name -> {input name: np.ndarray}, batch size 1.
    """
    examples = {}
    for signature, specs in signature_inputs.items():
        inputs = {}
        for name, spec in specs.items():
            scalar = spec.shape.rank == 0
            if name == "noise":
                continue
            if name in ("text", "text_a"):
                value = EXAMPLE_CAPTION.encode()
            elif name == "text_b":
                value = b"a blue square"
            elif name == "image":
                value = _blank_png(image_size, channels)
            elif name == "mask":
                value = _blank_png(image_size, 1)
            elif name == "steps":
                value = 2
            elif name in ("seed", "label"):
                value = 0
            else:  # embeddings, attributes: zeros of the declared width
                inputs[name] = np.zeros([1, spec.shape[-1]], spec.dtype.as_numpy_dtype)
                continue
            array = np.array(
                value, dtype=object if isinstance(value, bytes) else spec.dtype.as_numpy_dtype
            )
            inputs[name] = array if scalar else array[None]
        examples[signature] = inputs
    return examples


def write_warmup_requests(export_dir, model_name, examples):
    """Writes PredictionLog records, one per signature, for TF Serving.

    Args:
        export_dir: the SavedModel directory.
        model_name: the name TF Serving serves it under.
        examples: dict signature name -> {input name: np.ndarray}.

    Returns:
        pathlib.Path of the file written.
    """
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path = pathlib.Path(export_dir, "assets.extra", WARMUP_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature, inputs in examples.items():
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature)
            )
            for name, value in inputs.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path


def read_warmup_requests(export_dir):
    """The warm-up PredictRequests of an export (for tests and inspection)."""
    from tensorflow_serving.apis import prediction_log_pb2

    path = pathlib.Path(export_dir, "assets.extra", WARMUP_FILE)
    requests = []
    for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        requests.append(prediction_log_pb2.PredictionLog.FromString(record).predict_log.request)
    return requests
