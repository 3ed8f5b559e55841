"""Where a result came from: code revision and library versions."""
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


def environment() -> dict[str, str]:
    """Code revision and library versions, as every summary and committed result records them."""
    import timm
    import torch

    return {
        "code_version": code_version(),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
