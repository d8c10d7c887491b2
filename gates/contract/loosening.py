"""Which edits of the spec and the golden digests loosen a gate (for the integrity gate).

A ratchet only turns one way: every key is compared base -> head with the direction in which it
is stricter; a change the other way is a loosening. Where no direction exists (the subject's
entry points, the baseline ref, a workload's params, a golden digest) any change counts, since
it changes what the gates measure. Pure additions that only add checks (a new workload in a tier,
a new protected path, a new golden digest) pass.

Every key of the schema (gates/contract/spec.py) is judged here or named as free text: ``name`` and a
stage's ``brief`` only inform; ``baseline.version`` moves only through ``gates rebaseline``,
which the integrity gate checks on its own (a change without its record fails there).
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from gates.contract import noise as noise_mod
from gates.contract.spec import MemoryBudget
from gates.contract.spec import Spec
from gates.contract.spec import matches

NOTHING = 'nothing can loosen a gate: not with subject code, not on its own'


@dataclasses.dataclass(frozen=True)
class Loosening:
    key: str            # dotted spec key ('budgets.time.ratio_lt') or 'golden:<workload>'
    old: str
    new: str
    why: str            # why this direction is looser


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f'{value:g}'
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(str(v) for v in value) + ']'
    if isinstance(value, Mapping):
        return json.dumps(dict(value), sort_keys=True)
    return str(value)


def _number(out: list[Loosening], key: str, old: float, new: float, looser_if_higher: bool, why: str) -> None:
    if (new > old) if looser_if_higher else (new < old):
        out.append(Loosening(key, _show(old), _show(new), why))


def _removed(out: list[Loosening], key: str, old: Iterable[str], new: Iterable[str], why: str) -> None:
    gone = [x for x in old if x not in set(new)]
    if gone:
        out.append(Loosening(key, _show(list(old)), _show(list(new)), f'{why} (removed: {", ".join(gone)})'))


def _added(out: list[Loosening], key: str, old: Iterable[str], new: Iterable[str], why: str) -> None:
    more = [x for x in new if x not in set(old)]
    if more:
        out.append(Loosening(key, _show(list(old)), _show(list(new)), f'{why} (added: {", ".join(more)})'))


def _changed(out: list[Loosening], key: str, old: Any, new: Any, why: str) -> None:
    if old != new:
        out.append(Loosening(key, _show(old), _show(new), why))


def budgets(base: Spec, head: Spec, stages_accepted: bool = True) -> list[Loosening]:
    out: list[Loosening] = []
    bt, ht = base.budgets.time, head.budgets.time
    bm, hm = base.budgets.memory, head.budgets.memory
    _number(out, 'budgets.time.ratio_lt', bt.ratio_lt, ht.ratio_lt, True,
            'a higher ratio lets a slower candidate pass')
    _number(out, 'budgets.time.min_pairs', bt.min_pairs, ht.min_pairs, False,
            'fewer pairs decide on less evidence')
    _number(out, 'budgets.time.max_pairs', bt.max_pairs, ht.max_pairs, False,
            'fewer pairs leave more runs inconclusive, decided by the median alone')
    _number(out, 'budgets.memory.margin', bm.margin, hm.margin, False,
            'a smaller margin accepts a smaller drop of the converted stage\'s peak')
    _number(out, 'budgets.memory.tolerance', bm.tolerance, hm.tolerance, True,
            'a larger tolerance lets the other stages\' peaks grow more')
    _number(out, 'budgets.memory.tolerance_bytes', bm.tolerance_bytes, hm.tolerance_bytes, True,
            'a larger absolute tolerance lets every peak grow more')
    if bm.max_exponent is not None and (hm.max_exponent is None or hm.max_exponent > bm.max_exponent):
        out.append(Loosening('budgets.memory.max_exponent', _show(bm.max_exponent),
                             _show(hm.max_exponent) if hm.max_exponent is not None else 'removed',
                             'a converted stage\'s peak may then grow faster with T'))
    _changed(out, 'budgets.memory.measure', bm.measure, hm.measure,
             'another measure compares figures unlike the ledger\'s')
    if stages_accepted:
        # Written before the first stage is accepted (issue 7): grouping stages relaxes each
        # one's own rule, splitting a unit tightens it; once any row exists, any change counts.
        _changed(out, 'budgets.time.units', bt.units, ht.units,
                 'the time rule for grouped stages is fixed once a stage has been accepted')
    return out


def coverage(base: Spec, head: Spec) -> list[Loosening]:
    """Workloads, tiers, protected paths, scope and assets."""
    out: list[Loosening] = []
    head_workloads = {w.id: w for w in head.workloads}
    for w in base.workloads:
        new = head_workloads.get(w.id)
        if new is None:
            out.append(Loosening(f'workloads.{w.id}', _show(w.params), 'removed',
                                 'a removed workload is no longer measured'))
        else:
            _changed(out, f'workloads.{w.id}.params', w.params, new.params,
                     'changed params measure something else than the ledger and golden digests recorded')
    for tier, ids in base.tiers.items():
        if tier not in head.tiers:
            out.append(Loosening(f'tiers.{tier}', _show(ids), 'removed', 'a removed tier runs nothing'))
        else:
            _removed(out, f'tiers.{tier}', ids, head.tiers[tier], 'a shrunk tier measures fewer workloads')
            _removed(out, f'tier_gates.{tier}', base.tier_gate_names(tier), head.tier_gate_names(tier),
                     'a tier that runs fewer gates checks less')
    _removed(out, 'protected.paths', base.protected_paths, head.protected_paths,
             'an unprotected path may then be edited')
    _removed(out, 'protected.forbid_in_converted', base.forbid_in_converted, head.forbid_in_converted,
             'converted stages may then use the materialized view')
    out += protection(base, head)
    _added(out, 'shared_paths', base.shared_paths, head.shared_paths,
           'every stage may then touch more paths')
    _removed(out, 'assets', base.assets, head.assets,
             'a path that stops being a gate asset may then be edited with subject code')
    _removed(out, 'ci_entry_points', base.ci_entry_points, head.ci_entry_points,
             'a CI script that stops being an entry point may then run fewer gates')
    head_stages = {s.id: s for s in head.stages}
    for s in base.stages:
        new_stage = head_stages.get(s.id)
        if new_stage is None:
            out.append(Loosening(f'stages[{s.id}]', s.name, 'removed', 'a removed stage is never judged'))
            continue
        _changed(out, f'stages[{s.id}].name', s.name, new_stage.name,
                 'the ledger records stages by id and name')
        _added(out, f'stages[{s.id}].paths', s.paths, new_stage.paths,
               'the stage may then touch more paths')
    if head.mode == 'optimisation' and head.target is None:
        # Optimising the whole run puts every stage's paths in scope: a new stage widens it.
        known = {s.id for s in base.stages}
        for s in head.stages:
            if s.id not in known and s.paths:
                out.append(Loosening(f'stages[{s.id}]', 'absent', _show(list(s.paths)),
                                     'an optimisation of the whole run may touch every stage\'s paths'))
    return out


def _covers(entry: str, symbol: str) -> bool:
    """Whether the protected-symbol ``entry`` protects ``symbol`` too: the same file with the
    whole file (``path::``), the same qualname, or an enclosing one (a class covers its methods)."""
    path, _, qual = symbol.partition('::')
    e_path, _, e_qual = entry.partition('::')
    return path == e_path and (not e_qual or qual == e_qual or qual.startswith(e_qual + '.'))


def protection(base: Spec, head: Spec) -> list[Loosening]:
    """``protected.symbols`` and ``protected.verifier``. A symbol the head still protects some
    other way (its whole file, an enclosing class, a protected path) is not a loosening."""
    out: list[Loosening] = []
    gone = [
        s for s in base.protected_symbols
        if not any(_covers(h, s) for h in head.protected_symbols)
        and not matches(s.partition('::')[0], head.protected_paths)
    ]
    if gone:
        out.append(Loosening('protected.symbols', _show(list(base.protected_symbols)),
                             _show(list(head.protected_symbols)),
                             f'an unprotected function or class may then be edited (removed: {", ".join(gone)})'))
    _removed(out, 'protected.verifier', base.verifier_paths, head.verifier_paths,
             'what only the removed verifier files reach is then no longer protected')
    return out


def _target(spec: Spec) -> str:
    if spec.target is None:
        return 'run'
    return f'{spec.stage(spec.target).name} (stage {spec.target})'


def mode(base: Spec, head: Spec) -> list[Loosening]:
    """``mode`` and, in optimisation mode, ``target``: no direction is safe to change."""
    out: list[Loosening] = []
    if base.mode != head.mode:
        why = ('an optimisation converts nothing: no stage must drop its memory and the time '
               'budget may fall below 1' if head.mode == 'optimisation' else
               'it changes what the gates run and compare against')
        out.append(Loosening('mode', base.mode, head.mode, why))
    elif head.mode == 'optimisation' and base.target != head.target:
        # stage -> run widens the scope to every stage's paths; run -> stage (or another stage)
        # stops judging the time the base judged. Either way one rule gets looser.
        out.append(Loosening('target', _target(base), _target(head),
                             'the judged time and the scope would move away from what the base judges'))
    return out


def identity(base: Spec, head: Spec) -> list[Loosening]:
    """What the gates measure and compare against: any change is a loosening."""
    why = 'it changes what the gates run or compare against'
    out: list[Loosening] = []
    old_subject, new_subject = dataclasses.asdict(base.subject), dataclasses.asdict(head.subject)
    for field in old_subject:
        old_v, new_v = old_subject[field], new_subject[field]
        if field == 'env':
            old_v, new_v = dict(old_v), dict(new_v)
        _changed(out, f'subject.{field}', old_v, new_v, why)
    _changed(out, 'baseline.ref', base.baseline_ref, head.baseline_ref, 'the oracle must stay the frozen baseline')
    _changed(out, 'variants.baseline', base.baseline_variant, head.baseline_variant, why)
    _changed(out, 'variants.candidate', base.candidate_variant, head.candidate_variant, why)
    _changed(out, 'golden', base.golden, head.golden, 'the golden digests must stay where the base keeps them')
    _changed(out, 'ledger', base.ledger, head.ledger, 'the ratchet must stay where the base keeps it')
    _changed(out, 'schema', base.schema, head.schema, why)
    _changed(out, 'main_branch', base.main_branch, head.main_branch, 'it changes what counts as the change')
    return out


def rooms(base: Spec, head: Spec, accepted: Iterable[int] = ()) -> list[Loosening]:
    """``rooms`` (issue 14.5): closed -> open reopens every accepted stage's paths to later
    changes. While rooms are closed, a glob removed from an accepted stage's paths (``accepted``:
    the base ledger's stages) reopens what that glob covered: narrowing a room is a loosening
    too. Before its acceptance a stage's paths are only its own scope, and narrowing them
    tightens it (judged in ``coverage``)."""
    out: list[Loosening] = []
    if base.rooms == 'closed' and head.rooms != 'closed':
        out.append(Loosening('rooms', base.rooms, head.rooms,
                             'the paths of accepted stages would open to later stages\' changes'))
    head_stages = {s.id: s for s in head.stages}
    for s in base.closed_rooms(accepted):
        new_stage = head_stages.get(s.id)
        if new_stage is not None:
            _removed(out, f'stages[{s.id}].paths', s.paths, new_stage.paths,
                     f'stage {s.id} is accepted and rooms are closed: a later stage may then touch '
                     f'what the removed glob covered')
    return out


def conversion_order(base: Spec, head: Spec, accepted: Iterable[int] = ()) -> list[Loosening]:
    """``conversion_order``: the base ledger's stages (``accepted``, in row order) stay the first
    stages of the head's order, in the order they were accepted. Reordering the stages not yet
    accepted weakens no gate (every stage must still be converted, the next one in order); moving
    an accepted one would have the ledger's rows contradict the order they were judged in, and a
    row's history (which stages ran converted before it) would no longer follow from the spec.
    An optimisation has no order (the loader refuses the key); a checked re-baseline empties the
    ledger, so it may reorder freely (``accepted`` empty)."""
    done = tuple(accepted)
    if not done or base.mode != 'conversion' or head.mode != 'conversion' or base.order == head.order:
        return []
    if head.order[:len(done)] == done:
        return []
    return [Loosening('conversion_order', _show(list(base.order)), _show(list(head.order)),
                      f'the ledger accepted {_show(list(done))} in that order: accepted stages stay the '
                      f'first of the order, as accepted; only the stages not yet accepted may be reordered')]


def spec(base: Spec, head: Spec, stages_accepted: bool = True, accepted: Iterable[int] = ()) -> list[Loosening]:
    """``stages_accepted``: whether the base's ledger holds any row (rules such as
    ``budgets.time.units`` may be written only before the first acceptance); ``accepted``: the
    stages it holds rows for, in row order (their rooms, when closed, may not shrink; they stay
    the first stages of ``conversion_order``)."""
    accepted = tuple(accepted)
    return (budgets(base, head, stages_accepted) + coverage(base, head) + rooms(base, head, accepted)
            + conversion_order(base, head, accepted) + mode(base, head) + identity(base, head))


def golden(base_text: str | None, head_text: str | None, memory: MemoryBudget | None = None) -> list[Loosening]:
    """Golden digests: every base digest must stay byte-for-byte; new workloads may be added.
    With ``memory`` (the base spec's budget), the recorded memory noise too (``memory_noise``)."""
    if base_text is None:
        return []
    if head_text is None:
        return [Loosening('golden.file', 'present', 'deleted', 'without golden digests the proof gate has no oracle')]
    try:
        old, new = json.loads(base_text), json.loads(head_text)
    except json.JSONDecodeError as e:
        return [Loosening('golden.file', 'valid JSON', f'invalid JSON ({e.msg}, line {e.lineno})',
                          'the proof gate cannot read its oracle')]
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [Loosening('golden.file', 'an object', 'not an object', 'the proof gate cannot read its oracle')]
    out: list[Loosening] = []
    _changed(out, 'golden.baseline_commit', old.get('baseline_commit'), new.get('baseline_commit'),
             'the digests must come from the frozen baseline')
    old_w, new_w = old.get('workloads') or {}, new.get('workloads') or {}
    for wid, digest in sorted(old_w.items()) if isinstance(old_w, dict) else []:
        now = new_w.get(wid) if isinstance(new_w, dict) else None
        if now is None:
            out.append(Loosening(f'golden.workloads.{wid}', _show(digest), 'removed',
                                 'a workload without a golden digest is not checked'))
        else:
            _changed(out, f'golden.workloads.{wid}', digest, now,
                     'a golden digest is the baseline\'s proof; changing it accepts a different proof')
    if memory is not None:
        out += noise(old, new, memory)
    return out


def noise(old_doc: Any, new_doc: Any, memory: MemoryBudget) -> list[Loosening]:
    """The recorded memory noise (gates/contract/noise.py) is the memory gate's bound per figure:
    a larger spread, a dropped figure (its bound falls back to ``tolerance_bytes``) or a new one
    whose bound exceeds ``tolerance_bytes`` lets that figure grow more."""
    old = noise_mod.parse(old_doc, memory.measure)
    new = noise_mod.parse(new_doc, memory.measure)
    if old is None and new is None:
        return []
    out: list[Loosening] = []
    fallback = memory.tolerance_bytes
    keys = sorted({(w, f) for rec in (old, new) if rec is not None for w, figs in rec.spread.items() for f in figs})
    for wid, fig in keys:
        key = f'golden.memory_noise.{wid}.{fig}'
        was = old.recorded(wid, fig) if old is not None else None
        now = new.recorded(wid, fig) if new is not None else None
        if was is not None and now is None:
            out.append(Loosening(key, f'{was} B', 'removed',
                                 f'without it the figure is bound by tolerance_bytes ({fallback:,} B)'))
        elif was is not None and now is not None and now > was:
            out.append(Loosening(key, f'{was} B', f'{now} B', 'a larger recorded noise lets that figure grow more'))
        elif was is None and new is not None and now is not None and new.bound(wid, fig, fallback) > fallback:
            out.append(Loosening(key, f'none (tolerance_bytes {fallback:,} B)', f'{now} B',
                                 'its bound would exceed tolerance_bytes'))
    return out
