"""Appendix: feature distillation of the residual stream as a baseline against attention distillation.

Embedded scale: the full recipe, so scratch and distillation are the main replication's runs (seeds 0-2,
trained once); only feature distillation is trained here.
"""
from attnxfer_core.experiments.claims import Superiority
from attnxfer_core.experiments.figures import GroupedBars
from attnxfer_core.experiments.scales import base_run
from attnxfer_core.experiments.study import Reference, Study, product
from attnxfer_core.modes import Mode

STUDY = Study(
    name="feature_kd",
    paper="appendix (85.7 vs 81.3)",
    description="Distil the teacher's block outputs instead of its attention maps.",
    points=lambda scale: product(method=("scratch", "distill", "feature_kd")),
    build=lambda scale, p: base_run(scale, Mode(p["method"])),
    references=(Reference("distill", 85.7), Reference("feature_kd", 81.3)),
    figures=(GroupedBars(x="method", title="Appendix: attention vs feature distillation", paper_column=True),),
    claims=(Superiority(text="Attention distillation beats residual-stream feature distillation",
                        better={"method": "distill"}, worse={"method": "feature_kd"}, paper=4.4),),
)
