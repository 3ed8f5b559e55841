"""What a run's summary says about the rest of the machine: its own CPU time and the share others took."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from attnxfer_core.runs import contention
from attnxfer_core.runs.contention import ContentionMeter, CpuSnapshot, others_cpu_share

on_linux = pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs /proc/stat")
# {s} CPU seconds, nearly all in user mode (reading the CPU clock is a system call), then idle
BUSY = "import time\nwhile time.process_time() < {s}:\n    sum(range(100000))\ntime.sleep({rest})"


def test_busy_time_counts_only_the_counted_cpus_and_not_idle():
    stat = ("cpu  900 0 900 900 900 0 0 0 0 0\n"
            "cpu0 100 10 20 5000 70 1 2 3 0 0\n"  # busy: user nice system irq softirq steal = 136 ticks
            "cpu1 400 0 400 400 400 0 0 0 0 0\n"
            "intr 12345 1 2\n")
    assert contention._busy_seconds(stat, frozenset({0})) == 136 / contention.CLK_TCK
    assert contention._busy_seconds(stat, frozenset({0, 1})) == 936 / contention.CLK_TCK
    assert contention._busy_seconds(stat, frozenset({0, 2})) is None  # cpu2 offline or renumbered


def _at(at, busy, own, cpus=frozenset(range(4))):
    return CpuSnapshot(at=at, busy=busy, own=own, cpus=cpus)


def test_others_share_is_the_rest_of_the_busy_time_over_the_cpus_capacity():
    before = _at(10.0, 100.0, 50.0)
    assert others_cpu_share(before, _at(20.0, 130.0, 60.0)) == 0.5  # others: 20 of 40 CPU-seconds
    assert others_cpu_share(before, _at(20.0, 110.0, 60.0)) == 0.0  # own alone
    assert others_cpu_share(before, _at(20.0, 109.0, 60.0)) == 0.0  # tick rounding: clipped to zero
    assert others_cpu_share(before, _at(20.0, 200.0, 50.0)) == 1.0  # clipped
    assert others_cpu_share(before, _at(20.0, 100.0, 90.0)) is None  # own above the CPUs' busy time: wrong CPUs
    assert others_cpu_share(before, _at(20.0, 130.0, 60.0, frozenset({0}))) is None  # other CPUs counted
    assert others_cpu_share(before, _at(10.5, 101.0, 50.0)) is None  # too short a window to read
    assert others_cpu_share(before, None) is None


@on_linux
def test_own_threads_and_live_and_finished_descendants_count_as_own():
    meter = ContentionMeter()
    t = time.process_time()
    while time.process_time() - t < 0.4:
        sum(range(100000))
    subprocess.run([sys.executable, "-c", BUSY.format(s=0.4, rest=0)], check=True)  # finished, waited for
    # a live grandchild (through a shell that waits for it), still running when the meter reads
    shell = subprocess.Popen(["sh", "-c", f"{sys.executable} -c '{BUSY.format(s=1.0, rest=60)}' & echo $!; wait"],
                             stdout=subprocess.PIPE, text=True)
    grandchild = int(shell.stdout.readline())
    try:
        deadline = time.time() + 30
        while meter.fields()["cpu_seconds"] < 1.75 and time.time() < deadline:
            time.sleep(0.2)
        assert meter.fields()["cpu_seconds"] >= 1.75  # 0.4 + 0.4 + 1.0, less tick rounding
    finally:
        os.kill(grandchild, signal.SIGKILL)
        shell.wait()


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"  # a zombie has finished (PID 1 may not reap it at once)


@on_linux
def test_a_process_outside_the_run_counts_as_others():
    cpus = contention.counted_cpus()
    before = contention.snapshot(cpus)
    # started through a shell that exits at once: the busy process is re-parented, not a descendant
    out = subprocess.run(["sh", "-c", f"{sys.executable} -c '{BUSY.format(s=1.5, rest=0)}' & echo $!"],
                         check=True, capture_output=True, text=True).stdout
    pid, deadline = int(out), time.time() + 60
    try:
        while _running(pid) and time.time() < deadline:  # however the machine schedules it: its 1.5 s used
            time.sleep(0.1)
        after = contention.snapshot(cpus)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    share = others_cpu_share(before, after)
    assert after.own - before.own < 0.5
    assert share * len(cpus) * (after.at - before.at) > 1.4  # CPU-seconds others took: the 1.5, less ticks
