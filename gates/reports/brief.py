"""The agent brief: instructions a coding agent can follow to the letter (``gates next --format
agent`` prints it).

The same text is the ``brief`` section of every ``gates loop`` feedback file, so an agent reads
one set of rules whether a person or the loop drives it. Everything in it comes from the spec and
the ledger; nothing is about a particular subject. In optimisation mode (gates/contract/focus.py)
there is no stage to convert: the brief names the target and the ledger row the next accept
records.
"""
from __future__ import annotations

from collections.abc import Sequence

from gates.contract.focus import Focus
from gates.contract.focus import focus
from gates.contract.focus import order_note
from gates.contract.ledger import Ledger
from gates.contract.ledger import reference_peaks
from gates.contract.spec import Spec
from gates.contract.spec import Stage
from gates.reports.report import human_bytes


def _bullets(items: Sequence[str]) -> list[str]:
    return [f'- `{i}`' for i in items] or ['- (none)']


def commit_rules(spec: Spec, now: Focus) -> list[str]:
    if now.optimising:
        first = (f'1. One optimisation per commit series: every commit of this series optimises '
                 f'{now.target} and touches only the allowed paths and the shared paths.')
    else:
        first = (f'1. One stage per commit series: every commit of this series converts {now.target} '
                 'and touches only its allowed paths and the shared paths.')
    return [
        first,
        '2. Never commit a gate asset (' + ', '.join(f'`{a}`' for a in spec.assets)
        + ') together with subject code: the integrity gate fails such a change. Budgets, rules, '
        'golden digests and the ledger are not yours to edit.',
        '3. Protected code (' + ', '.join(f'`{p}`' for p in spec.protected_paths)
        + ') only in a commit of its own whose message gives the reason; the api gate still '
        'judges it against the baseline, so expect it to fail unless the spec allows the change.',
        '4. Commit messages say why. Do not amend or rewrite commits that are already there.',
    ]


def closed_rooms(spec: Spec, ledger: Ledger) -> list[str]:
    """The accepted stages' rooms under ``rooms: closed`` (issue 14.5), as a brief section."""
    rooms = spec.closed_rooms(ledger.accepted_stages())
    if not rooms:
        return []
    return [
        '## Closed rooms (accepted stages\' paths: never edit, even where your allowed paths cover them)', '',
        *[f'- `{g}` (stage {s.id}, {s.name})' for s in rooms for g in s.paths], '',
        'The spec closes them (`rooms: closed`): the scope gate fails a change to any of these paths '
        'that is not a shared path. Use the accepted stages\' public names from your own stage\'s '
        'files, or put what you need in a file under your allowed paths.', '',
    ]


def converted_means(spec: Spec, ledger: Ledger, stage: Stage, tier: str) -> list[str]:
    mem, time = spec.budgets.memory, spec.budgets.time
    lines = [
        f'Stage {stage.id} counts as converted when, on every workload of the tier '
        f'(`{tier}`: {", ".join(spec.tiers.get(tier, ()))}), all of these hold:',
        '- proof: the proof bytes are identical to the frozen golden digest of the workload '
        f'(`{spec.golden}`), and the verifier accepts them;',
        f'- memory: stage {stage.id} runs the `{spec.candidate_variant}` backend and its in-stage '
        f'peak heap is below {1 - mem.margin:.0%} of the reference (the ledger\'s newest figures, '
        f'or the baseline measured now); every other stage stays within the memory tolerance '
        f'({mem.tolerance:.0%}) of its reference;',
        f'- time: prove time is under {time.ratio_lt:g}x the baseline, end to end and for every '
        f'stage (median of {time.min_pairs}-{time.max_pairs} interleaved pairs);',
        '- api, scope, integrity: nothing protected changed, nothing outside the allowed paths '
        'changed, no gate asset changed.',
    ]
    refs = []
    for wid in spec.tiers.get(tier, ()):
        peaks = reference_peaks(ledger, wid)
        if peaks and stage.id in peaks:
            target = peaks[stage.id] * (1 - mem.margin)
            refs.append(f'  - {wid}: reference {human_bytes(peaks[stage.id])}, '
                        f'so below {human_bytes(target)}')
    if refs:
        lines += [f'Reference in-stage peaks of stage {stage.id} from the ledger:', *refs]
    else:
        lines.append('The ledger has no figures yet: the reference is the baseline, measured in '
                     'the same run as your candidate.')
    return lines


def optimised_means(spec: Spec, now: Focus, tier: str) -> list[str]:
    mem, time = spec.budgets.memory, spec.budgets.time
    judged = 'end to end' if now.stage is None else f'in stage {now.stage.id} ({now.stage.name})'
    return [
        f'The optimisation counts when, on every workload of the tier (`{tier}`: '
        f'{", ".join(spec.tiers.get(tier, ()))}), all of these hold:',
        '- proof: the proof bytes are identical to the frozen golden digest of the workload '
        f'(`{spec.golden}`), and the verifier accepts them;',
        f'- time: the prove time {judged} is under {time.ratio_lt:g}x the baseline\'s (the same '
        f'entry point run from the oracle tree; {time.min_pairs}-{time.max_pairs} interleaved '
        'pairs); every other time is reported, not judged;',
        f'- memory ({mem.measure}): no stage and not the whole run above its reference '
        f'(+{human_bytes(mem.tolerance_bytes)}); nothing has to drop;',
        '- api, scope, integrity: nothing protected changed, nothing outside the allowed paths '
        'changed, no gate asset changed.',
        f'`gates accept` then records ledger row {now.next_row} ({now.row_name}).',
    ]


def anti_reward_hacking(spec: Spec) -> list[str]:
    return [
        'The gates judge the tree, not your report of it. They catch:',
        '- edits, deletions and renames of protected code (AST diff against the baseline, '
        'semgrep rules such as monkeypatching protected names or importing prover code into the '
        'verifier);',
        '- paths outside the stage\'s allowed and shared paths'
        + (', and paths in an accepted stage\'s closed room' if spec.rooms == 'closed' else '') + ' (scope);',
        *([] if spec.mode == 'optimisation' else [
            '- a converted stage still using '
            + (', '.join(f'`{n}`' for n in spec.forbid_in_converted) or 'the baseline backend') + ';']),
        '- any edit to a gate asset together with subject code, and any loosening of a budget or '
        'a tier (integrity): loosening is refused, never negotiated;',
        '- proofs that differ by one byte from the frozen golden digests, which only '
        '`gates freeze --force` (a re-baseline, not yours to run) could change;',
        '- figures the subject reports itself: the engine\'s own probe times and measures every '
        'stage in fresh processes, so printing or caching numbers changes nothing.',
        'Do not special-case workloads, sizes or the test harness, do not skip work when measured, '
        'and do not edit tests to make them pass. If a target cannot be met, say so with the '
        'measurement instead of bending the check.',
    ]


def commands(spec: Spec, tier: str) -> list[str]:
    lines = [f'- `gates check --tier {tier} --json`: the verdicts as JSON (exit 0 pass, 1 a gate '
             'failed, 2 unusable input);']
    for name, workloads in spec.tiers.items():
        lines.append(f'- `gates check --tier {name}`: {", ".join(spec.tier_gate_names(name))} '
                     f'on {", ".join(workloads)};')
    lines += [
        '- `gates next --format agent`: these instructions again.',
        'Do not run `gates accept`, `gates freeze` or `gates install-hook`: a person or the loop '
        'decides when to accept.',
    ]
    return lines


def agent_brief(spec: Spec, ledger: Ledger, tier: str = 'ci') -> str:
    """The whole instructions text (markdown)."""
    now = focus(spec, ledger)
    if now.done:
        return (f'# {spec.name}: nothing to convert\n\nAll {len(spec.stages)} stages are '
                'accepted; there is no stage under conversion.\n')
    stage = now.stage
    if now.optimising:
        rows = len(ledger.rows)
        head = [
            f'# {spec.name}: optimise {now.target}', '',
            f'Mode: optimisation. Nothing converts and there is no stage under conversion: the '
            f'candidate runs the same entry point as the baseline and must give the same proof '
            f'bytes, faster. {rows} optimisation{"" if rows == 1 else "s"} accepted so far; the next '
            f'`gates accept` records ledger row {now.next_row} ({now.row_name}).', '',
        ]
        brief = stage.brief.strip() if stage is not None and stage.brief.strip() else (
            'Make the whole run faster.' if stage is None else '(the spec gives no brief)')
        means = ['## What "optimised" means, in figures', '', *optimised_means(spec, now, tier)]
    else:
        if stage is None:          # not done: a conversion always has a stage here
            return ''
        note = order_note(spec)
        head = [
            f'# {spec.name}: convert stage {stage.id} ({stage.name})', '',
            f'{len(ledger.rows)} of {len(spec.stages)} stages accepted; stage {stage.id} is under '
            f'conversion{f" ({note})" if note else ""}.', '',
        ]
        brief = stage.brief.strip() or '(the spec gives no brief)'
        means = ['## What "converted" means, in figures', '', *converted_means(spec, ledger, stage, tier)]
    lines = [
        *head,
        '## Brief', '', brief, '',
        '## Allowed paths (you may edit these)', '', *_bullets(now.paths(spec)),
        '', 'and the shared paths:', '', *_bullets(spec.shared_paths), '',
        *closed_rooms(spec, ledger),
        '## Protected paths (never edit)', '', *_bullets(spec.protected_paths + spec.protected_symbols), '',
        '## Gate assets (never edit together with subject code)', '', *_bullets(spec.assets), '',
        '## Commands', '', *commands(spec, tier), '',
        '## Commit rules', '', *commit_rules(spec, now), '',
        *means, '',
        '## What the gates catch', '', *anti_reward_hacking(spec), '',
    ]
    return '\n'.join(lines)
