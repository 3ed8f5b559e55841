"""Fig 1 / Table 1: scratch vs fine-tune vs attention copy vs attention distillation."""
from attnxfer_core.modes import Mode
from attnxfer_core.scales import base_run
from attnxfer_core.study import Reference, Study, product

METHODS = ("scratch", "finetune", "copy", "distill")

STUDY = Study(
    name="main",
    paper="Fig 1, Table 1",
    description="Is the teacher's attention enough? Scratch, fine-tune, copy and distill students.",
    points=lambda scale: product(method=METHODS),
    build=lambda scale, p: base_run(scale, Mode(p["method"])),
    analyses=("attention_maps",),
    references=(
        Reference("scratch", 83.0),
        Reference("finetune", 85.7),
        Reference("copy", 85.1, "recovers 77.8% of the scratch -> fine-tune gap"),
        Reference("distill", 85.7),
    ),
)
