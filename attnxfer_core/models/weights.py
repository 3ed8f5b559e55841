"""Weights files: reading state dicts in the formats people share, and loading them strictly.

A checkpoint may be a ``.safetensors`` file, a plain torch state dict, or one
nested under ``model`` / ``state_dict`` (MAE and DeiT releases); ``module.``
prefixes from DDP are dropped. Loading checks every shape first, so a checkpoint
for another architecture is one clear error, never a silent partial load.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch

from attnxfer_core.errors import UserError
from attnxfer_core.runs.tensors import load_tensors

# Keys a teacher checkpoint may lack: the classifier (unused by a teacher; re-initialised on fine-tuning).
OPTIONAL_PREFIXES = ("head.", "fc_norm.")
NESTED_KEYS = ("model", "state_dict", "student", "module")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Weights from a .safetensors file or a torch file (plain, or nested under model/state_dict)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"teacher checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError):
            raise UserError(f"cannot load checkpoint {path}: not a valid safetensors file (truncated, or another "
                            "format under a .safetensors name)") from None
    state = load_tensors(path)
    for key in NESTED_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{path} does not hold a state dict of tensors")
    prefix = "module."
    if state and all(k.startswith(prefix) for k in state):
        state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def check_compatible(own: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor], origin: str) -> None:
    """Every model weight (but the classifier) must be in ``state`` with the same shape."""
    for key, value in state.items():
        if key in own and own[key].shape != value.shape:
            raise UserError(
                f"{origin}: weight {key} has shape {tuple(value.shape)} but the model expects "
                f"{tuple(own[key].shape)}; the checkpoint is for a different architecture"
            )
    missing = [k for k in own if k not in state and not k.startswith(OPTIONAL_PREFIXES)]
    if missing:
        raise UserError(f"{origin}: checkpoint lacks {len(missing)} model weights, e.g. {missing[0]}")


def load_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], origin: str) -> list[str]:
    """Load ``state`` into ``model``; shape mismatches and missing weights are errors.

    Returns the checkpoint keys the model has no place for (e.g. an MAE decoder).
    """
    own = model.state_dict()
    check_compatible(own, state, origin)
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    return sorted(k for k in state if k not in own)
