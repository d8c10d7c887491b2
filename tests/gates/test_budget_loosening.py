"""The new budget keys ratchet one way (gates/contract/loosening.py): tolerance_bytes, max_exponent,
measure, time.units (only before the first acceptance) and main_branch."""
from __future__ import annotations

import pytest
from conftest import toy_spec_yaml

from gates.contract import loosening
from gates.contract.spec import Spec
from gates.contract.spec import parse_spec

TIME = '  time:\n    ratio_lt: 2.0\n    min_pairs: 3\n    max_pairs: 5\n'


def _spec(memory: str = '    margin: 0.02\n    tolerance_bytes: 262144\n    max_exponent: 0.6\n',
          units: str = '', head: str = 'schema: 1\nname: toy-streaming\n') -> Spec:
    budgets = 'budgets:\n' + TIME + units + '  memory:\n' + memory
    return parse_spec(toy_spec_yaml(budgets=budgets, head=head), 'toy.yaml')


def _keys(base: Spec, head: Spec, accepted: bool = True) -> list[str]:
    return [item.key for item in loosening.spec(base, head, accepted)]


def test_the_projects_move_from_proportional_to_absolute_is_a_tightening() -> None:
    old = _spec('    margin: 0.02\n    tolerance: 0.01\n')      # 1 %, and 1 MiB by default
    assert _keys(old, _spec()) == []
    assert _keys(_spec(), old) == ['budgets.memory.tolerance', 'budgets.memory.tolerance_bytes',
                                   'budgets.memory.max_exponent']


@pytest.mark.parametrize(('memory', 'key'), [
    ('    margin: 0.02\n    tolerance_bytes: 524288\n    max_exponent: 0.6\n', 'budgets.memory.tolerance_bytes'),
    ('    margin: 0.02\n    tolerance_bytes: 262144\n    max_exponent: 0.7\n', 'budgets.memory.max_exponent'),
    ('    margin: 0.02\n    tolerance_bytes: 262144\n', 'budgets.memory.max_exponent'),
])
def test_a_looser_memory_budget_is_named(memory: str, key: str) -> None:
    assert _keys(_spec(), _spec(memory)) == [key]
    assert _keys(_spec(memory), _spec()) == []


def test_time_units_may_be_written_only_while_the_ledger_is_empty() -> None:
    unit = _spec(units='    units: [[0, 2]]\n')
    none = _spec()
    # TIME ends with max_pairs; the unit line belongs to budgets.time.
    assert unit.budgets.time.units == ((0, 2),)
    assert _keys(none, unit, accepted=False) == []
    assert _keys(none, unit, accepted=True) == ['budgets.time.units']
    assert _keys(unit, none, accepted=True) == ['budgets.time.units']


def test_a_main_branch_change_is_named() -> None:
    trunk = _spec(head='schema: 1\nname: toy-streaming\nmain_branch: trunk\n')
    assert _keys(_spec(), trunk) == ['main_branch']
