"""A study's protocol file, written from its declaration before its runs: what is registered, in one place.

``attnxfer register STUDY`` renders ``studies/<study>.protocol.md`` from the study
file (its points, claims and :class:`~attnxfer_core.experiments.protocol.Protocol`),
the alpha-spending levels of its looks, the power table that sized its seeds (from
a pilot's or earlier collected tables) and the run ids its code makes at the last
look. Committing that file *is* the registration; ``git log -p`` dates it. The
sections fixed by code are checked by a test against the study as it is now, so
a change to a recipe or a rule that would alter what was registered fails loudly
and must be registered again. The power table is kept as it was written: the
tables it was sized on change once the registered runs are collected.
"""
from __future__ import annotations

import json
import re
from typing import Optional

from analysis.power import format_power, study_power
from analysis.sequential import boundaries
from analysis.study_data import StudyData
from attnxfer_core.experiments.claims import (
    GATE,
    Claim,
    Equivalence,
    GainDifference,
    GapShare,
    MatchedShift,
    Superiority,
    describe,
)
from attnxfer_core.experiments.protocol import HOLM
from attnxfer_core.experiments.scales import Scale
from attnxfer_core.experiments.study import Study

POWER_HEADING = "## Seeds, sized by power"
RUNS_HEADING = "## Registered runs"


def rule_text(claim: Claim) -> str:
    """The claim's decision rule in words (interval levels are the look's, see the decision procedure)."""
    if isinstance(claim, Superiority):
        return (f"{describe(claim.better)} - {describe(claim.worse)}: interval above {claim.threshold:g}"
                + (f" ({claim.paper_fraction:g} of the paper's {claim.paper:g})" if claim.paper_fraction else ""))
    if isinstance(claim, GainDifference):
        return (f"({describe(claim.gain)} - {describe(claim.over)}) - ({describe(claim.than)} - "
                f"{describe(claim.than_over)}): interval above {claim.threshold:g}")
    if isinstance(claim, Equivalence):
        return f"{describe(claim.a)} - {describe(claim.b)}: TOST inside ±{claim.margin:g}"
    if isinstance(claim, GapShare):
        return (f"share of the {describe(claim.low)} -> {describe(claim.high)} gap recovered by "
                f"{describe(claim.method)}: Fieller interval above {100 * claim.threshold:g}%")
    if isinstance(claim, MatchedShift):
        return (f"{claim.reference} - {claim.method} on {claim.family} at clean top-1 matched within "
                f"±{claim.tolerance:g}: interval above 0 over the matched seeds (fewer than 2: uninformative)")
    raise TypeError(f"no rule text for {type(claim).__name__}")


def decision_section(study: Study, scale: Scale) -> str:
    """The part of the protocol fixed by the study file: procedure, claims, public results."""
    protocol = study.protocol
    assert protocol is not None, f"study {study.name} declares no protocol"
    claims = study.claims_at(scale)
    family = sum(1 for c in claims if c.role != GATE)
    looks = study.looks(scale)
    lines = ["## Decision procedure", "",
             f"- Family-wise alpha {protocol.alpha:g} on the two-sided scale (p < alpha exactly when the interval "
             "clears the rule). " + (f"Holm's correction over the {family} claims that are not the gate; a claim "
                                     "replicates only when its Holm-adjusted p is below the look's level. "
                                     if protocol.multiplicity == HOLM else "No multiplicity correction. ")
             + "The gate is a precondition, not one of the claims: it is decided at alpha at every look and "
               "spends none; when it does not replicate, every other claim is *uninformative*.",
             f"- Verdicts are made only at these seed counts (looks), at the nominal levels that "
             f"{protocol.spending} alpha spending gives them; any other count of seeds gives *uninformative*:", "",
             "| look | seeds | information | nominal alpha | interval level | alpha spent |",
             "|---|---|---|---|---|---|"]
    for i, look in enumerate(boundaries(looks, protocol.alpha, protocol.spending), 1):
        lines.append(f"| {i} | {look.seeds} | {look.fraction:.2f} | {look.nominal_alpha:.4f} | "
                     f"{100 * look.confidence:.2f}% | {look.spent:.4f} |")
    lines += ["", "- After a look, the next registered look is run unless the gate *does not replicate* or every "
              "primary claim (every claim, when none is primary) is decided (*replicates* or *does not "
              "replicate*); otherwise the study stops there.",
              "", "## Claims", "", "| # | role | claim | rule |", "|---|---|---|---|"]
    lines += [f"| {i} | {c.role} | {c.text} | {rule_text(c)} |" for i, c in enumerate(claims, 1)]
    lines += ["", "## Public before registration", ""]
    lines += [f"- {item}" for item in protocol.public] or ["- nothing: no run below had been trained"]
    return "\n".join(lines)


def registered_runs(study: Study, scale: Scale) -> dict:
    """The runs the code makes at the protocol's last look, by their point labels (the JSON block)."""
    seeds = study.looks(scale)[-1]
    runs = study.expand(scale, seeds=seeds)
    return {"study": study.name, "scale": scale, "seeds": list(range(seeds)),
            "dependencies": [r.run_id for r in runs if r.role == "dependency"],
            "runs": {label: [r.run_id for r in runs if r.role == "run" and r.label == label]
                     for label in dict.fromkeys(r.label for r in runs if r.role == "run")}}


def render_protocol(study: Study, scale: Scale, pilot: Optional[StudyData], pilot_name: str,
                    target: float = 0.8, most: int = 100) -> str:
    """The whole protocol file for ``study`` (``pilot``: the collected tables its seeds are sized on)."""
    protocol = study.protocol
    assert protocol is not None, f"study {study.name} declares no protocol"
    head = [f"# Registered protocol: `{study.name}` at {scale} scale", "",
            f"Study: `studies/{study.name}.py` ({study.paper}): {study.description}",
            f"Registered: {protocol.registered}. Written by `attnxfer register {study.name}` from the study file and "
            "committed before any run below trained, except what is listed as public; `git log -p` of this file "
            "dates it. The decision procedure, claims and runs are checked against the code by "
            "`tests/test_registration.py`: if they change, the study must be registered again.", "",
            "## Why this design", "", protocol.rationale.strip(), ""]
    if pilot is None:
        power = f"No pilot tables: the seeds ({study.looks(scale)[-1]}) are the protocol's own choice."
    else:
        power = (f"`attnxfer power {study.name} --tables {pilot_name}` at registration (true contrasts taken as "
                 "the pilot's estimates; the registered looks are the study file's, chosen from this table):\n\n"
                 + format_power(study_power(pilot, target, most), target, most))
    runs = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]",
                  json.dumps(registered_runs(study, scale), indent=1))  # lists of ids on one line each
    return "\n".join(head + [decision_section(study, scale), "", POWER_HEADING, "", power, "", RUNS_HEADING, "",
                             "```json", runs, "```", ""])
