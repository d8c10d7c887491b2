"""The time budget's metric keys, defined here and nowhere else: what the time gate measures and
reports, what accept records in a ledger row, what the report draws.

- ``'total'``: the whole prove, end to end;
- ``'3'``: one stage, by its id;
- ``'unit:0+8'``: a unit of ``budgets.time.units`` (its stages' times summed, judged as one), as
  a time verdict names it (``ratio_units``); a ledger row, and the report's unit panels, key the
  same unit ``'0+8'`` (``unit_key``; ``key_of`` turns the one into the other).

Imports nothing of the engine.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

TOTAL = 'total'
UNIT = 'unit:'       # prefix of a unit's metric: 'unit:0+8'
_JOIN = '+'
_UNIT_KEY = re.compile(r'[0-9]+(\+[0-9]+)+')


def unit_key(unit: Sequence[int]) -> str:
    """A unit's key in ledger rows and unit figures: '0+8'."""
    return _JOIN.join(str(s) for s in unit)


def unit_metric(unit: Sequence[int]) -> str:
    """A unit's metric in a time verdict: 'unit:0+8'."""
    return UNIT + unit_key(unit)


def is_unit(metric: str) -> bool:
    return metric.startswith(UNIT)


def key_of(metric: str) -> str:
    """The ledger's key of a time verdict's unit metric: 'unit:0+8' -> '0+8'."""
    return metric[len(UNIT):] if is_unit(metric) else metric


def unit_stages(metric: str) -> list[int]:
    """The stage ids of a unit, from its metric or its key: 'unit:0+8' or '0+8' -> [0, 8]."""
    return [int(s) for s in key_of(metric).split(_JOIN)]


def stage_of(metric: str) -> int | None:
    """The stage a one-stage metric names; None for the total and for a unit."""
    return None if metric == TOTAL or is_unit(metric) else int(metric)


def valid_unit_key(key: str) -> bool:
    """A ledger row's unit key: two or more distinct stage ids, each written as ``int`` writes
    it ('0+8'; not '0+08', '0+0' nor '8')."""
    if not _UNIT_KEY.fullmatch(key):
        return False
    ids = key.split(_JOIN)
    return len({int(i) for i in ids}) == len(ids) and all(i == str(int(i)) for i in ids)
