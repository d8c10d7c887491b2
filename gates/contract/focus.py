"""What a change works on, in either mode: the words ``status``, ``next``, ``loop`` and the check's
header use for it.

- **conversion**: the stage under conversion (the first stage of the spec's ``conversion_order``
  the ledger has not accepted; default: ascending ids), or nothing once every stage is accepted;
  ``gates accept`` records that stage's row.
- **optimisation** (issue 8.5): nothing converts, so there is no stage under conversion. The
  spec's ``target`` is a stage or the whole run; ``gates accept`` appends the ledger's next row,
  numbered in order, named ``optimisation of stage N`` or ``optimisation of the whole run``.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from gates.contract.ledger import Ledger
from gates.contract.ledger import stage_under_conversion
from gates.contract.spec import Spec
from gates.contract.spec import Stage


def optimisation_row_name(spec: Spec) -> str:
    """The ``stage_name`` of an optimisation row (what ``gates accept`` writes)."""
    return 'optimisation of ' + ('the whole run' if spec.target is None else f'stage {spec.target}')


def order_note(spec: Spec) -> str:
    """'' for a conversion in ascending ids; else one phrase naming the spec's conversion order
    (``status``, ``next`` and the agent brief say it, so nobody expects the next id)."""
    if spec.mode != 'conversion' or spec.order == tuple(s.id for s in spec.stages):
        return ''
    return f'conversion_order: {", ".join(map(str, spec.order))}'


@dataclasses.dataclass(frozen=True)
class Focus:
    mode: str                      # 'conversion' | 'optimisation'
    stage: Stage | None            # conversion: under conversion; optimisation: the target stage
    next_row: int                  # the ledger row the next accept appends
    row_name: str                  # the name that row would be recorded under

    @property
    def optimising(self) -> bool:
        return self.mode == 'optimisation'

    @property
    def done(self) -> bool:
        """Nothing left to work on: a conversion whose every stage is accepted. An optimisation
        is never done; each accept records one more row."""
        return not self.optimising and self.stage is None

    @property
    def target(self) -> str:
        """'stage 2 (openings)', or 'the whole run' (optimisation of the whole run)."""
        if self.stage is None:
            return 'the whole run' if self.optimising else 'no stage'
        return f'stage {self.stage.id} ({self.stage.name})'

    @property
    def headline(self) -> str:
        """One phrase: 'stage 0 (commit) under conversion', 'optimisation of the whole run'."""
        if self.optimising:
            return f'optimisation of {self.target}'
        return 'all stages accepted' if self.stage is None else f'{self.target} under conversion'

    def paths(self, spec: Spec) -> tuple[str, ...]:
        """The globs the change may touch besides the shared paths."""
        if self.stage is not None:
            return self.stage.paths
        if self.optimising:
            return tuple(dict.fromkeys(g for s in spec.stages for g in s.paths))
        return ()

    def as_dict(self) -> dict[str, Any]:
        return {
            'mode': self.mode,
            'id': None if self.stage is None else self.stage.id,
            'name': self.target if self.stage is None else self.stage.name,
            'next_row': self.next_row,
            'row_name': self.row_name,
        }


def focus(spec: Spec, ledger: Ledger) -> Focus:
    if spec.mode == 'optimisation':
        # Rows are numbered optimisations, not stages (so stage_under_conversion, which reads
        # each row as a stage of the spec, does not apply).
        stage = None if spec.target is None else spec.stage(spec.target)
        return Focus(spec.mode, stage, len(ledger.rows), optimisation_row_name(spec))
    current = stage_under_conversion(spec, ledger)
    return Focus(spec.mode, current, len(ledger.rows), '' if current is None else current.name)
