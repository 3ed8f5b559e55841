"""``attnxfer figures``: every figure and table of the registry, from collected results only.

One function per study. Each returns the files it wrote, or a note saying what
is missing (a figure whose runs are missing is skipped, never faked). Where the
paper reports a number it is shown beside ours, labelled as the paper's (they
are ViT-L on ImageNet-1k; ours may be another scale). Output is deterministic:
one seaborn style, fixed sizes and DPI, no timestamps in the files.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd

from attnxfer_core.study import Study

from .aggregate import aggregate
from .tables import mean_ci, to_latex, to_markdown

PAPER_LABEL = "paper (ViT-L/16, ImageNet-1k)"
METHOD_ORDER = ["scratch", "finetune", "copy", "distill", "feature_kd"]


@dataclass
class StudyData:
    study: Study
    results: pd.DataFrame
    curves: pd.DataFrame
    status: pd.DataFrame
    analyses_dir: Optional[Path] = None  # <runs_root>/analyses/<study>

    @property
    def clean(self) -> pd.DataFrame:
        """Clean-set rows of the study's own runs (not of shared dependencies such as teacher pretraining)."""
        if self.results.empty:
            return self.results
        rows = self.results[self.results["set"] == "clean"]
        return rows[rows["role"] == "run"] if "role" in rows else rows

    def analysis(self, name: str) -> Optional[list]:
        if self.analyses_dir is None or not (self.analyses_dir / name).exists():
            return None
        return json.loads((self.analyses_dir / name).read_text())


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
        metadata = {"Software": None} if fmt == "png" else ({"CreationDate": None, "Producer": None} if fmt == "pdf" else None)
        fig.savefig(path, format=fmt, bbox_inches="tight", metadata=metadata)
        files.append(path)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return files


def _tables(frame: pd.DataFrame, out: Path, stem: str, caption: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.md").write_text(f"{caption}\n\n" + to_markdown(frame))
    (out / f"{stem}.tex").write_text(to_latex(frame, caption))
    return [out / f"{stem}.md", out / f"{stem}.tex"]


def _paper(study: Study) -> dict[str, Optional[float]]:
    return {r.label: r.value for r in study.references}


def _need(data: StudyData, column: str, values: Sequence[str]) -> Optional[str]:
    if data.clean.empty or column not in data.clean:
        return f"no finished runs of {data.study.name}"
    missing = [v for v in values if v not in set(data.clean[column].astype(str))]
    return f"missing runs: {column}={', '.join(missing)}" if missing else None


def _order(values: Sequence[str]) -> list[str]:
    return sorted(values, key=lambda v: (METHOD_ORDER.index(v) if v in METHOD_ORDER else 99, v))


def _bars(ax, labels, means, cis, color=None):
    x = np.arange(len(labels))
    errors = [0 if math.isnan(c) else c for c in cis]
    ax.bar(x, means, yerr=errors if any(errors) else None, capsize=3, color=color)
    ax.set_xticks(x, labels, rotation=20)


# --- per study -------------------------------------------------------------------------

def fig_main(data: StudyData, out: Path, formats: Sequence[str]) -> FigureResult:
    """Fig 1 / Table 1: top-1 per method with 95% CI; share of the scratch -> fine-tune gap recovered."""
    missing = _need(data, "value.method", ["scratch", "finetune"])
    if missing:
        return FigureResult(note=missing)
    agg = aggregate(data.clean)
    agg = agg.set_index("value.method").loc[_order(list(agg["value.method"]))].reset_index()
    by_seed = data.clean.pivot_table(index="seed", columns="value.method", values="top1")
    gaps = {}
    for method in agg["value.method"]:
        if method in ("scratch", "finetune") or method not in by_seed:
            continue
        g = (by_seed[method] - by_seed["scratch"]) / (by_seed["finetune"] - by_seed["scratch"])
        gaps[method] = (float(g.mean()), float(g.std(ddof=1)) if g.count() > 1 else float("nan"))
    paper = _paper(data.study)
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    methods = list(agg["value.method"])
    _bars(axes[0], methods, agg["top1_mean"], agg["top1_ci95"])
    axes[0].set_ylim(max(0, agg["top1_mean"].min() - 15), min(100, agg["top1_mean"].max() + 5))
    axes[0].set_title(f"ours ({len(by_seed)} seeds, 95% CI)")
    axes[0].set_ylabel("top-1 (%)")
    known = [m for m in methods if paper.get(m) is not None]
    _bars(axes[1], known, [paper[m] for m in known], [float("nan")] * len(known), color="#bbbbbb")
    axes[1].set_ylim(80, 87)
    axes[1].set_title(PAPER_LABEL)
    gap_methods = list(gaps)
    _bars(axes[2], gap_methods, [100 * gaps[m][0] for m in gap_methods], [100 * gaps[m][1] for m in gap_methods])
    paper_gap = {m: 100 * (paper[m] - paper["scratch"]) / (paper["finetune"] - paper["scratch"])
                 for m in gap_methods if paper.get(m) is not None and paper.get("scratch") is not None}
    for i, m in enumerate(gap_methods):
        if m in paper_gap:
            axes[2].plot(i, paper_gap[m], marker="D", color="black", linestyle="none",
                         label=PAPER_LABEL if i == 0 else None)
    axes[2].set_title("gap recovered (%, ± std over seeds)")
    axes[2].axhline(100, color="gray", lw=0.8, ls="--")
    if paper_gap:
        axes[2].legend(fontsize=7, loc="lower right")
    files = _save(fig, out, "main", formats)
    table = pd.DataFrame({
        "method": methods,
        "top-1 (ours)": [mean_ci(m, c) for m, c in zip(agg["top1_mean"], agg["top1_ci95"])],
        "gap recovered": [f"{100 * gaps[m][0]:.1f}%" if m in gaps else "—" for m in methods],
        "seeds": list(agg["n"]),
        f"top-1 ({PAPER_LABEL})": [paper.get(m) for m in methods],
    })
    files += _tables(table, out, "main", "Table 1 / Fig 1: scratch vs fine-tune vs attention transfer")
    return FigureResult(files)


def _sweep_lines(data: StudyData, out, formats, stem, x_col, hue_col, title, xlabel, logx=False, reference=None):
    clean = data.clean
    agg = aggregate(clean)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for label, part in agg.groupby(hue_col, sort=True):
        part = part.sort_values(x_col)
        ax.errorbar(part[x_col].astype(float), part["top1_mean"], yerr=part["top1_ci95"].fillna(0),
                    marker="o", capsize=3, label=str(label))
    if reference:
        for name, value in reference.items():
            ax.axhline(value, ls="--", lw=1, color="gray")
            ax.annotate(name, (ax.get_xlim()[0], value), fontsize=7, va="bottom")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("top-1 (%)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    files = _save(fig, out, stem, formats)
    table = agg.assign(**{"top-1": [mean_ci(m, c) for m, c in zip(agg["top1_mean"], agg["top1_ci95"])]})
    cols = [c for c in agg.columns if c.startswith("value.")] + ["top-1", "n"]
    files += _tables(table[cols], out, stem, title)
    return FigureResult(files)


def _scratch_reference(data: StudyData, column: str = "value.mode") -> dict[str, float]:
    clean = data.clean
    if column in clean and (clean[column] == "scratch").any():
        return {"scratch": float(clean[clean[column] == "scratch"]["top1"].mean())}
    return {}


def fig_layers(data: StudyData, out: Path, formats: Sequence[str]) -> FigureResult:
    """Fig 3: first-k vs last-k layers, with scratch and full-transfer reference lines."""
    clean = data.clean
    if clean.empty or "value.side" not in clean:
        return FigureResult(note="no finished runs of layers")
    partial = clean[clean["value.side"].isin(["first", "last"])]
    if partial.empty:
        return FigureResult(note="missing runs: value.side=first/last")
    reference = _scratch_reference(data)
    for mode in ("copy", "distill"):
        full = clean[(clean["value.side"] == "all") & (clean["value.mode"] == mode)]
        if not full.empty:
            reference[f"all layers ({mode})"] = float(full["top1"].mean())
    partial = partial.assign(curve=partial["value.mode"] + " " + partial["value.side"] + "-k")
    sub = StudyData(data.study, partial.assign(**{"value.curve": partial["curve"]}), data.curves, data.status)
    return _sweep_lines(sub, out, formats, "layers", "value.k", "value.curve",
                        "Fig 3: transferring the first or last k layers", "k (layers transferred)", reference=reference)


def fig_heads(data: StudyData, out: Path, formats: Sequence[str]) -> FigureResult:
    clean = data.clean
    if clean.empty or "value.heads" not in clean:
        return FigureResult(note="no finished runs of heads")
    transfer = clean[clean["value.mode"] != "scratch"]
    sub = StudyData(data.study, transfer, data.curves, data.status)
    return _sweep_lines(sub, out, formats, "heads", "value.heads", "value.mode",
                        "Fig 4: heads transferred per layer", "heads", reference=_scratch_reference(data))


def fig_loss_weight(data: StudyData, out: Path, formats: Sequence[str]) -> FigureResult:
    clean = data.clean
    if clean.empty or "value.weight" not in clean:
        return FigureResult(note="no finished runs of loss_weight")
    return _sweep_lines(StudyData(data.study, clean.assign(**{"value.series": "distill"}), data.curves, data.status),
                        out, formats, "loss_weight", "value.weight", "value.series",
                        "Distillation loss weight (recipe: 3.0)", "weight λ", logx=True)


def _grouped(data: StudyData, out, formats, stem, x_col, hue_col, title, paper_col=None):
    clean = data.clean
    if clean.empty or x_col not in clean or hue_col not in clean:
        return FigureResult(note=f"no finished runs of {data.study.name}")
    agg = aggregate(clean)
    plt = _plt()
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(6, 3.4))
    sns.barplot(data=clean, x=x_col, y="top1", hue=hue_col, errorbar=("ci", 95), capsize=0.1, ax=ax)
    ax.set_ylim(max(0, clean["top1"].min() - 10), min(100, clean["top1"].max() + 5))
    ax.set_ylabel("top-1 (%)")
    ax.set_xlabel(x_col.removeprefix("value."))
    ax.set_title(title)
    ax.legend(fontsize=7)
    files = _save(fig, out, stem, formats)
    table = agg.assign(**{"top-1": [mean_ci(m, c) for m, c in zip(agg["top1_mean"], agg["top1_ci95"])]})
    cols = [c for c in agg.columns if c.startswith("value.")] + ["top-1", "n"]
    if paper_col:
        paper = _paper(data.study)
        table["paper"] = [paper.get(str(v)) for v in table[paper_col]]
        cols.append("paper")
    files += _tables(table[cols], out, stem, title)
    return FigureResult(files)


def fig_qkv(data, out, formats):
    return _grouped(data, out, formats, "qkv", "value.target", "value.kind", "Table 2: transfer Q, K or V instead of the map")


def fig_teachers(data, out, formats):
    """Distillation students by teacher and by their own initialisation (scratch shown as teacher 'none')."""
    clean = data.clean
    if clean.empty or "value.mode" not in clean:
        return FigureResult(note="no finished runs of teachers")
    grid = clean[clean["value.mode"].isin(["distill", "scratch"])]
    return _grouped(StudyData(data.study, grid, data.curves, data.status), out, formats, "teachers",
                    "value.teacher", "value.init", "Teacher choice x student initialisation (distillation)")


def fig_pretrain_data(data, out, formats):
    return _grouped(data, out, formats, "pretrain_data", "value.teacher_data", "value.method",
                    "Table 3: teacher pretraining data vs downstream data")


def fig_averaging(data, out, formats):
    return _grouped(data, out, formats, "averaging", "value.average", "value.mode",
                    "Appendix: teacher maps averaged before transfer")


def fig_feature_kd(data, out, formats):
    clean = data.clean.assign(**{"value.series": "ours"}) if not data.clean.empty else data.clean
    return _grouped(StudyData(data.study, clean, data.curves, data.status), out, formats, "feature_kd",
                    "value.method", "value.series", "Appendix: attention vs feature distillation", paper_col="value.method")


def fig_scale(data, out, formats):
    clean = data.clean
    if clean.empty or "value.size" not in clean:
        return FigureResult(note="no finished runs of scale")
    return _grouped(data, out, formats, "scale", "value.size", "value.method", "Table 5: model size")


def fig_ensembles(data: StudyData, out: Path, formats: Sequence[str]) -> FigureResult:
    """Table 1 (ensembles): ensemble top-1 over replicates, members' top-1 beside it."""
    rows = data.analysis("ensembles.json")
    if not rows:
        return FigureResult(note="no ensembles analysed yet (attnxfer analyze ensembles)")
    frame = pd.DataFrame([{"ensemble": r["name"], "top1": r["ensemble"]["top1"],
                           "members_mean_top1": float(np.mean([m["top1"] for m in r["members"].values()]))} for r in rows])
    paper = _paper(data.study)
    table_rows = []
    for name, part in frame.groupby("ensemble", sort=True):
        n = len(part)
        std = float(part["top1"].std(ddof=1)) if n > 1 else float("nan")
        from .aggregate import ci95_halfwidth

        table_rows.append({"ensemble": name, "top-1": mean_ci(float(part["top1"].mean()), ci95_halfwidth(std, n)),
                           "members' mean top-1": f"{part['members_mean_top1'].mean():.2f}", "replicates": n,
                           PAPER_LABEL: paper.get(name)})
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
    ax.set_title("Table 1: ensembles")
    files = _save(fig, out, "ensembles", formats) + _tables(table, out, "ensembles", "Table 1 (ensembles)")
    return FigureResult(files)


def fig_robustness(data: StudyData, out: Path, formats: Sequence[str]) -> FigureResult:
    """Table 4 at matched clean accuracy, and a heatmap of accuracy per corruption and method."""
    files: list[Path] = []
    notes = []
    results = data.results
    corr = results[results["set"].astype(str).str.startswith("corruptions/")] if not results.empty else results
    if not corr.empty and "value.method" in corr:
        corr = corr.assign(corruption=corr["set"].str.split("/").str[1])
        heat = corr.pivot_table(index="value.method", columns="corruption", values="top1", aggfunc="mean")
        heat = heat.loc[_order(list(heat.index))]
        plt = _plt()
        import seaborn as sns

        fig, ax = plt.subplots(figsize=(10, 0.5 * len(heat) + 1.5))
        sns.heatmap(heat, annot=True, fmt=".0f", cmap="viridis", ax=ax, cbar_kws={"label": "top-1 (%)"})
        ax.set_title("top-1 per corruption (mean over 5 severities and seeds)")
        ax.set_ylabel("")
        files += _save(fig, out, "corruptions_heatmap", formats)
    else:
        notes.append("no corruption evaluations")
    matched = data.analysis("matched.json")
    if matched:
        rows = []
        for item in matched:
            for row in item["rows"]:
                corruptions = [v for k, v in row["sets"].items() if k.startswith("corruptions/")]
                rows.append({"pair": f"finetune vs {item['method']}", "seed": item["seed"],
                             "run": Path(row["run"]).name, "epoch": row["epoch"], "clean top-1": row["clean_top1"],
                             "mean corruption top-1": float(np.mean(corruptions)) if corruptions else float("nan")})
        files += _tables(pd.DataFrame(rows), out, "robustness_matched", "Table 4: robustness at matched clean accuracy")
    else:
        notes.append("no matched-accuracy analysis (attnxfer analyze robustness)")
    return FigureResult(files, "; ".join(notes) if not files else "")


def fig_similarity(data: StudyData, out: Path, formats: Sequence[str]) -> FigureResult:
    rows = data.analysis("similarity.json")
    if not rows:
        return FigureResult(note="no similarity analysis (attnxfer analyze similarity)")
    records = []
    for row in rows:
        for layer, values in row["layers"].items():
            for key, value in values.items():
                if key.startswith("jsd_matched/"):
                    records.append({"method": row["method"], "seed": row["seed"], "layer": int(layer),
                                    "reference": key.split("/", 1)[1], "jsd": value})
    frame = pd.DataFrame(records)
    refs = sorted(frame["reference"].unique())
    plt = _plt()
    import seaborn as sns

    fig, axes = plt.subplots(1, len(refs), figsize=(5 * len(refs), 3.4), squeeze=False)
    for ax, ref in zip(axes[0], refs):
        sns.lineplot(data=frame[frame["reference"] == ref], x="layer", y="jsd", hue="method", marker="o", ax=ax,
                     hue_order=_order(frame["method"].unique()))
        ax.set_title(f"JSD to the {ref} model (best head matching)")
        ax.set_ylabel("Jensen-Shannon divergence (bits)")
    files = _save(fig, out, "similarity", formats)
    table = frame.groupby(["method", "reference"]).agg(jsd=("jsd", "mean")).reset_index()
    files += _tables(table, out, "similarity", "Mean JSD over layers (best head matching)")
    return FigureResult(files)


def fig_attention_maps(data: StudyData, out: Path, formats: Sequence[str]) -> FigureResult:
    if data.analyses_dir is None or not (data.analyses_dir / "attention_maps.png").exists():
        return FigureResult(note="no attention-map picture (attnxfer analyze)")
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{data.study.name}_attention_maps.png"
    target.write_bytes((data.analyses_dir / "attention_maps.png").read_bytes())
    return FigureResult([target])


FIGURES: dict[str, list[Callable[[StudyData, Path, Sequence[str]], FigureResult]]] = {
    "main": [fig_main, fig_attention_maps],
    "ensembles": [fig_ensembles],
    "qkv": [fig_qkv],
    "layers": [fig_layers],
    "heads": [fig_heads],
    "teachers": [fig_teachers],
    "loss_weight": [fig_loss_weight],
    "pretrain_data": [fig_pretrain_data],
    "robustness": [fig_robustness],
    "scale": [fig_scale],
    "similarity": [fig_similarity, fig_attention_maps],
    "averaging": [fig_averaging],
    "feature_kd": [fig_feature_kd],
}
