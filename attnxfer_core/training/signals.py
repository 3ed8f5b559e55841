"""Graceful stops: a signal asks the trainer to checkpoint at the next step boundary.

SLURM warns a job before preemption or its time limit (USR2 under submitit);
``scancel`` and ``kill`` send SIGTERM; Ctrl-C sends SIGINT. Saving from inside a
signal handler could catch the optimizer half-way through a step, so the
handler only raises a flag, and the training loop saves at the next step
boundary, then stops (resumable).
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

STOP = threading.Event()
_received: list[int] = []


def received() -> Optional[int]:
    """The signal that asked for the stop, if any."""
    return _received[-1] if _received else None


def _handler(signum: int, frame) -> None:  # noqa: ARG001 - signal handler signature
    _received.append(signum)
    STOP.set()


@contextmanager
def graceful_stop(signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGUSR2)) -> Iterator[dict[int, Callable]]:
    """While active, the given signals stop training at the next step; yields the previous handlers."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in signals:
            previous[sig] = signal.getsignal(sig)
            signal.signal(sig, _handler)
    STOP.clear()
    _received.clear()
    try:
        yield previous
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
