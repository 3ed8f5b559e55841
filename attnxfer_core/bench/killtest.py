"""``attnxfer bench kill-test``: kill a training run at random moments, resume it each time, and check
that it ends exactly as an uninterrupted run and that no file is ever half-written.

Signals as a cluster sends them: SIGKILL (node failure, OOM killer), SIGTERM
(scancel, preemption) and SIGUSR2 (SLURM's warning before a time limit). Some
kills are aimed at the moment a checkpoint or summary is being written: the run
is started with slowed writes and killed as soon as a temporary file appears.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from attnxfer_core.runs.files import SLOW_WRITES_ENV, TMP_MARK
from attnxfer_core.runs.rundir import CHECKPOINT, CONFIG, FAILURE, METRICS, SUMMARY, WEIGHTS

RUN = [
    "data.dataset=synthetic", "student.embed_dim=32", "student.depth=2", "student.num_heads=2", "student.patch_size=8",
    "teacher.model.embed_dim=32", "teacher.model.depth=2", "teacher.model.num_heads=2", "teacher.model.patch_size=8",
    "teacher.source=random", "transfer.mode=distill", "student.drop_path=0.1", "augment.mixup=0.8",
    "optim.ema_decay=0.9", "optim.batch_size=32", "optim.epochs=6", "log_every=4", "exec.threads=1",
    "exec.checkpoint_every_steps=4", "exec.progress=false",
]
SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGUSR2)


@dataclass
class Report:
    kills: int = 0
    by_signal: dict[str, int] = field(default_factory=dict)
    during_writes: int = 0
    torn_lines: int = 0
    half_written: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)


def _train(run_dir: Path, slow: float = 0.0) -> subprocess.Popen:
    env = {**os.environ, SLOW_WRITES_ENV: str(slow) if slow else ""}
    return subprocess.Popen([sys.executable, "-m", "attnxfer_core", "train", *RUN, f"exec.run_dir={run_dir}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def check_files(run_dir: Path, report: Report) -> None:
    """Every file but the append-only log must be whole; the log may end in one torn line."""
    for name in (CONFIG, SUMMARY, FAILURE):
        path = run_dir / name
        if path.exists():
            try:
                json.loads(path.read_text())
            except json.JSONDecodeError:
                report.half_written.append(name)
    for name in (CHECKPOINT, WEIGHTS):
        path = run_dir / name
        if path.exists():
            try:
                torch.load(path, weights_only=True)
            except Exception:  # noqa: BLE001 - any failure to load is a half-written file
                report.half_written.append(name)
    if (run_dir / METRICS).exists():
        lines = (run_dir / METRICS).read_text().split("\n")
        body, last = lines[:-1], lines[-1]
        for line in body:
            try:
                json.loads(line)
            except json.JSONDecodeError:
                if line is body[-1] and not last:
                    report.torn_lines += 1  # a kill inside an append: tolerated and repaired on resume
                else:
                    report.half_written.append(f"{METRICS} (line inside)")
        if last.strip():
            report.torn_lines += 1


def _wait_started(run_dir: Path, proc: subprocess.Popen, timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if (run_dir / CONFIG).exists():
            return True
        time.sleep(0.05)
    return proc.poll() is None


def kill_test(kills: int, seed: int = 0, workdir: Path | None = None, log=print) -> Report:
    rng = random.Random(seed)
    work = Path(workdir or tempfile.mkdtemp(prefix="attnxfer-kill-"))
    reference = work / "reference"
    log(f"reference run (uninterrupted) in {reference}")
    if _train(reference).wait() != 0 or not (reference / SUMMARY).exists():
        raise RuntimeError("the reference run failed")
    report = Report()
    attempt = 0
    while report.kills < kills:
        run_dir = work / f"killed-{attempt}"
        attempt += 1
        while not (run_dir / SUMMARY).exists():
            aim_at_write = report.kills < kills and rng.random() < 0.3
            proc = _train(run_dir, slow=0.4 if aim_at_write else 0.0)
            if report.kills < kills and _wait_started(run_dir, proc):
                sig = rng.choice(SIGNALS)
                if aim_at_write:
                    deadline = time.monotonic() + 60
                    while (proc.poll() is None and time.monotonic() < deadline
                           and not any(run_dir.rglob(f".*{TMP_MARK}*"))):
                        time.sleep(0.01)
                else:
                    time.sleep(rng.uniform(0.0, 4.0))
                if proc.poll() is None:
                    proc.send_signal(sig)
                    report.kills += 1
                    report.by_signal[sig.name] = report.by_signal.get(sig.name, 0) + 1
                    report.during_writes += int(aim_at_write)
            proc.wait()
            check_files(run_dir, report)
        compare(reference, run_dir, report)
        log(f"run {attempt}: finished after {report.kills} kills so far")
    return report


def compare(reference: Path, run_dir: Path, report: Report) -> None:
    if (reference / METRICS).read_text() != (run_dir / METRICS).read_text():
        report.mismatches.append(f"{run_dir.name}: {METRICS}")
    a = torch.load(reference / WEIGHTS, weights_only=True)
    b = torch.load(run_dir / WEIGHTS, weights_only=True)
    if a.keys() != b.keys() or not all(torch.equal(a[k], b[k]) for k in a):
        report.mismatches.append(f"{run_dir.name}: {WEIGHTS}")
