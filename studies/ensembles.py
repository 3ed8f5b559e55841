"""Table 1 (ensembles): a distilled student with its fine-tuned teacher, against two fine-tuned or two
scratch models.

Embedded scale: the runs are the main replication's (full recipe, its five seeds), trained once;
this study only averages their saved test-set predictions.
"""
from attnxfer_core.experiments.claims import Superiority
from attnxfer_core.experiments.figures import EnsembleBars
from attnxfer_core.experiments.scales import base_run
from attnxfer_core.experiments.study import EnsembleSpec, Reference, Study, product
from attnxfer_core.modes import Mode

METHODS = ("scratch", "finetune", "copy", "distill")


def _ensembles(scale, seeds):
    if seeds < 2:
        return []
    specs = []
    for r in range(seeds):
        other = (r + 1) % seeds  # pairs of the same method use two different seeds
        specs += [
            EnsembleSpec.of("distill+finetune", ({"method": "distill"}, r), ({"method": "finetune"}, r)),
            EnsembleSpec.of("copy+finetune", ({"method": "copy"}, r), ({"method": "finetune"}, r)),
            EnsembleSpec.of("finetune+finetune", ({"method": "finetune"}, r), ({"method": "finetune"}, other)),
            EnsembleSpec.of("scratch+scratch", ({"method": "scratch"}, r), ({"method": "scratch"}, other)),
        ]
    return specs


STUDY = Study(
    name="ensembles",
    paper="Table 1 (ensembles)",
    description="Does a transferred student make a good ensemble member? (Diversity despite shared attention.)",
    points=lambda scale: product(method=METHODS),
    build=lambda scale, p: base_run(scale, Mode(p["method"])),
    seeds={"embedded": 5, "paper": 2},  # embedded: the main study's five registered seeds, trained once
    ensembles=_ensembles,
    analyses=("ensembles",),
    references=(Reference("distill+finetune", 86.3, "secondary source (?)"),
                Reference("finetune+finetune", None, "unknown"), Reference("scratch+scratch", None, "unknown")),
    figures=(EnsembleBars(title="Table 1: ensembles"),),
    claims=(
        Superiority(text="A distilled student with its fine-tuned teacher ensembles better than two fine-tuned models",
                    better={"ensemble": "distill+finetune"}, worse={"ensemble": "finetune+finetune"},
                    source="Table 1 (ensembles)"),
        Superiority(text="A copied student with its fine-tuned teacher ensembles better than two fine-tuned models",
                    better={"ensemble": "copy+finetune"}, worse={"ensemble": "finetune+finetune"}),
    ),
)
