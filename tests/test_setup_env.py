"""scripts/setup-env.sh refuses a disk too small for the environment before it installs anything.

A pip install that fills the disk half-way leaves a broken `.venv` and an error about a network
download; CI once failed that way. The check has to fire before any work starts.
"""

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "setup-env.sh"


def _setup(tmp_path: Path, min_free_gb: int) -> subprocess.CompletedProcess:
    env = dict(os.environ, VENV=str(tmp_path / "venv"), APT_PACKAGES="", MIN_FREE_GB=str(min_free_gb))
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)


def test_too_small_a_disk_stops_before_the_venv_exists(tmp_path):
    proc = _setup(tmp_path, min_free_gb=10**7)  # ten petabytes: no disk here has that
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs about 10000000 GB free" in lines[0] and "MB" in lines[0]
    assert not (tmp_path / "venv").exists()
