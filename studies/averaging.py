"""Appendix: average the teacher's maps over examples or over queries before transferring them.

Embedded scale, registered 2026-12-03 (``studies/averaging.protocol.md``): the main recipe's budget, with a
scratch baseline for the gate. The first registration's short-budget results are withdrawn (that budget
reversed copy and distillation).
"""
from attnxfer_core.experiments.claims import PAPER_OVER_SCRATCH, PRIMARY, TABLE1, Superiority, gate
from attnxfer_core.experiments.figures import GroupedBars
from attnxfer_core.experiments.protocol import registered_again
from attnxfer_core.experiments.scales import base_run
from attnxfer_core.experiments.study import Reference, Study, product, with_values
from attnxfer_core.modes import Mode

RATIONALE = """\
Budget: every run on the main replication's recipe (the short budget reversed copy and distillation, so it
is retired for comparisons between runs). A scratch baseline is added for the gate: distilling the
per-example maps must clearly beat scratch, or averaging them has nothing to hurt. Averaging over
examples is the primary claim (the paper's strongest statement, "hurts a lot").

Seeds: sized by `attnxfer power` on the withdrawn short-budget tables: the primary claim needs 5 seeds at
the pilot's sd and 13 at its sd's 80% upper bound. Two O'Brien-Fleming looks, 7 and 13 seeds; the second
runs unless the gate fails or the primary claim is decided. The gate had no pilot here; on the main recipe
the same contrast needs 4-5 seeds (`attnxfer power main`)."""


STUDY_SOURCE = "appendix (map averaging)"  # "averaging over examples or queries hurts a lot"


def _build(scale, p):
    cfg = base_run(scale, Mode(p["method"]))
    return cfg if p["method"] == "scratch" else with_values(cfg, {"transfer.average": p["average"]})


STUDY = Study(
    name="averaging",
    paper=STUDY_SOURCE,
    description="Are per-example, per-query maps needed? Average them away and see.",
    points=lambda scale: ([{"method": "scratch", "average": "none"}]
                          + product(method=("copy", "distill"), average=("none", "examples", "queries"))),
    build=_build,
    references=(Reference("averaged", None, "averaging over examples or queries hurts a lot (values unknown)"),),
    figures=(GroupedBars(x="average", hue="method", title="Appendix: teacher maps averaged before transfer"),),
    claims=(gate("distilling the teacher's own maps beats training from scratch",
                 better={"method": "distill", "average": "none"}, worse={"method": "scratch"},
                 paper=PAPER_OVER_SCRATCH, source=TABLE1),)
    + tuple(Superiority(text=f"Averaging teacher maps over {how} hurts (distill)",
                        better={"method": "distill", "average": "none"}, worse={"method": "distill", "average": how},
                        role=PRIMARY if how == "examples" else "secondary", source=STUDY_SOURCE)
            for how in ("examples", "queries")),
    protocol=registered_again("averaging", "2026-12-03", (7, 13), RATIONALE,
                              "the withdrawn short-budget results of this study (seeds 0-2, committed 2026-11-30)",
                              "main's full-recipe scratch and distillation, seeds 0-9: the same configs as this "
                              "study's scratch and unaveraged distillation runs"),
)
