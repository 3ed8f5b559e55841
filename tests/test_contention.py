"""What a run's summary says about the rest of the machine: its own CPU time and the share others took."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from attnxfer_core.runs import contention
from attnxfer_core.runs.contention import ContentionMeter, CpuSnapshot, others_share

on_linux = pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs /proc/stat")
BUSY = "import time\nwhile time.process_time() < {s}: pass"  # CPU seconds, however loaded the machine is


def test_busy_time_counts_only_the_allowed_cpus_and_not_idle():
    stat = ("cpu  900 0 900 900 900 0 0 0 0 0\n"
            "cpu0 100 10 20 5000 70 1 2 3 0 0\n"  # busy: user nice system irq softirq steal = 136 ticks
            "cpu1 400 0 400 400 400 0 0 0 0 0\n"
            "intr 12345 1 2\n")
    assert contention._busy_seconds(stat, {0}) == 136 / contention.TICK
    assert contention._busy_seconds(stat, {0, 1}) == 936 / contention.TICK


def test_others_share_is_the_rest_of_the_busy_time_over_the_cpus_capacity():
    before = CpuSnapshot(at=10.0, busy=100.0, own=50.0, cpus=4)
    assert others_share(before, CpuSnapshot(at=20.0, busy=130.0, own=60.0, cpus=4)) == 0.5  # 20 of 40 s
    assert others_share(before, CpuSnapshot(at=20.0, busy=110.0, own=60.0, cpus=4)) == 0.0  # own alone
    assert others_share(before, CpuSnapshot(at=20.0, busy=200.0, own=50.0, cpus=4)) == 1.0  # clipped
    assert others_share(before, None) is None and others_share(before, before) is None


@on_linux
def test_own_threads_and_children_count_as_own():
    meter = ContentionMeter()
    t = time.process_time()
    while time.process_time() - t < 0.6:
        pass
    subprocess.run([sys.executable, "-c", BUSY.format(s=0.6)], check=True)
    assert meter.fields()["cpu_seconds"] >= 1.1


@on_linux
def test_a_process_outside_the_run_counts_as_others():
    meter = ContentionMeter()
    # started through a shell that exits at once: the busy process is re-parented, not this process's child
    subprocess.run(["sh", "-c", f"{sys.executable} -c '{BUSY.format(s=1.5)}' &"], check=True)
    time.sleep(2.0)
    fields = meter.fields()
    assert fields["cpu_seconds"] < 0.5
    assert fields["others_cpu_share"] > 1.2 / (2.0 * len(contention.os.sched_getaffinity(0)))
