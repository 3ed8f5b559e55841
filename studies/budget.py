"""Beyond the paper: is distillation's shortfall a matter of training length?

The paper gives distillation four times fine-tuning's epochs; no one has published the share of the
scratch -> fine-tune gap that copy and distillation recover as a curve of training budget. Here copy
and distillation train 1x, 2x, 4x and 8x the main replication's epochs (warm-up in proportion), on its
labelled images, against scratch and fine-tuning at 1x (the gap's two ends, the main replication's own
runs, so seeds 0-2 are shared with it). Distillation at 1x has scratch's budget; at 2x, twice it. The
per-epoch curves include each distilled layer's attention loss on the held-out split: does distillation
converge to fine-tuning, plateau, or need more data?

Cost: 3 seeds of copy and distillation at 2x-8x, which ``attnxfer plan budget`` estimates at about 10.5
hours of 2-core CPU (a lower bound); this study is sized for a GPU, or for running over several sessions
(every run resumes).
"""
from dataclasses import replace

from attnxfer_core.config import RunConfig
from attnxfer_core.experiments.claims import Equivalence, GapShare, Superiority
from attnxfer_core.experiments.figures import LearningCurves, SweepLines
from attnxfer_core.experiments.scales import base_run
from attnxfer_core.experiments.study import Reference, Study, product
from attnxfer_core.modes import Mode

BUDGETS = (1, 2, 4, 8)  # multiples of the main replication's epochs
ENDS = {"method": ("scratch", "finetune")}


def longer(cfg: RunConfig, times: int) -> RunConfig:
    """``cfg`` trained ``times`` as many epochs, warm-up in proportion (schedule shape unchanged)."""
    if times == 1:
        return cfg
    return replace(cfg, optim=replace(cfg.optim, epochs=cfg.optim.epochs * times,
                                      warmup_epochs=cfg.optim.warmup_epochs * times))


def _points(scale):
    return (product(budget=(1,), method=ENDS["method"])
            + product(budget=BUDGETS, method=("copy", "distill")))


def _build(scale, p):
    return longer(base_run(scale, Mode(p["method"])), p["budget"])


def _claims(scale):
    if scale != "embedded":
        return ()
    low, high = {"budget": 1, "method": "scratch"}, {"budget": 1, "method": "finetune"}
    claims = [GapShare(text=f"{method} at {b}x the main budget recovers more than 80% of the scratch -> fine-tune "
                            "gap", method={"budget": b, "method": method}, low=low, high=high, threshold=0.8)
              for method in ("copy", "distill") for b in BUDGETS]
    longest = BUDGETS[-1]
    claims.append(Superiority(text=f"Distillation improves with training length ({longest}x over 1x)",
                              better={"budget": longest, "method": "distill"},
                              worse={"budget": 1, "method": "distill"}))
    claims.append(Equivalence(text=f"With {longest}x the budget, distillation matches fine-tuning (within ±1 point)",
                              a={"budget": longest, "method": "distill"}, b=high, margin=1.0))
    return tuple(claims)


STUDY = Study(
    name="budget",
    paper="beyond the paper",
    description="Gap recovered by copy and distillation against training length (1x to 8x the main recipe).",
    points=_points,
    build=_build,
    references=(Reference("budget", None, "not studied by the paper"),),
    figures=(SweepLines(x="budget", hue="method", logx=True, xlabel="epochs (x the main recipe)", exclude=ENDS,
                        references={"scratch": {"method": "scratch"}, "fine-tune": {"method": "finetune"}},
                        title="Copy and distillation against training budget"),
             LearningCurves(key="budget", where={"method": ("distill",)},
                            title="Distillation at each budget: held-out curves and per-layer attention loss")),
    claims=_claims,
)
