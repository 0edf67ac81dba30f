"""Benchmark: `t2i serve` memory under 1,000 mixed bad requests, on 127.0.0.1.

Exports a small text-to-image model (32x32, ngf = ndf = 8) with the real
use-m3 encoder in its graph, starts `t2i serve` on it as a subprocess on
127.0.0.1, warms it up (valid requests, including maximum-length captions),
reads its RSS from /proc, then sends 1,000 requests cycling through bad and
boundary inputs: captions of exactly the byte limit (one unbroken word, and a
batch of 16 of them), a caption one byte over it and a 1 MiB one (400), 300
words (400), a lone surrogate, seeds of 2^63 and of 5,000 digits, malformed
JSON, an oversized batch, wrong types, a body over --max-request-mb (413), a
slow-header client (dropped by --timeout) and a truncated body. RSS is read
again after them; it must stay within 10% of its post-warm-up level.

    .venv/bin/python -m bench.bench_server_badinput

Writes bench/results/server_bad_input.md.
"""

import collections
import datetime
import http.client
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time

from bench.machine import machine

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULT = ROOT / "bench" / "results" / "server_bad_input.md"
REQUESTS = 1000
MAX_BYTES = 2048  # the default caption limit
GOAL_GROWTH = 0.10


def export_model(root):
    import keras

    from tf_t2i.export.savedmodel import write_savedmodel
    from tf_t2i.export.serving_module import ServingModule
    from tf_t2i.models.build import build_gan
    from tf_t2i.models.config import ModelConfig
    from tf_t2i.text.encoder import load_encoder

    keras.mixed_precision.set_global_policy("float32")
    config = ModelConfig(conditions=["text"], image_size=32, ngf=8, ndf=8, z_dim=16)
    gan = build_gan(config, seed=0)
    encoder = load_encoder("use-m3")
    write_savedmodel(ServingModule(gan.generator, config, encoder.module), root, "small")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def post(port, body, timeout=120):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/v1/models/small:predict", body=body)
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError:
        return "dropped"
    finally:
        connection.close()


def body(texts, seeds=None):
    inputs = {"text": texts}
    if seeds is not None:
        inputs["seed"] = seeds
    return json.dumps({"inputs": inputs}).encode()


def raw(port, data, wait=0.0):
    """Sends bytes on a raw socket; returns 'closed' or the status line's code."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            for piece in data:
                sock.sendall(piece)
                time.sleep(wait)
            answer = sock.recv(64)
        except OSError:
            return "dropped"
    return answer.split()[1].decode() if answer else "dropped"


def cases():
    """(name, callable(port) -> status) for each kind of request, in rotation."""
    limit_word = "a" * MAX_BYTES
    return [
        ("caption at the byte limit (one word)", lambda p: post(p, body([limit_word], [1]))),
        ("16 captions at the byte limit", lambda p: post(p, body([limit_word] * 16))),
        ("256 words (token limit)", lambda p: post(p, body([" ".join(["red"] * 256)]))),
        ("one byte over the limit", lambda p: post(p, body(["a" * (MAX_BYTES + 1)]))),
        ("1 MiB single word", lambda p: post(p, body(["a" * (1 << 20)]))),
        ("300 words", lambda p: post(p, body([" ".join(["red"] * 300)]))),
        ("lone surrogate", lambda p: post(p, b'{"inputs": {"text": ["\\ud800 red"]}}')),
        ("seed 2^63", lambda p: post(p, body(["a red circle"], [2**63]))),
        ("5,000-digit seed", lambda p: post(p, body(["x"]).replace(b'["x"]', b'["x"], "seed": [' + b"9" * 5000 + b"]"))),
        ("malformed JSON", lambda p: post(p, b'{"inputs": {"text": [')),
        ("batch of 100 (limit 64)", lambda p: post(p, body(["a"] * 100))),
        ("numbers as text", lambda p: post(p, b'{"inputs": {"text": [1, 2]}}')),
        ("17 MB body (limit 16)", lambda p: post(p, b" " * (17 << 20))),
        ("slow headers", lambda p: raw(p, [b"POST /v1/models/small:predict HTTP/1.1\r\n"] + [b"X: 1\r\n"] * 8, wait=0.5)),
        ("truncated body", lambda p: raw(p, [b"POST /v1/models/small:predict HTTP/1.1\r\nContent-Length: 100\r\n\r\n{"], wait=0.0)),
    ]  # fmt: skip


def main():
    started = time.time()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp) / "savedmodels"
        export_model(root)
        t2i = str(pathlib.Path(sys.executable).parent / "t2i")
        command = [t2i, "serve", str(root), "--port", "0", "--timeout", "2"]
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        try:
            for line in proc.stdout:
                if line.startswith("serving on "):
                    port = int(line.split()[2].rsplit(":", 1)[1])
                    break
            start_rss = rss_mb(proc.pid)
            kinds = cases()
            for _ in range(3):  # warm-up: every kind three times
                for _, fn in kinds:
                    fn(port)
            warm_rss = rss_mb(proc.pid)
            statuses = collections.defaultdict(collections.Counter)
            peak = warm_rss
            begin = time.time()
            for i in range(REQUESTS):
                name, fn = kinds[i % len(kinds)]
                statuses[name][str(fn(port))] += 1
                if i % 50 == 0:
                    peak = max(peak, rss_mb(proc.pid))
            seconds = time.time() - begin
            end_rss = rss_mb(proc.pid)
            alive = post(port, body(["a red circle"], [1]))
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    growth = (end_rss - warm_rss) / warm_rss
    rows = "\n".join(
        f"| {name} | {', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))} |"
        for name, counts in statuses.items()
    )
    verdict = "met" if abs(growth) <= GOAL_GROWTH and alive == 200 else "NOT met"
    date = datetime.datetime.fromtimestamp(started, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = f"""## Serving under bad input: RSS over 1,000 mixed bad requests

- date: {date}
- machine: {machine()}; load average before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f}
- command: `.venv/bin/python -m bench.bench_server_badinput`
- server: `t2i serve --timeout 2` (defaults: caption limit {MAX_BYTES} bytes / 256 tokens, batch 64, 16 MB bodies) on 127.0.0.1, a 32x32 text model with use-m3 in its graph; requests sent one at a time, the kinds below in rotation ({REQUESTS} requests in {seconds:.0f} s).

| RSS | MB |
|---|---:|
| after start-up | {start_rss:.0f} |
| after warm-up (each kind 3 times) | {warm_rss:.0f} |
| highest sampled during the 1,000 | {peak:.0f} |
| after the 1,000 | {end_rss:.0f} |
| change from warm-up | {growth * 100:+.1f}% |

| request | answers |
|---|---|
{rows}

`dropped`: the server closed the connection without an answer the client could read (a 413 is sent before the 17 MB body is read, so the sender sees a broken pipe; slow and truncated requests are cut at the 2 s timeout).

Goal (RSS within {GOAL_GROWTH:.0%} of its post-warm-up level, server still answering): {verdict}. Before the encoder computed in blocks, one 1 MiB word took the server from 1.1 to 6.3 GB (issue 20).
"""
    RESULT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
