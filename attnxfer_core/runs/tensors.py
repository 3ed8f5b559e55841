"""Checkpoint files: tensors and plain Python values only, written atomically, loaded safely.

``torch.load(weights_only=True)`` refuses any file that would run code, so a
checkpoint from an untrusted source can be loaded; a damaged or foreign file is
one :class:`~attnxfer_core.errors.UserError` naming the path.
"""
from __future__ import annotations

import io
from pathlib import Path

import torch

from attnxfer_core.errors import UserError
from attnxfer_core.runs.files import atomic_write_bytes


def save_tensors(path: Path, state: dict) -> None:
    """Atomically write a checkpoint made of tensors and plain Python values only."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_tensors(path: Path) -> dict:
    """Load a checkpoint with ``weights_only=True``: a file that would run code is refused."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"checkpoint not found: {path}") from None
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError ... on bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot load checkpoint {path}: {first}") from None
