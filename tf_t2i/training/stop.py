"""A graceful stop: SIGTERM or SIGINT ends training after the current step, with a checkpoint.

A preemptible VM or TPU, `docker stop`, a batch scheduler's time limit and
Ctrl-C all stop a job by signal. Without this, `t2i fit` died mid-interval and a
rerun repeated the steps since its last periodic checkpoint. With it, the first
signal lets the step that is running finish; the loop then stops, the
checkpoint callback saves that step, and `fit` returns a result whose
`stopped_by` names the signal. A second signal stops at once, as it would
have without this (SIGINT raises KeyboardInterrupt, SIGTERM ends the process).

A signal the process ignores (SIGINT in a job a non-interactive shell put in
the background) stays ignored. Signal handlers can only be installed from the main thread; elsewhere (fit()
called from a worker thread) `GracefulStop` does nothing and signals keep their
old effect. Several workers (MultiWorkerMirroredStrategy) do not use it: one
worker leaving the loop alone would leave the others waiting in a collective
op, so they keep the old behaviour and resume from the last periodic checkpoint.
"""

from __future__ import annotations

import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class GracefulStop:
    """Context manager: while active, SIGINT and SIGTERM set `requested` instead of killing.

    Attributes:
        requested: the name of the first signal received ("SIGTERM"), or None.
        signum: its number, or None.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.requested: str | None = None
        self.signum: int | None = None
        self._previous: dict = {}

    def __enter__(self) -> GracefulStop:
        if self.enabled:
            for signum in SIGNALS:
                if signal.getsignal(signum) is signal.SIG_IGN:
                    continue  # ignored on purpose (a background job's SIGINT): keep it so
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum, frame) -> None:
        if self.requested is not None:  # the second signal: stop now
            self.__exit__()
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            signal.raise_signal(signum)
            return
        self.requested = signal.Signals(signum).name
        self.signum = signum
