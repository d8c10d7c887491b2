"""The subject's measured memory noise (issue 13.6): how far the same baseline, measured again in a
fresh process, moves each memory figure. ``gates freeze --noise-runs N`` measures the baseline N
times at the ci workloads and records the per-figure spread (max - min) in the golden file under
``memory_noise``::

    "memory_noise": {"measure": "heap", "runs": 5,
                     "workloads": {"lp-12": {"stage 0": 0, "retained 0": 0, ..., "whole": 16}}}

Figure keys: ``stage K`` (in-stage peak), ``retained K`` (bytes a stage keeps alive at its exit:
heap, and rss-sync's RSS at exit minus at enter), ``whole`` (the whole-run peak). A record holds
one measure's figures (``measure``); another measure's record is none. The memory gate's absolute bound for a figure is then
``max(floor, FACTOR x spread)`` instead of ``budgets.memory.tolerance_bytes``; a figure (or a
workload) with no recorded spread keeps ``tolerance_bytes``, so a golden file without the record
judges as before (the floor: ``floor``). Raising a recorded spread, or dropping one, is a loosening
(gates/contract/loosening.py).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

KEY = 'memory_noise'
# Twice the spread seen in N runs: N runs see less than the whole range of the noise.
FACTOR = 2
# The smallest bound, per measure: memray's counts with malloc move by a few bytes to a few KB
# between trees (paths of different lengths); RSS moves by whole pages. rss-sync's RSS read at the
# boundaries (what a stage keeps) repeats to a page or two.
FLOOR = {'heap': 16 << 10, 'rss': 64 << 10, 'rss-sync': 64 << 10}
# rss-sync's peaks (``stage K``, ``whole``) are the kernel's VmHWM, which it records when memory is
# unmapped from a count kept in per-CPU batches of 32 pages per counter: below the true peak by
# 1-52 pages on this machine (one CPU; docs/gates.md), by an amount that repeats for the same code
# and moves with any change of its allocations. So a peak's bound is at least 64 pages.
PEAK_FLOOR = {'rss-sync': 256 << 10}


def floor(measure: str, figure: str) -> int:
    """The smallest bound of ``figure`` (a key below) under ``measure``."""
    if not figure.startswith('retained ') and measure in PEAK_FLOOR:
        return PEAK_FLOOR[measure]
    return FLOOR.get(measure, FLOOR['rss'])


def stage_key(stage: int) -> str:
    return f'stage {stage}'


def retained_key(stage: int) -> str:
    return f'retained {stage}'


WHOLE = 'whole'


@dataclasses.dataclass(frozen=True)
class Noise:
    measure: str
    runs: int
    spread: Mapping[str, Mapping[str, int]]   # workload id -> figure key -> bytes (max - min)

    def recorded(self, workload: str, figure: str) -> int | None:
        return self.spread.get(workload, {}).get(figure)

    def bound(self, workload: str, figure: str, fallback: int) -> int:
        """The absolute bound for one figure: ``max(floor, FACTOR x spread)``, or ``fallback``
        (the spec's ``tolerance_bytes``) when the spread of that figure was not recorded."""
        spread = self.recorded(workload, figure)
        if spread is None:
            return fallback
        return max(floor(self.measure, figure), FACTOR * spread)

    def to_json(self) -> dict[str, Any]:
        return {
            'measure': self.measure, 'runs': self.runs,
            'workloads': {w: dict(sorted(f.items())) for w, f in sorted(self.spread.items())},
        }


def figures(stage_peaks: Mapping[int, int], whole: int | None, retained: Mapping[int, int]) -> dict[str, int]:
    """One run's figures under their noise keys."""
    out = {stage_key(k): int(v) for k, v in stage_peaks.items()}
    out.update({retained_key(k): int(v) for k, v in retained.items()})
    if whole is not None:
        out[WHOLE] = int(whole)
    return out


def measured(measure: str, runs: Mapping[str, Iterable[Mapping[str, int]]]) -> Noise:
    """The spread of each figure over the runs of each workload (``runs``: id -> figures per run)."""
    spread: dict[str, dict[str, int]] = {}
    for workload, each in runs.items():
        listed = list(each)
        keys = set().union(*(r.keys() for r in listed)) if listed else set()
        spread[workload] = {
            k: max(r[k] for r in listed) - min(r[k] for r in listed)
            for k in sorted(keys) if all(k in r for r in listed)
        }
    return Noise(measure, max((len(list(v)) for v in runs.values()), default=0), spread)


def parse(doc: Any, measure: str | None = None) -> Noise | None:
    """The record in a parsed golden file; None when absent, malformed, or recorded for another
    measure than ``measure`` (a heap record says nothing about RSS)."""
    if not isinstance(doc, dict):
        return None
    raw = doc.get(KEY)
    if not isinstance(raw, dict) or not isinstance(raw.get('workloads'), dict):
        return None
    kind = raw.get('measure')
    if not isinstance(kind, str) or (measure is not None and kind != measure):
        return None
    spread: dict[str, dict[str, int]] = {}
    for workload, figs in raw['workloads'].items():
        if not isinstance(figs, dict):
            continue
        spread[str(workload)] = {
            str(k): int(v) for k, v in figs.items()
            if isinstance(v, int) and not isinstance(v, bool) and v >= 0
        }
    runs = raw.get('runs')
    return Noise(kind, runs if isinstance(runs, int) and not isinstance(runs, bool) else 0, spread)


def lower(first: Noise | None, second: Noise | None) -> Noise | None:
    """Per figure, the smaller spread of two records (the base's and the head's): a head that
    raised its record does not widen the bound before the integrity gate says so. A figure
    recorded on one side only keeps that side's spread."""
    if first is None:
        return second
    if second is None or first.measure != second.measure:
        return first
    spread: dict[str, dict[str, int]] = {}
    for workload in {*first.spread, *second.spread}:
        a, b = first.spread.get(workload, {}), second.spread.get(workload, {})
        spread[workload] = {k: min(v for v in (a.get(k), b.get(k)) if v is not None) for k in {*a, *b}}
    return Noise(first.measure, min(first.runs, second.runs), spread)
