"""Study sizing: the short embedded budget, the measured-cost estimates plan prints and their check against finished
runs, and the claims that read cross-run analyses (ensembles, attention similarity, matched-accuracy robustness)."""
import json

import pandas as pd
import pytest

from analysis.study_data import StudyData, value_in
from analysis.verdicts import DOES_NOT, NO_DATA, REPLICATES, decide
from attnxfer_core.bench.calibrate import _per
from attnxfer_core.config import to_dict
from attnxfer_core.errors import ConfigError
from attnxfer_core.experiments.claims import MatchedShift, Superiority
from attnxfer_core.experiments.cost import StepTimes, estimate, images_of
from attnxfer_core.experiments.presets import FULL, SHORT, embedded
from attnxfer_core.experiments.scales import base_run
from attnxfer_core.experiments.study import with_values
from attnxfer_core.experiments.validation import name_problems
from attnxfer_core.modes import Mode
from studies import get_study, load_studies

TIMES = StepTimes({"scratch": 0.002, "distill": 0.004, "copy": 0.003, "finetune": 0.002, "mae_pretrain": 0.001},
                  {"scratch": 0.001, "distill": 0.002, "copy": 0.002, "finetune": 0.001})


def test_short_budget_is_a_fifth_of_the_full_recipe_with_its_shape():
    for mode, full_epochs, short_epochs in ((Mode.DISTILL, 20, 8), (Mode.SCRATCH, 20, 8), (Mode.COPY, 10, 4),
                                            (Mode.FINETUNE, 5, 2)):
        full, short = embedded(mode, 0, FULL), base_run("embedded", mode, budget="short")
        assert (full.optim.epochs, short.optim.epochs) == (full_epochs, short_epochs)
        assert short.data.train_subset == full.data.train_subset // 2 == SHORT.student_images
        assert short.optim.warmup_epochs / short.optim.epochs == pytest.approx(full.optim.warmup_epochs / full_epochs)
        for field in ("lr", "weight_decay", "layer_decay", "beta2", "batch_size"):
            assert getattr(short.optim, field) == getattr(full.optim, field)
        assert short.student == full.student and short.teacher == full.teacher
        trained = images_of(short).trained / images_of(full).trained
        assert trained == pytest.approx(0.2)
    with pytest.raises(ConfigError, match="budget"):
        base_run("embedded", Mode.COPY, budget="long")


def test_estimates_come_from_measured_times_per_trained_and_evaluated_image():
    cfg = embedded(Mode.DISTILL)
    est = estimate(cfg, "embedded", TIMES)
    # 20 epochs x 10,000 images trained; 20 x 2,000 validation images and the 10,000 test images evaluated
    assert est.measured and est.seconds == pytest.approx(200_000 * 0.004 + 50_000 * 0.002)
    assert estimate(embedded(Mode.COPY_Q), "embedded", TIMES).measured is False  # not measured: FLOPs
    wider = get_study("scale").expand("embedded", seeds=1)
    tiny = next(r for r in wider if r.values.get("size") == "tiny" and r.values["method"] == "scratch")
    small = next(r for r in wider if r.values.get("size") == "small" and r.values["method"] == "scratch")
    assert estimate(tiny.config, "embedded", TIMES).seconds < 0.5 * estimate(small.config, "embedded", TIMES).seconds


def test_estimates_count_set_up_and_distillations_held_out_attention_pass():
    timed = StepTimes(TIMES.train_image_seconds, TIMES.eval_image_seconds,
                      held_out_image_seconds={"distill": 0.003}, setup_seconds={"distill": 20.0, "copy": 15.0})
    assert images_of(embedded(Mode.DISTILL)).held_out == 20 * 2_000  # the validation split again, each epoch
    assert images_of(embedded(Mode.COPY)).held_out == images_of(embedded(Mode.SCRATCH)).held_out == 0
    assert images_of(with_values(embedded(Mode.DISTILL), {"eval_every": 5})).held_out == 4 * 2_000
    assert images_of(with_values(embedded(Mode.DISTILL), {"data.val_size": 0})).held_out == 0  # evaluates on test
    assert estimate(embedded(Mode.DISTILL), "embedded", timed).seconds == pytest.approx(
        200_000 * 0.004 + 50_000 * 0.002 + 40_000 * 0.003 + 20.0)
    assert estimate(embedded(Mode.COPY), "embedded", timed).seconds == pytest.approx(
        estimate(embedded(Mode.COPY), "embedded", TIMES).seconds + 15.0)
    again = StepTimes.from_json(timed.to_json())
    assert again.held_out_image_seconds == {"distill": 0.003} and again.setup_seconds["copy"] == 15.0
    old = json.loads(TIMES.to_json())  # a table written before set-up and the held-out pass were measured
    del old["held_out_image_seconds"], old["setup_seconds"]
    assert StepTimes.from_json(json.dumps(old)).setup_seconds == {}


def _finished_run(root, name, cfg, summary):
    run = root / name
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"run_id": name, "config": to_dict(cfg)}))
    (run / "summary.json").write_text(json.dumps({"steps": 1560, "device": "cpu", **summary}))


def test_bench_estimates_compares_whole_runs_with_their_estimates(tmp_path, capsys):
    from attnxfer_core.bench.estimates import compare_runs, summary_lines
    from attnxfer_core.cli import main

    timed = StepTimes(TIMES.train_image_seconds, TIMES.eval_image_seconds, {"threads": 2},
                      setup_seconds={"distill": 20.0})
    cfg = embedded(Mode.DISTILL)
    est = estimate(cfg, "embedded", timed).seconds
    _finished_run(tmp_path, "distill-a", cfg, {"setup_seconds": 30.0, "wall_seconds_this_attempt": 1.5 * est - 30,
                                               "attempt_from_step": 0, "others_cpu_share": 0.02})
    _finished_run(tmp_path, "distill-a2", cfg, {"setup_seconds": 30.0, "wall_seconds_this_attempt": 3 * est - 30,
                                                "attempt_from_step": 0, "others_cpu_share": 0.5})  # beside other work
    # recorded neither set-up nor where its attempt began, and trained in one attempt (more wall than training)
    _finished_run(tmp_path, "distill-b", cfg, {"wall_seconds_this_attempt": est - 20.0, "train_seconds": est - 60})
    _finished_run(tmp_path, "distill-c", cfg, {"wall_seconds_this_attempt": 10.0, "attempt_from_step": 700})
    _finished_run(tmp_path, "distill-d", cfg, {"wall_seconds_this_attempt": 10.0, "device": "cuda:0"})
    _finished_run(tmp_path, "distill-e", cfg, {"wall_seconds_this_attempt": 10.0, "train_seconds": 400.0})  # resumed
    _finished_run(tmp_path, "distill-f", cfg, {"wall_seconds_this_attempt": 10.0, "threads": [2, 1]})
    report = compare_runs(tmp_path, timed)
    assert [(c.run_id, round(c.ratio, 6), c.setup_timed, c.quiet) for c in report.comparisons] == [
        ("distill-a", 1.5, True, True), ("distill-a2", 3.0, True, False), ("distill-b", 1.0, False, False)]
    assert report.skipped == {"resumed: its wall time covers the last attempt only": 2,
                              "not trained by one process on the CPU": 1,
                              "trained on other than the table's 2 CPU threads": 1}
    lines = summary_lines(report)
    assert lines[0] == "every run:" and lines[2].split()[:3] == ["distill", "3", "1.50"]
    quiet = lines.index(next(line for line in lines if line.startswith("on a quiet machine")))
    assert "not recorded by 1 of the runs above" in lines[quiet]
    assert lines[quiet + 2].split()[:5] == ["distill", "1", "1.50", "1.50", "1.50"]
    table = tmp_path / "table.json"
    table.write_text(timed.to_json())
    assert main(["bench", "estimates", str(tmp_path), "--table", str(table), "--runs"]) == 0
    out = capsys.readouterr().out
    assert "distill-a " in out and "others 2%" in out and "others ?" in out
    assert main(["bench", "estimates", str(tmp_path), "--table", str(tmp_path / "none.json")]) == 2
    assert "--table" in capsys.readouterr().err


def test_calibration_solves_each_rate_from_its_runs():
    from attnxfer_core.bench.calibrate import ModeTimings, mode_rates
    from attnxfer_core.experiments.cost import Images

    step, train, evaluation, held_out, writes = 0.256, 0.002, 0.0006, 0.0025, 0.3  # per step / image; final writes
    c, d = Images(256, 12_000, 2_000), Images(256, 10_000)  # C: val, its held-out pass and test; D: test only
    stopped = 2 * step
    rates = mode_rates("distill", ModeTimings(step, 128, 7.0, stopped,
                                              evaluated=stopped + 12_000 * evaluation + 2_000 * held_out + writes,
                                              test_only=stopped + 10_000 * evaluation + writes), c, d)
    assert (rates.train, rates.setup) == (train, 7.0)
    assert rates.eval == pytest.approx(evaluation + writes / 10_000)  # the final writes ride on evaluated images
    # C and D both write once; the writes the evaluated-image rate carries for C's extra 2,000 come off the pass
    assert rates.held_out == pytest.approx(held_out - writes / 10_000)
    plain = mode_rates("scratch", ModeTimings(step, 128, 5.0, stopped, stopped + 12_000 * evaluation), c)
    assert plain.eval == pytest.approx(evaluation) and plain.held_out is None
    with pytest.raises(RuntimeError, match="held-out attention pass.*too busy"):
        mode_rates("distill", ModeTimings(step, 128, 7.0, stopped, stopped + 1.0, stopped + 2.0), c, d)


def test_calibration_refuses_an_unmeasurable_time():
    assert _per(2.0, 4, "x") == 0.5
    with pytest.raises(RuntimeError, match="too busy"):
        _per(-0.1, 4, "distill training")


def _data(study, clean_rows, analyses_dir=None):
    return StudyData(get_study(study), pd.DataFrame(clean_rows), pd.DataFrame(), pd.DataFrame(), analyses_dir)


def test_ensemble_claims_pair_ensembles_by_their_first_members_seed(tmp_path):
    rows = [{"run_id": f"{m}-{s}", "value.method": m, "seed": s, "set": "clean", "role": "run", "top1": 80.0}
            for m in ("distill", "finetune") for s in range(3)]
    ens = [{"name": "distill+finetune", "member_ids": [f"distill-{s}", f"finetune-{s}"],
            "ensemble": {"top1": 82.0 + 0.1 * s}} for s in range(3)]
    ens += [{"name": "finetune+finetune", "member_ids": [f"finetune-{s}", f"finetune-{(s + 1) % 3}"],
             "ensemble": {"top1": 81.0 + 0.2 * s}} for s in range(3)]
    (tmp_path / "ensembles.json").write_text(json.dumps(ens))
    claim = Superiority(text="t", better={"ensemble": "distill+finetune"}, worse={"ensemble": "finetune+finetune"})
    v = decide("ensembles", claim, _data("ensembles", rows, tmp_path))
    assert v.verdict == REPLICATES and v.interval.n == 3 and v.interval.estimate == pytest.approx(0.9)
    assert decide("ensembles", claim, _data("ensembles", rows, tmp_path / "none")).verdict == NO_DATA


def test_similarity_metric_averages_a_runs_layers(tmp_path):
    rows = [{"run_id": f"{m}-{s}", "value.method": m, "seed": s, "set": "clean", "role": "run", "top1": 80.0}
            for m in ("copy_q", "distill") for s in range(3)]
    sim = [{"method": m, "seed": s, "run_id": f"{m}-{s}",
            "layers": {str(k): {"jsd_matched/pretrained": (0.5 if m == "copy_q" else 0.1) + 0.01 * s + 0.1 * k}
                       for k in range(2)}} for m in ("copy_q", "distill") for s in range(3)]
    (tmp_path / "similarity.json").write_text(json.dumps(sim))
    data = _data("similarity", rows, tmp_path)
    assert data.per_seed({"method": "copy_q"}, "similarity:jsd_matched/pretrained").tolist() == pytest.approx(
        [0.55, 0.56, 0.57])
    claim = get_study("similarity").claims_at("embedded")[0]
    assert decide("similarity", claim, data).verdict == REPLICATES


def test_a_whole_number_claim_selects_its_runs_when_a_dependency_row_made_the_column_float():
    """The heads study's first collection: the MAE teacher's row has no heads, pandas stores heads as
    4.0, and a claim on heads=4 found no runs (verdict "no data") while the runs were all there."""
    rows = [{"run_id": f"{m}-{n}-{s}", "value.method": m, "value.heads": float(n), "seed": s, "set": "clean",
             "role": "run", "top1": 50.0 + 3 * n + 0.1 * s} for m in ("copy", "distill") for n in (1, 3, 4)
            for s in range(3)]
    rows.append({"run_id": "mae", "value.method": float("nan"), "value.heads": float("nan"), "seed": 0,
                 "set": "clean", "role": "dependency"})
    data = _data("heads", rows)
    assert data.per_seed({"method": "copy", "heads": 4}).tolist() == pytest.approx([62.0, 62.1, 62.2])
    verdicts = [decide("heads", claim, data) for claim in get_study("heads").claims_at("embedded")]
    # the gate has no scratch runs here; 4 heads beat 1; 3 are 3 points below 4
    assert [v.verdict for v in verdicts] == [NO_DATA] + [REPLICATES, DOES_NOT] * 2
    assert value_in(pd.Series([1.0, 4.0, float("nan")]), [4]).tolist() == [False, True, False]  # figures' filter


def test_matched_shift_is_the_reference_minus_method_on_the_family(tmp_path):
    def pair(seed, ref, method):
        return {"method": "distill", "reference": "finetune", "seed": seed, "rows": [
            {"clean_top1": 70.0,
             "sets": {"clean_subset": 70.0, "corruptions/fog/1": ref, "corruptions/fog/2": ref - 2}},
            {"clean_top1": 70.5,
             "sets": {"clean_subset": 70.0, "corruptions/fog/1": method, "corruptions/fog/2": method - 2}}]}
    (tmp_path / "matched.json").write_text(json.dumps([pair(0, 50, 45), pair(1, 51, 47), pair(2, 49, 46)]))
    data = _data("robustness", [], tmp_path)
    assert data.matched_gap("distill", "finetune", "corruptions").tolist() == [5.0, 4.0, 3.0]
    claim = MatchedShift(text="t", method="distill")
    assert decide("robustness", claim, data).verdict == REPLICATES
    (tmp_path / "matched.json").write_text(json.dumps([pair(0, 45, 50), pair(1, 46, 51), pair(2, 44, 50)]))
    assert decide("robustness", claim, data).verdict == DOES_NOT


def test_analysis_claims_are_validated_before_anything_trains():
    import dataclasses
    study = get_study("ensembles")
    bad = dataclasses.replace(study, claims=(Superiority(text="t", better={"ensemble": "copy+copy"},
                                                         worse={"ensemble": "finetune+finetune"}),))
    assert any("no ensemble named 'copy+copy'" in p for p in name_problems(bad, "embedded"))
    robust = get_study("robustness")
    no_matched = dataclasses.replace(robust, analyses=())
    assert any("needs the 'matched' analysis" in p for p in name_problems(no_matched, "embedded"))
    for study in load_studies().values():
        assert name_problems(study, "embedded") == [], study.name


def test_a_study_table_never_mixes_devices():
    from analysis.collect import check_one_device
    from attnxfer_core.errors import UserError

    status = pd.DataFrame({"state": ["done", "done", "done"], "role": ["run", "run", "dependency"],
                           "device": ["cpu", "cpu", "cuda"]})
    check_one_device("s", status)  # a dependency (the teacher) may come from elsewhere
    status.loc[1, "device"] = "cuda"
    with pytest.raises(UserError, match="study s: its finished runs were made on cpu and cuda"):
        check_one_device("s", status)


def test_budget_of_names_the_budget_a_run_was_built_at():
    from attnxfer_core.experiments.presets import budget_of

    assert budget_of(embedded(Mode.COPY)) == "full"
    assert budget_of(base_run("embedded", Mode.FINETUNE, budget="short")) == "short"
    assert budget_of(with_values(embedded(Mode.COPY), {"optim.epochs": 3})) == "other"


def test_study_costs_count_a_shared_run_once_main_first(no_carried_runs):
    from attnxfer_core.experiments.planning import embedded_costs

    costs = {c.study: c for c in embedded_costs(list(load_studies().values()))}
    assert costs["main"].new_runs == costs["main"].runs == 20  # the shipped teacher is installed, not trained
    assert costs["ensembles"].new_runs == 0 and costs["ensembles"].new_seconds == 0
    assert costs["feature_kd"].new_runs == 3  # feature_kd x 3 seeds
    assert costs["similarity"].new_runs == 0 < costs["similarity"].runs  # its copy_q runs are qkv's (main recipe)
    everything = {r.run_id for s in load_studies().values() for r in s.expand("embedded")}
    assert sum(c.new_runs for c in costs.values()) <= len(everything)


@pytest.mark.slow
def test_calibrate_measures_every_mode_it_is_given_with_the_real_trainer(tmp_path):
    from attnxfer_core.bench.calibrate import calibrate, write
    from attnxfer_core.experiments.cost import StepTimes as Table
    from attnxfer_core.experiments.cost import measured_step_times

    lines = []
    times = calibrate([Mode.SCRATCH, Mode.DISTILL], steps=3, log=lines.append)
    assert set(times.train_image_seconds) == {"scratch", "distill", "mae_pretrain"}
    assert set(times.eval_image_seconds) == set(times.setup_seconds) == {"scratch", "distill"}
    assert set(times.held_out_image_seconds) == {"distill"}  # the held-out attention pass is distillation's
    assert all(v > 0 for v in [*times.train_image_seconds.values(), *times.eval_image_seconds.values(),
                               *times.setup_seconds.values(), *times.held_out_image_seconds.values()])
    assert times.environment["device"] == "cpu" and times.environment["threads"] >= 1 and len(lines) == 3
    write(times, tmp_path / "t.json")
    again = measured_step_times(tmp_path / "t.json")
    assert isinstance(again, Table) and again.train_image_seconds == times.train_image_seconds
    assert estimate(embedded(Mode.SCRATCH), "embedded", again).measured


def test_a_studys_evaluations_after_training_are_part_of_its_cost():
    from attnxfer_core.experiments.cost import evaluation_images
    from attnxfer_core.experiments.planning import run_seconds

    study = get_study("robustness")
    run = next(r for r in study.expand("embedded") if r.role == "run")
    assert run.config.data.corruption_subset == 500
    # 15 corruptions x 5 severities + the clean subset, then once more for the matched analysis
    assert evaluation_images(run.config, ["clean_subset", "corruptions"], ["matched"]) == 2 * 76 * 500
    trained_only = estimate(run.config, "embedded").seconds
    assert run_seconds(study, run, "embedded")[0] > trained_only
