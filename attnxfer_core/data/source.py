"""Data sources: what the trainer iterates over, whatever the dataset.

Small datasets live in memory as uint8 tensors and are augmented a whole batch
at a time with tensor ops (no per-image Python loop). Batch order and
augmentation are pure functions of (seed, epoch, step), which is what makes a
resumed run repeat an uninterrupted one exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Protocol

import torch
from torch import Tensor

from attnxfer_core.config import AugmentConfig
from attnxfer_core.errors import ConfigError

Batch = tuple[Tensor, Tensor]


def derive_seed(*parts: int) -> int:
    """A 63-bit seed from a tuple of integers (stable across processes and platforms)."""
    value = 0x9E3779B97F4A7C15
    for part in parts:
        value ^= (int(part) + 0x9E3779B97F4A7C15 + ((value << 6) & (2**64 - 1)) + (value >> 2)) & (2**64 - 1)
        value = (value * 0xBF58476D1CE4E5B9) & (2**64 - 1)
    return value & (2**63 - 1)


def shard_bounds(n: int, rank: int, world: int) -> tuple[int, int]:
    """[lo, hi) of the rank's contiguous share of n items."""
    return n * rank // world, n * (rank + 1) // world


def epoch_order(n: int, seed: int, epoch: int) -> Tensor:
    g = torch.Generator().manual_seed(derive_seed(seed, epoch, 0xDA7A))
    return torch.randperm(n, generator=g)


VAL, TEST = "val", "test"  # the held-out split evaluated during training, and the test set


class DataSource(Protocol):
    num_classes: int
    in_chans: int
    image_size: int
    train_size: int
    eval_size: int  # the test set
    val_size: int  # the validation split carved from training images (0: none)

    def steps_per_epoch(self, batch_size: int) -> int: ...

    def train_batches(
        self, epoch: int, batch_size: int, start_step: int, seed: int, rank: int = 0, world: int = 1
    ) -> Iterator[Batch]:
        """This rank's share of each global batch of ``batch_size`` images."""
        ...

    def eval_batches(self, batch_size: int, rank: int = 0, world: int = 1, split: str = TEST) -> Iterator[Batch]:
        """This rank's contiguous share of the test set (or of the validation split), in order."""
        ...

    def preprocessing(self) -> dict:
        """How evaluation images reach the model, in timm's data-config terms (mean, std, interpolation,
        crop_pct, crop_mode): written with an exported model so that timm users feed it the same way."""
        ...


@dataclass
class TensorSplit:
    images: Tensor  # (N, C, H, W) uint8
    labels: Tensor  # (N,) int64


def balanced_subset(labels: Tensor, size: Optional[int], seed: int, field: str) -> Tensor:
    """Sorted indices of a class-balanced random subset of ``size`` items (all when None).

    Items are ranked within their class in a seeded random order and taken
    rank by rank, so every class contributes equally (up to its own size).
    """
    n = labels.numel()
    if size is None:
        return torch.arange(n)
    if not 0 < size <= n:
        raise ConfigError(field, f"must be between 1 and {n} (the split's size), got {size}")
    g = torch.Generator().manual_seed(derive_seed(seed, 0x5B5E7))
    perm = torch.randperm(n, generator=g)
    shuffled = labels[perm]
    ranks = torch.empty(n, dtype=torch.long)
    for c in shuffled.unique():
        members = (shuffled == c).nonzero().squeeze(1)
        ranks[members] = torch.arange(len(members))
    key = ranks * n + torch.arange(n)
    return perm[key.argsort()[:size]].sort().values


class InMemorySource:
    """A dataset held as uint8 tensors, normalised and augmented per batch."""

    def __init__(
        self, train: TensorSplit, test: TensorSplit, num_classes: int, augment: AugmentConfig,
        val: Optional[TensorSplit] = None,
    ) -> None:
        self.train = train
        self.test = test
        self.val = val
        self.val_size = 0 if val is None else len(val.labels)
        self.num_classes = num_classes
        self.augment = augment
        self.in_chans = train.images.shape[1]
        self.image_size = train.images.shape[-1]
        self.train_size = len(train.labels)
        self.eval_size = len(test.labels)
        pixels = train.images.float().div_(255)
        self.mean = pixels.mean(dim=(0, 2, 3)).view(1, -1, 1, 1)
        self.std = pixels.std(dim=(0, 2, 3)).view(1, -1, 1, 1)

    def steps_per_epoch(self, batch_size: int) -> int:
        return self.train_size // batch_size  # drop the last partial batch (mixup needs even batches)

    def normalize(self, images: Tensor) -> Tensor:
        return (images.float().div_(255) - self.mean) / self.std

    def preprocessing(self) -> dict:
        return {"mean": [round(v, 6) for v in self.mean.flatten().tolist()],
                "std": [round(v, 6) for v in self.std.flatten().tolist()],
                "interpolation": self.augment.interpolation.value, "crop_pct": 1.0, "crop_mode": "center"}

    def train_batches(
        self, epoch: int, batch_size: int, start_step: int, seed: int, rank: int = 0, world: int = 1
    ) -> Iterator[Batch]:
        order = epoch_order(self.train_size, seed, epoch)
        share = batch_size // world
        for step in range(start_step, self.steps_per_epoch(batch_size)):
            idx = order[step * batch_size + rank * share: step * batch_size + (rank + 1) * share]
            parts = (seed, epoch, step, 0xA06) if world == 1 else (seed, epoch, step, 0xA06, rank)
            g = torch.Generator().manual_seed(derive_seed(*parts))
            images = augment_batch(self.train.images[idx], self.augment, g)
            yield self.normalize(images), self.train.labels[idx]

    def eval_batches(self, batch_size: int, rank: int = 0, world: int = 1, split: str = TEST) -> Iterator[Batch]:
        data = self.test if split == TEST else self.val
        if data is None:
            raise ValueError(f"this data source has no {split} split")
        lo, hi = shard_bounds(len(data.labels), rank, world)
        for start in range(lo, hi, batch_size):
            sl = slice(start, min(start + batch_size, hi))
            yield self.normalize(data.images[sl]), data.labels[sl]


def augment_batch(images: Tensor, cfg: AugmentConfig, generator: torch.Generator) -> Tensor:
    """Random translation (zero padding) and horizontal flip for a whole uint8 batch."""
    B, C, H, W = images.shape
    pad = cfg.crop_padding
    if pad > 0:
        padded = torch.nn.functional.pad(images, (pad, pad, pad, pad))
        dy = torch.randint(0, 2 * pad + 1, (B,), generator=generator)
        dx = torch.randint(0, 2 * pad + 1, (B,), generator=generator)
        rows = (dy[:, None] + torch.arange(H))[:, None, :, None].expand(B, C, H, W + 2 * pad)
        cols = (dx[:, None] + torch.arange(W))[:, None, None, :].expand(B, C, H, W)
        images = padded.gather(2, rows).gather(3, cols)
    if cfg.hflip:
        flip = torch.rand(B, generator=generator) < 0.5
        images = torch.where(flip[:, None, None, None], images.flip(-1), images)
    return images

