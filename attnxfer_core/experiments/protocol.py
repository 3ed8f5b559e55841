"""What a study registered about how its claims are decided, beside the claims themselves.

A claim says *what* is compared and against which threshold; the protocol says
*how strictly*: the family-wise alpha, whether the study's claims are corrected
for multiplicity (Holm over every claim but the gate, which is a precondition
and keeps its own alpha), the seed counts at which verdicts may be made (looks)
and the alpha-spending rule that shares alpha between them, and which of its
runs' numbers were already public when it was registered (a registration after
some results were seen must say so).

A study without a protocol was registered before these rules existed: its
verdicts are decided as registered (nominal alpha, one look, no correction),
and the raw and Holm-adjusted p-values are still shown beside them. The main
replication's protocol predates them too but registered a seed extension; it is
declared ``hand_written`` (its file is prose, not what ``attnxfer register``
renders) with ``NOMINAL`` looks, each at the full alpha, as it was registered.
No other protocol may use either.
The statistics live in the analysis layer (``analysis.verdicts``,
``analysis.sequential``); this module only names them, so a study is checked
before anything trains.
"""
from __future__ import annotations

from dataclasses import dataclass

HOLM, NO_CORRECTION = "holm", "none"
MULTIPLICITY = (HOLM, NO_CORRECTION)
OBRIEN_FLEMING, POCOCK = "obrien-fleming", "pocock"
SPENDING = (OBRIEN_FLEMING, POCOCK)  # Lan-DeMets spending functions (analysis.sequential)
NOMINAL = "nominal"  # no spending: every look at the full alpha (main's registration, before spending was adopted)


@dataclass(frozen=True, kw_only=True)
class Protocol:
    """A study's registered decision procedure (see the module docstring)."""

    file: str  # the Markdown protocol committed before the runs, e.g. "studies/main.protocol.md"
    registered: str  # the date it was committed, ISO (its commit is in git log -p of the file)
    alpha: float = 0.05  # family-wise, two-sided scale: p < alpha <=> the (1 - alpha) interval clears the rule
    multiplicity: str = HOLM
    looks: tuple[int, ...] = ()  # seed counts at which verdicts may be made; () = one look at the study's seeds
    spending: str = OBRIEN_FLEMING  # how alpha is shared between looks (only read with two or more looks)
    # What was public when the protocol was registered: run ids (or a sentence) of results already committed.
    public: tuple[str, ...] = ()
    rationale: str = ""  # why this design (the budget-fair stopping rule, the seeds chosen): the file's first section
    # the file was written by hand before `attnxfer register` existed (main's): not checked against the rendering
    hand_written: bool = False
    # the next look runs only when the gate *replicates* (main's "if G passes"), not merely when it does not fail
    extend_needs_gate: bool = False

    def problems(self) -> list[str]:
        """What is wrong with the protocol's fields (empty when it is valid), one phrase each."""
        out = []
        if not 0 < self.alpha < 1:
            out.append(f"protocol.alpha must be in (0, 1), got {self.alpha}")
        if self.multiplicity not in MULTIPLICITY:
            out.append(f"protocol.multiplicity {self.multiplicity!r} is not one of {', '.join(MULTIPLICITY)}")
        if self.spending not in SPENDING and not (self.spending == NOMINAL and self.hand_written):
            out.append(f"protocol.spending {self.spending!r} is not one of {', '.join(SPENDING)}"
                       + (" (nominal looks only in a hand-written protocol that registered them)"
                          if self.spending == NOMINAL else ""))
        if any(n < 2 for n in self.looks) or list(self.looks) != sorted(set(self.looks)):
            out.append(f"protocol.looks must be increasing seed counts of at least 2, got {list(self.looks)}")
        return out


def registered_again(study: str, date: str, looks: tuple[int, ...], rationale: str, withdrawn: str,
                     *public: str) -> Protocol:
    """The protocol of a study registered again after its first results were withdrawn: its file is
    ``studies/<study>.protocol.md``, and the withdrawn results lead the list of what was public."""
    return Protocol(file=f"studies/{study}.protocol.md", registered=date, looks=looks, public=(withdrawn, *public),
                    rationale=rationale)
