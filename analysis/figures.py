"""``attnxfer figures``: every figure and table a study declares, from collected results only.

A study lists figure specs (:mod:`attnxfer_core.experiments.figures`); each spec
kind has one renderer here. A renderer returns the files it wrote, or a note
saying what is missing (a figure whose runs are missing is skipped, never faked).
Where the paper reports a number it is shown beside ours, labelled as the
paper's (they are ViT-L on ImageNet-1k; ours may be another scale). Output is
deterministic: one seaborn style, fixed sizes and DPI, no timestamps in the files, and every
interval drawn is the suite's t interval (:mod:`analysis.stats`), never a plotting library's bootstrap.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd

from analysis.aggregate import aggregate
from analysis.stats import gap_share, mean_interval
from analysis.study_data import StudyData, load_study_data, value_in
from analysis.text_tables import mean_ci, to_latex, to_markdown
from attnxfer_core.experiments.figures import (
    AttentionMapsPicture,
    CorruptionHeatmap,
    EnsembleBars,
    FigureSpec,
    GroupedBars,
    LearningCurves,
    MatchedTable,
    MethodBars,
    SimilarityLines,
    SweepLines,
)
from attnxfer_core.experiments.study import Study
from attnxfer_core.modes import Mode
from attnxfer_core.runs.provenance import code_version
from attnxfer_core.runs.rundir import ANALYSIS_FILES

PAPER_LABEL = "paper (ViT-L/16, ImageNet-1k)"
METHOD_ORDER = [m.value for m in Mode]  # methods in the order the modes are declared


@dataclass
class FigureResult:
    files: list[Path] = field(default_factory=list)
    note: str = ""  # why something was skipped


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper", palette="colorblind", font="DejaVu Sans")
    plt.rcParams.update({"svg.hashsalt": "attnxfer", "figure.dpi": 110, "savefig.dpi": 110})
    return plt


def _save(fig, out: Path, stem: str, formats: Sequence[str]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for fmt in formats:
        path = out / f"{stem}.{fmt}"
        metadata = {"Software": None} if fmt == "png" else (
            {"CreationDate": None, "Producer": None} if fmt == "pdf" else None)
        fig.savefig(path, format=fmt, bbox_inches="tight", metadata=metadata)
        files.append(path)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return files


def _tables(frame: pd.DataFrame, out: Path, stem: str, caption: str, data: StudyData) -> list[Path]:
    """A figure's numbers as Markdown and LaTeX, each closing with where they came from."""
    out.mkdir(parents=True, exist_ok=True)
    note = provenance_line(data)
    (out / f"{stem}.md").write_text(f"{caption}\n\n" + to_markdown(frame) + f"\n{note}\n")
    (out / f"{stem}.tex").write_text(to_latex(frame, caption) + "".join(f"% {line}\n" for line in note.splitlines()))
    return [out / f"{stem}.md", out / f"{stem}.tex"]


def _need(data: StudyData, column: str, values: Sequence[str]) -> Optional[str]:
    if data.clean.empty or column not in data.clean:
        return f"no finished runs of {data.study.name}"
    missing = [v for v in values if v not in set(data.clean[column].astype(str))]
    return f"missing runs: {column}={', '.join(missing)}" if missing else None


def _order(values: Sequence[str]) -> list[str]:
    return sorted(values, key=lambda v: (METHOD_ORDER.index(v) if v in METHOD_ORDER else 99, v))


def _bars(ax, labels, means, errors_low, errors_high=None, color=None):
    x = np.arange(len(labels))
    low = [0 if math.isnan(c) else c for c in errors_low]
    high = low if errors_high is None else [0 if math.isnan(c) else c for c in errors_high]
    ax.bar(x, means, yerr=[low, high] if any(low) or any(high) else None, capsize=3, color=color)
    ax.set_xticks(x, labels, rotation=20)


def _grouped_bars(ax, agg: pd.DataFrame, x_order: list[str], hue_order: list[str], x_col: str, hue_col: str) -> None:
    """Bars of seed means with the suite's t intervals (:mod:`analysis.stats`), one colour per hue; the bars
    present at each x are centred on it (a study's baseline often has a group of its own).

    Drawn from the aggregate rather than by seaborn's estimator, whose bootstrap intervals are a second
    statistic and change from one drawing to the next."""
    keyed = agg.assign(_x=agg[x_col].astype(str), _hue=agg[hue_col].astype(str)).set_index(["_hue", "_x"])
    present = {x: [h for h in hue_order if (h, x) in keyed.index] for x in x_order}
    width = 0.8 / max(len(hues) for hues in present.values())
    for hue in hue_order:
        xs = [x for x in x_order if hue in present[x]]
        rows = [keyed.loc[(hue, x)] for x in xs]
        errors = [0.0 if math.isnan(r["top1_ci95"]) else r["top1_ci95"] for r in rows]
        ax.bar([x_order.index(x) + (present[x].index(hue) - (len(present[x]) - 1) / 2) * width for x in xs],
               [r["top1_mean"] for r in rows], width, yerr=errors if any(errors) else None, capsize=3, label=hue)
    ax.set_xticks(np.arange(len(x_order)), x_order)


def _filtered(clean: pd.DataFrame, where, exclude) -> pd.DataFrame:
    for key, values in where.items():
        clean = clean[value_in(clean[f"value.{key}"], values)]
    for key, values in exclude.items():
        clean = clean[~value_in(clean[f"value.{key}"], values)]
    return clean


def _with_label(clean: pd.DataFrame, keys, column: str) -> pd.DataFrame:
    """A column joining the values of ``keys`` (one key, or several such as method and side)."""
    keys = (keys,) if isinstance(keys, str) else tuple(keys)
    label = clean[f"value.{keys[0]}"].astype(str)
    for key in keys[1:]:
        label = label + " " + clean[f"value.{key}"].astype(str)
    return clean.assign(**{column: label})


def _mean_of(data: StudyData, selector) -> Optional[float]:
    per_seed = data.per_seed(selector)
    return float(per_seed.mean()) if not per_seed.empty else None


# --- renderers, one per spec kind -----------------------------------------------------

def method_bars(spec: MethodBars, data: StudyData, out: Path, formats: Sequence[str]) -> FigureResult:
    """Fig 1 / Table 1: top-1 per method with 95% CI; the share of the low -> high gap recovered (Fieller 95% CI)."""
    column = f"value.{spec.key}"
    missing = _need(data, column, [spec.low, spec.high])
    if missing:
        return FigureResult(note=missing)
    agg = aggregate(data.clean, by=[column, "set"])
    agg = agg.set_index(column).loc[_order(list(agg[column].astype(str)))].reset_index()
    methods = list(agg[column])
    low, high = data.per_seed({spec.key: spec.low}), data.per_seed({spec.key: spec.high})
    gaps = {m: gap_share(data.per_seed({spec.key: m}), low, high) for m in methods if m not in (spec.low, spec.high)}
    gaps = {m: g for m, g in gaps.items() if g is not None}
    paper = {m: data.study.reference(m) for m in methods}
    stem = spec.stem_for(data.study.name)
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    _bars(axes[0], methods, agg["top1_mean"], agg["top1_ci95"])
    axes[0].set_ylim(max(0, agg["top1_mean"].min() - 15), min(100, agg["top1_mean"].max() + 5))
    axes[0].set_title(f"ours ({int(agg['n'].max())} seeds, 95% CI)")
    axes[0].set_ylabel("top-1 (%)")
    known = [m for m in methods if paper.get(m) is not None]
    _bars(axes[1], known, [paper[m] for m in known], [float("nan")] * len(known), color="#bbbbbb")
    if known:
        axes[1].set_ylim(min(paper[m] for m in known) - 3, max(paper[m] for m in known) + 1)
    axes[1].set_title(PAPER_LABEL)
    names = list(gaps)
    bounded = [g.bounded for g in gaps.values()]
    _bars(axes[2], names, [100 * g.estimate for g in gaps.values()],
          [100 * (g.estimate - g.low) if b else float("nan") for g, b in zip(gaps.values(), bounded)],
          [100 * (g.high - g.estimate) if b else float("nan") for g, b in zip(gaps.values(), bounded)])
    paper_gap = {m: 100 * (paper[m] - paper[spec.low]) / (paper[spec.high] - paper[spec.low])
                 for m in names if paper.get(m) is not None and paper.get(spec.low) is not None
                 and paper.get(spec.high) is not None and paper[spec.high] != paper[spec.low]}
    for i, m in enumerate(names):
        if m in paper_gap:
            axes[2].plot(i, paper_gap[m], marker="D", color="black", linestyle="none",
                         label=PAPER_LABEL if i == 0 else None)
    axes[2].set_title("gap recovered (%, ratio of means, Fieller 95% CI)")
    axes[2].axhline(100, color="gray", lw=0.8, ls="--")
    if paper_gap:
        axes[2].legend(fontsize=7, loc="lower right")
    files = _save(fig, out, stem, formats)
    table = pd.DataFrame({
        "method": methods,
        "top-1 (ours, mean ± 95% CI)": [mean_ci(m, c) for m, c in zip(agg["top1_mean"], agg["top1_ci95"])],
        "gap recovered (95% CI)": [gaps[m].text(scale=100, digits=1, unit="%") if m in gaps else "—" for m in methods],
        "seeds": list(agg["n"]),
        f"top-1 ({PAPER_LABEL})": [paper.get(m) for m in methods],
    })
    files += _tables(table, out, stem, f"{data.study.paper}: {data.study.description}", data)
    return FigureResult(files)


def learning_curves(spec: LearningCurves, data: StudyData, out: Path, formats: Sequence[str]) -> FigureResult:
    curves, status = data.curves, data.status
    column = f"value.{spec.key}"
    if curves.empty or status.empty or column not in status:
        return FigureResult(note=f"no evaluations during training in {data.study.name}")
    if any(f"value.{k}" not in status for k in spec.where):
        return FigureResult(note=f"no runs of {data.study.name} have {', '.join(spec.where)}")
    status = _filtered(status, spec.where, {})
    runs = status[status["role"] == "run"][["run_id", "seed", column]] if "role" in status else status
    frame = curves.merge(runs, on="run_id")
    if frame.empty:
        return FigureResult(note="no curves of the study's own runs")
    split = str(frame["split"].iloc[-1]) if "split" in frame else "test"
    layers = sorted((c for c in frame.columns if c.startswith("attn_l")), key=lambda c: int(c[len("attn_l"):]))
    plt = _plt()
    fig, axes = plt.subplots(1, 2 if layers else 1, figsize=(10 if layers else 5, 3.4), squeeze=False)
    mean = frame.groupby([column, "epoch"], sort=True).mean(numeric_only=True).reset_index()
    for method in _order(list(mean[column].astype(str).unique())):
        part = mean[mean[column].astype(str) == method]
        axes[0][0].plot(part["epoch"], part["top1"], marker="o", ms=3, label=method)
    axes[0][0].set_xlabel("epoch")
    axes[0][0].set_ylabel(f"top-1 on the {split} split (%)")
    seeds = frame.groupby(column)["seed"].nunique()
    axes[0][0].set_title("learning curves (mean over seeds)" if seeds.nunique() > 1
                         else f"learning curves (mean of {int(seeds.iloc[0])} seeds)")
    axes[0][0].legend(fontsize=7)
    rows = []
    if layers:
        with_loss = mean.dropna(subset=layers, how="all")
        for method in _order(list(with_loss[column].astype(str).unique())):
            part = with_loss[with_loss[column].astype(str) == method]
            for layer in layers:
                axes[0][1].plot(part["epoch"], part[layer], marker="o", ms=3, label=f"{method} layer {layer[6:]}")
                rows.append({spec.key: method, "layer": int(layer[6:]), "first epoch": float(part[layer].iloc[0]),
                             "last epoch": float(part[layer].iloc[-1])})
        axes[0][1].set_xlabel("epoch")
        axes[0][1].set_ylabel("attention-distillation loss (CE, nats)")
        axes[0][1].set_title(f"per-layer attention loss on the {split} split")
        axes[0][1].legend(fontsize=7)
    stem = spec.stem_for(data.study.name)
    files = _save(fig, out, stem, formats)
    last = mean.sort_values("epoch").groupby(column).tail(1)
    table = pd.DataFrame({spec.key: last[column], "epochs": last["epoch"], f"last {split} top-1": last["top1"],
                          "seeds": [int(seeds[m]) for m in last[column]]})
    files += _tables(table, out, stem, f"Last per-epoch evaluation on the {split} split (mean over seeds)", data)
    if rows:
        files += _tables(pd.DataFrame(rows), out, f"{stem}_attention",
                         f"Attention-distillation loss per layer on the {split} split, first and last epoch", data)
    return FigureResult(files)


def sweep_lines(spec: SweepLines, data: StudyData, out: Path, formats: Sequence[str]) -> FigureResult:
    clean = data.clean
    needed = [f"value.{k}" for k in spec.keys()]
    if clean.empty or any(c not in clean for c in needed):
        return FigureResult(note=f"no finished runs of {data.study.name}")
    part = _with_label(_filtered(clean, spec.where, spec.exclude), spec.hue, "series")
    if part.empty:
        return FigureResult(note=f"no runs match {dict(spec.where)}")
    x_col = f"value.{spec.x}"
    agg = aggregate(part, by=["series", x_col, "set"])
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for label, group in agg.groupby("series", sort=True):
        group = group.sort_values(x_col)
        ax.errorbar(group[x_col].astype(float), group["top1_mean"], yerr=group["top1_ci95"].fillna(0),
                    marker="o", capsize=3, label=str(label))
    for name, selector in spec.references.items():
        value = _mean_of(data, selector)
        if value is not None:
            ax.axhline(value, ls="--", lw=1, color="gray")
            ax.annotate(name, (ax.get_xlim()[0], value), fontsize=7, va="bottom")
    xs = np.sort(agg[x_col].astype(float).unique())
    if spec.logx:
        ax.set_xscale("log")
    elif np.all(xs == np.round(xs)):  # a count (layers, heads): tick each swept value, never 1.25 layers
        ax.set_xticks(xs, [str(int(x)) for x in xs])
    ax.set_xlabel(spec.xlabel or spec.x)
    ax.set_ylabel("top-1 (%)")
    ax.set_title(spec.title)
    ax.legend(fontsize=7)
    stem = spec.stem_for(data.study.name)
    files = _save(fig, out, stem, formats)
    table = agg.assign(**{"top-1 (mean ± 95% CI)": [mean_ci(m, c) for m, c in zip(agg["top1_mean"], agg["top1_ci95"])]})
    files += _tables(table[["series", x_col, "top-1 (mean ± 95% CI)", "n"]], out, stem, spec.title, data)
    return FigureResult(files)


def grouped_bars(spec: GroupedBars, data: StudyData, out: Path, formats: Sequence[str]) -> FigureResult:
    clean = data.clean
    x_col = f"value.{spec.x}"
    if clean.empty or any(f"value.{k}" not in clean for k in spec.keys()):
        return FigureResult(note=f"no finished runs of {data.study.name}")
    clean = _filtered(clean, spec.where, {})
    hue_col = f"value.{spec.hue}" if spec.hue else "series"
    if not spec.hue:
        clean = clean.assign(series="ours")
    agg = aggregate(clean, by=[x_col, hue_col, "set"])
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.4))
    _grouped_bars(ax, agg, x_order=list(dict.fromkeys(clean[x_col].astype(str))),
                  hue_order=list(dict.fromkeys(clean[hue_col].astype(str))), x_col=x_col, hue_col=hue_col)
    ax.set_ylim(max(0, clean["top1"].min() - 10), min(100, clean["top1"].max() + 5))
    ax.set_ylabel("top-1 (%)")
    ax.set_xlabel(spec.x)
    ax.set_title(spec.title)
    ax.legend(title=spec.hue, fontsize=7, title_fontsize=7)
    stem = spec.stem_for(data.study.name)
    files = _save(fig, out, stem, formats)
    table = agg.assign(**{"top-1 (mean ± 95% CI)": [mean_ci(m, c) for m, c in zip(agg["top1_mean"], agg["top1_ci95"])]})
    cols = [x_col, hue_col, "top-1 (mean ± 95% CI)", "n"]
    if spec.paper_column:
        table[PAPER_LABEL] = [data.study.reference(str(v)) for v in table[x_col]]
        cols.append(PAPER_LABEL)
    files += _tables(table[cols], out, stem, spec.title, data)
    return FigureResult(files)


def ensemble_bars(spec: EnsembleBars, data: StudyData, out: Path, formats: Sequence[str]) -> FigureResult:
    """Table 1 (ensembles): ensemble top-1 over replicates, members' top-1 beside it."""
    rows = data.analysis(ANALYSIS_FILES["ensembles"])
    if not rows:
        return FigureResult(note=f"no ensembles analysed yet (attnxfer analyze {data.study.name})")
    frame = pd.DataFrame([{"ensemble": r["name"], "top1": r["ensemble"]["top1"],
                           "members_mean_top1": float(np.mean([m["top1"] for m in r["members"].values()]))}
                          for r in rows])
    table_rows = []
    for name, part in frame.groupby("ensemble", sort=True):
        interval = mean_interval(part["top1"].tolist())
        table_rows.append({"ensemble": name, "top-1 (mean ± 95% CI)": mean_ci(interval.estimate, interval.half_width),
                           "members' mean top-1": f"{part['members_mean_top1'].mean():.2f}", "replicates": len(part),
                           PAPER_LABEL: data.study.reference(name)})
    table = pd.DataFrame(table_rows)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    summary = frame.groupby("ensemble", sort=True).mean(numeric_only=True)
    x = np.arange(len(summary))
    ax.bar(x - 0.2, summary["members_mean_top1"], width=0.4, label="members (mean)")
    ax.bar(x + 0.2, summary["top1"], width=0.4, label="ensemble")
    ax.set_xticks(x, summary.index, rotation=15)
    ax.set_ylim(max(0, summary.min().min() - 10), min(100, summary.max().max() + 5))
    ax.set_ylabel("top-1 (%)")
    ax.legend(fontsize=7)
    ax.set_title(spec.title or "Table 1: ensembles")
    stem = spec.stem_for(data.study.name)
    files = _save(fig, out, stem, formats)
    return FigureResult(files + _tables(table, out, stem, spec.title or "Table 1 (ensembles)", data))


def corruption_heatmap(spec: CorruptionHeatmap, data: StudyData, out: Path, formats: Sequence[str]) -> FigureResult:
    results = data.results
    column = f"value.{spec.key}"
    corr = results[results["set"].astype(str).str.startswith("corruptions/")] if not results.empty else results
    if corr.empty or column not in corr:
        return FigureResult(note="no corruption evaluations")
    corr = corr.assign(corruption=corr["set"].str.split("/").str[1])
    heat = corr.pivot_table(index=column, columns="corruption", values="top1", aggfunc="mean")
    heat = heat.loc[_order(list(heat.index))]
    plt = _plt()
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(10, 0.5 * len(heat) + 1.5))
    sns.heatmap(heat, annot=True, fmt=".0f", cmap="viridis", ax=ax, cbar_kws={"label": "top-1 (%)"})
    ax.set_title(spec.title or "top-1 per corruption (mean over 5 severities and seeds)")
    ax.set_ylabel("")
    return FigureResult(_save(fig, out, spec.stem_for(data.study.name), formats))


def matched_table(spec: MatchedTable, data: StudyData, out: Path, formats: Sequence[str]) -> FigureResult:
    matched = data.analysis(ANALYSIS_FILES["matched"])
    if not matched:
        return FigureResult(note=f"no matched-accuracy analysis (attnxfer analyze {data.study.name})")
    rows = []
    for item in matched:
        for row in item["rows"]:
            corruptions = [v for k, v in row["sets"].items() if k.startswith("corruptions/")]
            reference = item.get("reference", Mode.FINETUNE.value)
            rows.append({"pair": f"{reference} vs {item['method']}", "seed": item["seed"],
                         "run": Path(row["run"]).name, "epoch": row["epoch"], "clean top-1": row["clean_top1"],
                         "mean corruption top-1": float(np.mean(corruptions)) if corruptions else float("nan")})
    return FigureResult(_tables(pd.DataFrame(rows), out, spec.stem_for(data.study.name),
                                spec.title or "Table 4: robustness at matched clean accuracy", data))


def similarity_lines(spec: SimilarityLines, data: StudyData, out: Path, formats: Sequence[str]) -> FigureResult:
    rows = data.analysis(ANALYSIS_FILES["similarity"])
    if not rows:
        return FigureResult(note=f"no similarity analysis (attnxfer analyze {data.study.name})")
    records = []
    for row in rows:
        for layer, values in row["layers"].items():
            for key, value in values.items():
                if key.startswith("jsd_matched/"):
                    records.append({"method": row["method"], "seed": row["seed"], "layer": int(layer),
                                    "reference": key.split("/", 1)[1], "jsd": value})
    frame = pd.DataFrame(records)
    refs = sorted(frame["reference"].unique())
    agg = aggregate(frame, metrics=("jsd",), by=["reference", "method", "layer"])
    plt = _plt()
    fig, axes = plt.subplots(1, len(refs), figsize=(5 * len(refs), 3.4), squeeze=False)
    for ax, ref in zip(axes[0], refs):
        for method in _order(frame["method"].unique()):
            part = agg[(agg["reference"] == ref) & (agg["method"] == method)].sort_values("layer")
            (line,) = ax.plot(part["layer"], part["jsd_mean"], marker="o", label=method)
            half = part["jsd_ci95"].fillna(0)  # the suite's t interval over seeds; none for one seed
            ax.fill_between(part["layer"], part["jsd_mean"] - half, part["jsd_mean"] + half, alpha=0.2,
                            color=line.get_color(), lw=0)
        ax.legend(title="method", fontsize=7)
        ax.set_xticks(sorted(agg["layer"].unique()))
        ax.set_xlabel("layer")
        ax.set_title(f"JSD to the {ref} model (best head matching)")
        ax.set_ylabel("Jensen-Shannon divergence (bits)")
    stem = spec.stem_for(data.study.name)
    files = _save(fig, out, stem, formats)
    table = frame.groupby(["method", "reference"]).agg(jsd=("jsd", "mean")).reset_index()
    caption = spec.title or "Mean JSD over layers (best head matching)"
    return FigureResult(files + _tables(table, out, stem, caption, data))


def attention_maps_picture(spec: AttentionMapsPicture, data: StudyData, out: Path,
                           formats: Sequence[str]) -> FigureResult:
    picture = None if data.analyses_dir is None else data.analyses_dir / ANALYSIS_FILES["attention_maps"]
    if picture is None or not picture.exists():
        return FigureResult(note=f"no attention-map picture (attnxfer analyze {data.study.name})")
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{spec.stem_for(data.study.name)}.png"
    target.write_bytes(picture.read_bytes())
    return FigureResult([target])


Renderer = Callable[[FigureSpec, StudyData, Path, Sequence[str]], FigureResult]
RENDERERS: dict[type, Renderer] = {
    MethodBars: method_bars,
    LearningCurves: learning_curves,
    SweepLines: sweep_lines,
    GroupedBars: grouped_bars,
    EnsembleBars: ensemble_bars,
    CorruptionHeatmap: corruption_heatmap,
    MatchedTable: matched_table,
    SimilarityLines: similarity_lines,
    AttentionMapsPicture: attention_maps_picture,
}


def render(spec: FigureSpec, data: StudyData, out: Path, formats: Sequence[str]) -> FigureResult:
    return RENDERERS[type(spec)](spec, data, out, formats)


def study_figures(study: Study, tables: Path, out: Path, formats: Sequence[str]) -> list[FigureResult]:
    """Every figure ``study`` declares, from its collected tables (a note when it was never collected)."""
    data = load_study_data(study, tables)
    if data is None:
        return [FigureResult(note=f"not collected (attnxfer collect {study.name})")]
    return [render(spec, data, out, formats) for spec in study.figures]


def provenance_line(data: StudyData) -> str:
    """Where a study's tables and figures came from: the commands, code versions and devices behind them.

    The runs' code versions and devices come from the status table (one device per study: collect refuses a
    mix); the figure's own code version is the checkout drawing it."""
    done = data.status[data.status["state"] == "done"] if "state" in data.status else data.status

    def listed(column: str) -> str:
        values = sorted({str(v) for v in done[column].dropna()}) if column in done else []
        return ", ".join(values) or "unknown"

    return (f"Made by `attnxfer figures --study {data.study.name}` (code {code_version()}) from "
            f"`results/tables/{data.study.name}.*`, made by `{data.provenance.get('command', 'unknown')}` "
            f"(code {data.provenance.get('code_version', 'unknown')}, {data.provenance.get('scale', '?')} scale) "
            f"from runs of code {listed('code_version')} on device {listed('device')}.")


def render_figures(studies: Sequence[Study], tables: Path, out: Path,
                   formats: Sequence[str]) -> dict[str, list[FigureResult]]:
    return {study.name: study_figures(study, tables, out, formats) for study in studies}
