"""How long a caption may be: a limit in UTF-8 bytes and in tokens.

The same limits guard the three places a caption enters: the local server
(`t2i serve`, a 400 naming the limit), the exported SavedModel's signatures
(TF Serving answers InvalidArgument, i.e. 400) and conversion (`t2i convert`
drops the caption with skip reason `caption_too_long` in skipped.jsonl).

Tokens are counted as whitespace-separated words, the same way in Python and
in the graph (`tf.strings.split`), so the count does not depend on the text
encoder. The encoder's own cost grows linearly with the text (use_m3.py
computes it in bounded blocks), so the limit is a policy on request size and
time, not the only guard on memory.
"""

import dataclasses

DEFAULT_MAX_BYTES = 2048
DEFAULT_MAX_TOKENS = 256


@dataclasses.dataclass(frozen=True)
class CaptionLimits:
    """The longest caption accepted.

    Attributes:
        max_bytes: UTF-8 bytes per caption.
        max_tokens: whitespace-separated words per caption.
    """

    max_bytes: int = DEFAULT_MAX_BYTES
    max_tokens: int = DEFAULT_MAX_TOKENS

    def __post_init__(self):
        if self.max_bytes < 1 or self.max_tokens < 1:
            raise ValueError(f"caption limits must be positive, got {self}")

    def problem(self, caption: bytes | str) -> str | None:
        """Why `caption` is over the limits, or None if it is within them."""
        data = caption.encode("utf-8") if isinstance(caption, str) else caption
        if len(data) > self.max_bytes:
            return f"{len(data)} bytes, over the limit of {self.max_bytes} bytes per caption"
        words = len(data.split())
        if words > self.max_tokens:
            return f"{words} tokens, over the limit of {self.max_tokens} tokens per caption"
        return None
