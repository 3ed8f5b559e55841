"""The demo's pieces: the preview of the protocol and the summary table (its statistics are analysis.stats')."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.demo_report import decide_claims, format_table, summarize, write_reference
from analysis.stats import gap_share
from attnxfer_core.experiments.demo import DemoRow, preview
from studies import get_study


def test_the_preview_divides_every_schedule_and_keeps_everything_else():
    main = get_study("main")
    short = preview(main)
    full_runs = {r.values["method"]: r.config for r in main.expand("embedded", seeds=1) if r.role == "run"}
    short_runs = {r.values["method"]: r.config for r in short.expand("embedded", seeds=1) if r.role == "run"}
    assert {m: c.optim.epochs for m, c in short_runs.items()} == {"scratch": 5, "finetune": 1, "copy": 2, "distill": 5}
    for method, cfg in short_runs.items():
        full = full_runs[method]
        assert cfg.optim.warmup_epochs == pytest.approx(full.optim.warmup_epochs * cfg.optim.epochs / full.optim.epochs)
        assert (cfg.optim.lr, cfg.teacher, cfg.data) == (full.optim.lr, full.teacher, full.data)
    assert short.claims == main.claims and short.figures == main.figures and short.name == "main_preview"


def _rows(per_seed) -> list[DemoRow]:
    return [DemoRow(m, seed, top1, 10.0, Path("x")) for seed, values in enumerate(per_seed)
            for m, top1 in zip(("scratch", "finetune", "copy", "distill"), values)]


def test_the_summary_uses_the_one_gap_estimator():
    rows = _rows([(60, 75, 72, 70), (62, 76, 74, 69), (59, 74, 71, 68)])
    table = {row["method"]: row for row in summarize(get_study("main"), rows)}
    series = {m: pd.Series({r.seed: r.top1 for r in rows if r.method == m}) for m in table}
    expected = gap_share(series["distill"], series["scratch"], series["finetune"])
    assert table["distill"]["gap_recovered"] == pytest.approx(expected.estimate, abs=1e-3)
    assert table["distill"]["gap_recovered_ci95"] == pytest.approx([expected.low, expected.high], abs=1e-3)
    assert table["scratch"]["gap_recovered"] is None and table["distill"]["paper_top1"] == 85.7
    assert "mean ± sd over seeds" in format_table(list(table.values()))


SCRATCH = (60, 62, 59, 61, 63)
FINETUNE = (75, 77.5, 74, 76.2, 78.1)


def _with_distill(minus_finetune) -> list[DemoRow]:
    return _rows([(s, f, f - 2, f + d) for s, f, d in zip(SCRATCH, FINETUNE, minus_finetune)])


def _tost_p(diffs, margin=1.0) -> float:
    """Two one-sided t tests, written out here independently of analysis.stats."""
    from scipy import stats

    d = np.asarray(diffs, dtype=float)
    se = d.std(ddof=1) / np.sqrt(len(d))
    return max(stats.t.sf((d.mean() + margin) / se, len(d) - 1), stats.t.cdf((d.mean() - margin) / se, len(d) - 1))


@pytest.mark.parametrize("minus_finetune, expected, next_step", [
    ((-5.2, -5.7, -5.1, -6.0, -5.4), "does not replicate", False),  # 95% CI wholly below -1
    ((0.2, -0.1, 0.3, -0.2, 0.1), "replicates", False),  # TOST p < 0.05
    ((1.5, -1.2, 2.0, -0.8, 0.9), "inconclusive", True),  # 90% CI leaves ±1, 95% CI straddles it
])
def test_the_reference_carries_the_claims_decided_by_the_protocols_rules(minus_finetune, expected, next_step,
                                                                         tmp_path):
    rows = _with_distill(minus_finetune)
    verdicts = decide_claims(get_study("main"), rows)
    gate = next(v for v in verdicts if v.role == "gate")
    equivalence = next(v for v in verdicts if v.kind == "equivalence")
    assert gate.verdict == "replicates" and equivalence.verdict == expected
    assert equivalence.interval.estimate == pytest.approx(np.mean(minus_finetune))
    assert f"TOST p = {_tost_p(minus_finetune):.3f}" in equivalence.evidence
    assert (_tost_p(minus_finetune) < 0.05) == (expected == "replicates")
    write_reference(get_study("main"), summarize(get_study("main"), rows), verdicts, rows, {}, tmp_path,
                    "attnxfer demo")
    text = (tmp_path / "main.md").read_text()
    assert f"**{expected}**" in text and "5 seeds" in text and "- gate:" in text
    # the extension rule is the protocol's (studies/main.py PROTOCOL), not the demo's
    assert ("next registered look: attnxfer run main --seeds 10" in text) == next_step


def test_a_failed_gate_leaves_every_other_claim_undecided():
    flat = _rows([(60, 60.5, 72, 69.5), (62, 61.5, 74, 71.5), (59, 60, 71, 68.5)])
    verdicts = decide_claims(get_study("main"), flat)
    assert {v.verdict for v in verdicts if v.role != "gate"} == {"uninformative"}
    no_finetune = [r for r in flat if r.method != "finetune"]
    # without the gate's data: claims that need fine-tune have no data, the rest cannot be decided
    assert {v.verdict for v in decide_claims(get_study("main"), no_finetune) if v.role != "gate"} == {
        "uninformative", "no data"}


@pytest.mark.slow
def test_the_demo_end_to_end_says_where_its_teacher_came_from(tmp_path, capsys):
    """Pretrained, then reused, then (in a fresh runs root) installed from the shipped copy."""
    import json

    from attnxfer_core.cli import main
    from attnxfer_core.config import set_fields
    from attnxfer_core.runs.rundir import run_dir_of
    from attnxfer_core.runs.shipped import ship

    from .test_submit import TINY_STUDY

    def demo(root, *extra):
        args = ["demo", *TINY_STUDY, f"exec.runs_root={root}", f"exec.shipped_root={tmp_path / 'shipped'}",
                "--seeds", "2", "--no-report", "--progress", "off", *extra]
        assert main(args) == 0
        return capsys.readouterr()

    first = demo(tmp_path / "a", "--out", str(tmp_path / "ref"))
    assert "teacher: pretrained" in first.err and "pretrained the teacher" in first.out
    assert "claims, decided on these runs (2 seeds, paired)" in first.out and "- gate:" in first.out
    reference = json.loads((tmp_path / "ref" / "main.json").read_text())
    assert len(reference["runs"]) == 8
    # the recorded command runs again as written: overrides before options
    assert reference["command"].startswith(f"attnxfer demo {TINY_STUDY[0]}") and reference["command"].endswith(
        "--no-report")
    assert {v["role"] for v in reference["verdicts"]} == {"gate", "primary", "secondary"}
    assert all(r["train_seconds"] > 0 for r in reference["runs"])
    again = demo(tmp_path / "a", "--out", str(tmp_path / "ref2"))
    assert "reused the cached teacher" in again.out and "cached" in again.err
    # found finished, the runs still report the training time they recorded
    assert json.loads((tmp_path / "ref2" / "main.json").read_text())["runs"] == reference["runs"]
    teacher = next(r for r in get_study("main").expand("embedded", seeds=1, overrides=[
        *TINY_STUDY, f"exec.runs_root={tmp_path / 'a'}"]) if r.role == "dependency")
    ship(run_dir_of(teacher.config).path, tmp_path / "shipped", "test")
    third = demo(tmp_path / "b")
    assert "teacher: installed" in third.err and "installed the shipped teacher" in third.out
    installed = run_dir_of(set_fields(teacher.config, {"exec.runs_root": str(tmp_path / "b")}))
    assert "installed" in installed.summary() and not (installed.path / "metrics.jsonl").exists()
