"""The transfer modes and what each one means.

A mode is looked up in :data:`MODE_SPECS`, a table of typed facts (does it need a
teacher, copy or distill, which attention quantity moves), so the rest of the
code asks those facts instead of matching on mode names.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Optional


class Mode(str, enum.Enum):
    SCRATCH = "scratch"
    FINETUNE = "finetune"
    COPY = "copy"
    DISTILL = "distill"
    COPY_Q = "copy_q"
    COPY_K = "copy_k"
    COPY_V = "copy_v"
    DISTILL_Q = "distill_q"
    DISTILL_K = "distill_k"
    DISTILL_V = "distill_v"
    FEATURE_KD = "feature_kd"  # baseline: distil the residual stream (block outputs), not attention


class Kind(str, enum.Enum):
    """How the teacher's attention reaches the student."""

    COPY = "copy"  # replaces the student's quantity in the forward pass
    DISTILL = "distill"  # an extra loss pulls the student's quantity towards the teacher's


class Target(str, enum.Enum):
    """Which attention quantity is transferred."""

    MAP = "map"  # softmax(q k^T * scale): the attention probabilities
    Q = "q"
    K = "k"
    V = "v"
    RESIDUAL = "residual"  # the block's output tokens (feature distillation baseline)


@dataclass(frozen=True)
class ModeSpec:
    """Facts about a mode that the trainer, the model and the evaluator rely on."""

    kind: Optional[Kind]  # None: no attention transfer (scratch, finetune)
    target: Optional[Target]
    init_from_teacher: bool = False  # finetune: the student starts as the teacher
    # Which of the student's own q/k/v projections the transfer makes unused in
    # transferred heads; those weight rows are neither trained nor decayed.
    replaced: tuple[str, ...] = ()

    @property
    def transfers(self) -> bool:
        return self.kind is not None

    @property
    def teacher_at_inference(self) -> bool:
        """Copy needs the teacher at test time; distillation discards it."""
        return self.kind is Kind.COPY

    @property
    def needs_teacher(self) -> bool:
        return self.transfers or self.init_from_teacher

    @property
    def held_out_attention(self) -> bool:
        """Distillation logs its loss on the validation split at each evaluation of the live student (not of
        an EMA, and not in runs without that split): whether it converged. That is a second pass over the
        split, with the teacher, which a run's cost has to count."""
        return self.kind is Kind.DISTILL


MODE_SPECS: dict[Mode, ModeSpec] = {
    Mode.SCRATCH: ModeSpec(kind=None, target=None),
    Mode.FINETUNE: ModeSpec(kind=None, target=None, init_from_teacher=True),
    Mode.COPY: ModeSpec(kind=Kind.COPY, target=Target.MAP, replaced=("q", "k")),
    Mode.COPY_Q: ModeSpec(kind=Kind.COPY, target=Target.Q, replaced=("q",)),
    Mode.COPY_K: ModeSpec(kind=Kind.COPY, target=Target.K, replaced=("k",)),
    Mode.COPY_V: ModeSpec(kind=Kind.COPY, target=Target.V, replaced=("v",)),
    Mode.DISTILL: ModeSpec(kind=Kind.DISTILL, target=Target.MAP),
    Mode.DISTILL_Q: ModeSpec(kind=Kind.DISTILL, target=Target.Q),
    Mode.DISTILL_K: ModeSpec(kind=Kind.DISTILL, target=Target.K),
    Mode.DISTILL_V: ModeSpec(kind=Kind.DISTILL, target=Target.V),
    Mode.FEATURE_KD: ModeSpec(kind=Kind.DISTILL, target=Target.RESIDUAL),
}


def spec_of(mode: Mode) -> ModeSpec:
    return MODE_SPECS[Mode(mode)]


def mode_for(kind: Kind, target: Target) -> Mode:
    """The mode that transfers ``target`` by ``kind`` (e.g. copy + q -> copy_q)."""
    for mode, spec in MODE_SPECS.items():
        if spec.kind is kind and spec.target is target:
            return mode
    raise KeyError((kind, target))
