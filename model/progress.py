"""A running query's progress: its named steps with (done, total) counts, as a watcher sees them."""

from __future__ import annotations

from dataclasses import dataclass

OPEN = "open sessions"
ROUTING = "blinding and routing"
INDICATORS = "indicator encryption"
MASKS = "mask generation"
AGGREGATION = "owner aggregation"
DECRYPTION = "decryption"

OVERLAP_STEPS = (OPEN, ROUTING)
PROFILE_STEPS = (OPEN, ROUTING, INDICATORS, MASKS, AGGREGATION, DECRYPTION)

SIZED_STEPS = frozenset({ROUTING, INDICATORS, MASKS})
"""Steps whose counts follow parties' set sizes: reported as thousandths, never as counts."""
PER_MILLE = 1000


@dataclass(frozen=True)
class StepProgress:
    """One step of a query: `done` of `total` units (total 0: not known yet, or nothing to do)."""

    name: str
    done: int
    total: int

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.done >= self.total


@dataclass(frozen=True)
class QueryProgress:
    """A snapshot of one query's steps, in the order the protocol runs them."""

    query_id: str
    steps: tuple[StepProgress, ...]
    finished: bool = False
    failed: bool = False

    def step(self, name: str) -> StepProgress | None:
        return next((s for s in self.steps if s.name == name), None)


def released_step(step: StepProgress) -> StepProgress:
    """A step as a watcher may see it: a step that follows set sizes as thousandths."""
    if step.name not in SIZED_STEPS or step.total <= 0:
        return step if step.name not in SIZED_STEPS else StepProgress(step.name, 0, 0)
    return StepProgress(step.name, min(PER_MILLE, step.done * PER_MILLE // step.total), PER_MILLE)
