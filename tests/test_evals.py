"""Evaluation suite: corruptions (cached, reproducible), mCE, ensembles, similarity, class subsets, eval CLI."""
import json

import pytest
import torch
from PIL import Image

from attnxfer_core.cli import main
from attnxfer_core.evaluation.comparisons import attention_pictures, attention_similarity, ensemble, matched_accuracy
from attnxfer_core.evaluation.corruptions import corrupted_sets, mce, relative_mce
from attnxfer_core.evaluation.posthoc import evaluate_run, load_logits
from attnxfer_core.evaluation.sets import class_mapping
from attnxfer_core.evaluation.similarity import effective_maps, jsd_matrix, layer_similarity
from attnxfer_core.training.execute import execute

from .conftest import tiny_run, tiny_vit


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """Two small finished runs (scratch, distill) sharing a runs root."""
    root = tmp_path_factory.mktemp("evals")
    extra = ["optim.epochs=4", "optim.lr=3e-3", "data.corruption_subset=40", "save_eval_weights=true"]
    scratch = execute(tiny_run(root, *extra)).run_dir
    distill = execute(tiny_run(root, "transfer.mode=distill", "teacher.source=random", *extra)).run_dir
    return root, scratch, distill


def test_corrupted_sets_cached_and_identical_across_generations(tmp_path):
    images = (torch.rand(6, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    names = ("gaussian_noise", "impulse_noise", "glass_blur", "fog")
    first = corrupted_sets(images, tmp_path / "a", names, (1, 5), workers=1)
    again = corrupted_sets(images, tmp_path / "b", names, (1, 5), workers=2)
    for key in first:
        assert torch.equal(first[key], again[key]), key
        assert first[key].shape == images.shape and first[key].dtype == torch.uint8
    assert not torch.equal(first[("gaussian_noise", 1)], first[("gaussian_noise", 5)])
    files = sorted((tmp_path / "a" / "corruptions").iterdir())
    assert len(files) == 8
    stamps = [f.stat().st_mtime_ns for f in files]
    cached = corrupted_sets(images, tmp_path / "a", names, (1, 5))
    assert [f.stat().st_mtime_ns for f in files] == stamps  # read, not regenerated
    assert all(torch.equal(cached[k], first[k]) for k in first)


def test_mce_hand_computed():
    # Two corruptions x two severities. Model errors: c1 (0.2, 0.4), c2 (0.5, 0.5);
    # baseline: c1 (0.4, 0.6), c2 (0.5, 1.0).
    model = {("c1", 1): 80.0, ("c1", 2): 60.0, ("c2", 1): 50.0, ("c2", 2): 50.0}
    base = {("c1", 1): 60.0, ("c1", 2): 40.0, ("c2", 1): 50.0, ("c2", 2): 0.0}
    # CE_c1 = 0.6 / 1.0 = 0.6; CE_c2 = 1.0 / 1.5 = 0.6667; mCE = 63.33%
    assert mce(model, base, ("c1", "c2")) == pytest.approx(100 * (0.6 + 1.0 / 1.5) / 2)
    # relative: clean errors 0.1 (model) and 0.2 (base):
    # c1 (0.6-0.2)/(1.0-0.4) = 0.6667, c2 (1.0-0.2)/(1.5-0.4) = 0.7273
    assert relative_mce(model, 90.0, base, 80.0, ("c1", "c2")) == pytest.approx(100 * (0.4 / 0.6 + 0.8 / 1.1) / 2)


def test_ensemble_of_a_model_with_itself_is_the_model(finished):
    _, scratch, _ = finished
    evaluate_run(scratch, ["clean"])
    single = ensemble([scratch], "clean")
    double = ensemble([scratch, scratch], "clean")
    assert double["ensemble"]["top1"] == single["ensemble"]["top1"] == single["members"][str(scratch)]["top1"]
    assert double["ensemble"]["nll"] == pytest.approx(single["members"][str(scratch)]["nll"], abs=1e-4)


def test_jsd_zero_to_itself_positive_to_another(images):
    a, b = tiny_vit(seed=1).eval(), tiny_vit(seed=2).eval()
    maps_a, maps_b = effective_maps(a, images), effective_maps(b, images)
    self_sim = layer_similarity(maps_a, maps_a)
    assert all(v["jsd_same_head"] == pytest.approx(0, abs=1e-6) and v["jsd_matched"] == pytest.approx(0, abs=1e-6)
               for v in self_sim.values())
    other = layer_similarity(maps_a, maps_b)
    assert all(v["jsd_same_head"] > 0 and v["jsd_matched"] > 0 for v in other.values())
    assert all(v["jsd_matched"] <= v["jsd_same_head"] + 1e-9 for v in other.values())
    permuted = {layer: m[:, [1, 0, 3, 2]] for layer, m in maps_a.items()}  # same maps, heads permuted
    perm_sim = layer_similarity(maps_a, permuted)
    assert all(v["jsd_matched"] < 1e-6 < v["jsd_same_head"] for v in perm_sim.values())
    one = jsd_matrix(maps_a[0], maps_b[0])
    assert one.shape == (4, 4) and float(one.max()) <= 1.0


def test_class_subset_maps_to_the_right_logits(tmp_path):
    """A 200-class-style set (2 of 5 classes) is scored on exactly its classes' logits."""
    wnids = ["n01", "n02", "n03", "n04", "n05"]
    mapping = class_mapping(["n02", "n05"], wnids)
    assert mapping.tolist() == [1, 4]
    assert class_mapping(["0", "3"], wnids).tolist() == [0, 3]  # ImageNet-V2 folders are class numbers
    from attnxfer_core.config import RunConfig, apply_overrides
    from attnxfer_core.evaluation.sets import _folder_set

    root = tmp_path / "imagenet"
    for w in wnids:
        (root / "train" / w).mkdir(parents=True)
    shifted = tmp_path / "shifted"
    for w in ("n02", "n05"):
        (shifted / w).mkdir(parents=True)
        Image.new("RGB", (40, 40), color=(10, 20, 30)).save(shifted / w / "a.png")
    cfg = apply_overrides(RunConfig(), [f"data.root={root}", "exec.data_workers=0", "student.img_size=32"])
    eval_set = _folder_set("imagenet_r", shifted, cfg)
    assert eval_set.class_index.tolist() == [1, 4]
    (images, labels), = list(eval_set.batches(8))
    assert labels.tolist() == [0, 1] and images.shape == (2, 3, 32, 32)
    logits = torch.tensor([[0.0, 1.0, 9.0, 9.0, 0.0], [0.0, 0.0, 9.0, 9.0, 2.0]])
    restricted = logits[:, eval_set.class_index]  # classes 2 and 3 (absent from the set) cannot win
    assert restricted.argmax(1).tolist() == labels.tolist()


def test_published_mce_is_normalised_by_alexnets_errors():
    from attnxfer_core.evaluation.corruptions import ALEXNET_ERRORS, BENCHMARK, mce_alexnet, mean_corruption_error
    from attnxfer_core.evaluation.posthoc import corruption_summary

    assert sorted(ALEXNET_ERRORS) == sorted(BENCHMARK)
    as_alexnet = {(n, s): 100 * (1 - ALEXNET_ERRORS[n]) for n in BENCHMARK for s in range(1, 6)}
    assert mce_alexnet(as_alexnet) == pytest.approx(100.0)
    half = {(n, s): 100 * (1 - ALEXNET_ERRORS[n] / 2) for n in BENCHMARK for s in range(1, 6)}
    assert mce_alexnet(half) == pytest.approx(50.0)
    partial = {k: v for k, v in half.items() if k != ("fog", 5)}  # fog lacks a severity: left out
    partial.update({("fog", s): 0.0 for s in range(1, 5)})
    assert mce_alexnet(partial) == pytest.approx(50.0)
    assert mean_corruption_error(as_alexnet) == pytest.approx(100 * sum(ALEXNET_ERRORS.values()) / 15)

    results = {f"corruptions/{n}/{s}": {"corruption": n, "severity": s, "top1": v} for (n, s), v in half.items()}
    published = corruption_summary(results, imagenet_c=True)
    assert published["mce"] == published["mce_alexnet"] == pytest.approx(50.0)
    baseline = {k: {**m, "top1": 100 * (1 - ALEXNET_ERRORS[m["corruption"]] / 4)} for k, m in results.items()}
    chosen = corruption_summary(results, baseline, imagenet_c=True)
    assert chosen["mce"] == pytest.approx(200.0) and chosen["mce_alexnet"] == pytest.approx(50.0)
    assert "mce_alexnet" not in corruption_summary(results)  # not ImageNet-C: no published normaliser


def test_eval_cli_corruptions_saves_logits(finished, capsys):
    _, scratch, distill = finished
    assert main(["eval", str(scratch), "--sets", "clean,corruptions,clean_subset", "--baseline", str(distill),
                 "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "mean_corruption_top1" in out and "mce" in out
    metrics = json.loads((scratch / "evals" / "final" / "metrics.json").read_text())
    assert len([k for k in metrics if k.startswith("corruptions/")]) == 75
    logits, labels = load_logits(scratch, "corruptions/fog/3")
    assert logits.shape == (40, 10) and labels.shape == (40,)


def test_matched_accuracy_uses_intermediate_weights(finished):
    _, scratch, distill = finished
    rows = matched_accuracy([scratch, distill], ["clean_subset"])
    target = rows[0]["target"]
    for row in rows:
        assert row["tag"].startswith("epoch_") and "clean_subset" in row["sets"]
        assert abs(row["clean_top1"] - target) <= max(abs(r["clean_top1"] - target) for r in rows) + 1e-9


def test_similarity_and_pictures(finished, tmp_path):
    _, scratch, distill = finished
    result = attention_similarity(distill, {"scratch": scratch, "itself": distill}, n_images=8)
    layers = result["layers"]
    assert set(layers) == {"0", "1", "2", "3"}
    assert all(v["jsd_matched/itself"] == pytest.approx(0, abs=1e-6) for v in layers.values())
    assert all(v["jsd_matched/scratch"] > 0 and v["entropy"] > 0 and v["mean_distance_px"] > 0 for v in layers.values())
    path = attention_pictures({"scratch": scratch, "distill": distill}, tmp_path / "maps.png")
    assert path.exists() and path.stat().st_size > 1000


@pytest.mark.slow
def test_studies_schedule_evaluations_and_analyses(tmp_path, capsys):
    from .test_submit import TINY_STUDY

    common = [*TINY_STUDY, f"exec.runs_root={tmp_path}", "data.corruption_subset=20"]
    assert main(["run", "ensembles", *common, "--seeds", "2", "--progress", "off"]) == 0
    rows = json.loads((tmp_path / "analyses" / "ensembles" / "ensembles.json").read_text())
    assert {r["name"] for r in rows} == {"distill+finetune", "copy+finetune", "finetune+finetune", "scratch+scratch"}
    assert all(len(r["members"]) == 2 and 0 <= r["ensemble"]["top1"] <= 100 for r in rows)
    assert main(["run", "similarity", *common, "--seeds", "1", "--progress", "off"]) == 0
    sim = json.loads((tmp_path / "analyses" / "similarity" / "similarity.json").read_text())
    copy_row = next(r for r in sim if r["method"] == "copy")
    assert all(v["jsd_matched/pretrained"] < 1e-6 for v in copy_row["layers"].values())  # copy uses the teacher's maps
    assert (tmp_path / "analyses" / "similarity" / "attention_maps.png").exists()
    assert main(["run", "robustness", *common, "--seeds", "1", "--progress", "off"]) == 0
    matched = json.loads((tmp_path / "analyses" / "robustness" / "matched.json").read_text())
    assert {r["method"] for r in matched} == {"copy", "distill"}
    assert all(len(r["rows"]) == 2 for r in matched)
