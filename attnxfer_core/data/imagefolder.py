"""ImageNet-layout folders (root/train/<class>/*, root/val/<class>/*) for the paper scale.

Images are decoded and augmented in loader processes with timm's transforms
(RandAugment, random erasing ...). The batch order is still a function of
(seed, epoch), and a resumed epoch skips the batches already seen.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import torch
from torch.utils.data import DataLoader, Sampler

from attnxfer_core.config import AugmentConfig, DataConfig
from attnxfer_core.data.source import TEST, Batch, balanced_subset, derive_seed, epoch_order, shard_bounds
from attnxfer_core.errors import ConfigError


class _OrderSampler(Sampler[int]):
    def __init__(self, order: torch.Tensor) -> None:
        self.order = order

    def __iter__(self):
        return iter(self.order.tolist())

    def __len__(self) -> int:
        return len(self.order)


def posterize_keep_zero(img, bits_to_keep, **_):
    """Posterize as the Pillow of the paper's time did: keeping 0 bits gives a black image.

    timm's RandAugment ("inc1" variants) asks for 0 bits at the top magnitudes; Pillow 13 refuses
    that with a ValueError, which would end a paper-scale run a few steps in (found by
    ``attnxfer rehearse``). Older Pillow computed the mask ~(2**8 - 1), i.e. all bits cleared.
    """
    from PIL import Image, ImageOps

    if bits_to_keep >= 8:
        return img
    if bits_to_keep <= 0:
        return Image.new(img.mode, img.size)
    return ImageOps.posterize(img, bits_to_keep)


def _fix_posterize(transform) -> None:
    """Swap timm's posterize for :func:`posterize_keep_zero` inside a composed train transform."""
    from timm.data import auto_augment

    for t in getattr(transform, "transforms", []):
        for op in getattr(t, "ops", []):
            if getattr(op, "aug_fn", None) is auto_augment.posterize:
                op.aug_fn = posterize_keep_zero


class ImageFolderSource:
    def __init__(self, cfg: DataConfig, augment: AugmentConfig, image_size: int, workers: int) -> None:
        from timm.data import create_transform
        from torchvision.datasets import ImageFolder

        if not cfg.root:
            raise ConfigError("data.root", "imagefolder needs data.root (a directory with train/ and val/)")
        if cfg.val_size:
            raise ConfigError("data.val_size", "a validation split is carved from in-memory datasets only; "
                              "ImageFolder data evaluate on val/ during training")
        root = Path(cfg.root)
        for split in ("train", "val"):
            if not (root / split).is_dir():
                raise ConfigError("data.root", f"{root / split} is not a directory (expected ImageNet layout)")
        train_tf = create_transform(
            image_size,
            is_training=True,
            auto_augment=augment.randaug or None,
            re_prob=augment.random_erasing,
            re_mode=augment.erasing_mode.value,
            interpolation=augment.interpolation.value,
            hflip=0.5 if augment.hflip else 0.0,
        )
        _fix_posterize(train_tf)
        eval_tf = create_transform(image_size, is_training=False, interpolation=augment.interpolation.value)
        self.train = ImageFolder(str(root / "train"), transform=train_tf)
        self.test = ImageFolder(str(root / "val"), transform=eval_tf)
        if self.train.classes != self.test.classes:
            raise ConfigError("data.root", "train/ and val/ hold different class folders")
        train_labels = torch.tensor(self.train.targets)
        test_labels = torch.tensor(self.test.targets)
        self.train_index = balanced_subset(train_labels, cfg.train_subset, cfg.subset_seed, "data.train_subset")
        self.test_index = balanced_subset(test_labels, cfg.eval_subset, cfg.subset_seed, "data.eval_subset")
        self.num_classes = len(self.train.classes)
        self.in_chans = 3
        self.image_size = image_size
        self.train_size = len(self.train_index)
        self.eval_size = len(self.test_index)
        self.val_size = 0
        self.workers = workers
        self.interpolation = augment.interpolation.value

    def steps_per_epoch(self, batch_size: int) -> int:
        return self.train_size // batch_size

    def preprocessing(self) -> dict:
        from timm.data.constants import DEFAULT_CROP_MODE, DEFAULT_CROP_PCT, IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

        return {"mean": list(IMAGENET_DEFAULT_MEAN), "std": list(IMAGENET_DEFAULT_STD),
                "interpolation": self.interpolation, "crop_pct": DEFAULT_CROP_PCT, "crop_mode": DEFAULT_CROP_MODE}

    def train_batches(
        self, epoch: int, batch_size: int, start_step: int, seed: int, rank: int = 0, world: int = 1
    ) -> Iterator[Batch]:
        order = self.train_index[epoch_order(self.train_size, seed, epoch)]
        steps = self.steps_per_epoch(batch_size)
        share = batch_size // world
        # this rank's slice of every global batch from start_step on
        batches = order[: steps * batch_size].view(steps, batch_size)[start_step:, rank * share:(rank + 1) * share]
        g = torch.Generator().manual_seed(derive_seed(seed, epoch, start_step, rank, 0x1F))
        loader = DataLoader(
            self.train, batch_size=share, sampler=_OrderSampler(batches.flatten()), num_workers=self.workers,
            generator=g, drop_last=True, persistent_workers=False,
        )
        yield from loader

    def eval_batches(self, batch_size: int, rank: int = 0, world: int = 1, split: str = TEST) -> Iterator[Batch]:
        if split != TEST:
            raise ValueError("ImageFolder sources have no validation split")
        lo, hi = shard_bounds(len(self.test_index), rank, world)
        loader = DataLoader(
            self.test, batch_size=batch_size, sampler=_OrderSampler(self.test_index[lo:hi]), num_workers=self.workers
        )
        yield from loader
