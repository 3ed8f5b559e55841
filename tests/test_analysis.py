"""Collection, aggregation, figures and the dashboard on synthetic run directories."""
import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from analysis.aggregate import aggregate
from analysis.collect import collect_studies, collect_study
from analysis.dashboard import write_dashboard
from analysis.figures import render_figures
from analysis.stats import t_halfwidth
from analysis.study_data import StudyData
from analysis.verdicts import DOES_NOT, INCONCLUSIVE, NO_DATA, REPLICATES, superiority
from attnxfer_core.bench.synthetic_runs import populate
from attnxfer_core.experiments.claims import Superiority
from studies import get_study, load_studies

ALL = list(load_studies().values())


def collect(names, *args):
    return collect_studies([get_study(n) for n in names] or ALL, *args)


def figures(names, *args):
    return render_figures([get_study(n) for n in names] or ALL, *args)


def dashboard(names, *args):
    return write_dashboard([get_study(n) for n in names] or ALL, *args)


def _runs(name, root, seeds=2, *values):
    return get_study(name).expand("embedded", seeds=seeds, overrides=[f"exec.runs_root={root}", *values])


def test_collect_reads_done_failed_and_half_written_runs(tmp_path):
    runs = _runs("main", tmp_path, 3)
    populate(runs, failed=1, half=1, absent=1)
    study = get_study("main")
    c = collect_study(study, runs, cache_path=tmp_path / "cache.json")
    states = c.status["state"].value_counts().to_dict()
    assert states == {"done": 10, "failed": 1, "stopped": 1, "not started": 1}
    assert len(c.results) == 10 and set(c.results["set"]) == {"clean"}
    assert "cfg.transfer.mode" in c.results and "value.method" in c.results
    failed = c.status[c.status["state"] == "failed"].iloc[0]
    assert "<script>" in failed["error"]
    assert set(c.status.loc[c.status["state"] == "done", "threads"]) == {"2"}  # they change CPU round-off
    assert c.reread == 13
    again = collect_study(study, runs, cache_path=tmp_path / "cache.json")
    assert again.reread == 0 and again.results.equals(c.results)
    (Path(runs[-1].config.exec.runs_root) / runs[-1].run_id / "summary.json").touch()
    assert collect_study(study, runs, cache_path=tmp_path / "cache.json").reread == 1


def test_aggregate_mean_std_ci():
    frame = pd.DataFrame({"value.method": ["a"] * 3 + ["b"] * 3, "seed": [0, 1, 2] * 2, "set": "clean",
                          "top1": [1.0, 2.0, 3.0, 5.0, 5.0, 5.0]})
    agg = aggregate(frame, metrics=("top1",)).set_index("value.method")
    assert agg.loc["a", "top1_mean"] == 2.0 and agg.loc["a", "top1_std"] == 1.0 and agg.loc["a", "n"] == 3
    assert agg.loc["a", "top1_ci95"] == pytest.approx(4.302652729911275 / math.sqrt(3))
    assert agg.loc["b", "top1_ci95"] == 0.0 and set(agg["epoch_choice"]) == {"final"}
    assert math.isnan(t_halfwidth(1.0, 1))


def greater(a: pd.Series, b: pd.Series):
    """A superiority claim "a > b" decided on per-seed values."""
    rows = [{"value.method": name, "seed": seed, "set": "clean", "role": "run", "top1": v}
            for name, series in (("a", a), ("b", b)) for seed, v in series.items()]
    data = StudyData(get_study("main"), pd.DataFrame(rows), pd.DataFrame(), pd.DataFrame())
    return superiority("s", Superiority(text="c", better={"method": "a"}, worse={"method": "b"}), data)


def test_replication_verdicts_follow_the_interval():
    up = pd.Series([10.0, 11.0, 12.0], index=[0, 1, 2])
    down = pd.Series([1.0, 2.0, 3.0], index=[0, 1, 2])
    noisy = pd.Series([0.0, 20.0, 5.0], index=[0, 1, 2])
    assert greater(up, down).verdict == REPLICATES
    assert greater(down, up).verdict == DOES_NOT
    assert greater(noisy, down).verdict == INCONCLUSIVE


def test_difference_of_gains_pairs_each_gain_by_seed_then_the_two():
    from analysis.verdicts import gain_difference
    from attnxfer_core.experiments.claims import GainDifference

    values = {"m": [80.0, 82.0, 81.0], "ms": [70.0, 71.0, 70.5],  # matched gains 10, 11, 10.5
              "s": [74.0, 77.0, 72.0], "ss": [71.0, 73.0, 70.0]}  # standard gains 3, 4, 2
    rows = [{"value.method": name, "seed": seed, "set": "clean", "role": "run", "top1": v}
            for name, vs in values.items() for seed, v in enumerate(vs)]
    data = StudyData(get_study("main"), pd.DataFrame(rows), pd.DataFrame(), pd.DataFrame())
    claim = GainDifference(text="c", gain={"method": "m"}, over={"method": "ms"}, than={"method": "s"},
                           than_over={"method": "ss"})
    verdict = gain_difference("s", claim, data)
    assert verdict.interval.estimate == pytest.approx(7.5) and verdict.interval.n == 3 and verdict.interval.paired
    assert verdict.verdict == REPLICATES
    flipped = GainDifference(text="c", gain={"method": "s"}, over={"method": "ss"}, than={"method": "m"},
                             than_over={"method": "ms"})
    assert gain_difference("s", flipped, data).verdict == DOES_NOT
    missing = GainDifference(text="c", gain={"method": "x"}, over={"method": "ms"}, than={"method": "s"},
                             than_over={"method": "ss"})
    assert gain_difference("s", missing, data).verdict == NO_DATA


def _populate_all(root: Path, *overrides: str) -> None:
    # main last: studies share runs (the scratch baseline), and main's failed run must stay failed
    for name in sorted(load_studies(), key=lambda n: n == "main"):
        runs = _runs(name, root, 2, *overrides)
        populate(runs, seed=len(name), corruptions=name == "robustness", failed=1 if name == "main" else 0)
    analyses = root / "analyses"
    (analyses / "ensembles").mkdir(parents=True)
    (analyses / "ensembles" / "ensembles.json").write_text(json.dumps([
        {"name": n, "member_ids": ["a", "b"], "ensemble": {"top1": 70.0 + i},
         "members": {"a": {"top1": 65.0}, "b": {"top1": 66.0}}, "set": "clean"}
        for i, n in enumerate(["distill+finetune", "finetune+finetune", "scratch+scratch", "distill+finetune"])]))
    (analyses / "similarity").mkdir(parents=True)
    (analyses / "similarity" / "similarity.json").write_text(json.dumps([
        {"method": m, "seed": seed, "run_id": f"{m}-{seed}", "layers": {str(layer): {
            "jsd_matched/pretrained": 0.1 * layer + 0.01 * seed ** 2, "jsd_matched/finetuned": 0.05 * layer,
            "entropy": 2.0 + seed} for layer in range(4)}}
        for m in ("scratch", "copy", "distill") for seed in (0, 1, 2)]))
    (analyses / "robustness").mkdir(parents=True)
    (analyses / "robustness" / "matched.json").write_text(json.dumps([
        {"method": "distill", "reference": "finetune", "seed": 0, "rows": [
            {"run": "runs/finetune-x", "epoch": 2, "clean_top1": 70.0, "target": 70.0, "tag": "epoch_002",
             "sets": {"clean_subset": 70.0, "corruptions/fog/1": 50.0}},
            {"run": "runs/distill-y", "epoch": 3, "clean_top1": 69.5, "target": 70.0, "tag": "epoch_003",
             "sets": {"clean_subset": 69.5, "corruptions/fog/1": 45.0}}]}]))


def test_every_figure_and_the_dashboard_from_synthetic_runs(tmp_path, capsys):
    root, tables, figs = tmp_path / "runs", tmp_path / "tables", tmp_path / "figures"
    _populate_all(root)
    collect([], "embedded", 2, [f"exec.runs_root={root}"], tables, "attnxfer collect (test)")
    assert (tables / "analyses" / "robustness" / "matched.json").exists()
    shutil.rmtree(root)  # figures and the dashboard are made from the tables folder alone (a clean clone)
    made = figures([], tables, figs, ["png", "pdf"])
    assert set(made) == {s.name for s in ALL} and all(s.figures for s in ALL)
    for name, results in made.items():
        produced = [p for r in results for p in r.files]
        assert produced, f"{name}: {[r.note for r in results]}"
        assert all(p.exists() and p.stat().st_size > 0 for p in produced)
    assert (figs / "main.md").read_text().count("|") > 10 and "\\begin{tabular}" in (figs / "main.tex").read_text()
    assert "paper" in (figs / "main.md").read_text()
    for table in [*figs.glob("*.md"), *figs.glob("*.tex")]:  # each carries its commands, code versions and device
        assert "`attnxfer collect (test)` (code " in table.read_text() and " on device " in table.read_text(), table
    again = tmp_path / "again"
    figures([], tables, again, ["png"])  # deterministic, bands and error bars included
    assert {p.name: p.read_bytes() for p in figs.glob("*.png")} == {p.name: p.read_bytes() for p in again.glob("*.png")}
    index = dashboard([], tables, figs, tmp_path / "dashboard")
    text = index.read_text()
    assert "Does it replicate?" in text and "<script>window.__xss" not in text
    from attnxfer_core.cli import main as cli

    cli(["verdicts", "robustness", "ensembles", "--tables", str(tables)])
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("- `robustness` Under corruption") and "**" in line for line in lines)
    assert sum(line.startswith("- `ensembles`") for line in lines) == 2
    run_pages = list((tmp_path / "dashboard" / "runs").glob("*.html"))
    assert run_pages and all("<svg" in p.read_text() or "no evaluations" in p.read_text() for p in run_pages[:5])


def test_figure_with_missing_runs_is_skipped_with_a_note(tmp_path, no_carried_runs):
    root, tables = tmp_path / "runs", tmp_path / "tables"
    runs = _runs("main", root, 1)
    populate([r for r in runs if r.values.get("method") != "finetune"])
    collect(["main"], "embedded", 1, [f"exec.runs_root={root}"], tables, "test")
    result = figures(["main"], tables, tmp_path / "figures", ["png"])["main"][0]  # MethodBars
    assert not result.files and "finetune" in result.note
    text = dashboard(["main", "qkv"], tables, tmp_path / "figures", tmp_path / "dashboard").read_text()
    assert "not collected: attnxfer run qkv, then attnxfer collect qkv" in text  # named, not left out
    assert "<td>test</td>" in text  # the command that made main's tables, in main's row


@pytest.mark.skipif(not Path("/usr/bin/chromedriver").exists(), reason="Debian's chromium-driver is not installed")
def test_dashboard_in_headless_chromium(tmp_path):
    """A real browser: no console errors, tables with rows, every figure loaded, user text stays text."""
    import os

    from .webdriver import Browser

    root, tables, figs = tmp_path / "runs", tmp_path / "tables", tmp_path / "figures"
    payload = "<script>window.__xss=2</script>"
    _populate_all(root, f"data.root={payload}")
    collect([], "embedded", 2, [f"exec.runs_root={root}", f"data.root={payload}"], tables, "test")
    figures([], tables, figs, ["png"])
    index = dashboard([], tables, figs, tmp_path / "dashboard")
    browser = Browser(tmp_path / "profile")
    try:
        browser.open(index.as_uri())
        home = browser.run("""
            return {claims: document.querySelectorAll('svg#forest g.claim').length,
                    rows: document.getElementById('verdicts').tBodies[0].rows.length,
                    scripts: document.scripts.length, xss: window.__xss === undefined ? null : window.__xss};""")
        assert home["claims"] == home["rows"] > 0 and home["scripts"] == 1 and home["xss"] is None
        assert [e for e in browser.console() if e.get("level") == "SEVERE"] == []
        browser.open((tmp_path / "dashboard" / "studies" / "main.html").as_uri())
        state = browser.run("""
            var imgs = Array.prototype.slice.call(document.images);
            return {
              tables: Array.prototype.map.call(document.querySelectorAll('table'), function(t){
                return {id: t.id, rows: t.tBodies.length ? t.tBodies[0].rows.length : 0}; }),
              images: imgs.length,
              broken: imgs.filter(function(i){ return !(i.complete && i.naturalWidth > 0); })
                .map(function(i){ return i.src; }),
              xss: window.__xss === undefined ? null : window.__xss,
              scripts: document.scripts.length,
              text: document.body.innerText
            };""")
        assert state["images"] >= 2 and state["broken"] == []  # main: its bars and curves
        assert all(t["rows"] > 0 for t in state["tables"] if t["id"] in ("verdicts", "agg-main", "status-main"))
        assert state["xss"] is None and state["scripts"] == 1
        assert "<script>window.__xss=1</script>" in state["text"]  # the failed run's error, shown as text
        errors = [e for e in browser.console() if e.get("level") == "SEVERE"]
        assert errors == []
        shot = browser.screenshot(Path(os.environ.get("ATTNXFER_ARTIFACTS", tmp_path)) / "dashboard.png")
        assert shot.stat().st_size > 10_000
        run_page = next((tmp_path / "dashboard" / "runs").glob("*.html"))
        browser.open(run_page.as_uri())
        run_state = browser.run("return {xss: window.__xss === undefined ? null : window.__xss, "
                                "text: document.body.innerText, svg: document.querySelectorAll('svg').length};")
        assert run_state["xss"] is None and payload in run_state["text"] and run_state["svg"] == 1
        assert [e for e in browser.console() if e.get("level") == "SEVERE"] == []
    finally:
        browser.close()


def test_learning_curves_say_how_many_seeds_each_method_has_and_the_attention_loss_per_layer(tmp_path):
    from analysis.figures import learning_curves
    from analysis.study_data import StudyData
    from attnxfer_core.experiments.figures import LearningCurves
    from studies import get_study

    runs = [("scratch", 0), ("scratch", 1), ("distill", 0)]
    status = pd.DataFrame([{"run_id": f"{m}-{s}", "seed": s, "role": "run", "value.method": m} for m, s in runs])
    curves = pd.DataFrame([
        {"run_id": f"{m}-{s}", "epoch": e, "split": "val", "top1": 50.0 + 10 * e + s,
         **({"attn_l0": 3.0 - 0.5 * e, "attn_l1": 4.0 - 0.5 * e} if m == "distill" else {})}
        for m, s in runs for e in (1, 2)])
    data = StudyData(get_study("main"), pd.DataFrame(), curves, status)
    result = learning_curves(LearningCurves(), data, tmp_path, ["png"])
    assert result.files and (tmp_path / "main_curves.png").exists()
    table = (tmp_path / "main_curves.md").read_text()
    assert "| scratch | 2 | 70.50 | 2 |" in table and "| distill | 2 | 70.00 | 1 |" in table
    attention = (tmp_path / "main_curves_attention.md").read_text()
    assert "| distill | 0 | 2.50 | 2.00 |" in attention and "| distill | 1 | 3.50 | 3.00 |" in attention

    filtered = learning_curves(LearningCurves(where={"method": ("distill",)}, stem="only"), data, tmp_path, ["png"])
    assert filtered.files
    only = (tmp_path / "only.md").read_text()
    assert "| distill |" in only and "scratch" not in only


def test_a_verdict_counts_a_difference_in_its_metrics_own_unit():
    """Accuracy differences are points; a JSD difference is a JSD, not "points"."""
    from analysis.verdicts import unit

    assert unit("top1") == unit("top5") == "points"
    assert unit("similarity:jsd_matched/pretrained") == "(jsd_matched)"
    assert unit("ece") == "(ece)"


def test_grouped_bars_draw_the_suites_t_interval_not_a_bootstrap():
    """The error bar is mean ± the t half-width of analysis.stats, the same one the tables print."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.container import ErrorbarContainer

    from analysis.figures import _grouped_bars
    from analysis.stats import mean_interval

    values = {("a", "x"): [60.0, 63.0, 70.0], ("a", "y"): [50.0, 52.0, 51.0], ("b", "x"): [40.0, 41.0, 45.0]}
    runs = pd.DataFrame([{"value.k": x, "value.h": h, "set": "clean", "seed": i, "top1": v}
                         for (h, x), vs in values.items() for i, v in enumerate(vs)])
    fig, ax = plt.subplots()
    _grouped_bars(ax, aggregate(runs, by=["value.k", "value.h", "set"]), ["x", "y"], ["a", "b"], "value.k", "value.h")
    drawn = sorted(tuple(round(float(y), 6) for y in seg[:, 1]) for c in ax.containers
                   if isinstance(c, ErrorbarContainer) for seg in c.lines[2][0].get_segments())
    plt.close(fig)
    expected = sorted((round(i.low, 6), round(i.high, 6)) for i in map(mean_interval, values.values()))
    assert drawn == expected


def test_a_sweep_over_a_count_ticks_each_swept_value(tmp_path, monkeypatch):
    """Fig 3's x is a number of layers: its axis reads 1, 2, 3, not matplotlib's 1.25 and 1.75."""
    import analysis.figures as figures

    ticks = []

    def keep_ticks(fig, out, stem, formats):
        ticks.extend(label.get_text() for label in fig.axes[0].get_xticklabels())
        return []

    monkeypatch.setattr(figures, "_save", keep_ticks)
    monkeypatch.setattr(figures, "_tables", lambda *args: [])
    rows = [{"run_id": f"{m}-{side}-{k}-{s}", "value.method": m, "value.side": side, "value.k": float(k), "seed": s,
             "set": "clean", "role": "run", "top1": 50.0 + k + s} for m in ("copy", "distill")
            for side in ("first", "last") for k in (1, 2, 3) for s in range(3)]
    data = StudyData(get_study("layers"), pd.DataFrame(rows), pd.DataFrame(), pd.DataFrame())
    figures.sweep_lines(get_study("layers").figures[0], data, tmp_path, ["png"])
    assert ticks == ["1", "2", "3"]
