"""Datasets: IDX parsing, Fashion-MNIST / MNIST-5k loading, subsets, batch augmentation."""
import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from attnxfer_core.config import AugmentConfig, DataConfig
from attnxfer_core.data import build_source
from attnxfer_core.data.datasets import FASHION_MNIST_FILES, load_fashion_mnist, load_mnist5k, pad_to
from attnxfer_core.data.idx import read_idx, write_idx
from attnxfer_core.data.source import augment_batch, balanced_subset
from attnxfer_core.errors import ConfigError, UserError


def test_idx_hand_made_bytes(tmp_path):
    # magic 0x00000803 (uint8, 3 dims), dims 2x2x3, then 12 bytes of pixels
    raw = bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(12))
    (tmp_path / "x.idx").write_bytes(raw)
    (tmp_path / "x.idx.gz").write_bytes(gzip.compress(raw))
    for name in ("x.idx", "x.idx.gz"):
        array = read_idx(tmp_path / name)
        assert array.shape == (2, 2, 3) and array.dtype == np.uint8
        assert array[1, 1, 2] == 11
    labels = bytes([0, 0, 8, 1, 0, 0, 0, 4, 7, 1, 0, 9])
    (tmp_path / "y.idx").write_bytes(labels)
    assert read_idx(tmp_path / "y.idx").tolist() == [7, 1, 0, 9]


def test_idx_round_trip_and_errors(tmp_path):
    data = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    write_idx(tmp_path / "a.gz", data)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), data)
    raw = gzip.decompress((tmp_path / "a.gz").read_bytes())
    (tmp_path / "short").write_bytes(raw[:-5])
    with pytest.raises(UserError, match="short.*truncated"):
        read_idx(tmp_path / "short")
    (tmp_path / "junk.gz").write_bytes(b"not gzip at all")
    with pytest.raises(UserError, match="junk.gz"):
        read_idx(tmp_path / "junk.gz")
    (tmp_path / "magic").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(UserError, match="magic"):
        read_idx(tmp_path / "magic")
    with pytest.raises(UserError, match="nowhere"):
        read_idx(tmp_path / "nowhere")


def _fake_fashion(root: Path, n_train=20, n_test=10):
    root.mkdir(parents=True)
    g = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = FASHION_MNIST_FILES[split]
        write_idx(root / images, g.integers(0, 255, (n, 28, 28)))
        write_idx(root / labels, np.arange(n) % 10)
    return root


def test_fashion_mnist_from_configured_dir(tmp_path, monkeypatch):
    root = _fake_fashion(tmp_path / "fm")
    source = build_source(DataConfig(dataset="fashion_mnist", root=str(root)), AugmentConfig())
    assert (source.train_size, source.eval_size, source.image_size, source.in_chans) == (20, 10, 32, 1)
    assert source.train.images.dtype == torch.uint8
    monkeypatch.setenv("ATTNXFER_FASHION_MNIST_DIR", str(root))
    assert build_source(DataConfig(), AugmentConfig()).train_size == 20


def test_missing_or_truncated_data_names_the_path(tmp_path):
    with pytest.raises(UserError, match=str(tmp_path / "absent")):
        build_source(DataConfig(root=str(tmp_path / "absent")), AugmentConfig())
    root = _fake_fashion(tmp_path / "fm2")
    labels = root / FASHION_MNIST_FILES["test"][1]
    labels.write_bytes(gzip.compress(gzip.decompress(labels.read_bytes())[:-3]))
    load_fashion_mnist.cache_clear()
    with pytest.raises(UserError, match=str(labels)):
        build_source(DataConfig(root=str(root)), AugmentConfig())


def test_unknown_dataset_and_bad_subset():
    with pytest.raises(ConfigError, match="data.dataset"):
        build_source(DataConfig(dataset="cifar"), AugmentConfig())
    with pytest.raises(ConfigError, match="data.train_subset"):
        build_source(DataConfig(dataset="synthetic", train_subset=10**6), AugmentConfig())


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist():
    source = build_source(DataConfig(train_subset=5000), AugmentConfig())
    assert source.train_size == 5000 and source.eval_size == 10000
    assert torch.bincount(source.train.labels).tolist() == [500] * 10
    assert source.test.images.shape == (10000, 1, 32, 32)
    assert source.test.images[:, :, :2].max() == 0  # padding rows are zero


def test_mnist5k_split():
    train, test = load_mnist5k()
    assert len(train.labels) == 4000 and len(test.labels) == 1000
    assert torch.bincount(test.labels).tolist() == [100] * 10
    assert train.images.shape[1:] == (1, 32, 32)


def test_balanced_subset_is_balanced_and_stable():
    labels = torch.arange(1000) % 10
    a = balanced_subset(labels, 100, seed=3, field="f")
    assert torch.equal(a, balanced_subset(labels, 100, seed=3, field="f"))
    assert torch.bincount(labels[a]).tolist() == [10] * 10
    assert not torch.equal(a, balanced_subset(labels, 100, seed=4, field="f"))


def test_pad_and_augment_shapes_and_translation():
    images = torch.zeros(3, 1, 28, 28, dtype=torch.uint8)
    padded = pad_to(images, 32)
    assert padded.shape == (3, 1, 32, 32)
    batch = torch.zeros(64, 1, 32, 32, dtype=torch.uint8)
    batch[:, 0, 16, 16] = 255
    out = augment_batch(batch, AugmentConfig(crop_padding=3, hflip=False), torch.Generator().manual_seed(0))
    assert out.shape == batch.shape and out.dtype == torch.uint8
    ys, xs = (out[:, 0] == 255).nonzero()[:, 1], (out[:, 0] == 255).nonzero()[:, 2]
    assert len(ys) == 64  # the pixel survives every shift of at most 3
    assert (ys - 16).abs().max() <= 3 and (xs - 16).abs().max() <= 3
    assert len(set(zip(ys.tolist(), xs.tolist()))) > 10  # shifts differ per image
    flipped = augment_batch(batch, AugmentConfig(crop_padding=0, hflip=True), torch.Generator().manual_seed(0))
    cols = (flipped[:, 0] == 255).nonzero()[:, 2]
    assert set(cols.tolist()) == {16, 15}


def test_batches_are_a_function_of_seed_epoch_step():
    source = build_source(DataConfig(dataset="synthetic"), AugmentConfig())
    full = list(source.train_batches(epoch=1, batch_size=64, start_step=0, seed=5))
    tail = list(source.train_batches(epoch=1, batch_size=64, start_step=3, seed=5))
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(full[3:], tail))
    other = next(source.train_batches(epoch=2, batch_size=64, start_step=0, seed=5))
    assert not torch.equal(full[0][1], other[1])
