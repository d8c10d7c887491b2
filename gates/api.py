"""The api gate: protected code is untouched, and the prover keeps its boundaries.

Two halves, because semgrep neither diffs nor sees deleted files:
1. Protected paths (the base's and the head's ``protected.paths``), from git's change list: a
   deleted, renamed or added protected file fails; a modified one is compared with its base
   version structurally (``gates.astdiff``), so a comment passes and an edit inside a protected
   function, a changed signature or an added/removed name fails with file and line.
2. One semgrep run over the head's changed Python files with every rule of the base's
   ``rules/`` (the base judges the head), plus ``no-materialized-in-converted-stage`` generated
   from its template with the spec's ``protected.forbid_in_converted`` and kept to the converted
   stages' paths (accepted in the ledger, plus the stage under conversion), except inside a
   branch only the baseline variant takes (``if ctx.backend == "materialized":``).

``semgrep --baseline-commit`` is not used: it would hide findings that already exist in the base,
but the stage under conversion uses the materialized view in the base by definition, and it
aborts on unstaged changes (the working tree the pre-commit tier judges). Scanning only the
changed files gives the same "new relative to the base" scope at file granularity.
The findings are also written as SARIF (``.stagegate/api.sarif`` under the repo root) for
GitHub code scanning.
"""
from __future__ import annotations

import ast
import importlib.metadata
import tempfile
from pathlib import Path
from typing import Any

import yaml

from gates import sarif
from gates import semgrep_scan
from gates import trees
from gates.context import CheckContext
from gates.model import Finding
from gates.model import GateError
from gates.model import Verdict
from gates.protected import AST_RULES
from gates.protected import GATE
from gates.protected import protected_findings
from gates.ruleset import TEMPLATE_ID
from gates.ruleset import baseline_branches
from gates.ruleset import generated_rule
from gates.ruleset import load_rules
from gates.ruleset import rules_dir
from gates.spec import Spec
from gates.spec import matches

SARIF_PATH = Path('.stagegate') / 'api.sarif'


def converted_globs(ctx: CheckContext, base: Spec | None) -> tuple[str, ...]:
    """Paths of the stages accepted in the ledger plus the stage under conversion (the head's
    and the base's globs for those stages: the union is the stricter reading)."""
    ids = set(ctx.accepted_stages())
    if ctx.stage_under_conversion is not None:
        ids.add(ctx.stage_under_conversion.id)
    stages = ctx.spec.stages + (base.stages if base is not None else ())
    return tuple(dict.fromkeys(g for s in stages if s.id in ids for g in s.paths))


def _source_line(tree: Path, rel: str, line: int) -> str:
    text = trees.read_text(tree, rel)
    lines = [] if text is None else text.splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ''


def semgrep_findings(
        ctx: CheckContext,
        forbid: tuple[str, ...],
        converted: tuple[str, ...],
        baseline: str = 'materialized',
) -> tuple[list[tuple[str, Finding]], dict[str, str], dict[str, Any]]:
    """(findings, rule descriptions, details) of one semgrep run over the changed Python files."""
    targets = sorted({
        c.path for c in ctx.changed
        if c.status != 'D' and c.path.endswith('.py') and (ctx.head_tree / c.path).is_file()
    })
    rules = rules_dir(ctx)
    configs: list[Path] = []
    descriptions: dict[str, str] = {}
    template: dict[str, Any] | None = None
    for path in sorted(rules.glob('*.yaml')):
        loaded = load_rules(path)
        for rule in loaded:
            descriptions[str(rule.get('id'))] = ' '.join(str(rule.get('message', '')).split())
            if rule.get('id') == TEMPLATE_ID:
                template = rule
        if all(r.get('id') != TEMPLATE_ID for r in loaded):
            configs.append(path)
    details: dict[str, Any] = {'rules_dir': str(rules), 'targets': len(targets)}
    if not targets:
        details['semgrep'] = 'not run: no changed Python files'
        return [], descriptions, details
    if template is None:
        # Also the one rule without a path filter: it makes semgrep report every target scanned.
        raise GateError(
            f'{rules}/{TEMPLATE_ID}.yaml is missing; the api gate builds the spec\'s '
            f'forbid_in_converted rule from it. Restore it from the engine.',
        )
    with tempfile.TemporaryDirectory(prefix='stagegate-rules-') as tmp:
        generated = Path(tmp) / f'{TEMPLATE_ID}.yaml'
        generated.write_text(yaml.safe_dump({'rules': [generated_rule(template, forbid)]}), encoding='utf-8')
        configs.append(generated)
        result = semgrep_scan.scan(ctx.head_tree, configs, targets)
    details.update(semgrep_seconds=round(result.seconds, 2), rules=sorted(descriptions))
    out: list[tuple[str, Finding]] = []
    seen: set[tuple[str, str, int]] = set()
    for m in result.matches:
        if m.rule_id == TEMPLATE_ID and not matches(m.path, converted):
            continue
        if m.rule_id == TEMPLATE_ID and m.line in baseline_branches(ctx.head_tree, m.path, baseline):
            continue
        if (m.rule_id, m.path, m.line) in seen:
            continue
        seen.add((m.rule_id, m.path, m.line))
        code = _source_line(ctx.head_tree, m.path, m.line)
        out.append((m.rule_id, Finding(GATE, f'[{m.rule_id}] `{code}`: {m.message}', m.path, m.line)))
    for p in result.problems:
        out.append(('semgrep-not-checked', Finding(
            GATE, f'semgrep could not check this file ({p.message}); the rules cannot vouch for '
            f'it, so make it parse', p.path, p.line,
        )))
    checked = {p.path for p in result.problems}
    for t in targets:
        problem = _syntax_error(ctx.head_tree, t)
        if problem is not None and t not in checked:
            checked.add(t)
            out.append(('semgrep-not-checked', Finding(
                GATE, f'this changed file does not parse ({problem[1]}); the rules cannot vouch for '
                f'it (semgrep skips what it cannot parse), so make it parse', t, problem[0],
            )))
    for t in targets:
        if t not in result.scanned and t not in checked:
            out.append(('semgrep-not-checked', Finding(
                GATE, 'semgrep did not scan this changed file (skipped or ignored); the rules '
                'cannot vouch for it: check for .semgrepignore tricks or an unreadable file', t,
            )))
    return out, descriptions, details


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
    scanned, descriptions, details = semgrep_findings(ctx, forbid, converted, ctx.spec.baseline_variant)
    found += scanned
    found.sort(key=lambda rf: (rf[1].file or '', rf[1].line or 0))
    sarif_path = ctx.repo_root / SARIF_PATH
    sarif.write(sarif_path, sarif.document(found, {**AST_RULES, **descriptions}, _semgrep_version()))
    details.update(
        protected=list(protected), forbid_in_converted=list(forbid),
        converted_paths=list(converted), sarif=str(sarif_path),
        rule_counts={rid: sum(1 for r, _ in found if r == rid) for rid in sorted({r for r, _ in found})},
    )
    return Verdict.from_findings(GATE, [f for _, f in found], details)
