"""Fig 1 / Table 1: scratch vs fine-tune vs attention copy vs attention distillation.

At embedded scale this study is pre-registered: ``studies/main.protocol.md`` fixes
its runs, seeds, endpoints and decision rules, and was committed before its runs.
It was written by hand before ``attnxfer register`` and alpha spending existed;
:data:`PROTOCOL` declares what it registered: looks at 5 and 10 seeds, each at
alpha 0.05, no multiplicity correction, and one extension only if the gate
passes and a primary claim is inconclusive at five seeds.
"""
from attnxfer_core.experiments.claims import GATE, PRIMARY, TABLE1, Equivalence, GapShare, Superiority
from attnxfer_core.experiments.figures import AttentionMapsPicture, LearningCurves, MethodBars
from attnxfer_core.experiments.protocol import NO_CORRECTION, NOMINAL, Protocol
from attnxfer_core.experiments.scales import base_run
from attnxfer_core.experiments.study import Reference, Study, product
from attnxfer_core.modes import Mode

METHODS = ("scratch", "finetune", "copy", "distill")
SCRATCH, FINETUNE, COPY, DISTILL = ({"method": m} for m in METHODS)

PROTOCOL = Protocol(file="studies/main.protocol.md", registered="2026-11-29", multiplicity=NO_CORRECTION,
                    looks=(5, 10), spending=NOMINAL, hand_written=True, extend_needs_gate=True)

STUDY = Study(
    name="main",
    paper="Fig 1, Table 1",
    description="Is the teacher's attention enough? Scratch, fine-tune, copy and distill students.",
    points=lambda scale: product(method=METHODS),
    build=lambda scale, p: base_run(scale, Mode(p["method"])),
    seeds={"embedded": 5, "paper": 1},
    analyses=("attention_maps",),
    references=(
        Reference("scratch", 83.0),
        Reference("finetune", 85.7),
        Reference("copy", 85.1, "recovers 77.8% of the scratch -> fine-tune gap"),
        Reference("distill", 85.7),
    ),
    figures=(MethodBars(title="Fig 1 / Table 1"), LearningCurves(), AttentionMapsPicture()),
    claims=(
        Superiority(text="Gate: fine-tuning the pretrained teacher clearly beats training from scratch "
                         "(by more than 2 points)", better=FINETUNE, worse=SCRATCH, margin=2.0, paper=2.7,
                    source=TABLE1, role=GATE),
        Equivalence(text="Attention distillation matches fine-tuning, within ±1 point (paper: 85.7 vs 85.7)",
                    a=DISTILL, b=FINETUNE, margin=1.0, paper=0.0, source=TABLE1, role=PRIMARY),
        GapShare(text="Attention distillation recovers nearly all of the scratch -> fine-tune gap, more than 80% "
                      "(paper: 100%)", method=DISTILL, low=SCRATCH, high=FINETUNE, threshold=0.8, paper=1.0,
                 source=TABLE1, role=PRIMARY),
        GapShare(text="Attention copy recovers most of the scratch -> fine-tune gap, more than 50% (paper: 77.8%)",
                 method=COPY, low=SCRATCH, high=FINETUNE, threshold=0.5, paper=0.778, source=TABLE1),
        Superiority(text="Attention copy beats training from scratch", better=COPY, worse=SCRATCH, paper=2.1,
                    source=TABLE1),
        Superiority(text="Attention distillation beats training from scratch", better=DISTILL, worse=SCRATCH,
                    paper=2.7, source=TABLE1),
        Superiority(text="Attention distillation beats attention copy (paper: +0.6)", better=DISTILL, worse=COPY,
                    paper=0.6, source=TABLE1),
    ),
    protocol=PROTOCOL,
)
