"""Fig 1 / Table 1: scratch vs fine-tune vs attention copy vs attention distillation."""
from attnxfer_core.experiments.claims import GapShare, Superiority
from attnxfer_core.experiments.figures import AttentionMapsPicture, MethodBars
from attnxfer_core.experiments.scales import base_run
from attnxfer_core.experiments.study import Reference, Study, product
from attnxfer_core.modes import Mode

METHODS = ("scratch", "finetune", "copy", "distill")
SCRATCH, FINETUNE = {"method": "scratch"}, {"method": "finetune"}

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
    figures=(MethodBars(title="Fig 1 / Table 1"), AttentionMapsPicture()),
    claims=(
        Superiority(text="Fine-tuning the pretrained model beats training from scratch",
                    better=FINETUNE, worse=SCRATCH, paper=2.7),
        Superiority(text="Attention copy beats training from scratch",
                    better={"method": "copy"}, worse=SCRATCH, paper=2.1),
        Superiority(text="Attention distillation beats training from scratch",
                    better={"method": "distill"}, worse=SCRATCH, paper=2.7),
        GapShare(text="Attention copy recovers most of the scratch -> fine-tune gap (paper: 77.8%)",
                 method={"method": "copy"}, low=SCRATCH, high=FINETUNE, threshold=0.5, paper=0.778),
        GapShare(text="Attention distillation recovers most of the scratch -> fine-tune gap (paper: 100%)",
                 method={"method": "distill"}, low=SCRATCH, high=FINETUNE, threshold=0.5, paper=1.0),
    ),
)
