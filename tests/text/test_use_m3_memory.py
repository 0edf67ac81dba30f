"""One unbroken 1 MiB word used to take the encoder (and the server) from 1 to 6 GB of RSS.

The cause was the encoder's per-position arrays (1,280 floats per token, and
their temporaries, all materialised at once); use_m3 now computes the token
axis in blocks of bounded size.
"""

import os
import subprocess
import sys

_SCRIPT = r"""
import resource
from tf_t2i.text.encoder import load_encoder

encoder = load_encoder("use-m3")
encoder.encode(["warm up", "a red circle"])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = encoder.encode(["a" * 200_000, "a red circle"])  # ~100,000 tokens in one word
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert out.shape == (2, 512)
print("GROWTH_MB", (after - before) // 1024)
"""


def test_a_long_single_word_costs_bounded_memory():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    growth = int(result.stdout.split("GROWTH_MB")[1])
    # before the fix: ~1,100 MB for this input (0.5 GB per 50,000 tokens); now tens of MB
    assert growth < 250, f"peak RSS grew by {growth} MB"
