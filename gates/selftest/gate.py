"""The integrity gate's engine rule: a change to the engine or its assets is judged by the corpus.

When the change touches ``ENGINE_PATHS`` and the tree under judgement holds an engine
(``gates/__main__.py``), the running engine (in CI: the BASE revision's, installed by the
workflow) runs the HEAD tree's engine over the running engine's own corpus. Every case whose
verdict differs from the corpus's is a finding naming the case: an engine edit that stops a gate
from failing what it must fail (the time gate's ``gates/measuring/time_rule.py`` returning ratio
1.0 passes the 3x slowdown) cannot become the base that judges later changes. Only tiers that measure (ci, full) pay for it:
about two minutes for the whole corpus.
"""
from __future__ import annotations

from collections.abc import Sequence

from gates.context import CheckContext
from gates.model import Finding
from gates.model import GateError
from gates.contract.spec import matches

GATE = 'integrity'
# What the engine's behaviour is made of (and how CI runs it): the brief of issue 8.3.
ENGINE_PATHS = ('gates/**', 'rules/**', 'specs/*.yaml', '.ci/**', '.github/**')


def engine_paths_touched(ctx: CheckContext) -> list[str]:
    return sorted({p for change in ctx.changed for p in change.paths() if matches(p, ENGINE_PATHS)})


def findings(ctx: CheckContext, names: Sequence[str] = ()) -> list[Finding]:
    if 'memory' not in ctx.spec.tier_gate_names(ctx.tier):
        return []
    touched = engine_paths_touched(ctx)
    if not touched or not (ctx.head_tree / 'gates' / '__main__.py').is_file():
        return []
    from gates.selftest.runner import run_corpus   # only an engine change pays for the corpus
    ctx.progress(f'integrity: the change touches the engine ({touched[0]}'
                 f'{f" and {len(touched) - 1} more" if len(touched) > 1 else ""}): its engine runs '
                 f'the self-test corpus')
    try:
        outcomes = run_corpus(ctx.head_tree, names, ctx.progress)
    except GateError as e:
        # The head's engine does not even start: that is this change's failure, not bad input.
        return [Finding(GATE, f'the engine of this change cannot run the self-test corpus: {e}', touched[0])]
    out = []
    for outcome in outcomes:
        for problem in outcome.mismatches:
            out.append(Finding(
                GATE,
                f'self-test case {outcome.case.name} ({outcome.case.what}): the engine of this change '
                f'judges it differently: {problem}. An engine change may not change a corpus verdict; '
                f'reproduce with `gates selftest --engine . --case {outcome.case.name}`',
                touched[0],
            ))
    return out
