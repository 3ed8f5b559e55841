"""Table 4 (+ corruptions): robustness of fine-tuned vs distilled students at matched clean accuracy.

Embedded scale, registered 2026-12-03 (``studies/robustness.protocol.md``): the main recipe's budget
(the short budget's fine-tuning passed distillation's final accuracy within its first epoch, so no
checkpoint pair was ever matched), weights kept after every epoch for the matched-accuracy comparison;
shifts are the 15 corruptions at 5 severities of 500 class-balanced test images each.
"""
from attnxfer_core.experiments.claims import GATE, PAPER_OVER_SCRATCH, PRIMARY, TABLE1, MatchedShift, Superiority
from attnxfer_core.experiments.figures import CorruptionHeatmap, MatchedTable
from attnxfer_core.experiments.protocol import POCOCK, Protocol
from attnxfer_core.experiments.scales import base_run
from attnxfer_core.experiments.study import Reference, Study, product, with_values
from attnxfer_core.modes import Mode

RATIONALE = """\
The first registration trained every method on the short budget and took, for each seed, the fine-tuning
checkpoint nearest in clean accuracy to the distilled student's final one, with no tolerance. Fine-tuning's
first kept weights (epoch 1) were already 2.45-6.15 points above distillation's final accuracy, so the claim
read *replicates* on a comparison that was never made; its results are withdrawn (git history keeps them).

Here each method trains on the main replication's recipe (the budget under which distillation and
fine-tuning end within a point of each other: 80.91 and 81.19 over ten seeds), evaluated after every epoch
with its weights kept. A seed counts only when the two checkpoints' clean validation top-1 differ by at most
1 point; with fewer than two matched seeds the claim is *uninformative*. The gate is the main replication's:
fine-tuning must beat scratch by more than 2 points.

Seeds: the earlier tables matched no seed, so no pilot sizes the matched claims; the short budget's
corruption gap (6.59 points, sd about 0.55 over three seeds, loosely matched) would be decided by three
seeds at a nominal level near 3%. Two looks, 3 and 6 seeds, with Pocock spending (about 2.9% at each look):
with two degrees of freedom, O'Brien-Fleming's first look (0.3%) would need a t statistic above 18, which
spends the first look on nothing. The second look runs unless the gate does not replicate or the primary
claim is decided at the first (for instance, when too few seeds are matched it is not)."""

# the paper states the direction for its larger shifts (IN-A/R/Sketch); corruptions are this suite's
LARGER_SHIFTS = "Table 4, larger shifts"

PROTOCOL = Protocol(file="studies/robustness.protocol.md", registered="2026-12-03", looks=(3, 6), spending=POCOCK,
                    public=("the withdrawn short-budget results of this study (seeds 0-2, committed 2026-11-30)",
                            "main's full-recipe top-1 of scratch, fine-tuning, copy and distillation (seeds 0-9): "
                            "the same configs as this study's runs except the kept weights and corrupted sets"),
                    rationale=RATIONALE)


def _build(scale, p):
    cfg = base_run(scale, Mode(p["method"]))
    # evaluate every epoch (embedded) / every 10 epochs (paper): matched accuracy needs intermediate points
    if scale == "embedded":  # 75 corrupted sets of 500 test images: the shifts cost what the training does
        return with_values(cfg, {"eval_every": 1, "save_eval_weights": True, "data.corruption_subset": 500})
    return with_values(cfg, {"eval_every": 10, "save_eval_weights": True})


STUDY = Study(
    name="robustness",
    paper="Table 4 + ImageNet-C style corruptions",
    description="Where attention transfer breaks under distribution shift, compared at equal clean accuracy.",
    points=lambda scale: product(method=("scratch", "finetune", "copy", "distill")),
    build=_build,
    evaluations=("clean", "clean_subset", "corruptions"),
    analyses=("matched",),
    references=(Reference("IN-V2", None, "distill holds on V2 (values unknown)"),
                Reference("IN-A/R/Sketch", None,
                          "distill degrades more than fine-tune on larger shifts (values unknown)")),
    figures=(CorruptionHeatmap(), MatchedTable()),
    claims=(Superiority(text="Gate: fine-tuning the pretrained teacher beats training from scratch by more than "
                             "2 points", better={"method": "finetune"}, worse={"method": "scratch"}, margin=2.0,
                        role=GATE, paper=PAPER_OVER_SCRATCH, source=TABLE1),
            MatchedShift(text="Under corruption, attention distillation loses more than fine-tuning at matched "
                              "clean accuracy (within 1 point)", method="distill", tolerance=1.0, role=PRIMARY,
                         source=LARGER_SHIFTS),
            MatchedShift(text="Under corruption, attention copy loses more than fine-tuning at matched clean "
                              "accuracy (within 1 point)", method="copy", tolerance=1.0,
                         source=LARGER_SHIFTS)),
    seeds={"embedded": 3, "paper": 1},
    protocol=PROTOCOL,
)
