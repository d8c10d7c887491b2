"""The api gate: protected code is untouched, and the prover keeps its boundaries.

Two halves, because semgrep neither diffs nor sees deleted files:
1. Protected paths (the base's and the head's ``protected.paths``), from git's change list: a
   deleted, renamed or added protected file fails; a modified one is compared with its base
   version structurally (``gates.analysis.astdiff``), so a comment passes and an edit inside a protected
   function, a changed signature or an added/removed name fails with file and line. The same
   for protected symbols (``protected.symbols``, and everything the ``protected.verifier``
   files reach, ``gates.analysis.reach``), scope by scope, so a neighbour in the same file may change.
2. One semgrep run over the head's changed Python files with every rule of the base's
   ``rules/`` (the base judges the head), plus ``no-materialized-in-converted-stage`` generated
   from its template with the spec's ``protected.forbid_in_converted`` and kept to the converted
   stages' paths (accepted in the ledger, plus the stage under conversion), except inside a
   branch only the baseline variant takes (``if ctx.backend == "materialized":``). The rule
   matches behaviour, not only the spec's names: every function that returns the forbidden
   view (``gates.analysis.ruleset.derived_names``: a new method on the shared witness module, a helper
   in the stage, a wrapper of either) is forbidden too, and an alias (``m = w.materialized``)
   is caught where the attribute is read.

The rules judge what the change does. In a converted path that no stage offered with the
candidate's backend covers (the stage under conversion before its ``capabilities`` offer the
candidate backend), a match the base version of the file already had in the same function is
carried over, not a finding (``gates.analysis.preexisting``, which also says why not ``semgrep
--baseline-commit``): a comment, a renamed local or a reformat of the stage passes. Once the
stage is offered with the candidate's backend, and in every accepted stage, every line is
judged. The base versions are scanned in the same semgrep run (one start-up).
The findings are also written as SARIF (``.stagegate/api.sarif`` under the repo root) for
GitHub code scanning.
"""
from __future__ import annotations

import ast
import dataclasses
import hashlib
import importlib.metadata
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from gates.measuring import measure
from gates.analysis import preexisting
from gates.reports import sarif
from gates.analysis import semgrep_scan
from gates.vcs import cachestore
from gates.vcs import trees
from gates.context import CheckContext
from gates.model import Finding
from gates.model import GateError
from gates.model import Verdict
from gates.measuring.proc import ProbeFailed
from gates.analysis.protected import AST_RULES
from gates.analysis.protected import GATE
from gates.analysis.protected import protected_findings
from gates.analysis.protected import protection_cached
from gates.analysis.reach import module_name
from gates.analysis.protected import python_files
from gates.analysis.protected import symbol_findings
from gates.analysis.ruleset import TEMPLATE_ID
from gates.analysis.ruleset import baseline_branches
from gates.analysis.ruleset import RuleParams
from gates.analysis.ruleset import derived_names
from gates.analysis.ruleset import render_rule
from gates.analysis.ruleset import rule_params
from gates.analysis.ruleset import generated_rule
from gates.analysis.ruleset import load_rules
from gates.analysis.ruleset import rules_dir
from gates.analysis.ruleset import rules_source
from gates.analysis.ruleset import unmatched
from gates.contract.spec import Spec
from gates.contract.spec import matches

SARIF_PATH = Path('.stagegate') / 'api.sarif'


def converted_globs(ctx: CheckContext, base: Spec | None) -> tuple[str, ...]:
    """Paths of the stages accepted in the ledger plus the stage under conversion (the head's
    and the base's globs for those stages: the union is the stricter reading)."""
    ids = set(ctx.accepted_stages())
    if ctx.stage_under_conversion is not None:
        ids.add(ctx.stage_under_conversion.id)
    stages = ctx.spec.stages + (base.stages if base is not None else ())
    return tuple(dict.fromkeys(g for s in stages if s.id in ids for g in s.paths))


def judged_in_full(ctx: CheckContext, base: Spec | None) -> tuple[tuple[str, ...], list[int], str]:
    """(globs, stage ids, note) of the converted paths where every line is judged: the accepted
    stages' and the stage under conversion's once the head's subject offers it with the
    candidate's backend (its ``capabilities``). When the subject cannot say, every line of the
    stage under conversion is judged (the strict reading)."""
    ids = set(ctx.accepted_stages())
    note = ''
    current = ctx.stage_under_conversion
    if current is not None:
        try:
            effective = measure.candidate_variant(ctx)
        except (ProbeFailed, GateError) as e:
            effective = {str(current.id): ctx.spec.candidate_variant}
            note = f'capabilities unknown ({str(e).splitlines()[0]}); every line judged'
        if effective.get(str(current.id)) == ctx.spec.candidate_variant:
            ids.add(current.id)
    stages = ctx.spec.stages + (base.stages if base is not None else ())
    globs = tuple(dict.fromkeys(g for s in stages if s.id in ids for g in s.paths))
    return globs, sorted(ids), note


def wrapper_names(
        ctx: CheckContext, forbid: tuple[str, ...], converted: tuple[str, ...], baseline: str,
) -> dict[str, str]:
    """Functions that return the forbidden view, defined where a converted stage could add or
    reach one within its scope: the head's converted and shared paths, inside the packages the
    stages live in (so tests and benchmarks, shared too, do not lend their helpers' names)."""
    packages = {g.split('/', 1)[0] for s in ctx.spec.stages for g in s.paths if '/' in g}
    globs = converted + ctx.spec.shared_paths
    files = [
        f for f in python_files(ctx.head_tree)
        if f.split('/', 1)[0] in packages and matches(f, globs)
    ]
    return derived_names(ctx.head_tree, files, forbid, baseline)


def _snippet(tree: Path, rel: str, m: semgrep_scan.Match) -> str:
    path = tree / rel
    if m.start_offset < 0 or m.end_offset < m.start_offset or not path.is_file():
        return _source_line(tree, rel, m.line)
    return path.read_bytes()[m.start_offset:m.end_offset].decode('utf-8', errors='replace')


def _hits(tree: Path, rel: str, found: list[semgrep_scan.Match]) -> list[preexisting.Hit]:
    """One hit per (rule, line), with the longest match on that line as its code."""
    best: dict[tuple[str, int], str] = {}
    for m in found:
        text = _snippet(tree, rel, m)
        key = (m.rule_id, m.line)
        if len(text) > len(best.get(key, '')):
            best[key] = text
    return [preexisting.Hit(r, rel, line, text) for (r, line), text in best.items()]


def _source_line(tree: Path, rel: str, line: int) -> str:
    text = trees.read_text(tree, rel)
    lines = [] if text is None else text.splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ''


def semgrep_findings(
        ctx: CheckContext,
        forbid: tuple[str, ...],
        converted: tuple[str, ...],
        baseline: str = 'materialized',
        base: Spec | None = None,
) -> tuple[list[tuple[str, Finding]], dict[str, str], dict[str, Any]]:
    """(findings, rule descriptions, details) of one semgrep run over the changed Python files
    (and the base versions of those in converted paths, to tell carried-over matches apart)."""
    targets = sorted({
        c.path for c in ctx.changed
        if c.status != 'D' and c.path.endswith('.py') and (ctx.head_tree / c.path).is_file()
    })
    rules = rules_dir(ctx)
    params = rule_params_of(ctx, base)
    packages = tuple(params.lists()['{{subject_globs}}'])
    files = python_files(ctx.head_tree)
    descriptions, template, rendered, skipped = _rendered_rules(rules, params, files)
    details: dict[str, Any] = {
        'rules_dir': rules_source(ctx, rules), 'targets': len(targets),
        'rule_params': {k: list(v) for k, v in dataclasses.asdict(params).items()},
        **({'rules_skipped': skipped} if skipped else {}),
    }
    # Every rule judges the subject's packages only: a change to tests or docs starts no semgrep.
    all_targets = targets
    targets = [t for t in targets if matches(t, packages)]
    if not targets:
        details['semgrep'] = "not run: no changed Python file in the subject's packages"
        return _unparsable(ctx, all_targets, set()), descriptions, details
    if template is None:
        # Also the one rule without a path filter: it makes semgrep report every target scanned.
        raise GateError(
            f'{rules}/{TEMPLATE_ID}.yaml is missing; the api gate builds the spec\'s '
            f'forbid_in_converted rule from it. Restore it from the engine.',
        )
    # The base versions of the changed files in converted paths, by the absolute path semgrep
    # reports them under (they are outside the scan's cwd, the head tree).
    wrappers: dict[str, str] = {}
    if any(matches(t, converted) or matches(t, ctx.spec.shared_paths) for t in targets):
        wrappers = wrapper_names(ctx, forbid, converted, baseline)
        details['wrappers_of_forbidden'] = wrappers
    # Only changed files are scanned, except where the generated rule needs cross-file context:
    # a function a changed file now defines as returning the forbidden view reaches every
    # converted file that calls it, changed or not (those are scanned for that rule only).
    callers = _callers_of_new_wrappers(ctx, wrappers, set(targets), files, converted, packages)
    if callers:
        details['scanned_for_new_wrappers'] = callers
    base_targets = {
        str(ctx.base_tree / t): t for t in targets + callers
        if matches(t, converted) and (ctx.base_tree / t).is_file()
    }
    rule = generated_rule(template, tuple(forbid) + tuple(wrappers))
    result = _scan(ctx, rendered + [rule], targets, callers, base_targets, details)
    details.update(semgrep_seconds=round(result.seconds, 2), rules=sorted(descriptions))
    head_matches = [m for m in result.matches if m.path not in base_targets]
    carried = _carried_over(ctx, base, converted, head_matches, result, base_targets, details)
    out = _match_findings(ctx, head_matches, carried, converted, baseline, forbid, wrappers)
    out += _not_checked(ctx, result, base_targets, all_targets, targets)
    return out, descriptions, details


def _rendered_rules(
        rules: Path, params: RuleParams, files: list[str],
) -> tuple[dict[str, str], dict[str, Any] | None, list[dict[str, Any]], list[str]]:
    """Every rule of ``rules`` with the spec's placeholders filled: (descriptions by id, the
    template of the generated rule, the rendered rules, the ids of rules the spec leaves out).
    A rendered rule that can match no file of the tree is an error (its globs went stale)."""
    descriptions: dict[str, str] = {}
    template: dict[str, Any] | None = None
    rendered: list[dict[str, Any]] = []
    skipped: list[str] = []
    for path in sorted(rules.glob('*.yaml')):
        for rule in load_rules(path):
            descriptions[str(rule.get('id'))] = ' '.join(str(rule.get('message', '')).split())
            if rule.get('id') == TEMPLATE_ID:
                template = rule
                continue
            done = render_rule(rule, params)
            if done is None:
                skipped.append(str(rule.get('id')))
                continue
            empty = unmatched(rule, done, files, matches)
            if empty is not None:
                raise GateError(empty)
            rendered.append(done)
    return descriptions, template, rendered, skipped


def _scan(
        ctx: CheckContext, rule_docs: list[dict[str, Any]], targets: list[str], callers: list[str],
        base_targets: dict[str, str], details: dict[str, Any],
) -> semgrep_scan.ScanResult:
    """One semgrep run of ``rule_docs`` (the last one the generated rule) over the targets, the
    callers of new wrappers (for the generated rule only) and the base versions not in the store."""
    rule = rule_docs[-1]
    # The base versions are committed content: their matches of the generated rule are kept in
    # the persistent store by (rule, semgrep version, git blob id) and not scanned again.
    cached, base_keys = _cached_base_matches(ctx, rule, base_targets)
    with tempfile.TemporaryDirectory(prefix='stagegate-rules-') as tmp:
        generated = Path(tmp) / 'rules.yaml'
        generated.write_text(yaml.safe_dump({'rules': rule_docs}), encoding='utf-8')
        configs = [generated]
        result = semgrep_scan.scan(
            ctx.head_tree, configs, targets + callers + sorted(p for p in base_targets if p not in cached),
        )
    if callers:
        extra = set(callers)
        result = dataclasses.replace(
            result,
            matches=tuple(m for m in result.matches if m.path not in extra or m.rule_id == TEMPLATE_ID),
            problems=tuple(p for p in result.problems if p.path not in extra),
        )
    _store_base_matches(ctx, result, base_keys, cached)
    if cached:
        result = dataclasses.replace(
            result, matches=result.matches + tuple(m for ms in cached.values() for m in ms),
        )
        details['base_matches_from_cache'] = sorted(base_targets[p] for p in cached)
    return result


def _carried_over(
        ctx: CheckContext, base: Spec | None, converted: tuple[str, ...],
        head_matches: list[semgrep_scan.Match], result: semgrep_scan.ScanResult, base_targets: dict[str, str],
        details: dict[str, Any],
) -> set[tuple[str, str, int]]:
    """(rule, path, line) of the generated rule's matches the base already had in the same
    function, in converted files of stages not yet offered with the candidate backend."""
    carried: set[tuple[str, str, int]] = set()
    lenient = sorted({
        m.path for m in head_matches
        if m.rule_id == TEMPLATE_ID and matches(m.path, converted) and m.path in base_targets.values()
    })
    if lenient:
        full_globs, full_ids, note = judged_in_full(ctx, base)
        details['judged_every_line'] = {'stages': full_ids, **({'note': note} if note else {})}
        lenient = [p for p in lenient if not matches(p, full_globs)]
    if not lenient:
        return carried
    by_file: dict[str, list[semgrep_scan.Match]] = {}
    base_by_file: dict[str, list[semgrep_scan.Match]] = {}
    for m in head_matches:
        if m.rule_id == TEMPLATE_ID and m.path in lenient:
            by_file.setdefault(m.path, []).append(m)
    for m in result.matches:
        rel = base_targets.get(m.path)
        if m.rule_id == TEMPLATE_ID and rel in lenient:
            base_by_file.setdefault(rel, []).append(m)
    carried = preexisting.carried_over(
        [h for rel, ms in by_file.items() for h in _hits(ctx.head_tree, rel, ms)],
        [h for rel, ms in base_by_file.items() for h in _hits(ctx.base_tree, rel, ms)],
        {rel: trees.read_text(ctx.head_tree, rel) or '' for rel in lenient},
        {rel: trees.read_text(ctx.base_tree, rel) or '' for rel in lenient},
    )
    details['carried_over'] = {
        'files': lenient, 'matches': len(carried),
        'why': 'the base already had these matches in the same function, and the stage is '
               'not yet offered with the candidate backend',
    }
    return carried


def _match_findings(
        ctx: CheckContext, head_matches: list[semgrep_scan.Match], carried: set[tuple[str, str, int]],
        converted: tuple[str, ...], baseline: str, forbid: tuple[str, ...], wrappers: dict[str, str],
) -> list[tuple[str, Finding]]:
    """One finding per (rule, path, line) the head's matches hold, but for the generated rule's
    matches outside converted paths, carried over, or in a branch that runs the baseline."""
    out: list[tuple[str, Finding]] = []
    seen: set[tuple[str, str, int]] = set()
    for m in head_matches:
        if m.rule_id == TEMPLATE_ID and not matches(m.path, converted):
            continue
        if (m.rule_id, m.path, m.line) in carried:
            continue
        if m.rule_id == TEMPLATE_ID and m.line in baseline_branches(ctx.head_tree, m.path, baseline):
            continue
        if (m.rule_id, m.path, m.line) in seen:
            continue
        seen.add((m.rule_id, m.path, m.line))
        code = _source_line(ctx.head_tree, m.path, m.line)
        via = ''
        if m.rule_id == TEMPLATE_ID:
            used = [n for n in wrappers if re.search(rf'\b{re.escape(n)}\b', code)]
            if used and not any(re.search(rf'\b{re.escape(n)}\b', code) for n in forbid):
                via = ' (' + '; '.join(f'`{n}`, defined at {wrappers[n]}, returns the forbidden view' for n in used) + ')'
        out.append((m.rule_id, Finding(GATE, f'[{m.rule_id}] `{code}`{via}: {m.message}', m.path, m.line)))
    return out


def _not_checked(
        ctx: CheckContext, result: semgrep_scan.ScanResult, base_targets: dict[str, str],
        all_targets: list[str], targets: list[str],
) -> list[tuple[str, Finding]]:
    """The changed files the rules cannot vouch for: semgrep's problems, files that do not
    parse, and targets semgrep did not scan."""
    out: list[tuple[str, Finding]] = []
    for p in result.problems:
        if p.path in base_targets:
            continue
        out.append(('semgrep-not-checked', Finding(
            GATE, f'semgrep could not check this file ({p.message}); the rules cannot vouch for '
            f'it, so make it parse', p.path, p.line,
        )))
    checked = {p.path for p in result.problems if p.path not in base_targets}
    out += _unparsable(ctx, all_targets, checked)
    for t in targets:
        if t not in result.scanned and t not in checked:
            out.append(('semgrep-not-checked', Finding(
                GATE, 'semgrep did not scan this changed file (skipped or ignored); the rules '
                'cannot vouch for it: check for .semgrepignore tricks or an unreadable file', t,
            )))
    return out


def _callers_of_new_wrappers(
        ctx: CheckContext, wrappers: dict[str, str], changed: set[str], files: list[str],
        converted: tuple[str, ...], packages: tuple[str, ...],
) -> list[str]:
    """Unchanged files in converted paths that name a wrapper of the forbidden view defined in
    a changed file (``wrappers``: name -> ``path:line``)."""
    new = sorted(n for n, where in wrappers.items() if where.rsplit(':', 1)[0] in changed)
    if not new:
        return []
    pattern = re.compile(r'\b(?:' + '|'.join(re.escape(n) for n in new) + r')\b')
    return [
        f for f in files
        if f not in changed and matches(f, converted) and matches(f, packages)
        and pattern.search(trees.read_text(ctx.head_tree, f) or '')
    ]


def _cached_base_matches(
        ctx: CheckContext, rule: dict[str, Any], base_targets: dict[str, str],
) -> tuple[dict[str, tuple[semgrep_scan.Match, ...]], dict[str, str]]:
    """(matches by absolute base path for the files the store has, store key by base path).
    An entry is used only if it validates (gates/vcs/cachestore.py) and every match in it lies
    in the file as recorded (offsets inside it, on the line it names); else it is scanned."""
    store = measure.persistent_store(ctx)
    if store is None or not base_targets:
        return {}, {}
    rule_digest = hashlib.sha256(yaml.safe_dump(rule, sort_keys=True).encode()).hexdigest()
    version = _semgrep_version()
    cached: dict[str, tuple[semgrep_scan.Match, ...]] = {}
    keys: dict[str, str] = {}
    for path in base_targets:
        data = Path(path).read_bytes()
        key = cachestore.key_of('semgrep-base', version, rule_digest, cachestore.git_blob_sha(data))
        keys[path] = key
        found = _base_matches(cachestore.get(store, 'semgrep-base', key), path, data)
        if found is not None:
            cached[path] = found
    return cached, keys


def _base_matches(raw: object, path: str, data: bytes) -> tuple[semgrep_scan.Match, ...] | None:
    if not isinstance(raw, list):
        return None
    out = []
    try:
        for item in raw:
            start, end, line = int(item['start_offset']), int(item['end_offset']), int(item['line'])
            if not (0 <= start <= end <= len(data)) or data.count(b'\n', 0, start) + 1 != line:
                return None
            out.append(semgrep_scan.Match(
                str(item['rule_id']), path, line, int(item['end_line']), str(item['message']), start, end,
            ))
    except (KeyError, TypeError, ValueError):
        return None
    return tuple(out)


def _store_base_matches(
        ctx: CheckContext, result: semgrep_scan.ScanResult, keys: dict[str, str],
        cached: dict[str, tuple[semgrep_scan.Match, ...]],
) -> None:
    """Keep the base files' matches of a scan that checked them cleanly (scanned, no problem)."""
    problems = {p.path for p in result.problems}
    pending = measure.pending_writes(ctx)
    for path, key in keys.items():
        if path in cached or path in problems or path not in result.scanned:
            continue
        pending.append(('semgrep-base', key, [
            {'rule_id': m.rule_id, 'line': m.line, 'end_line': m.end_line, 'message': m.message,
             'start_offset': m.start_offset, 'end_offset': m.end_offset}
            for m in result.matches if m.path == path
        ]))


def _unparsable(ctx: CheckContext, targets: list[str], checked: set[str]) -> list[tuple[str, Finding]]:
    out = []
    for t in targets:
        problem = _syntax_error(ctx.head_tree, t)
        if problem is not None and t not in checked:
            checked.add(t)
            out.append(('semgrep-not-checked', Finding(
                GATE, f'this changed file does not parse ({problem[1]}); the rules cannot vouch for '
                f'it (semgrep skips what it cannot parse), so make it parse', t, problem[0],
            )))
    return out


def rule_params_of(ctx: CheckContext, base: Spec | None) -> RuleParams:
    """The rules' placeholder values from the head's and the base's specs (the union), with
    the verifier's reach computed on the base tree."""
    specs = [ctx.spec] + ([base] if base is not None else [])
    stage_globs = tuple(dict.fromkeys(g for sp in specs for st in sp.stages for g in st.paths))
    shared = tuple(dict.fromkeys(g for sp in specs for g in sp.shared_paths))
    protected = tuple(dict.fromkeys(g for sp in specs for g in sp.protected_paths))
    verifier = tuple(dict.fromkeys(g for sp in specs for g in sp.verifier_paths))
    root = ctx.spec.subject.root
    reached: set[str] = set()
    if verifier:
        entries = protection_cached(
            ctx.base_tree, (), verifier, protected, root,
            measure.persistent_store(ctx), measure.pending_writes(ctx),
        )
        for entry in entries:
            name = module_name(entry.symbol.path, root)
            if name is not None:
                reached.add(name)
    return rule_params(stage_globs, shared, protected, verifier, reached, root)


def _syntax_error(tree: Path, rel: str) -> tuple[int, str] | None:
    # Semgrep's prefilter skips files without the rules' literals, so it never reports their
    # syntax errors; the gate checks them itself.
    text = trees.read_text(tree, rel)
    try:
        ast.parse(text or '', rel)
    except SyntaxError as e:
        return e.lineno or 1, e.msg
    except ValueError as e:     # NUL bytes and the like
        return 1, str(e)
    return None


def _semgrep_version() -> str:
    try:
        return importlib.metadata.version('semgrep')
    except importlib.metadata.PackageNotFoundError:
        return 'unknown'


def run(ctx: CheckContext) -> Verdict:
    base = trees.base_spec(ctx)
    protected = tuple(dict.fromkeys(ctx.spec.protected_paths + (base.protected_paths if base else ())))
    forbid = tuple(dict.fromkeys(ctx.spec.forbid_in_converted + (base.forbid_in_converted if base else ())))
    converted = converted_globs(ctx, base)
    found = protected_findings(ctx, protected)
    symbols = tuple(dict.fromkeys(ctx.spec.protected_symbols + (base.protected_symbols if base else ())))
    verifier = tuple(dict.fromkeys(ctx.spec.verifier_paths + (base.verifier_paths if base else ())))
    by_symbol, symbol_details = symbol_findings(
        ctx, symbols, verifier, protected, measure.persistent_store(ctx), measure.pending_writes(ctx),
    )
    found += by_symbol
    scanned, descriptions, details = semgrep_findings(ctx, forbid, converted, ctx.spec.baseline_variant, base)
    found += scanned
    found.sort(key=lambda rf: (rf[1].file or '', rf[1].line or 0))
    sarif_path = ctx.repo_root / SARIF_PATH
    sarif.write(sarif_path, sarif.document(found, {**AST_RULES, **descriptions}, _semgrep_version()))
    details.update(
        protected=list(protected), forbid_in_converted=list(forbid),
        converted_paths=list(converted), sarif=str(sarif_path), verifier=list(verifier),
        **symbol_details,
        rule_counts={rid: sum(1 for r, _ in found if r == rid) for rid in sorted({r for r, _ in found})},
    )
    return Verdict.from_findings(GATE, [f for _, f in found], details)
