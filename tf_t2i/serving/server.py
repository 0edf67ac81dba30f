"""A local server that answers TF Serving's REST API for exported models.

For one machine without Docker: `t2i serve savedmodels/` loads the latest
version of each model (other versions on first use) and answers

    GET  /v1/models/NAME[/versions/N]              model status
    GET  /v1/models/NAME[/versions/N]/metadata     SignatureDefs
    POST /v1/models/NAME[/versions/N]:predict      {"instances": ...} or {"inputs": ...}

with TF Serving's JSON, so a client written against it works unchanged
against TF Serving. Requests run concurrently (one thread each, at most
`max_concurrent` inside TensorFlow at once); bodies above `max_bytes` and
batches above `max_batch` are refused, and so are captions over the
caption limits (tf_t2i.text.limits). A connection that does not deliver a
whole request within `request_timeout` seconds (idle, or trickling its
headers) is dropped. Bad input gets 400 and `{"error": "..."}`; the server
keeps serving. Which versions load, and what happens to a broken one, is
registry.py's business.
"""

import http.server
import json
import re
import socket
import threading

from tf_t2i.serving import rest_json
from tf_t2i.serving.registry import HttpError, ModelRegistry
from tf_t2i.text.limits import CaptionLimits

_ROUTE = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?"
    r"(?:(?P<metadata>/metadata)|:(?P<verb>predict))?/?$"
)


class ServingHandler(http.server.BaseHTTPRequestHandler):
    """Routes one HTTP request; configuration lives on the server object."""

    server_version = "tf_t2i-serve"
    protocol_version = "HTTP/1.1"

    def handle_one_request(self):
        """One request; a connection that has not sent a whole request (headers
        and body) within the server's `request_timeout` seconds, idle or
        trickling bytes, is dropped."""
        self._deadline = threading.Timer(self.server.request_timeout, self._drop)
        self._deadline.daemon = True
        self._deadline.start()
        try:
            super().handle_one_request()
        finally:
            self._deadline.cancel()

    def setup(self):
        self.timeout = self.server.request_timeout  # each socket read, as a backstop
        super().setup()

    def _drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_GET(self):
        self._deadline.cancel()  # the request is in
        self._answer(self._get)

    def do_POST(self):
        self._answer(self._post)

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)

    def _route(self):
        match = _ROUTE.match(self.path.split("?", 1)[0])
        if not match:
            raise HttpError(404, f"Malformed request: {self.command} {self.path}")
        return match

    def _get(self):
        match = self._route()
        if match["verb"]:
            raise HttpError(405, f"use POST for :{match['verb']}")
        registry = self.server.registry
        if match["metadata"]:
            return registry.metadata(match["name"], match["version"])
        return registry.status(match["name"], match["version"])

    def _post(self):
        match = self._route()
        body = self._read_body()  # read before any error, so the connection stays usable
        if match["verb"] != "predict":
            raise HttpError(404, f"Malformed request: POST {self.path}")
        loaded = self.server.registry.get(match["name"], match["version"])
        payload = rest_json.parse_body(body)
        signature = payload.get("signature_name", "serving_default")
        if not isinstance(signature, str):
            raise rest_json.BadRequest('"signature_name" must be a string')
        if signature not in loaded.specs:
            raise rest_json.BadRequest(
                f'Serving signature name: "{signature}" not found in signature def; '
                f"this model has {sorted(loaded.specs)}"
            )
        arrays, columnar = rest_json.decode_inputs(
            payload, loaded.specs[signature], self.server.max_batch, self.server.caption_limits
        )
        with self.server.compute_slots:
            outputs = run_signature(loaded, signature, arrays)
        return rest_json.encode_outputs(outputs, columnar)

    def _read_body(self):
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise HttpError(411, "a Content-Length header is required")
        length = int(length)
        if length > self.server.max_bytes:
            self.close_connection = True  # the unread body would garble the next request
            raise HttpError(
                413, f"request body of {length} bytes exceeds the limit of {self.server.max_bytes}"
            )
        try:
            body = self.rfile.read(length)
        except OSError:  # timed out, or dropped by the deadline
            body = b""
        if len(body) < length:
            self.close_connection = True
            raise HttpError(408, f"the body ended after {len(body)} of {length} bytes")
        self._deadline.cancel()  # the request is in
        return body

    def _answer(self, route):
        try:
            status, payload = 200, route()
        except rest_json.BadRequest as err:
            status, payload = 400, {"error": str(err)}
        except HttpError as err:
            status, payload = err.status, {"error": str(err)}
        except Exception as err:  # the server must survive anything a request triggers
            status, payload = 500, {"error": f"{type(err).__name__}: {err}"}
        self._deadline.cancel()
        data = json.dumps(payload).encode("utf-8")
        if status >= 400 and self.command == "POST":
            # the body may be unread (bad path, too large): do not reuse the connection
            self.close_connection = True
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client is gone (or was dropped): nothing to answer
            self.close_connection = True


def run_signature(loaded, signature, arrays):
    """Calls the model; TensorFlow's argument errors become BadRequest (400s)."""
    import tensorflow as tf

    try:
        return loaded.predict(signature, arrays)
    except (tf.errors.InvalidArgumentError, TypeError, ValueError) as err:
        raise rest_json.BadRequest(short_tf_message(err)) from None


_NOISE_LINES = ("Graph execution error", "Detected at node", "<stack traces", "[[{{node")


def short_tf_message(err):
    """The one line of a TensorFlow error that tells the user what was wrong.

    Graph errors carry node names and stack banners; an assertion's own
    message (e.g. "seed: give one seed per row") is what a client needs.
    """
    text = getattr(err, "message", None) or str(err)
    # in process, the Python stack of the failing op comes before the assertion
    assertion = re.search(r"assertion failed: \[(.*?)\]", text)
    if assertion:
        return assertion.group(1)
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(_NOISE_LINES):
            continue
        assertion = re.match(r"assertion failed: \[(.*?)\]", line)
        if assertion:
            return assertion.group(1)
        if line.startswith("Invalid formatting on input string"):
            return "text: not valid UTF-8"
        return line.split(" [[{{node")[0]
    return text.strip()


class ServingServer(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer holding the model registry and the request limits.

    Args:
        address: (host, port); port 0 picks a free one.
        registry: ModelRegistry.
        max_batch: largest batch accepted per request.
        max_bytes: largest request body accepted.
        max_concurrent: requests computing inside TensorFlow at once.
        verbose: log each request to stderr.
        caption_limits: CaptionLimits for text inputs (None: the defaults).
        request_timeout: seconds a connection may take to send one whole
            request, or stay idle between requests, before it is dropped.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address,
        registry,
        max_batch=64,
        max_bytes=16 << 20,
        max_concurrent=4,
        verbose=False,
        caption_limits=None,
        request_timeout=30.0,
    ):
        super().__init__(address, ServingHandler)
        self.caption_limits = caption_limits or CaptionLimits()
        self.request_timeout = request_timeout
        self.registry = registry
        self.max_batch = max_batch
        self.max_bytes = max_bytes
        self.compute_slots = threading.BoundedSemaphore(max_concurrent)
        self.verbose = verbose

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


def make_server(root, host="127.0.0.1", port=8501, policy="latest", **limits):
    """Loads the models under `root` and returns a ServingServer (not yet serving).

    Call `serve_forever()` on it (or run that in a thread).

    Raises:
        T2IError: no version of some model loads (naming each failure).
        OSError: the address cannot be bound.
    """
    return ServingServer((host, port), ModelRegistry(root, policy=policy), **limits)
