"""Runs carried between machines as records (attnxfer carry): restored as finished runs where they match,
collected exactly as the runs they came from, and never mistaken for runs with weights."""
import gzip
import json

import pandas as pd
import pytest

from analysis.collect import collect_studies
from attnxfer_core.bench.synthetic_runs import populate
from attnxfer_core.cli import main
from attnxfer_core.config import apply_overrides, set_fields
from attnxfer_core.errors import UserError
from attnxfer_core.evaluation.posthoc import evaluate_run
from attnxfer_core.runs.carried import carry, find, read
from attnxfer_core.runs.files import atomic_write_json
from attnxfer_core.runs.rundir import run_dir_of
from attnxfer_core.training.execute import execute, load_finished
from studies import get_study

from .conftest import tiny_run


def _records(frame: pd.DataFrame) -> list[dict]:
    """A table's rows, whatever its column order and dtypes (a missing teacher row makes ints floats)."""
    return json.loads(frame[sorted(frame.columns)].to_json(orient="records"))


def _fresh(cfg, tmp_path, name):
    return apply_overrides(cfg, [f"exec.runs_root={tmp_path / name}"])


def test_a_carried_run_is_restored_not_trained_with_its_records_and_without_weights(tmp_path):
    cfg = tiny_run(tmp_path, f"exec.carried_root={tmp_path}/carried")
    trained = execute(cfg)
    path = carry(trained.run_dir, tmp_path / "carried", "test")
    assert path.name == f"{trained.run_dir.name}.json.gz" and read(path)["run_id"] == trained.run_dir.name
    elsewhere = _fresh(cfg, tmp_path, "elsewhere")  # another machine: no run directories
    restored = execute(elsewhere)
    assert restored.cached and restored.run_dir != trained.run_dir
    rd, original = run_dir_of(elsewhere), run_dir_of(cfg)
    assert rd.metrics() == original.metrics() and rd.config() == original.config()
    summary = dict(rd.summary())
    assert summary.pop("carried")["from"] == str(path)
    assert summary == original.summary()
    assert not (rd.path / "weights.pt").exists()
    with pytest.raises(UserError, match="restored from .* without its weights"):
        load_finished(rd.path)


def test_carrying_is_byte_stable_and_a_restored_run_is_not_carried_again(tmp_path):
    cfg = tiny_run(tmp_path, f"exec.carried_root={tmp_path}/carried")
    path = carry(execute(cfg).run_dir, tmp_path / "carried", "first")
    first = path.read_bytes()
    assert carry(run_dir_of(cfg).path, tmp_path / "carried", "second") == path and path.read_bytes() == first
    restored = execute(_fresh(cfg, tmp_path, "elsewhere")).run_dir
    carry(restored, tmp_path / "carried", "third")
    assert path.read_bytes() == first  # the first command stays the record's


def test_a_changed_recipe_or_a_damaged_file_is_not_restored(tmp_path):
    cfg = tiny_run(tmp_path, f"exec.carried_root={tmp_path}/carried")
    path = carry(execute(cfg).run_dir, tmp_path / "carried", "test")
    assert find(_fresh(cfg, tmp_path, "b")) is not None
    assert find(set_fields(_fresh(cfg, tmp_path, "b"), {"optim.lr": 1e-4})) is None
    record = read(path)
    record["config"]["config"]["optim"]["lr"] = 1e-4  # a file whose config is another run's
    path.write_bytes(gzip.compress(json.dumps(record).encode()))
    assert find(_fresh(cfg, tmp_path, "b")) is None
    path.write_bytes(b"not gzip")
    assert find(_fresh(cfg, tmp_path, "b")) is None
    assert not execute(_fresh(cfg, tmp_path, "b")).cached  # trained, as if nothing were carried


def test_carry_then_collect_elsewhere_gives_the_same_tables(tmp_path, capsys):
    study = get_study("qkv")
    carried = f"exec.carried_root={tmp_path}/carried"
    runs = study.expand("embedded", seeds=2, overrides=[f"exec.runs_root={tmp_path}/a", carried])
    populate(runs, absent=1)
    done = [run_dir_of(r.config) for r in runs if r.role == "run" and run_dir_of(r.config).finished]
    for rd in done[1:]:  # the study's evaluation of its runs (one is left unevaluated)
        rd.eval_dir().mkdir(parents=True)
        atomic_write_json(rd.eval_metrics_path(), {"clean": {**rd.summary()["final"], "n": 10000}})
    assert main(["carry", "qkv", f"exec.runs_root={tmp_path}/a", carried, "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert f"carried {len(done) - 1} finished runs" in out and "1 runs unfinished" in out
    assert "1 finished runs not carried until the study evaluates them" in out
    here = collect_studies([study], "embedded", 2, [f"exec.runs_root={tmp_path}/a", carried], tmp_path / "t1", "x")
    there = collect_studies([study], "embedded", 2, [f"exec.runs_root={tmp_path}/b", carried], tmp_path / "t2", "x")
    moved = {rd.path.name for rd in done[1:]}
    mine = here["qkv"].results[here["qkv"].results["run_id"].isin(moved)].reset_index(drop=True)
    assert _records(mine) == _records(there["qkv"].results)
    assert list(there["qkv"].status["state"]).count("done") == len(moved)
    restored = tmp_path / "b" / done[1].path.name
    assert evaluate_run(restored, ["clean"])["clean"]["n"] == 10000  # cached: never loaded, it has no weights
    assert main(["plan", "qkv", f"exec.runs_root={tmp_path}/c", carried, "--seeds", "2"]) == 0
    assert capsys.readouterr().out.count(" carried") == len(done) - 1


def test_carry_refuses_a_study_whose_analyses_read_weights(tmp_path, capsys):
    assert main(["carry", "robustness", f"exec.runs_root={tmp_path}", f"exec.carried_root={tmp_path}/c"]) == 2
    assert "read its runs' weights" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
