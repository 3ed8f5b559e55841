"""The pre-registered protocol stays true: the code still makes exactly the runs it registered.

If a recipe, the data split or the teacher changes, these ids change and this test fails: the
protocol must then be registered again (a new commit before new runs), never edited to match.
"""
import json
import re
from pathlib import Path

from attnxfer_core.experiments.claims import GATE, PRIMARY, Equivalence, GapShare, Superiority
from attnxfer_core.runs.shipped import file_sha256, find
from studies import get_study

PROTOCOL = Path(__file__).resolve().parent.parent / "studies" / "main.protocol.md"


def _registered() -> dict:
    blocks = re.findall(r"```json\n(.*?)```", PROTOCOL.read_text(), re.S)
    assert len(blocks) == 1, "the protocol holds one JSON block of registered runs"
    return json.loads(blocks[0])


def test_registered_runs_are_the_studys_runs():
    registered = _registered()
    study = get_study(registered["study"])
    seeds = registered["seeds"] + registered["extension_seeds"]
    assert seeds == list(range(len(seeds))) and study.seeds["embedded"] == len(registered["seeds"])
    runs = study.expand(registered["scale"], seeds=len(seeds))
    made = {m: [r.run_id for r in runs if r.role == "run" and r.values["method"] == m] for m in registered["runs"]}
    assert made == registered["runs"]
    teacher = next(r for r in runs if r.role == "dependency")
    assert teacher.run_id == registered["teacher"]["run_id"]
    shipped = find(teacher.config)
    assert shipped is not None and file_sha256(shipped.weights) == registered["teacher"]["sha256"]


def test_the_studys_endpoints_are_the_registered_ones():
    claims = get_study("main").claims_at("embedded")
    gate = [c for c in claims if c.role == GATE]
    primary = [c for c in claims if c.role == PRIMARY]
    assert len(gate) == 1 and isinstance(gate[0], Superiority) and gate[0].margin == 2.0
    assert gate[0].better == {"method": "finetune"} and gate[0].worse == {"method": "scratch"}
    equivalence = next(c for c in primary if isinstance(c, Equivalence))
    share = next(c for c in primary if isinstance(c, GapShare))
    assert len(primary) == 2
    assert (equivalence.a, equivalence.b, equivalence.margin) == ({"method": "distill"}, {"method": "finetune"}, 1.0)
    assert (share.method, share.low, share.high, share.threshold) == (
        {"method": "distill"}, {"method": "scratch"}, {"method": "finetune"}, 0.8)


def test_the_secondary_claims_are_the_registered_ones():
    """Reported with their intervals, not decided on: still fixed by the protocol."""
    secondary = [c for c in get_study("main").claims_at("embedded") if c.role not in (GATE, PRIMARY)]
    shares = [(c.method["method"], c.threshold) for c in secondary if isinstance(c, GapShare)]
    better = [(c.better["method"], c.worse["method"], c.margin) for c in secondary if isinstance(c, Superiority)]
    assert shares == [("copy", 0.5)] and len(secondary) == 4
    assert better == [("copy", "scratch", 0.0), ("distill", "scratch", 0.0), ("distill", "copy", 0.0)]
