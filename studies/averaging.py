"""Appendix: average the teacher's maps over examples or over queries before transferring them.

Embedded scale: the short budget (a fifth of the main recipe), 3 seeds.
"""
from attnxfer_core.experiments.claims import Superiority
from attnxfer_core.experiments.figures import GroupedBars
from attnxfer_core.experiments.scales import base_run
from attnxfer_core.experiments.study import Reference, Study, product, with_values
from attnxfer_core.modes import Mode

STUDY = Study(
    name="averaging",
    paper="appendix (map averaging)",
    description="Are per-example, per-query maps needed? Average them away and see.",
    points=lambda scale: product(method=("copy", "distill"), average=("none", "examples", "queries")),
    build=lambda scale, p: with_values(base_run(scale, Mode(p["method"]), budget="short"),
                                       {"transfer.average": p["average"]}),
    references=(Reference("averaged", None, "averaging over examples or queries hurts a lot (values unknown)"),),
    figures=(GroupedBars(x="average", hue="method", title="Appendix: teacher maps averaged before transfer"),),
    claims=tuple(
        Superiority(text=f"Averaging teacher maps over {how} hurts (distill)",
                    better={"method": "distill", "average": "none"}, worse={"method": "distill", "average": how})
        for how in ("examples", "queries")),
)
