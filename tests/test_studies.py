"""The study registry: every study expands at both scales, validates, and has stable unique ids."""
import pytest

from attnxfer_core.config import canonical_json
from attnxfer_core.errors import UserError
from attnxfer_core.experiments.scales import base_run
from attnxfer_core.experiments.study import Study, product, with_values
from attnxfer_core.experiments.validation import StudyInvalid, validate_runs
from attnxfer_core.modes import Mode
from studies import get_study, load_studies

STUDIES = sorted(load_studies())


def test_all_paper_experiments_are_registered():
    assert set(STUDIES) >= {"main", "qkv", "layers", "heads", "teachers", "loss_weight", "pretrain_data",
                            "robustness", "ensembles", "scale", "similarity", "averaging", "feature_kd"}


@pytest.mark.parametrize("scale", ["embedded", "paper"])
@pytest.mark.parametrize("name", STUDIES)
def test_study_expands_validates_with_stable_unique_ids(name, scale, tmp_path):
    study = get_study(name)
    runs = study.expand(scale, overrides=[f"exec.runs_root={tmp_path}"])
    assert runs and study.paper and study.description
    validate_runs(study, runs)
    ids = [r.run_id for r in runs]
    assert len(ids) == len(set(ids))
    assert ids == [r.run_id for r in study.expand(scale, overrides=[f"exec.runs_root={tmp_path}"])]
    canon = {r.run_id: canonical_json(r.config) for r in runs}
    assert len(set(canon.values())) == len(canon)  # two different configs never share an id
    known = set(ids)
    for r in runs:
        assert set(r.deps) <= known and r.deps == tuple(d for d in r.deps if ids.index(d) < ids.index(r.run_id))
    for ensemble in study.expand_ensembles(scale, runs):
        assert set(ensemble.member_ids) <= known
    assert not tmp_path.joinpath("x").exists() and not any(tmp_path.iterdir())  # nothing written


def test_shared_runs_are_one_run():
    main = get_study("main").expand("embedded", seeds=3)
    teachers_pretraining = [r for r in main if r.role == "dependency"]
    assert len(teachers_pretraining) == 1  # all students of all seeds share one teacher
    ablation = get_study("feature_kd").expand("embedded", seeds=3)
    assert {r.run_id for r in main if r.values.get("method") == "scratch"} == {
        r.run_id for r in ablation if r.values.get("method") == "scratch"}
    # the studies on the full recipe reuse the main replication's runs: trained once
    registered = {r.run_id for r in get_study("main").expand("embedded")}
    assert {r.run_id for r in get_study("ensembles").expand("embedded")} == registered
    similarity = get_study("similarity").expand("embedded")
    assert {r.run_id for r in similarity if r.values.get("method") != "copy_q"} <= registered
    assert {r.run_id for r in get_study("feature_kd").expand("embedded")
            if r.values.get("method") != "feature_kd"} <= registered


def test_seeds_change_ids_and_count():
    study = get_study("main")
    assert len([r for r in study.expand("embedded", seeds=1) if r.role == "run"]) == 4
    assert len([r for r in study.expand("embedded", seeds=5) if r.role == "run"]) == 20


def _bad_build(scale, p):
    cfg = base_run(scale, Mode.COPY)
    return with_values(cfg, {"transfer.layers": p["layers"]})


def test_invalid_study_is_refused_whole_listing_every_run(tmp_path):
    study = Study(
        name="broken", paper="-", description="two bad points",
        points=lambda scale: product(layers=("0", "9", "all", "-12")),
        build=_bad_build,
    )
    runs = study.expand("embedded", seeds=1, overrides=[f"exec.runs_root={tmp_path}"])
    with pytest.raises(StudyInvalid) as info:
        validate_runs(study, runs)
    message = str(info.value)
    assert "2 invalid run(s)" in message and "layers=9" in message and "layers=-12" in message
    assert "\n" not in message and not any(tmp_path.iterdir())


def test_unknown_study_and_scale():
    with pytest.raises(UserError, match="unknown study"):
        get_study("nope")
    with pytest.raises(UserError, match="scale"):
        get_study("main").expand("huge")
