"""Appendix: average the teacher's maps over examples or over queries before transferring them."""
from attnxfer_core.modes import Mode
from attnxfer_core.scales import base_run
from attnxfer_core.study import Reference, Study, product, with_values

STUDY = Study(
    name="averaging",
    paper="appendix (map averaging)",
    description="Are per-example, per-query maps needed? Average them away and see.",
    points=lambda scale: product(mode=("copy", "distill"), average=("none", "examples", "queries")),
    build=lambda scale, p: with_values(base_run(scale, Mode(p["mode"])), {"transfer.average": p["average"]}),
    references=(Reference("averaged", None, "averaging over examples or queries hurts a lot (values unknown)"),),
)
