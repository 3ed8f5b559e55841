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
    except IsADirectoryError:
        raise UserError(f"cannot load checkpoint {path}: it is a directory, not a file") from None
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError ... on bad files
        raise UserError(f"cannot load checkpoint {path}: {_what_is_wrong(Path(path), exc)}") from None


def _what_is_wrong(path: Path, exc: Exception) -> str:
    """What is wrong with a file torch could not load, in the user's terms (not torch's message)."""
    import pickle

    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError as err:
        return f"cannot read it ({err.strerror})"
    if not head:
        return "the file is empty"
    formats = {b"PK\x03\x04": "a damaged torch zip archive", b"\x80": "a damaged pickle"}  # torch's two formats
    damaged = next((what for magic, what in formats.items() if head.startswith(magic)), None)
    if damaged is not None:
        if isinstance(exc, pickle.UnpicklingError) or "weights_only" in str(exc):
            return "it holds objects other than tensors and plain values (refused: loading it could run code)"
        return f"the file is truncated or corrupt ({damaged})"
    return "not a checkpoint: neither a torch file nor safetensors (expected .pt/.pth or .safetensors)"
