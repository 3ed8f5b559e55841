"""attnxfer: attention copy and attention distillation for timm Vision Transformers.

Public API::

    from attnxfer_core import attention_logits, AttentionTransferModel, build_plan, TransferConfig, Mode, total_loss

The names resolve on first use, so importing a light module of the package (the
run-directory contract, the config) does not pull in torch and timm.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_PUBLIC = {
    "AttentionTransferModel": "attnxfer_core.transfer.model",
    "Mode": "attnxfer_core.modes",
    "RunConfig": "attnxfer_core.config",
    "TransferConfig": "attnxfer_core.config",
    "apply_overrides": "attnxfer_core.config",
    "attention_logits": "attnxfer_core.attention.walk",
    "build_plan": "attnxfer_core.transfer.plan",
    "total_loss": "attnxfer_core.transfer.losses",
}

__all__ = ["AttentionTransferModel", "Mode", "RunConfig", "TransferConfig", "apply_overrides", "attention_logits",
           "build_plan", "total_loss"]

if TYPE_CHECKING:
    from attnxfer_core.attention.walk import attention_logits
    from attnxfer_core.config import RunConfig, TransferConfig, apply_overrides
    from attnxfer_core.modes import Mode
    from attnxfer_core.transfer.losses import total_loss
    from attnxfer_core.transfer.model import AttentionTransferModel
    from attnxfer_core.transfer.plan import build_plan


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'attnxfer_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value
