"""attnxfer: attention copy and attention distillation for timm Vision Transformers.

Public API::

    from attnxfer_core import attention_logits, AttentionTransferModel, build_plan, TransferConfig, Mode
"""
from .config import RunConfig, TransferConfig, apply_overrides
from .modes import Mode
from .plan import build_plan
from .transfer import AttentionTransferModel
from .vit import attention_logits

__all__ = ["AttentionTransferModel", "Mode", "RunConfig", "TransferConfig", "apply_overrides", "attention_logits", "build_plan"]
