"""How fast an attempt trains: step time, time waiting for data, peak memory.

Kept out of ``metrics.jsonl`` on purpose: timings differ between an interrupted and an
uninterrupted run, and the metrics log must not. Each attempt rewrites ``RUN/timing.json``
at every checkpoint; ``attnxfer rehearse`` reads it to predict a sweep's cost from a few
measured steps instead of a FLOP count.
"""
from __future__ import annotations

import resource
import statistics
import sys
import time
from collections import deque
from typing import Iterable, Iterator, Optional, TypeVar

import torch

from attnxfer_core.runs.files import atomic_write_json
from attnxfer_core.runs.rundir import TIMING, RunDir

T = TypeVar("T")
KEEP = 2000  # the most recent steps whose times are kept (medians are over these)
WARMUP = 3  # first steps of an attempt, not timed (allocation, autotuning, compilation)


class StepTimer:
    """Times the steps of one attempt: ``wrap`` the batch iterator, call ``step_done`` after each step."""

    def __init__(self, device: torch.device, warmup: int = WARMUP) -> None:
        self.device = device
        self.warmup = warmup
        self.seen = 0
        self.waits: deque[float] = deque(maxlen=KEEP)
        self.steps: deque[float] = deque(maxlen=KEEP)
        self._ready: Optional[float] = None
        self._wait = 0.0
        if device.type == "cuda":  # this attempt's peak, not an earlier run's in the same process
            torch.cuda.reset_peak_memory_stats(device)

    def wrap(self, batches: Iterable[T]) -> Iterator[T]:
        iterator = iter(batches)
        while True:
            asked = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                return
            self._ready = time.perf_counter()
            self._wait = self._ready - asked
            yield item

    def step_done(self) -> None:
        if self._ready is None:
            return
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.seen += 1
        if self.seen > self.warmup:
            self.waits.append(self._wait)
            self.steps.append(time.perf_counter() - self._ready)
        self._ready = None

    def summary(self, images_per_step: int) -> dict:
        """Medians over the timed steps (None before any), and this process's peak memory."""
        step = statistics.median(self.steps) if self.steps else None
        wait = statistics.median(self.waits) if self.waits else None
        record = {
            "device": str(self.device),
            "device_name": torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "cpu",
            "steps_timed": len(self.steps),
            "warmup_steps": self.warmup,
            "images_per_step": images_per_step,  # this process's images per optimizer step
            "median_step_seconds": step,  # forward, backward and optimizer step (accumulation included)
            "median_data_wait_seconds": wait,  # waiting for the next batch
            "images_per_second": images_per_step / (step + wait) if step is not None else None,
            "peak_gpu_memory_gb": (torch.cuda.max_memory_allocated(self.device) / 2**30
                                   if self.device.type == "cuda" else None),
            "peak_rss_gb": _peak_rss_gb(),  # the whole process's peak so far (earlier runs in it included)
            "gpu_total_memory_gb": (torch.cuda.get_device_properties(self.device).total_memory / 2**30
                                    if self.device.type == "cuda" else None),
        }
        return record

    def write(self, run_dir: RunDir, images_per_step: int) -> None:
        """Rewrite ``RUN/timing.json``; an attempt that timed no step leaves an earlier measurement alone."""
        if self.steps:
            atomic_write_json(run_dir.file(TIMING), self.summary(images_per_step), durable=False)


def _peak_rss_gb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / (2**30 if sys.platform == "darwin" else 2**20)
