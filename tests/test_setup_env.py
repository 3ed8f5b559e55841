"""scripts/setup-env.sh refuses a disk too small for the environment before it installs anything.

A pip install that fills the disk half-way leaves a broken `.venv` and an error about a network
download; CI once failed that way. The check has to fire before any work starts, and only when
there is something to install.
"""

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "setup-env.sh"
TEN_PB = 10**7  # GiB: no disk here has that much free


def _setup(venv: Path, min_free_gb) -> subprocess.CompletedProcess:
    # were the check to let it through, the install would fail at once: no index, a release that does not exist
    env = dict(os.environ, VENV=str(venv), APT_PACKAGES="", MIN_FREE_GB=str(min_free_gb), PIP_NO_INDEX="1",
               TORCH_PINS="torch==0.0.0")
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)


def test_too_small_a_disk_stops_before_the_venv_exists(tmp_path):
    proc = _setup(tmp_path / "new" / "venv", TEN_PB)  # a folder venv would create: the disk is found above it
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs about 10000000 GiB free" in lines[0] and "MiB" in lines[0]
    assert not (tmp_path / "new").exists()


def test_an_environment_that_already_imports_torch_is_not_checked(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    for tool in ("python", "pip"):  # stand-ins that succeed at everything the script asks of them
        (venv / "bin" / tool).write_text("#!/bin/sh\nexit 0\n")
        (venv / "bin" / tool).chmod(0o755)
    proc = _setup(venv, TEN_PB)
    assert proc.returncode == 0 and "environment ready" in proc.stdout


def test_a_threshold_that_is_not_a_whole_number_is_refused(tmp_path):
    proc = _setup(tmp_path / "venv", "6.5")
    assert proc.returncode == 2 and proc.stderr.strip() == "setup: MIN_FREE_GB must be a whole number of GiB, not '6.5'"
