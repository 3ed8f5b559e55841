"""What a training step optimises: classification (with or without attention
transfer) or MAE pretraining. The trainer only sees this small interface."""
from __future__ import annotations

from typing import Callable, Optional, Protocol

import torch
from timm.data import Mixup
from timm.loss import SoftTargetCrossEntropy
from timm.models.vision_transformer import VisionTransformer
from torch import Tensor, nn

from attnxfer_core.config import AugmentConfig, MAEConfig
from attnxfer_core.data.source import TEST, VAL, DataSource, derive_seed
from attnxfer_core.metrics import classification_metrics, predict
from attnxfer_core.models.mae import MaskedAutoencoder
from attnxfer_core.training.distributed import SINGLE, DistContext, gather_objects
from attnxfer_core.transfer.losses import total_loss
from attnxfer_core.transfer.model import AttentionTransferModel
from attnxfer_core.transfer.plan import TransferPlan


class Task(Protocol):
    """What the trainer and ``execute`` use of a training objective, and nothing else."""

    module: nn.Module  # what a training step calls (and DDP would wrap)
    plan: Optional[TransferPlan]  # the attention transfer it trains with (None: none)
    teacher: Optional[nn.Module]  # the frozen teacher, moved to the device beside the student (None: none)
    transfer_model: Optional[AttentionTransferModel]  # student with teacher (None without a plan)

    def mix(self, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """Batch-level augmentation (mixup, cutmix) over a rank's whole batch, before it is split into
        micro-batches, so that accumulation mixes the same pairs as one large batch."""
        ...

    def losses(self, images: Tensor, labels: Tensor) -> dict[str, Optional[Tensor]]: ...

    def evaluate(
        self, source: DataSource, batch_size: int, weights: nn.Module, device: torch.device, autocast, ctx: DistContext,
        split: str = TEST,
    ) -> dict:
        """Metrics on the test set or the validation split (each rank evaluates its share; all ranks get them)."""
        ...

    def frozen_rows(self) -> list[tuple[nn.Parameter, Tensor]]: ...

    def export(self, weights: nn.Module) -> dict[str, Tensor]: ...

    def timm_model(self, weights: nn.Module) -> nn.Module:
        """The timm ViT within ``weights`` that a finished run hands on (written as a timm folder)."""
        ...

    def trained_model(self) -> nn.Module:
        """The model whose parameters are optimised, with its own parameter names."""
        ...


class ClassificationTask:
    """Supervised classification; with a plan, the student is guided by the teacher."""

    def __init__(
        self,
        student: VisionTransformer,
        teacher: Optional[VisionTransformer],
        plan: Optional[TransferPlan],
        augment: AugmentConfig,
        num_classes: int,
    ) -> None:
        self.student = student
        self.teacher = teacher
        self.plan = plan
        # the student with its teacher, unwrapped (``module`` may be wrapped by DDP)
        self.transfer_model = AttentionTransferModel(student, teacher, plan) if plan is not None else None
        self.module: nn.Module = self.transfer_model if self.transfer_model is not None else student
        mixing = augment.mixup > 0 or augment.cutmix > 0
        self.mixup = (
            Mixup(
                mixup_alpha=augment.mixup, cutmix_alpha=augment.cutmix, prob=augment.mixup_prob,
                label_smoothing=augment.label_smoothing, num_classes=num_classes,
            )
            if mixing
            else None
        )
        self.criterion: nn.Module = (
            SoftTargetCrossEntropy() if mixing else nn.CrossEntropyLoss(label_smoothing=augment.label_smoothing)
        )

    def mix(self, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        return self.mixup(images, labels) if self.mixup is not None else (images, labels)

    def losses(self, images: Tensor, labels: Tensor) -> dict[str, Optional[Tensor]]:
        out = self.module(images)
        if isinstance(out, dict):
            logits, attn = out["logits"], out["attn_loss"]
        else:
            logits, attn = out, None
        task = self.criterion(logits.float(), labels)
        loss = total_loss(task, attn, 0.0 if self.plan is None else self.plan.weight)
        layers = out["layer_losses"] if isinstance(out, dict) else {}
        return {"loss": loss, "task": task, "attn": attn, **{f"attn_l{i}": v for i, v in layers.items()}}

    def forward_fn(self, weights: nn.Module) -> Callable[[Tensor], Tensor]:
        """Inference with ``weights`` as the student (the live model or its EMA).

        Copy modes keep the teacher in the loop at test time; every other mode is
        evaluated as the student alone (distillation discards its teacher), as
        timm runs it.
        """
        if self.plan is None or not self.plan.spec.teacher_at_inference:
            weights.eval()
            return weights
        if weights is self.student:
            model = self.module
        else:
            model = AttentionTransferModel(weights, self.teacher, self.plan)
        model.eval()
        return lambda x: model(x)["logits"]

    def evaluate(
        self, source: DataSource, batch_size: int, weights: nn.Module, device: torch.device, autocast,
        ctx: DistContext = SINGLE, split: str = TEST,
    ) -> dict:
        was_training = weights.training
        weights.eval()
        batches = source.eval_batches(batch_size, ctx.rank, ctx.world, split)
        logits, labels = predict(self.forward_fn(weights), batches, device, autocast)
        weights.train(was_training)
        shares = gather_objects((logits, labels), ctx)
        metrics = classification_metrics(torch.cat([s[0] for s in shares]), torch.cat([s[1] for s in shares]))
        if split == VAL and weights is self.student:
            metrics.update(self.attention_losses(source, batch_size, device, autocast, ctx, split))
        return metrics

    @torch.no_grad()
    def attention_losses(
        self, source: DataSource, batch_size: int, device: torch.device, autocast, ctx: DistContext, split: str,
    ) -> dict[str, float]:
        """The distillation loss of the live student per transferred layer (``attn_l<i>``) and summed
        (``attn``) on a held-out split: whether distillation converged. Distillation modes only."""
        model = self.transfer_model
        if model is None or self.plan is None or not self.plan.spec.held_out_attention:
            return {}
        was_training = model.training
        model.eval()
        sums: dict[int, float] = {}
        count = 0
        for images, _ in source.eval_batches(batch_size, ctx.rank, ctx.world, split):
            with autocast():
                out = model(images.to(device, non_blocking=True))
            for layer, loss in out["layer_losses"].items():
                sums[layer] = sums.get(layer, 0.0) + float(loss) * len(images)
            count += len(images)
        model.train(was_training)
        shares = gather_objects((sums, count), ctx)
        total = sum(share[1] for share in shares)
        layers = {f"attn_l{layer}": sum(share[0][layer] for share in shares) / total for layer in sorted(sums)}
        return {**layers, "attn": sum(layers.values())} if layers else {}

    def frozen_rows(self) -> list[tuple[nn.Parameter, Tensor]]:
        return self.plan.frozen_rows(self.student) if self.plan is not None else []

    def export(self, weights: nn.Module) -> dict[str, Tensor]:
        return {k: v.detach().clone() for k, v in weights.state_dict().items()}

    def timm_model(self, weights: nn.Module) -> nn.Module:
        return weights

    def trained_model(self) -> nn.Module:
        return self.student


class MAETask:
    """Masked-autoencoder pretraining; evaluation is the reconstruction loss on held-out images."""

    plan: Optional[TransferPlan] = None  # pretraining transfers no attention, from no teacher
    teacher: Optional[nn.Module] = None
    transfer_model: Optional[AttentionTransferModel] = None

    def __init__(self, encoder: VisionTransformer, cfg: MAEConfig, seed: int) -> None:
        self.module = MaskedAutoencoder(encoder, cfg)
        self.seed = seed

    def mix(self, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        return images, labels

    def losses(self, images: Tensor, labels: Tensor) -> dict[str, Optional[Tensor]]:
        loss = self.module(images)
        return {"loss": loss, "task": loss, "attn": None}

    @torch.no_grad()
    def evaluate(
        self, source: DataSource, batch_size: int, weights: nn.Module, device: torch.device, autocast,
        ctx: DistContext = SINGLE, split: str = TEST,
    ) -> dict:
        was_training = weights.training
        weights.eval()
        # the same masks at every evaluation (per rank share)
        g = torch.Generator().manual_seed(derive_seed(self.seed, 0xE7A1, ctx.rank))
        total, count = 0.0, 0
        for images, _ in source.eval_batches(batch_size, ctx.rank, ctx.world, split):
            with autocast():
                loss = weights(images.to(device), generator=g)
            total += float(loss) * len(images)
            count += len(images)
        weights.train(was_training)
        shares = gather_objects((total, count), ctx)
        total, count = sum(s[0] for s in shares), sum(s[1] for s in shares)
        return {"recon_loss": total / max(count, 1), "n": count}

    def frozen_rows(self) -> list[tuple[nn.Parameter, Tensor]]:
        return []

    def export(self, weights: nn.Module) -> dict[str, Tensor]:
        """Only the encoder: a plain timm ViT state dict, loadable as a teacher."""
        return {k: v.detach().clone() for k, v in weights.encoder.state_dict().items()}

    def timm_model(self, weights: nn.Module) -> nn.Module:
        return weights.encoder

    def trained_model(self) -> nn.Module:
        return self.module

