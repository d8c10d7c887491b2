"""The scope gate: a change touches only the stage under conversion's paths and the shared paths.

Judged with the base revision's spec when it has one (the head cannot widen its own scope).
Stages whose ledger rows the change itself adds were converted within the change, so their
paths are in scope too (``gates accept`` commits between stages; a branch carries several).
Protected paths are never in scope, even when a glob of the stage would cover them. A gate asset
(``assets``) outside the allowed paths is left to the integrity gate, so one edit is not
reported twice; an asset glob never takes a stage's or a protected path out of scope.

Rooms (issue 14.5, the spec's ``rooms: closed``): the paths of every stage the base's ledger has
accepted are closed to the change, even where the stage under conversion's own globs cover them
(stages that share a backend folder). A stage accepted within the change itself is not closed to
it, and the shared paths stay open. The default ``open`` keeps a stage's paths its scope only,
and an optimisation's rooms are always open (``Spec.closed_rooms``).
"""
from __future__ import annotations

from gates.vcs import trees
from gates.context import CheckContext
from gates.model import Finding
from gates.model import Verdict
from gates.contract.spec import Spec
from gates.contract.spec import Stage
from gates.contract.spec import matches

GATE = 'scope'


def _stage_globs(spec: Spec, ids: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(g for s in spec.stages if s.id in ids for g in s.paths))


def allowed_globs(ctx: CheckContext, spec: Spec) -> tuple[tuple[str, ...], str]:
    """(globs the change may touch, who allows them) under ``spec``."""
    ids = trees.newly_accepted(ctx, spec)
    current = ctx.stage_under_conversion
    if spec.mode == 'optimisation':
        # Issue 8.5: ledger rows are numbered optimisations, not stages; the target stage's
        # paths are in scope (current), or every stage's when the target is the whole run.
        ids = () if current is not None else tuple(s.id for s in spec.stages)
    if current is not None:
        ids += (current.id,)
    who = 'the shared paths'
    if current is not None:
        who = f'stage {current.id} ({current.name}) and the shared paths'
    if len(ids) > (1 if current is not None else 0):
        who += f' (plus stages {", ".join(str(i) for i in ids if current is None or i != current.id)}, accepted in this change)'
    return _stage_globs(spec, ids) + spec.shared_paths, who


def closed_rooms(ctx: CheckContext, spec: Spec) -> tuple[Stage, ...]:
    """The stages accepted before the change (the base's ledger) whose rooms are closed to it."""
    return spec.closed_rooms(trees.base_ledger(ctx, spec).accepted_stages())


def _closed_room(path: str, rooms: tuple[Stage, ...]) -> tuple[Stage, str] | None:
    for stage in rooms:
        for glob in stage.paths:
            if matches(path, (glob,)):
                return stage, glob
    return None


def run(ctx: CheckContext) -> Verdict:
    base = trees.base_spec(ctx)
    spec = base if base is not None else ctx.spec
    protected = tuple(dict.fromkeys(spec.protected_paths + ctx.spec.protected_paths))
    assets = spec.assets
    allowed, who = allowed_globs(ctx, spec)
    rooms = closed_rooms(ctx, spec)
    findings = []
    checked = 0
    for change in ctx.changed:
        for path in change.paths():
            verb = {'A': 'added', 'M': 'modified', 'D': 'deleted', 'R': 'renamed'}[change.status]
            if matches(path, protected):
                checked += 1
                findings.append(Finding(
                    GATE,
                    f'{verb} a protected path ({", ".join(g for g in protected if matches(path, (g,)))}); '
                    f'no stage may touch protected code: revert this file',
                    path,
                ))
            elif not matches(path, spec.shared_paths) and (room := _closed_room(path, rooms)) is not None:
                checked += 1
                stage, glob = room
                findings.append(Finding(
                    GATE,
                    f'{verb} a path in the room of accepted stage {stage.id} ({stage.name}): {glob} '
                    f'(rooms: closed). An accepted stage\'s room is closed: use its public names from '
                    f'your own stage\'s files, or put what you need in a file under your own stage\'s '
                    f'paths; revert this file (a room reopens only when a re-baseline resets the ledger)',
                    path, stage=stage.id,
                ))
            elif matches(path, allowed):
                checked += 1
            elif not matches(path, assets):
                checked += 1
                findings.append(Finding(
                    GATE,
                    f'{verb} outside the scope of this change: only {who} may be touched '
                    f'({", ".join(allowed) or "nothing"}); move the edit into a later stage\'s '
                    f'change or revert it',
                    path,
                ))
    details = {
        'spec': 'base' if base is not None else 'head',
        'allowed': list(allowed),
        'closed_rooms': {str(s.id): list(s.paths) for s in rooms},
        'protected': list(protected),
        'paths_checked': checked,
    }
    return Verdict.from_findings(GATE, findings, details)
