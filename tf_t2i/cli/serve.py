"""`t2i serve`: TF Serving's REST API for exported models, without Docker."""

import click

from tf_t2i.cli.errors import user_errors
from tf_t2i.cli.limits import caption_limit_options


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("root", default="savedmodels", type=click.Path(exists=True, file_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    default=8501,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="REST port (0 = any free port).",
)
@click.option(
    "--grpc-port",
    type=click.IntRange(0, 65535),
    help="Also answer TF Serving's gRPC Predict on this port (TF Serving uses 8500).",
)
@click.option(
    "--max-batch",
    default=64,
    show_default=True,
    type=click.IntRange(1),
    help="Largest batch per request.",
)
@click.option(
    "--max-request-mb",
    default=16.0,
    show_default=True,
    type=click.FloatRange(0.001),
    help="Largest request body, in MB.",
)
@click.option(
    "--max-concurrent",
    default=4,
    show_default=True,
    type=click.IntRange(1),
    help="Requests computing at once (more wait).",
)
@caption_limit_options
@click.option(
    "--timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds a connection may take to send a request, or stay idle, before it is dropped.",
)
@click.option(
    "--versions",
    "policy",
    type=click.Choice(["latest", "all"]),
    default="latest",
    show_default=True,
    help="Load the newest version that loads, or every version.",
)
@click.option("--verbose", is_flag=True, help="Log every request.")
@user_errors
def serve(
    root,
    host,
    port,
    grpc_port,
    max_batch,
    max_request_mb,
    max_concurrent,
    max_caption_bytes,
    max_caption_tokens,
    timeout,
    policy,
    verbose,
):
    """Serves exported models over TF Serving's REST API.

    ROOT holds NAME/VERSION/ SavedModels (as written by `t2i export`) or is one
    model directory. The newest version of each model that loads is served
    (--versions all: every version); a broken version is reported and
    skipped. Other versions load on first use.

    \b
    t2i serve savedmodels/ --port 8501
    t2i serve savedmodels/ --port 8501 --grpc-port 8500
    curl localhost:8501/v1/models/shapes
    curl -d '{"instances": [{"text": "a red circle", "seed": 1}]}' \\
         localhost:8501/v1/models/shapes:predict
    """
    from tf_t2i.errors import T2IError
    from tf_t2i.serving.registry import ModelRegistry
    from tf_t2i.serving.server import ServingServer
    from tf_t2i.text.limits import CaptionLimits

    registry = ModelRegistry(root, policy=policy)  # T2IError if a model has no loadable version
    if not registry.models:
        raise T2IError(f"{root}: no exported models (expected NAME/VERSION/saved_model.pb)")
    for name in registry.models:
        if registry.failures(name):
            click.echo(f"warning: {name}: skipped {registry.failures(name)}", err=True)
    limits = CaptionLimits(max_caption_bytes, max_caption_tokens)
    try:
        server = ServingServer(
            (host, port),
            registry,
            max_batch=max_batch,
            max_bytes=int(max_request_mb * (1 << 20)),
            max_concurrent=max_concurrent,
            verbose=verbose,
            caption_limits=limits,
            request_timeout=timeout,
        )
    except OSError as err:
        raise T2IError(f"--port {port}: cannot listen on {host} ({err.strerror or err})") from None
    grpc_server = None
    if grpc_port is not None:
        from tf_t2i.serving.grpc_server import make_grpc_server

        try:
            grpc_server, bound = make_grpc_server(
                server.registry,
                host,
                grpc_port,
                max_batch,
                max_workers=max_concurrent,
                caption_limits=limits,
            )
        except (OSError, RuntimeError) as err:
            raise T2IError(f"--grpc-port {grpc_port}: cannot listen on {host} ({err})") from None
        click.echo(f"gRPC PredictionService on {host}:{bound}")
    for name in registry.models:
        shown = registry.loaded_versions(name)
        click.echo(f"{name}: versions {shown} loaded at {server.url}/v1/models/{name}")
    click.echo(f"serving on {server.url} (Ctrl-C stops)", nl=True)
    _stop_on_signals()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if grpc_server is not None:
            grpc_server.stop(grace=1)


def _stop_on_signals():
    """Makes SIGINT and SIGTERM stop the server.

    A process started in the background by a non-interactive shell inherits SIGINT as
    ignored, and Python then installs no KeyboardInterrupt handler; `docker stop` and
    process managers send SIGTERM. Both end serve_forever() through the same path.
    """
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
