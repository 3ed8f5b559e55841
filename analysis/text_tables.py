"""Small, dependency-free Markdown and LaTeX renderings of result tables."""
from __future__ import annotations

import math
from typing import Any, Sequence

import pandas as pd


def fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def mean_ci(mean: float, ci: float, digits: int = 2) -> str:
    """"74.90 ± 1.23" (95% CI half-width), or just the mean for one seed."""
    if ci is None or (isinstance(ci, float) and math.isnan(ci)):
        return fmt(mean, digits)
    return f"{mean:.{digits}f} ± {ci:.{digits}f}"


def to_markdown(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    columns = list(columns or frame.columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(fmt(row[c]) for c in columns) + " |")
    return "\n".join(lines) + "\n"


_LATEX_ESCAPES = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}", "±": r"$\pm$"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def to_latex(frame: pd.DataFrame, caption: str, columns: Sequence[str] | None = None) -> str:
    columns = list(columns or frame.columns)
    body = [" & ".join(latex_escape(c) for c in columns) + r" \\ \midrule"]
    for _, row in frame.iterrows():
        body.append(" & ".join(latex_escape(fmt(row[c])) for c in columns) + r" \\")
    return "\n".join([
        r"\begin{table}[t]", r"\centering", r"\caption{" + latex_escape(caption) + "}",
        r"\begin{tabular}{" + "l" * len(columns) + "}", r"\toprule", *body, r"\bottomrule", r"\end{tabular}",
        r"\end{table}", "",
    ])
