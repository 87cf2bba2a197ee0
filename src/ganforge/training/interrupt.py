"""Preemption-safe training: a signal ends the run at the next step boundary, with a checkpoint.

Cluster schedulers stop jobs with a signal and a grace period: SLURM sends SIGTERM (or, with
``--signal``, SIGUSR1) before SIGKILL, Kubernetes SIGTERM 30 s before; a user presses Ctrl-C
(SIGINT). Python's defaults end the process mid-step (SIGTERM: at once, exit 143, nothing
written; SIGINT: a KeyboardInterrupt wherever the interpreter happens to be), so up to
``train.ckpt_every`` steps were lost. While a run trains, ``SignalStop`` only records the signal;
the Trainer finishes the step it is in, and every rank agrees to stop after the same step (under
torchrun each process gets the signal, not necessarily between the same two steps). It then raises
``TrainingInterrupted``: the checkpointer writes that step (atomically), ``summary.json`` records
the signal, and ``ganforge train`` exits with status 128 + the signal's number (143 SIGTERM,
130 SIGINT, 138 SIGUSR1: what a shell reports for a job that a signal ended), after which
``--resume`` continues from exactly that step. A second Ctrl-C stops at once, mid-step, with no
checkpoint, for a user who will not wait (as does a second SIGTERM). A signal ignored when training
starts (``nohup``, a background job) stays ignored. Handlers a job runner installed (a requeue on
SIGUSR1, say) are replaced while training runs and put back after: the run then saves and exits
with 128 + the signal, which such runners read as preemption.

Handlers are installed only from the main thread (Python delivers signals there) and the previous
ones are restored when training ends, so a notebook or a server embedding ``ganforge.train`` keeps
its own.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

SIGNALS = tuple(s for s in (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGUSR1", None)) if s is not None)


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by ``signum`` after ``step``, with that step checkpointed."""

    def __init__(self, signum: int, step: int) -> None:
        self.signum, self.step = signum, step
        self.signal_name = signal.Signals(signum).name
        super().__init__(f"training stopped by {self.signal_name} after step {step}")

    @property
    def exit_status(self) -> int:
        """What a shell reports for a job ended by this signal (128 + its number)."""
        return 128 + self.signum


class SignalStop:
    """While entered (main thread only), the first of ``SIGNALS`` is recorded in ``received``
    instead of ending the process; a second SIGINT raises KeyboardInterrupt at once."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            raise KeyboardInterrupt  # asked twice (Ctrl-C again, a scheduler's second TERM): stop now
        self.received = signum

    def __enter__(self) -> SignalStop:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                previous = signal.getsignal(signum)
                if previous is signal.SIG_IGN:  # ignored on purpose (nohup, a background job): stays so
                    continue
                signal.signal(signum, self._handle)
                self._previous[signum] = previous
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        for signum, handler in self._previous.items():
            # None: a handler installed from C, which Python cannot put back; the default then
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()
