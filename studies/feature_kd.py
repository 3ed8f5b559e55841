"""Appendix: feature distillation of the residual stream as a baseline against attention distillation.

Embedded scale: the full recipe, so scratch and distillation are the main replication's runs (trained
once); only feature distillation is trained here. Registered again on 2026-12-03
(``studies/feature_kd.protocol.md``), after every one of its numbers was public, to hold the claim to the
paper's effect: a re-analysis under a stricter rule, not a new test.
"""
from attnxfer_core.experiments.claims import PAPER_OVER_SCRATCH, PRIMARY, TABLE1, Superiority, gate
from attnxfer_core.experiments.figures import GroupedBars
from attnxfer_core.experiments.protocol import Protocol
from attnxfer_core.experiments.scales import base_run
from attnxfer_core.experiments.study import Reference, Study, product
from attnxfer_core.modes import Mode

SOURCE = "appendix (feature distillation)"
PAPER_GAP = 4.4  # points: 85.7 (attention distillation) - 81.3 (feature distillation), ViT-L on ImageNet

RATIONALE = """\
The first registration tested only the sign: distillation - feature distillation = 0.38 [-0.54, 1.30]
points (95% CI, 3 seeds) read *inconclusive*, although the interval excludes the paper's 4.4 points. The
paper's statement is about size, so the primary claim now asks for more than half of it (2.2 points): an
interval wholly below that says the paper's advantage does not replicate here. The sign claim stays,
secondary. The gate is the main replication's: distillation must clearly beat scratch, on the same runs.

Every run of this study was trained and committed before this registration (listed below): no new run is
needed, and none is added; the verdicts are a re-analysis of public numbers under the new rule, one look at
the 3 seeds that exist. `attnxfer power feature_kd` on them: the half-the-paper claim is decided as *does
not replicate* with 3 to 5 seeds; the sign claim would need 12 to 43."""

STUDY = Study(
    name="feature_kd",
    paper="appendix (85.7 vs 81.3)",
    description="Distil the teacher's block outputs instead of its attention maps.",
    points=lambda scale: product(method=("scratch", "distill", "feature_kd")),
    build=lambda scale, p: base_run(scale, Mode(p["method"])),
    references=(Reference("distill", 85.7), Reference("feature_kd", 81.3)),
    figures=(GroupedBars(x="method", title="Appendix: attention vs feature distillation", paper_column=True),),
    claims=(gate("attention distillation beats training from scratch", better={"method": "distill"},
                 worse={"method": "scratch"}, paper=PAPER_OVER_SCRATCH, source=TABLE1),
            Superiority(text=f"Attention distillation beats residual-stream feature distillation by more than half "
                             f"the paper's {PAPER_GAP:g} points", better={"method": "distill"},
                        worse={"method": "feature_kd"}, paper=PAPER_GAP, paper_fraction=0.5, role=PRIMARY,
                        source=SOURCE),
            Superiority(text="Attention distillation beats residual-stream feature distillation",
                        better={"method": "distill"}, worse={"method": "feature_kd"}, paper=PAPER_GAP,
                        source=SOURCE)),
    protocol=Protocol(file="studies/feature_kd.protocol.md", registered="2026-12-03",
                      public=("every run: feature_kd seeds 0-2 (committed 2026-11-30) and main's scratch and "
                              "distillation seeds 0-2 (committed 2026-11-29)",),
                      rationale=RATIONALE),
)
