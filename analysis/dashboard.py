"""``attnxfer dashboard``: a static, self-contained HTML results dashboard.

Opens from disk with no server and no network: inline CSS and a few lines of
inline JavaScript (sorting and filtering tables), figures copied beside it.
Every piece of user-provided text (run names, config values, errors) goes
through html.escape.
"""
from __future__ import annotations

import html
import json
import shutil
from pathlib import Path
from typing import Iterable, Optional, Sequence

import pandas as pd

from analysis.aggregate import aggregate
from analysis.forest import COLOURS, forest_figure, forest_rows, forest_svg
from analysis.study_data import load_study_data
from analysis.text_tables import fmt
from analysis.verdicts import (
    DOES_NOT,
    INCONCLUSIVE,
    NO_DATA,
    REPLICATES,
    UNINFORMATIVE,
    VERDICT_WORDS,
    Verdict,
    VerdictWord,
    verdicts,
)
from attnxfer_core.experiments.claims import GATE
from attnxfer_core.experiments.study import Study
from attnxfer_core.runs.provenance import code_version
from attnxfer_core.runs.rundir import RunState

BADGES = {REPLICATES: "replicates", DOES_NOT: "does-not-replicate", INCONCLUSIVE: "inconclusive",
          UNINFORMATIVE: "uninformative", NO_DATA: "no-data"}  # one style for every verdict word
STYLE = "".join(f".{css}{{background:{COLOURS[word]}}}" for word, css in BADGES.items()) + """
body{font-family:DejaVu Sans,Arial,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}
.wide{overflow-x:auto;max-width:100%}th{background:#f3f3f3;cursor:pointer}tr:nth-child(even){background:#fafafa}
.badge{padding:2px 6px;border-radius:4px;color:#fff;font-size:12px}
.inconclusive{color:#222}
.filter{margin:4px 0;padding:3px;width:260px}.facets label{margin-right:12px;font-size:13px}
svg#forest text{font-size:11px}svg#forest .panel{font-size:13px}img{max-width:100%;border:1px solid #eee}
pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:12px}.note{color:#666;font-size:12px}
"""
SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function(table){
  table.querySelectorAll('th').forEach(function(th, col){
    th.addEventListener('click', function(){
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var asc = th.getAttribute('data-asc') !== '1'; th.setAttribute('data-asc', asc ? '1' : '0');
      rows.sort(function(a, b){
        var x = a.cells[col].textContent, y = b.cells[col].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return asc ? c : -c;
      });
      rows.forEach(function(r){ body.appendChild(r); });
    });
  });
});
function facets(){
  var want = {};
  document.querySelectorAll('select.facet').forEach(function(s){ want[s.getAttribute('data-key')] = s.value; });
  document.querySelectorAll('[data-study][data-verdict]').forEach(function(el){
    var show = Object.keys(want).every(function(k){ return !want[k] || el.getAttribute('data-' + k) === want[k]; });
    el.style.display = show ? '' : 'none';
  });
}
document.querySelectorAll('select.facet').forEach(function(s){ s.addEventListener('change', facets); });
document.querySelectorAll('input.filter').forEach(function(input){
  input.addEventListener('input', function(){
    var table = document.getElementById(input.getAttribute('data-table')), q = input.value.toLowerCase();
    Array.prototype.forEach.call(table.tBodies[0].rows, function(r){
      r.style.display = r.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
    });
  });
});
"""


def esc(value) -> str:
    return html.escape(fmt(value) if not isinstance(value, str) else value, quote=True)


def page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(title)}</title>"
            f"<style>{STYLE}</style></head><body>{body}<script>{SCRIPT}</script></body></html>\n")


def table_html(frame: pd.DataFrame, table_id: str, links: Optional[dict[str, str]] = None,
               filter_box: bool = True, link_column: str = "run_id") -> str:
    if frame.empty:
        return "<p class=\"note\">no rows</p>"
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for c in frame.columns:
            text = esc(row[c])
            if links and c == link_column and str(row[c]) in links:
                text = f"<a href=\"{esc(links[str(row[c])])}\">{text}</a>"
            cells.append(f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    box = (f"<input class=\"filter\" data-table=\"{esc(table_id)}\" placeholder=\"filter rows\">" if filter_box else "")
    # A wide table scrolls in its own box, so the page itself never scrolls sideways.
    return (f"{box}<div class=\"wide\"><table class=\"sortable\" id=\"{esc(table_id)}\">"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def curve_svg(points: Sequence[tuple[float, float]], width: int = 420, height: int = 220) -> str:
    """A small inline SVG line chart of (epoch, top-1)."""
    if not points:
        return "<p class=\"note\">no evaluations during training</p>"
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1
    pad = 36

    def sx(x): return pad + (x - x0) / (x1 - x0) * (width - 2 * pad)
    def sy(y): return height - pad - (y - y0) / (y1 - y0) * (height - 2 * pad)

    line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    dots = "".join(f"<circle cx=\"{sx(x):.1f}\" cy=\"{sy(y):.1f}\" r=\"3\"/>" for x, y in points)
    return (f"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\">"
            f"<polyline fill=\"none\" stroke=\"#1565c0\" stroke-width=\"2\" points=\"{line}\"/>"
            f"<g fill=\"#1565c0\">{dots}</g>"
            f"<text x=\"{pad}\" y=\"{height - 8}\" font-size=\"11\">epoch {x0:g}–{x1:g}</text>"
            f"<text x=\"4\" y=\"14\" font-size=\"11\">top-1 {y0:.1f}–{y1:.1f}%</text></svg>")


def _p(value: float) -> str:
    return "—" if value != value else f"{value:.3g}"




def _badge(verdict: VerdictWord) -> str:
    return f"<span class=\"badge {BADGES[VerdictWord(verdict)]}\">{esc(verdict)}</span>"


FACETS = ("study", "verdict", "role")  # what the index's filters select by (data-* attributes of claim rows)


def _facets(verdicts: Sequence[Verdict]) -> str:
    """One <select> per facet; the page's script hides the claims (plot and table) that do not match."""
    out = []
    for key in FACETS:
        values = sorted({str(getattr(v, key) or "secondary") for v in verdicts})
        options = "".join(f"<option value=\"{esc(x)}\">{esc(x)}</option>" for x in values)
        out.append(f"<label>{key} <select class=\"facet\" data-key=\"{key}\"><option value=\"\">all</option>"
                   f"{options}</select></label> ")
    return f"<p class=\"facets\">{''.join(out)}</p>"


def _claim_rows(verdicts: Sequence[Verdict], links: dict[str, str]) -> str:
    return "".join(
        f"<tr data-study=\"{esc(v.study)}\" data-verdict=\"{esc(v.verdict)}\" "
        f"data-role=\"{esc(v.role or 'secondary')}\">"
        f"<td><a href=\"{esc(links.get(v.study, '#'))}\">{esc(v.study)}</a></td><td>{esc(v.claim)}</td>"
        f"<td>{esc(v.role)}</td><td>{esc(v.kind)}</td><td>{esc(v.paper_says)}</td><td>{_badge(v.verdict)}</td>"
        f"<td>{_p(v.p)}</td><td>{_p(v.p_adjusted)}{'' if v.corrected or v.role == GATE else ' *'}</td>"
        f"<td title=\"{esc(v.kind)}\">{esc(v.evidence)}</td></tr>" for v in verdicts)


CLAIMS_HEAD = ("<div class=\"wide\"><table class=\"sortable\" id=\"verdicts\"><thead><tr><th>study</th>"
               "<th>claim</th><th>role</th>"
               "<th>kind</th><th>paper</th><th>verdict</th><th>p</th><th>Holm p</th><th>evidence</th></tr></thead>")
RULES_NOTE = ("Each claim a study declares, decided from confidence intervals over seeds, paired by seed: superiority "
              "when the 95% CI of the difference lies above the margin; equivalence when the 90% CI lies within "
              "±margin (TOST); a share of a gap when its Fieller 95% CI lies above the threshold. A study's gate must "
              "replicate for its other claims to be decided (else: uninformative). p: the rule's test on the "
              "two-sided scale (p &lt; 0.05 exactly when the interval clears the rule); Holm p: adjusted over the "
              "study's claims but its gate. A study whose protocol registers Holm replicates a claim only when its "
              "Holm p is below alpha; * marks a study registered before that rule, decided as registered.")


def build_dashboard(
    out: Path, studies: dict[str, dict], verdicts: Iterable[Verdict], figures_dir: Path,
    missing: Optional[dict[str, str]] = None,
) -> Path:
    """``studies``: name -> {"paper", "results", "aggregate", "status", "curves", "configs", "figures", "command",
    "code_version"}; ``missing``: paper of each study without tables, named in the summary rather than left out.
    The index holds the forest plot of every claim, the claims table and the studies' progress; each study has
    its own page (figures, claims, results, runs) and each run its own, so the index stays light."""
    if out.exists():
        shutil.rmtree(out)
    for folder in ("runs", "figures", "studies"):
        (out / folder).mkdir(parents=True)
    verdicts = list(verdicts)
    links = {name: f"studies/{name}.html" for name in studies}
    forest = forest_rows(verdicts)
    forest_figure(forest, figures_dir, ("png", "pdf"))
    shutil.copyfile(figures_dir / "claims.png", out / "figures" / "claims.png")
    body = [f"<h1>attnxfer results</h1><p class=\"note\">made by <code>attnxfer dashboard</code> (code "
            f"{esc(code_version())}) from the collected tables; each study's page says what made its tables.</p>",
            "<h2>Every claim</h2><p class=\"note\">Estimate and interval (its verdict's level) against the rule's "
            "threshold (dashed) and the paper's value (◇), by verdict colour; one panel per unit. Hover a claim for "
            "its raw contrast; its label opens its study. Filters apply to the plot and the table. The same plot: "
            "<a href=\"figures/claims.png\">figures/claims.png</a>.</p>", _facets(verdicts),
            forest_svg(forest, links),
            f"<h2>Does it replicate?</h2><p class=\"note\">{RULES_NOTE}</p>{CLAIMS_HEAD}"
            f"<tbody>{_claim_rows(verdicts, links)}</tbody></table></div>"]
    progress = []
    for name, data in studies.items():
        status = data["status"]
        counts = status["state"].value_counts().to_dict() if not status.empty else {}
        claims = [v.verdict for v in verdicts if v.study == name]
        devices = sorted({str(d) for d in status.get("device", pd.Series(dtype=object)).dropna()})
        progress.append({"study": name, "paper": data["paper"], "scale": data.get("scale", ""),
                         "budget": data.get("budget", ""), "device": ", ".join(devices), "runs": len(status),
                         **{s.value: counts.get(s.value, 0) for s in RunState},
                         "claims": len(claims), **{v: claims.count(v) for v in VERDICT_WORDS},
                         "tables made by": data.get("command", ""), "tables made at": data.get("code_version", "")})
    for name, paper in (missing or {}).items():
        progress.append({"study": name, "paper": paper, "scale": "", "budget": "", "device": "", "runs": 0,
                         **{s.value: 0 for s in RunState}, "claims": 0, **{v: 0 for v in VERDICT_WORDS},
                         "tables made by": f"not collected: attnxfer run {name}, then attnxfer collect {name}",
                         "tables made at": ""})
    body.append("<h2>Studies</h2><p class=\"note\">One row per study: its runs by state, and its claims by verdict "
                "(the panel above); a study without results says what is missing. A study's name opens its page.</p>"
                + table_html(pd.DataFrame(progress), "progress", filter_box=False, links=links, link_column="study"))
    for name, data in studies.items():
        _study_page(out, name, data, [v for v in verdicts if v.study == name])
    index = out / "index.html"
    index.write_text(page("attnxfer results", "".join(body)))
    return index


def _study_page(out: Path, name: str, data: dict, claims: Sequence[Verdict]) -> None:
    body = [f"<p><a href=\"../index.html\">all studies</a></p><h1>{esc(name)} — {esc(data['paper'])}</h1>"
            f"<p class=\"note\">tables made by <code>{esc(data.get('command', ''))}</code> (code "
            f"{esc(data.get('code_version', ''))})</p>"]
    for figure in data["figures"]:
        shutil.copyfile(figure, out / "figures" / figure.name)
        body.append(f"<p><img src=\"../figures/{esc(figure.name)}\" alt=\"{esc(figure.stem)}\"></p>")
    if claims:
        body.append(f"<h2>Claims</h2>{CLAIMS_HEAD}<tbody>{_claim_rows(claims, {name: '#'})}</tbody></table></div>")
    run_links = {rid: f"../runs/{rid}.html" for rid in data["configs"]}
    body.append("<h2>Results (mean over seeds; ci95 = half-width of the 95% CI of the mean, std = sd over seeds)</h2>"
                + table_html(data["aggregate"], f"agg-{name}"))
    body.append("<h2>Runs</h2>" + table_html(data["status"], f"status-{name}", links=run_links))
    (out / "studies" / f"{name}.html").write_text(page(f"{name}", "".join(body)))
    for rid, config in data["configs"].items():
        curve = data["curves"]
        points = [] if curve.empty else [(float(r.epoch), float(r.top1))
                                          for r in curve[curve["run_id"] == rid].itertuples() if r.top1 == r.top1]
        evals = data["results"][data["results"]["run_id"] == rid] if not data["results"].empty else pd.DataFrame()
        cols = [c for c in ("set", "top1", "top5", "nll", "ece", "n") if c in evals]
        run_body = (f"<p><a href=\"../studies/{esc(name)}.html\">back to {esc(name)}</a></p>"
                    f"<h1>run {esc(rid)}</h1><h2>Learning curve</h2>{curve_svg(points)}"
                    f"<h2>Evaluations</h2>{table_html(evals[cols] if cols else evals, 'evals')}"
                    f"<h2>Config</h2><pre>{esc(json.dumps(config, indent=2, sort_keys=True))}</pre>")
        (out / "runs" / f"{rid}.html").write_text(page(f"run {rid}", run_body))


def write_dashboard(studies: Sequence[Study], tables: Path, figures_dir: Path, out: Path) -> Path:
    """The dashboard of every collected study among ``studies`` (figures as ``attnxfer figures`` made them)."""
    pages, datas, missing = {}, [], {}
    for study in studies:
        data = load_study_data(study, tables)
        if data is None:
            missing[study.name] = study.paper + (f" (registered: {study.protocol.file}, {study.protocol.registered}; "
                                                 "no results yet)" if study.protocol is not None else "")
            continue
        datas.append(data)
        provenance = data.provenance
        stems = {spec.stem_for(study.name) for spec in study.figures}
        pngs = sorted(figures_dir / f"{stem}.png" for stem in stems if (figures_dir / f"{stem}.png").exists())
        pages[study.name] = {"paper": study.paper, "results": data.results, "scale": provenance.get("scale", ""),
                             "budget": data.budgets(), "code_version": provenance.get("code_version", ""),
                             "command": provenance.get("command", ""),
                             "aggregate": aggregate(data.clean) if not data.results.empty else pd.DataFrame(),
                             "status": data.status, "curves": data.curves, "configs": provenance.get("configs", {}),
                             "figures": pngs}
    return build_dashboard(out, pages, verdicts(datas), figures_dir, missing)
