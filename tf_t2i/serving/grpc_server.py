"""TF Serving's gRPC PredictionService.Predict for `t2i serve --grpc-port`.

Shares the REST server's ModelRegistry and input checks, so a request gets the
same answer (or the same error, as INVALID_ARGUMENT / NOT_FOUND) over either
protocol.
"""

from concurrent import futures

from tensorflow_serving.apis import prediction_service_pb2_grpc

from tf_t2i.serving import rest_json
from tf_t2i.serving.server import HttpError, run_signature
from tf_t2i.text.limits import CaptionLimits


def make_grpc_server(
    registry, host="127.0.0.1", port=8500, max_batch=64, max_workers=4, caption_limits=None
):
    """Starts a gRPC server answering PredictionService.Predict.

    Args:
        registry: the REST server's ModelRegistry.
        host, port: where to listen (port 0 = any free port).
        max_batch: largest batch accepted per request.
        caption_limits: CaptionLimits for text inputs (None: the defaults).
        max_workers: requests handled at once.

    Returns:
        (grpc.Server, the bound port); call `.stop(grace)` to end it.
    """
    import grpc

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers))
    service = _PredictionService(registry, max_batch, caption_limits or CaptionLimits())
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(service, server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen on {host}:{port}")
    server.start()
    return server, bound


class _PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict of tensorflow.serving.PredictionService (the other methods: UNIMPLEMENTED)."""

    def __init__(self, registry, max_batch, caption_limits):
        self.registry = registry
        self.max_batch = max_batch
        self.caption_limits = caption_limits

    def Predict(self, request, context):  # noqa: N802  (the gRPC method name)
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        spec = request.model_spec
        version = spec.version.value if spec.HasField("version") else None
        try:
            loaded = self.registry.get(spec.name, version)
        except HttpError as err:
            context.abort(grpc.StatusCode.NOT_FOUND, str(err))
        signature = spec.signature_name or "serving_default"
        try:
            if signature not in loaded.specs:
                raise rest_json.BadRequest(
                    f'Serving signature name: "{signature}" not found in signature def'
                )
            raw = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
            arrays, _ = rest_json.decode_inputs(
                {"inputs": raw}, loaded.specs[signature], self.max_batch, self.caption_limits
            )
            outputs = run_signature(loaded, signature, arrays)
        except rest_json.BadRequest as err:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        response = predict_pb2.PredictResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.value = loaded.version
        response.model_spec.signature_name = signature
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        return response
