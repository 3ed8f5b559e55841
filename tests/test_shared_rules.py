"""Small contracts several layers share: the verdict words, the value rule, the training objective."""
import json

import pandas as pd
import pytest
import torch

from analysis.dashboard import BADGES, _badge
from analysis.study_data import value_in
from analysis.verdicts import REPLICATES, VerdictWord
from attnxfer_core import total_loss
from attnxfer_core.experiments.study import same_value


def test_every_verdict_word_renders_as_itself_and_an_unknown_one_is_refused():
    assert set(BADGES) == set(VerdictWord) and len(set(BADGES.values())) == len(VerdictWord)
    assert f"{REPLICATES}" == str(REPLICATES) == "replicates" == REPLICATES
    assert json.dumps({"v": VerdictWord.DOES_NOT}) == '{"v": "does not replicate"}'
    assert 'class="badge no-data"' in _badge(VerdictWord.NO_DATA)
    with pytest.raises(ValueError):
        _badge("maybe")  # once rendered as "does not replicate"


def test_one_rule_selects_runs_by_value_from_the_cli_and_from_tables():
    assert same_value(4, "4") and same_value(4.0, 4) and same_value("1000", 1000.0)
    assert not same_value(4, "4.5") and same_value("mae", "mae") and not same_value("mae", "supervised")
    assert same_value(True, "True") and not same_value(True, 1)  # a flag is not a count
    column = pd.Series([4.0, 8.0, float("nan")])  # whole numbers read back as floats beside a gap
    assert value_in(column, [4]).tolist() == [True, False, False]
    assert value_in(pd.Series(["copy", "distill"]), ["distill"]).tolist() == [False, True]


def test_the_objective_is_the_task_plus_the_weighted_attention_loss():
    task, attn = torch.tensor(2.0), torch.tensor(0.5)
    assert total_loss(task, None, 3.0) is task
    assert float(total_loss(task, attn, 3.0)) == 3.5


def test_a_run_summary_reads_any_version_and_writes_back_what_it_read(tmp_path):
    from attnxfer_core.runs.summary import RunSummary
    from attnxfer_core.training.execute import execute

    from .conftest import tiny_run

    written = execute(tiny_run(tmp_path)).summary
    summary = RunSummary.from_dict(written)
    assert summary.to_dict() == written and summary.code_version == written["code_version"]
    assert summary.final["top1"] == written["final"]["top1"] and summary.threads and not summary.restored
    old = {"run_id": "scratch-abc", "final": {"top1": 50.0}, "epochs": 2, "installed": {"from": "x"}}
    read = RunSummary.from_dict(old)  # a summary from before most fields existed
    assert read.epochs == 2 and read.device == "" and read.restored and read.to_dict()["installed"] == {"from": "x"}
