"""A quiet TensorFlow for the CLI: no C++ log lines unless the user asks for them.

TensorFlow's C++ runtime logs through absl to stderr. `TF_CPP_MIN_LOG_LEVEL=3`
silences what it logs once running (INFO to ERROR: cuInit without a GPU, oneDNN
notes, grappler messages); errors that matter still reach the user as Python
exceptions with their messages. The lines printed while its libraries load,
before `absl::InitializeLog()` ("WARNING: All log messages before ...",
"I0000 ... port.cc ... oneDNN custom operations are on", "cudart_stub.cc ...
Could not find cuda drivers"), ignore that variable, so the first
`import tensorflow` runs with file descriptor 2 sent to a temporary file, and
every line of it that is not a C++ log line (a Python warning, say) is written
back to stderr.

Nothing changes when TF_CPP_MIN_LOG_LEVEL is set already or with `--verbose`.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

# absl's C++ log line: severity letter, MMDD, time, thread, file:line]
C_LOG_LINE = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called)"
)
_QUIET_LEVEL = "3"  # FATAL only


def set_tensorflow_logging(verbose: bool) -> None:
    """Quiets TensorFlow's C++ logging for this process, or (verbose) undoes that.

    Call before TensorFlow is imported. A TF_CPP_MIN_LOG_LEVEL the user set is
    left alone either way.
    """
    global _level_set_here
    for finder in [f for f in sys.meta_path if isinstance(f, _QuietImport)]:
        sys.meta_path.remove(finder)
    if verbose:
        if _level_set_here and os.environ.get("TF_CPP_MIN_LOG_LEVEL") == _QUIET_LEVEL:
            del os.environ["TF_CPP_MIN_LOG_LEVEL"]
        _level_set_here = False
        return
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ and not _level_set_here:
        return  # the user's choice
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = _QUIET_LEVEL
    _level_set_here = True
    if "tensorflow" not in sys.modules:
        sys.meta_path.insert(0, _QuietImport())


_level_set_here = False  # whether TF_CPP_MIN_LOG_LEVEL is ours to undo


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` with the other finders and wraps its loader in `_QuietLoader`."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: later imports of TensorFlow are plain
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    """Runs another loader's exec_module with fd 2 captured and filtered."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with _filtered_stderr():
            self.loader.exec_module(module)

    def __getattr__(self, name):  # get_resource_reader, is_package, ...
        return getattr(self.loader, name)


class _filtered_stderr:
    """Context manager: fd 2 goes to a temporary file; non-log lines are replayed."""

    def __enter__(self):
        sys.stderr.flush()
        self.capture = tempfile.TemporaryFile()
        self.saved = os.dup(2)
        os.dup2(self.capture.fileno(), 2)
        return self

    def __exit__(self, *exc):
        sys.stderr.flush()
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.capture.seek(0)
        text = self.capture.read().decode("utf-8", "replace")
        self.capture.close()
        kept = [line for line in text.splitlines(keepends=True) if not C_LOG_LINE.match(line)]
        if kept:
            sys.stderr.write("".join(kept))
            sys.stderr.flush()
        return False
