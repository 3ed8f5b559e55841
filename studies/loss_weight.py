"""The distillation weight lambda (3.0 in the recipe).

The paper states no claim about other weights, so this study declares none: it draws the curve.
Embedded scale: the short budget (a fifth of the main recipe), five weights a factor ~3 apart around
the recipe's, 3 seeds (about 45 minutes on two cores: ``attnxfer plan loss_weight``).
"""
from attnxfer_core.experiments.figures import SweepLines
from attnxfer_core.experiments.scales import base_run
from attnxfer_core.experiments.study import Reference, Study, with_values
from attnxfer_core.modes import Mode

WEIGHTS = (0.3, 1.0, 3.0, 10.0, 30.0)

STUDY = Study(
    name="loss_weight",
    paper="lambda sweep (recipe: 3.0)",
    description="Attention distillation at several loss weights.",
    points=lambda scale: [{"weight": w} for w in WEIGHTS],
    build=lambda scale, p: with_values(base_run(scale, Mode.DISTILL, budget="short"), {"transfer.weight": p["weight"]}),
    references=(Reference("distill@3.0", 85.7, "the recipe's weight"),),
    figures=(SweepLines(x="weight", hue="method", logx=True, xlabel="weight λ",
                        title="Distillation loss weight (recipe: 3.0)"),),
)
