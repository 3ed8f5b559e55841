"""How much of the CPU other processes took while a run trained.

A run's wall time is only evidence about the code when the machine was otherwise quiet: a run
trained beside a test suite takes far longer than the same run alone, and nothing in its results
says so. Each attempt therefore records its own CPU time and the share of its CPUs' time that
other processes used (``summary.json``: ``cpu_seconds``, ``others_cpu_share``), so that
``attnxfer bench-estimates`` can tell a slow estimate from a busy machine.

The CPUs counted are the ones this process may run on (its affinity: under SLURM, the job's
cores). Busy time comes from the kernel's ``/proc/stat`` (user, nice, system, irq, softirq and
steal: a VM's neighbours count as others). Own time includes this process's threads and its child
processes (data-loader workers), live or finished. Where ``/proc`` is missing (not Linux) both
fields are ``None``. Other ranks of a multi-process run count as others.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

PROC = Path("/proc")
BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user nice system [idle iowait] irq softirq steal, of a cpuN line
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds so far: the allowed CPUs' busy time (every process) and this process tree's own."""

    at: float  # time.perf_counter()
    busy: float
    own: float
    cpus: int


def _busy_seconds(stat: str, cpus: set[int]) -> float:
    """Busy seconds of ``cpus`` from the text of ``/proc/stat``."""
    ticks = 0
    for line in stat.splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            ticks += sum(int(fields[i]) for i in BUSY_FIELDS if i < len(fields))
    return ticks / TICK


def _proc_times(pid: str) -> float:
    """utime + stime of a live process, its finished children included, in seconds (0 once it is gone)."""
    try:
        text = (PROC / pid / "stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2:].split()  # after the command name, which may hold spaces
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICK  # utime stime cutime cstime


def _live_children() -> list[str]:
    found: list[str] = []
    for task in (PROC / "self" / "task").glob("*/children"):
        try:
            found += task.read_text().split()
        except OSError:
            continue
    return found


def snapshot() -> Optional[CpuSnapshot]:
    """This moment's counters, or None where ``/proc/stat`` cannot be read."""
    try:
        stat = (PROC / "stat").read_text()
    except OSError:
        return None
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
    t = os.times()
    own = t.user + t.system + t.children_user + t.children_system + sum(map(_proc_times, _live_children()))
    return CpuSnapshot(time.perf_counter(), _busy_seconds(stat, cpus), own, len(cpus))


def others_share(before: Optional[CpuSnapshot], after: Optional[CpuSnapshot]) -> Optional[float]:
    """The share (0 to 1) of the allowed CPUs' time between two snapshots that other processes used."""
    if before is None or after is None or after.at <= before.at:
        return None
    capacity = before.cpus * (after.at - before.at)
    others = (after.busy - before.busy) - (after.own - before.own)
    return min(1.0, max(0.0, others / capacity))


class ContentionMeter:
    """Started when an attempt starts training; ``fields`` gives what its summary records."""

    def __init__(self) -> None:
        self.start = snapshot()

    def fields(self) -> dict[str, Optional[float]]:
        end = snapshot()
        share = others_share(self.start, end)
        own = round(end.own - self.start.own, 3) if self.start and end else None
        return {"cpu_seconds": own, "others_cpu_share": None if share is None else round(share, 3)}
