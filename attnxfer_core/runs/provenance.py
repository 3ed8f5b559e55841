"""Where a result came from: code revision, library versions and the CPU that computed it."""
from __future__ import annotations

import functools
import platform
import subprocess
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the checkout


# Outputs the suite writes into the checkout; changes there are results, not code.
NOT_CODE = (":(exclude)results", ":(exclude)runs")


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Commit of the checkout the code runs from, ``+dirty`` if tracked code differs from it
    (committed results being regenerated do not count), else 'unknown'."""
    try:
        def git(*args: str) -> str:
            return subprocess.run(["git", *args], cwd=PACKAGE_ROOT, capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()

        version = git("describe", "--always", "--abbrev=12")
        if git("status", "--porcelain", "--untracked-files=no", "--", ".", *NOT_CODE):
            version += "+dirty"
        return version or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo``), for the record of where a result was computed."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def cpu_isa() -> str:
    """The vector instruction set torch's CPU kernels dispatch to (``AVX512``, ``AVX2``, ``DEFAULT``).

    Why it is recorded: the same run on two CPUs that dispatch differently sums in another order, so its
    numbers can differ by round-off (robustness's retrained seeds moved by up to 0.12 top-1 with no code
    change); a table whose runs disagree here is not bit-for-bit reproducible on one machine."""
    import torch

    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        return "unknown"


def environment() -> dict[str, str]:
    """Code revision, library versions and CPU, as every summary and committed result records them."""
    import timm
    import torch

    return {
        "code_version": code_version(),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu": cpu_name(),
        "cpu_isa": cpu_isa(),
    }
