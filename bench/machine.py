"""The machine line every benchmark section records."""

import os

from tf_t2i.training.precision import cpu_model

__all__ = ["cpu_model", "machine"]


def machine() -> str:
    """'N cores, CPU model'."""
    return f"{os.cpu_count()} cores, {cpu_model()}"
