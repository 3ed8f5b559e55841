"""The forest plot of every claim: its estimate and interval against its rule's threshold and the paper's value.

A researcher would rather look than read: one row per claim, grouped by study,
the interval (the level its verdict was decided at: 95%, a look's nominal level,
90% for equivalence), the threshold the rule holds it to (dashed), the paper's
value where the study records one (a diamond), coloured by verdict. Claims are
counted in different units, so the plot has one panel per unit: accuracy points,
shares of the scratch -> fine-tune gap (in %), and the metric's own unit
(attention divergences). The dashboard draws it as inline SVG (every claim an
element the browser test can find); ``results/figures/claims.png/.pdf`` is the
same plot through matplotlib. Both are deterministic: the same verdicts give the
same bytes.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from analysis.verdicts import DOES_NOT, INCONCLUSIVE, NO_DATA, REPLICATES, UNINFORMATIVE, Verdict

COLOURS = {REPLICATES: "#2e7d32", DOES_NOT: "#c62828", INCONCLUSIVE: "#f9a825", UNINFORMATIVE: "#6d4c41",
           NO_DATA: "#9e9e9e"}
PANELS = (("points", "difference in top-1 (points)"), ("share", "share of the scratch → fine-tune gap (%)"),
          ("other", "difference in the metric's own unit"))


@dataclass(frozen=True)
class ForestRow:
    study: str
    claim: str
    role: str
    verdict: str
    panel: str  # a key of PANELS
    estimate: float
    low: float
    high: float
    level: float  # the interval's confidence
    threshold: Optional[float]  # equivalence: the margin, drawn on both sides
    paper: Optional[float]
    detail: str  # the raw contrast and evidence, for the tooltip
    two_sided: bool = False  # an equivalence margin (±threshold)

    @property
    def thresholds(self) -> list[float]:
        if self.threshold is None:
            return []
        return [-self.threshold, self.threshold] if self.two_sided else [self.threshold]

    @property
    def drawn(self) -> bool:
        return all(math.isfinite(v) for v in (self.estimate, self.low, self.high))


def panel_of(v: Verdict) -> str:
    if v.kind == "share of a gap":
        return "share"
    if v.kind == "superiority" and " points" not in v.evidence:
        return "other"  # a metric other than accuracy (an attention divergence)
    return "points"


def forest_rows(verdicts: Sequence[Verdict]) -> list[ForestRow]:
    """One row per claim, in the studies' order, each claim as its study declares it."""
    rows = []
    for v in verdicts:
        panel = panel_of(v)
        scale = 100.0 if panel == "share" else 1.0
        i = v.interval
        est, low, high, level = ((i.estimate, i.low, i.high, i.confidence) if i is not None
                                 else (math.nan, math.nan, math.nan, 0.95))
        rows.append(ForestRow(
            v.study, v.claim, v.role or "secondary", str(v.verdict), panel, est * scale, low * scale, high * scale,
            level, None if v.threshold is None else v.threshold * scale,
            None if v.paper is None else v.paper * scale, f"{v.evidence}\npaper: {v.paper_says}",
            two_sided=v.kind == "equivalence"))
    return rows


def _range(rows: Sequence[ForestRow]) -> tuple[float, float]:
    values = [x for r in rows for x in (r.low, r.high, *r.thresholds, r.paper) if x is not None and math.isfinite(x)]
    if not values:
        return -1.0, 1.0
    lo, hi = min(values), max(values)
    pad = 0.05 * (hi - lo or 1.0)
    return lo - pad, hi + pad


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def forest_svg(rows: Sequence[ForestRow], links: Optional[dict[str, str]] = None, width: int = 1360) -> str:
    """The plot as inline SVG: a ``<g class="claim">`` per claim with its study, verdict and role as data
    attributes (the dashboard's filters read them), a tooltip with the raw contrast, and its study's page
    linked from the label."""
    label_w, row_h, head_h = 620, 22, 30
    plot_x0, plot_x1 = label_w + 20, width - 30
    parts, y = [], 0
    for key, title in PANELS:
        chosen = [r for r in rows if r.panel == key]
        if not chosen:
            continue
        lo, hi = _range(chosen)

        def sx(x: float, lo: float = lo, hi: float = hi) -> float:
            return plot_x0 + (min(max(x, lo), hi) - lo) / (hi - lo) * (plot_x1 - plot_x0)

        parts.append(f'<text class="panel" x="0" y="{y + 18}" font-weight="bold">{_esc(title)}</text>')
        top = y + head_h
        ticks = _ticks(lo, hi)
        for t in ticks:
            parts.append(f'<line x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{top - 6}" y2="{top + row_h * len(chosen)}" '
                         f'stroke="#eee"/><text x="{sx(t):.1f}" y="{top - 8}" font-size="10" '
                         f'text-anchor="middle">{t:g}</text>')
        for n, r in enumerate(chosen):
            cy = top + n * row_h + row_h / 2
            colour = COLOURS.get(r.verdict, "#000")
            label = f"{r.study} · {r.role}: {r.claim}"
            short = label if len(label) <= 100 else label[:99] + "…"
            link = (links or {}).get(r.study)
            text = (f'<text x="0" y="{cy + 4:.1f}" font-size="11">{_esc(short)}</text>' if link is None else
                    f'<a href="{_esc(link)}"><text x="0" y="{cy + 4:.1f}" font-size="11">{_esc(short)}</text></a>')
            marks = []
            for t in r.thresholds:
                marks.append(f'<line class="threshold" x1="{sx(t):.1f}" x2="{sx(t):.1f}" '
                             f'y1="{cy - 8:.1f}" y2="{cy + 8:.1f}" stroke="#555" stroke-dasharray="3,2"/>')
            if r.paper is not None and math.isfinite(r.paper):
                px = sx(r.paper)
                marks.append(f'<path class="paper" d="M{px:.1f},{cy - 5:.1f} L{px + 5:.1f},{cy:.1f} '
                             f'L{px:.1f},{cy + 5:.1f} L{px - 5:.1f},{cy:.1f} Z" fill="none" stroke="#1565c0"/>')
            if r.drawn:
                marks.append(f'<line x1="{sx(r.low):.1f}" x2="{sx(r.high):.1f}" y1="{cy:.1f}" y2="{cy:.1f}" '
                             f'stroke="{colour}" stroke-width="3"/><circle cx="{sx(r.estimate):.1f}" cy="{cy:.1f}" '
                             f'r="4" fill="{colour}"/>')
            else:
                marks.append(f'<text x="{plot_x0}" y="{cy + 4:.1f}" font-size="11" fill="{colour}">'
                             f'no bounded interval ({_esc(r.verdict)})</text>')
            tip = (f"{r.study}: {r.claim}\n{r.verdict}; {r.estimate:.2f} [{r.low:.2f}, {r.high:.2f}] "
                   f"({r.level:.1%} CI)\n{r.detail}")
            parts.append(f'<g class="claim" data-study="{_esc(r.study)}" data-verdict="{_esc(r.verdict)}" '
                         f'data-role="{_esc(r.role)}"><title>{_esc(tip)}</title>{text}{"".join(marks)}</g>')
        y = top + row_h * len(chosen) + 16
    legend = " ".join(f'<tspan fill="{c}">■ {_esc(w)}</tspan>' for w, c in COLOURS.items())
    parts.append(f'<text x="0" y="{y + 12}" font-size="11">{legend} <tspan fill="#1565c0">◇ paper</tspan> '
                 f'<tspan fill="#555">┆ rule\'s threshold</tspan></text>')
    return (f'<svg id="forest" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {y + 24}" width="100%" '
            f'font-family="DejaVu Sans,Arial,sans-serif">{"".join(parts)}</svg>')


def _ticks(lo: float, hi: float) -> list[float]:
    step = 10 ** math.floor(math.log10((hi - lo) / 4 or 1.0))
    for mult in (1, 2, 5, 10):
        if (hi - lo) / (step * mult) <= 8:
            step *= mult
            break
    first = math.ceil(lo / step) * step
    return [round(first + k * step, 10) for k in range(int((hi - first) / step) + 1)]


def forest_figure(rows: Sequence[ForestRow], out: Path, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """``claims.<format>``: the plot through matplotlib (metadata-free, so it regenerates byte for byte)."""
    from analysis.figures import _plt, _save

    plt = _plt()
    panels = [(k, t, [r for r in rows if r.panel == k]) for k, t in PANELS]
    panels = [p for p in panels if p[2]]
    heights = [max(1.5, 0.28 * len(p[2]) + 0.8) for p in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(14, sum(heights)), gridspec_kw={"height_ratios": heights},
                             squeeze=False)
    for ax, (_, title, chosen) in zip(axes[:, 0], panels):
        ys = list(range(len(chosen)))[::-1]
        for yy, r in zip(ys, chosen):
            colour = COLOURS.get(r.verdict, "#000")
            if r.drawn:
                ax.plot([r.low, r.high], [yy, yy], color=colour, lw=3, solid_capstyle="butt")
                ax.plot([r.estimate], [yy], "o", color=colour)
            for t in r.thresholds:
                ax.plot([t, t], [yy - 0.35, yy + 0.35], color="#555", ls="--", lw=1)
            if r.paper is not None and math.isfinite(r.paper):
                ax.plot([r.paper], [yy], "D", mfc="none", mec="#1565c0")
        labels = [f"{r.study} · {r.role}: {r.claim}" for r in chosen]
        ax.set_yticks(ys)
        ax.set_yticklabels([lb if len(lb) <= 90 else lb[:89] + "…" for lb in labels], fontsize=7)
        ax.set_title(title, fontsize=9, loc="left")
        lo, hi = _range(chosen)
        ax.set_xlim(lo, hi)
        ax.grid(axis="x", color="#eee")
    fig.tight_layout()
    return _save(fig, out, "claims", formats)
