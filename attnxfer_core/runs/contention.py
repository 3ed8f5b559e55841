"""How much of the CPU other processes took while a run trained.

A run's wall time is only evidence about the code when the machine was otherwise quiet: a run
trained beside a test suite takes far longer than the same run alone, and nothing in its results
says so. Each attempt therefore records, from the start of training to its summary (set-up left
out, like ``wall_seconds_this_attempt``), its own CPU time and the share of its CPUs' time that
other processes used (``summary.json``: ``cpu_seconds``, ``others_cpu_share``), so that
``attnxfer bench estimates`` can tell a slow estimate from a busy machine.

The CPUs counted are the ones this process may run on when training starts (its affinity: under
SLURM, the job's cores), and the share is of all of them: on a large allocation, a few busy foreign
cores are a small share. Busy time comes from the kernel's ``/proc/stat`` (user, nice, system, irq,
softirq and steal: a VM's neighbours count as others). Own time is this process's threads and its
descendants (data-loader workers), live or waited for. What counts as others although the run
caused it: interrupts and kernel threads serving its I/O, descendants it orphaned, other ranks of a
multi-process run. The fields are ``None`` where ``/proc`` is missing (not Linux), when a counted CPU
has no line in ``/proc/stat`` (offline, or renumbered by a container), when the counters disagree
(others below zero by more than tick noise), or for a window under ``MIN_WINDOW`` seconds.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

PROC = Path("/proc")
BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user nice system [idle iowait] irq softirq steal, of a cpuN line
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
MIN_WINDOW = 1.0  # seconds: counters tick every 1/CLK_TCK s per CPU, too coarse for shorter windows
SLACK = 0.05  # of capacity: how far below zero others may come out from tick rounding alone


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds so far: the counted CPUs' busy time (every process) and this process tree's own."""

    at: float  # time.perf_counter()
    busy: float
    own: float
    cpus: frozenset[int]


def _busy_seconds(stat: str, cpus: frozenset[int]) -> Optional[float]:
    """Busy seconds of ``cpus`` from the text of ``/proc/stat`` (None if one of them has no line)."""
    ticks, seen = 0, set()
    for line in stat.splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            ticks += sum(int(fields[i]) for i in BUSY_FIELDS if i < len(fields))
            seen.add(int(name[3:]))
    return ticks / CLK_TCK if seen == cpus else None


def _proc_cpu_seconds(pid: str) -> float:
    """utime + stime of a live process, its waited-for children included (0 once it is gone)."""
    try:
        text = (PROC / pid / "stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2:].split()  # after the command name, which may hold spaces
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLK_TCK  # utime stime cutime cstime


def _children(pid: str) -> list[str]:
    found: list[str] = []
    for task in (PROC / pid / "task").glob("*/children"):
        try:
            found += task.read_text().split()
        except OSError:
            continue
    return found


def _live_descendants() -> list[str]:
    pending, found = _children(str(os.getpid())), []
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += _children(pid)
    return found


def counted_cpus() -> frozenset[int]:
    """The CPUs this process may run on now."""
    try:
        return frozenset(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return frozenset(range(os.cpu_count() or 1))


def snapshot(cpus: frozenset[int]) -> Optional[CpuSnapshot]:
    """This moment's counters for ``cpus``, or None where they cannot be read."""
    try:
        busy = _busy_seconds((PROC / "stat").read_text(), cpus)
        if busy is None:
            return None
        t = os.times()
        own = (t.user + t.system + t.children_user + t.children_system
               + sum(map(_proc_cpu_seconds, _live_descendants())))
    except (OSError, ValueError, IndexError):  # no /proc, or a format this code does not know
        return None
    return CpuSnapshot(time.perf_counter(), busy, own, cpus)


def others_cpu_share(before: Optional[CpuSnapshot], after: Optional[CpuSnapshot]) -> Optional[float]:
    """The share (0 to 1) of the counted CPUs' time between two snapshots that other processes used."""
    if before is None or after is None or after.cpus != before.cpus or after.at - before.at < MIN_WINDOW:
        return None
    capacity = len(before.cpus) * (after.at - before.at)
    share = ((after.busy - before.busy) - (after.own - before.own)) / capacity
    return None if share < -SLACK else min(1.0, max(0.0, share))


class ContentionMeter:
    """Started when an attempt starts training; ``fields`` gives what its summary records."""

    def __init__(self) -> None:
        self.cpus = counted_cpus()  # fixed here: the end must count the same CPUs
        self.start = snapshot(self.cpus)

    def fields(self) -> dict[str, Optional[float]]:
        end = snapshot(self.cpus)
        share = others_cpu_share(self.start, end)
        own = round(end.own - self.start.own, 3) if self.start and end else None
        return {"cpu_seconds": own, "others_cpu_share": None if share is None else round(share, 3)}
