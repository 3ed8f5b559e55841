"""The rules that decide claims: p-values that agree with the intervals, Holm's correction, registered looks,
matched accuracy within a tolerance, thresholds tied to the paper's effect, and power to size seeds."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from analysis.power import claim_power, one_sided_power, sd_upper, seeds_needed, study_power, tost_power
from analysis.stats import gap_share, gap_share_p, holm, p_above, paired_difference
from analysis.study_data import StudyData
from analysis.verdicts import DOES_NOT, INCONCLUSIVE, REPLICATES, UNINFORMATIVE, decide, next_look, study_verdicts
from attnxfer_core.experiments.claims import GATE, GapShare, MatchedShift, Superiority, paper_says
from attnxfer_core.experiments.protocol import NOMINAL, Protocol
from attnxfer_core.experiments.scales import EMBEDDED
from attnxfer_core.experiments.study import Study
from attnxfer_core.experiments.validation import name_problems
from studies import get_study


def _series(values):
    return pd.Series(values, index=range(len(values)), dtype=float)


def _study(claims, protocol=None):
    main = get_study("main")
    return dataclasses.replace(main, claims=tuple(claims), protocol=protocol)


def _data(study: Study, per_method: dict, analyses_dir=None) -> StudyData:
    rows = [{"run_id": f"{m}-{s}", "value.method": m, "seed": s, "set": "clean", "role": "run", "top1": v}
            for m, values in per_method.items() for s, v in enumerate(values)]
    return StudyData(study, pd.DataFrame(rows), pd.DataFrame(), pd.DataFrame(), analyses_dir,
                     {"scale": "embedded"})


def test_holm_matches_a_hand_computed_family():
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4 x 0.005, 3 x 0.01, 2 x 0.03, max(0.06, 1 x 0.04)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.01, float("nan")]) == pytest.approx([0.02, 1.0])  # a claim without data still counts
    assert holm([0.6, 0.9]) == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize("seed", range(40))
def test_p_above_agrees_with_the_interval_it_sits_beside(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 9))
    a, b = _series(rng.normal(1.0, 1.0, n)), _series(rng.normal(0.0, 1.0, n))
    threshold = float(rng.normal(0.5, 0.5))
    for alpha in (0.05, 0.01):
        interval = paired_difference(a, b, confidence=1 - alpha)
        assert (p_above(a, b, threshold) < alpha) == (interval.low > threshold)


@pytest.mark.parametrize("seed", range(40))
def test_gap_share_p_agrees_with_fieller(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(3, 9))
    low = rng.normal(70, 2, n)
    high, method = low + rng.normal(3, 2, n), low + rng.normal(2.5, 2, n)
    m, lo, hi = (_series(x) for x in (method, low, high))
    interval = gap_share(m, lo, hi)
    for threshold in (0.3, 0.8):
        assert (gap_share_p(m, lo, hi, threshold) < 0.05) == (interval.bounded and interval.low > threshold)


def test_a_reversed_gap_is_no_share_of_anything():
    """From review: 'high' 10 points below 'low' and the method 20 below gave a bounded Fieller interval
    [1.90, 2.09] above the threshold, read as *replicates*."""
    low, high, method = (_series(x) for x in ([80, 80.5, 79.5, 80.2], [70, 70.4, 69.6, 70.1], [60, 61, 59, 60.3]))
    assert not gap_share(method, low, high).bounded and gap_share_p(method, low, high, 0.5) == 1.0
    tiny = [0.1, 0.2, 0.3]  # no spread at all: rounding made the discriminant negative, the interval unbounded
    interval = gap_share(_series([t + 0.1 for t in tiny]), _series(tiny), _series([t + 0.3 for t in tiny]))
    assert interval.bounded and interval.low == pytest.approx(1 / 3) == interval.high


def test_a_threshold_tied_to_the_papers_effect_refuses_a_small_positive_difference():
    """feature_kd's case: an interval [-0.5, 1.3] excludes the paper's 4.4; against zero it is merely
    inconclusive, against half the paper's value it does not replicate."""
    study = _study([])
    data = _data(study, {"distill": [80.2, 80.9, 80.4], "feature_kd": [79.9, 80.0, 80.1]})
    zero = Superiority(text="t", better={"method": "distill"}, worse={"method": "feature_kd"}, paper=4.4)
    half = dataclasses.replace(zero, paper_fraction=0.5)
    assert decide("s", zero, data).verdict == INCONCLUSIVE
    verdict = decide("s", half, data)
    assert verdict.verdict == DOES_NOT and verdict.threshold == pytest.approx(2.2)
    assert "0.5 of the paper's 4.4" in verdict.evidence


def _matched(tmp_path, clean_gaps, shift_gaps):
    import json
    rows = [{"method": "distill", "reference": "finetune", "seed": s, "rows": [
        {"clean_top1": 70.0, "sets": {"corruptions/fog/1": 50.0}},
        {"clean_top1": 70.0 - c, "sets": {"corruptions/fog/1": 50.0 - g}}]}
        for s, (c, g) in enumerate(zip(clean_gaps, shift_gaps))]
    (tmp_path / "matched.json").write_text(json.dumps(rows))
    return StudyData(get_study("robustness"), pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), tmp_path,
                     {"scale": "embedded"})


def test_a_matched_rule_with_no_pair_inside_its_tolerance_is_uninformative(tmp_path):
    """robustness's committed case: the clean gaps at the 'match' were 2.45, 5.95, 6.15 points."""
    claim = MatchedShift(text="t", method="distill", tolerance=1.0)
    verdict = decide("robustness", claim, _matched(tmp_path, [2.45, 5.95, 6.15], [3.0, 4.0, 5.0]))
    assert verdict.verdict == UNINFORMATIVE and "0 of 3 seeds matched" in verdict.evidence
    one = decide("robustness", claim, _matched(tmp_path, [0.5, 5.95, 6.15], [3.0, 4.0, 5.0]))
    assert one.verdict == UNINFORMATIVE  # one matched seed gives no interval


def test_a_matched_rule_decides_on_its_matched_seeds_only(tmp_path):
    claim = MatchedShift(text="t", method="distill", tolerance=1.0)
    verdict = decide("robustness", claim, _matched(tmp_path, [0.5, -0.8, 3.0, 0.1], [3.0, 4.0, -20.0, 5.0]))
    assert verdict.verdict == REPLICATES and verdict.interval.n == 3 and verdict.interval.estimate == pytest.approx(4)
    assert "3 of 4 seeds matched" in verdict.evidence


def _three_claims():
    gate = Superiority(text="gate", better={"method": "finetune"}, worse={"method": "scratch"}, margin=2.0, role=GATE)
    one = Superiority(text="copy", better={"method": "copy"}, worse={"method": "scratch"})
    two = Superiority(text="distill", better={"method": "distill"}, worse={"method": "scratch"})
    return gate, one, two


# scratch, then two methods 1.05 points above it with the same spread in another order: each p = 0.032
PER_METHOD = {"scratch": [70.0, 71.0, 70.5, 70.2], "finetune": [75.0, 76.1, 75.4, 75.3],
              "copy": [71.3, 71.7, 71.0, 71.9], "distill": [70.7, 72.3, 72.2, 70.7]}


def test_holm_demotes_a_replication_only_where_the_protocol_registered_it():
    registered = _study(_three_claims(), Protocol(file="x.md", registered="2026-12-03", looks=(4,)))
    decided = study_verdicts(_data(registered, PER_METHOD))
    gate, copy, distill = decided
    assert gate.verdict == REPLICATES and gate.p_adjusted == gate.p  # the gate keeps its own alpha
    assert copy.p == pytest.approx(distill.p) and 0.025 < copy.p < 0.05
    assert copy.p_adjusted == pytest.approx(2 * copy.p)
    assert {copy.verdict, distill.verdict} == {INCONCLUSIVE} and "Holm-adjusted p" in copy.evidence
    unregistered = study_verdicts(_data(_study(_three_claims()), PER_METHOD))
    assert [v.verdict for v in unregistered] == [REPLICATES] * 3  # as registered; the adjusted p is shown
    assert unregistered[1].p_adjusted == pytest.approx(copy.p_adjusted) and not unregistered[1].corrected


def test_verdicts_are_made_only_at_a_registered_look_and_at_its_spent_level():
    protocol = Protocol(file="x.md", registered="2026-12-03", looks=(4, 8))
    decided = study_verdicts(_data(_study(_three_claims(), protocol), PER_METHOD))  # 4 seeds: the first look
    assert decided[0].alpha == 0.05 and decided[0].verdict == REPLICATES  # the gate spends no alpha
    assert decided[1].alpha < 0.01  # O'Brien-Fleming spends little at half the seeds
    assert decided[1].interval.confidence == pytest.approx(1 - decided[1].alpha)
    off_look = {m: v[:3] for m, v in PER_METHOD.items()}
    assert {v.verdict for v in study_verdicts(_data(_study(_three_claims(), protocol), off_look))} == {UNINFORMATIVE}


def test_the_extension_rule_runs_the_next_look_only_while_a_primary_claim_is_open():
    gate, one, two = _three_claims()
    open_primary = dataclasses.replace(one, role="primary", margin=1.0)  # 1.05 points against a margin of 1
    protocol = Protocol(file="x.md", registered="2026-12-03", looks=(4, 8))
    data = _data(_study((gate, open_primary, two), protocol), PER_METHOD)
    assert next_look(data, study_verdicts(data)) == ("next registered look: attnxfer run main --seeds 8, then "
                                                     "attnxfer collect main --seeds 8")
    decided = _data(_study((gate, dataclasses.replace(two, role="primary", margin=-5.0)), protocol), PER_METHOD)
    assert next_look(decided, study_verdicts(decided)).startswith("stop at 4 seeds")
    failed = _data(_study((dataclasses.replace(gate, margin=9.0), open_primary), protocol), PER_METHOD)
    assert next_look(failed, study_verdicts(failed)) == "stop: the gate does not replicate"
    assert next_look(_data(_study((gate,)), PER_METHOD), []) is None  # no looks registered


def test_a_look_is_decided_only_once_all_its_runs_are_done():
    """From review: scratch finished 8 seeds of the second look, copy only its first 4: the copy claim was
    decided at the second look's level on the first look's seeds."""
    protocol = Protocol(file="x.md", registered="2026-12-03", looks=(4, 8))
    half = {**{m: v * 2 for m, v in PER_METHOD.items() if m in ("scratch", "finetune")}, "copy": PER_METHOD["copy"]}
    gate, copy, _ = study_verdicts(_data(_study(_three_claims(), protocol), half))
    assert gate.verdict == REPLICATES and copy.verdict == UNINFORMATIVE and "cover 4 seeds" in copy.evidence
    single = Protocol(file="x.md", registered="2026-12-03")  # one look: the study's seeds (main's 5, not 4)
    assert {v.verdict for v in study_verdicts(_data(_study(_three_claims(), single), PER_METHOD))} == {UNINFORMATIVE}


def test_protocol_and_claim_fields_are_checked_before_anything_trains():
    bad = _study([Superiority(text="t", better={"method": "copy"}, worse={"method": "scratch"}, paper_fraction=0.5),
                  MatchedShift(text="m", method="distill", tolerance=0.0)],
                 Protocol(file="x.md", registered="2026-12-03", alpha=1.5, multiplicity="bonferroni", looks=(5, 3)))
    problems = " ".join(name_problems(bad, "embedded"))
    for phrase in ("paper_fraction needs the paper's value", "tolerance must be > 0", "protocol.alpha",
                   "protocol.multiplicity 'bonferroni'", "protocol.looks"):
        assert phrase in problems
    unsourced = _study([Superiority(text="t", better={"method": "copy"}, worse={"method": "scratch"}, paper=2.1)])
    assert "paper=2.1 needs its source" in " ".join(name_problems(unsourced, "embedded"))


def test_the_paper_column_says_a_number_or_a_direction_with_where_the_paper_says_it():
    copy, scratch = {"method": "copy"}, {"method": "scratch"}
    assert paper_says(Superiority(text="t", better=copy, worse=scratch)) == "—"  # the paper states nothing
    assert paper_says(Superiority(text="t", better=copy, worse=scratch, paper=2.1, source="Table 1")) == "2.1, Table 1"
    assert paper_says(Superiority(text="t", better=copy, worse=scratch, source="Table 2")) == "> 0, Table 2"
    share = GapShare(text="t", method=copy, low=scratch, high={"method": "finetune"}, threshold=0.5, paper=0.778,
                     source="Table 1")
    assert paper_says(share) == "77.8%, Table 1"
    assert paper_says(dataclasses.replace(share, paper=None)) == "> 0%, Table 1"
    # every registered claim that states the paper's number names where; the paper's directions are filled
    said = {c.text: paper_says(c) for name in ("qkv", "layers", "heads", "pretrain_data", "robustness", "scale",
                                              "similarity", "teachers", "averaging")
            for c in get_study(name).claims_at(EMBEDDED)}
    assert said["Copying Q alone beats copying the attention map"] == "> 0, Table 2"
    assert sum(v != "—" for v in said.values()) >= len(said) - 4  # only gates the paper does not restate, and ours
    verdict = decide("x", share, _data(_study([share]), PER_METHOD))
    assert verdict.paper_says == "77.8%, Table 1"


def test_power_matches_the_textbook_and_a_simulation():
    # a paired t test for an effect of one sd at two-sided 5% needs 10 pairs for 80% power (G*Power)
    assert seeds_needed(lambda n: one_sided_power(1.0, 1.0, n, 0.05)) == 10
    rng = np.random.default_rng(0)
    n, draws = 5, rng.normal(0.3, 0.5, size=(20000, 5))
    t = (draws.mean(1) - 0.0) / (draws.std(1, ddof=1) / np.sqrt(n))
    from scipy import stats
    simulated = float((t > stats.t.ppf(0.975, n - 1)).mean())
    assert one_sided_power(0.3, 0.5, n, 0.05) == pytest.approx(simulated, abs=0.015)
    # TOST: the (1 - 2 alpha) interval inside ±1
    se = draws.std(1, ddof=1) / np.sqrt(n)
    inside = (draws.mean(1) - stats.t.ppf(0.95, n - 1) * se > -1) & (draws.mean(1) + stats.t.ppf(0.95, n - 1) * se < 1)
    assert tost_power(0.3, 0.5, n, 1.0, 0.05) == pytest.approx(float(inside.mean()), abs=0.015)
    assert sd_upper(1.0, 3, 0.8) == pytest.approx(np.sqrt(2 / stats.chi2.ppf(0.2, 2)))


def test_power_sizes_each_claim_from_the_pilot_and_says_which_outcome():
    study = _study(_three_claims(), Protocol(file="x.md", registered="2026-12-03"))
    rows = study_power(_data(study, PER_METHOD))
    gate, copy, distill = rows
    assert gate.alpha == 0.05 and copy.alpha == pytest.approx(0.025)  # Bonferroni over the two non-gate claims
    assert gate.outcome == "replicates" and gate.seeds == 2  # 5 points against a margin of 2, sd 0.3
    assert copy.seeds <= copy.seeds_conservative
    flat = GapShare(text="share", method={"method": "copy"}, low={"method": "scratch"}, high={"method": "finetune"},
                    threshold=0.5)
    row = claim_power(flat, _data(study, PER_METHOD), 0.05)
    assert row.outcome == "does not replicate" and row.seeds is not None  # copy recovers ~20% of the gap
    empty = claim_power(flat, _data(study, {"scratch": [1.0]}), 0.05)
    assert empty.pilot_seeds == 0 and "no pilot data" in empty.note


def test_mains_hand_written_protocol_decides_each_look_at_full_alpha_and_extends_only_past_its_gate():
    main = get_study("main")
    assert main.protocol.hand_written and main.looks("embedded") == (5, 10)
    five = {m: v + [v[0] + 0.3] for m, v in PER_METHOD.items()}  # 5 seeds: look 1
    decided = study_verdicts(_data(main, five))
    assert {v.alpha for v in decided} == {0.05}  # nominal: no spending, as registered
    assert not any(v.corrected for v in decided)  # and no Holm
    assert next_look(_data(main, five), decided) == "stop at 5 seeds: every primary claim is decided"
    open_primary = [dataclasses.replace(v, verdict=INCONCLUSIVE) if v.role == "primary" else v for v in decided]
    assert next_look(_data(main, five), open_primary).startswith("next registered look: attnxfer run main --seeds 10")
    open_gate = [dataclasses.replace(v, verdict=INCONCLUSIVE) if v.role == GATE else v for v in open_primary]
    assert next_look(_data(main, five), open_gate).startswith("stop: the gate has not replicated")
    three = {m: v[:3] for m, v in PER_METHOD.items()}
    assert {v.verdict for v in study_verdicts(_data(main, three))} == {UNINFORMATIVE}  # not a look
    # nominal looks are main's registration only: a new protocol must spend its alpha
    new = Protocol(file="x.md", registered="2026-12-04", looks=(3, 6), spending=NOMINAL)
    assert "nominal looks only in a hand-written protocol" in " ".join(new.problems())
    assert not dataclasses.replace(new, hand_written=True).problems()
