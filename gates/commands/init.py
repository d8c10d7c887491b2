"""``gates init --kind python|command``: the files a new prover needs before its first check.

Writes, into the repository the command runs in: a spec skeleton (``specs/stagegate.yaml`` or
``--spec``), an empty ledger, the engine's semgrep rules (``rules/``, so the api gate finds them
in the base revision whatever way the engine was installed) and the git pre-commit hook. Nothing
existing is overwritten: one existing target refuses the whole command (exit 2) before anything is
written. It never commits; it prints what to fill in, in order (docs/adopt.md walks through it).
"""
from __future__ import annotations

import shutil
import stat
import sys
from pathlib import Path
from typing import TextIO

from gates.model import GateError
from gates.vcs import repo as repo_mod
from gates.vcs.hook import hook_text

KINDS = ('python', 'command')
DEFAULT_SPEC = 'specs/stagegate.yaml'
LEDGER = 'specs/ledger.json'
EMPTY_LEDGER = '{\n  "rows": [],\n  "schema": 1\n}\n'
# The engine's own rules: next to the gates package in a checkout (or an editable install).
ENGINE_RULES = Path(__file__).resolve().parents[2] / 'rules'

_SUBJECT = {
    'python': '''\
subject:
  kind: python
  root: .                                   # TODO: the folder your modules import from
  # TODO: one adapter module with four functions (docs/adopt.md shows a whole one):
  prove: {adapter}:prove                    # prove(params: dict, variant: dict[str, str], observer) -> bytes
                                            #   call observer.enter(k) / observer.exit(k) around stage k
  verify: {adapter}:verify                  # verify(params: dict, proof: bytes) -> tuple[bool, str]
  sections: {adapter}:sections              # sections(proof: bytes) -> list[tuple[int, int, int]]  (stage, offset, length)
  capabilities: {adapter}:capabilities      # capabilities() -> dict[str, list[str]]  backends offered per stage id
''',
    'command': '''\
subject:
  kind: command
  root: .
  # TODO: your prover's command line; {{workload}} and {{<param>}} are filled in from the workload.
  # It writes the proof to $STAGEGATE_PROOF, reads the backend per stage from $STAGEGATE_VARIANT
  # (JSON: {{"0": "materialized", ...}}) and prints "STAGEGATE enter N" / "STAGEGATE exit N" lines
  # on stderr around stage N. Optional, as "module:function" (see kind python): verify, sections,
  # capabilities.
  argv: [python3, -B, prove.py, "{{log_n}}"]
''',
}

_SPEC = '''\
# The machine spec of {name} for stagegate (schema: docs/gates.md in the stagegate repository).
# Written by `gates init`; fill in every TODO, then follow docs/adopt.md: gates freeze, the first
# conversion step, gates check --tier ci, gates accept.
schema: 1
name: {name}

{subject}
baseline:
  ref: {name}-baseline                      # TODO: tag the commit whose prover is the oracle: git tag {name}-baseline

variants:
  baseline: materialized                    # the backend every stage uses in the baseline
  candidate: streaming                      # the backend a converted stage uses

stages:                                     # TODO: your prover's stages, in the order it runs them (ids 0..n-1)
  - id: 0
    name: commit
    brief: TODO what stage 0 computes, and what "streaming" means for it.
    paths: [{pkg}/**]                       # TODO: the files a change of this stage may touch
  - id: 1
    name: openings
    brief: TODO what stage 1 computes.
    paths: [{pkg}/**]

protected:
  paths: [{pkg}/verify*.py]                 # TODO: the verifier and the proof format: no edit at all
  forbid_in_converted: [materialized]       # names a converted stage must not use
  # symbols: ["{pkg}/core.py::verify"]      # or protect single functions, path::qualname

shared_paths: [tests/**, README.md, docs/**]   # any stage may touch these

workloads:                                  # TODO: params are passed to prove() (and argv placeholders)
  - id: small
    params: {{log_n: 10}}
  - id: medium
    params: {{log_n: 14}}

tiers:
  pre-commit: [small]
  ci: [medium]
  full: [small, medium]

tier_gates:
  pre-commit: [api, scope, integrity, proof]

budgets:
  time:
    ratio_lt: 2.0                           # candidate / baseline, end to end and per stage
    min_pairs: 3
    max_pairs: 10
  memory:
    margin: 0.02                            # the converted stage's peak must be < 98 % of the reference
    tolerance_bytes: {tolerance}
    measure: {measure}

assets: [{spec}, {golden}, {ledger}, rules/**]
golden: {golden}                            # written by `gates freeze`
ledger: {ledger}
main_branch: main
'''


def _targets(root: Path, spec_rel: str, hook: Path) -> list[Path]:
    wanted = [root / spec_rel, root / LEDGER, hook]
    if ENGINE_RULES.is_dir():
        wanted += [root / 'rules' / p.name for p in sorted(ENGINE_RULES.glob('*.yaml'))]
    return wanted


def init(cwd: Path, kind: str, spec: str | None, name: str | None, adapter: str, out: TextIO) -> int:
    if kind not in KINDS:
        raise GateError(f'--kind {kind}: choose python or command.')
    repo = repo_mod.open_repo(cwd)
    root = repo_mod.root(repo)
    spec_rel = spec or DEFAULT_SPEC
    spec_path = (root / spec_rel).resolve()
    if root.resolve() not in spec_path.parents or spec_path.suffix not in ('.yaml', '.yml'):
        raise GateError(f'--spec {spec_rel}: give a .yaml path inside the repository, e.g. {DEFAULT_SPEC}.')
    spec_rel = spec_path.relative_to(root.resolve()).as_posix()
    hooks_path = repo.git.config('--get', 'core.hooksPath', with_exceptions=False).strip()
    if hooks_path:
        raise GateError(f'core.hooksPath is set ({hooks_path}); git would not run a hook in .git/hooks. '
                        f'Unset it (`git config --unset core.hooksPath`) or call `gates check --tier '
                        f'pre-commit --staged` from your hook manager, then run gates init again.')
    hook = Path(repo.git.rev_parse('--git-path', 'hooks/pre-commit').strip())
    if not hook.is_absolute():
        hook = root / hook
    existing = [p for p in _targets(root, spec_rel, hook) if p.exists() or p.is_symlink()]
    if existing:
        shown = ', '.join(str(p.relative_to(root)) if root in p.parents else str(p) for p in existing[:3])
        raise GateError(f'{shown}{" ..." if len(existing) > 3 else ""} already exists; gates init '
                        f'overwrites nothing: move it away, or fill in what is there (docs/adopt.md).')
    project = name or root.name
    pkg = 'yourprover' if kind == 'command' else adapter.split('.')[0]
    text = _SPEC.format(
        name=project, subject=_SUBJECT[kind].format(adapter=adapter), pkg=pkg, spec=spec_rel,
        golden=str(Path(spec_rel).parent / 'golden.json'), ledger=LEDGER,
        measure='heap' if kind == 'python' else 'rss',
        tolerance=262144 if kind == 'python' else 4194304,
    )
    written = []
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(text, encoding='utf-8')
    written.append(spec_rel)
    (root / LEDGER).parent.mkdir(parents=True, exist_ok=True)
    (root / LEDGER).write_text(EMPTY_LEDGER, encoding='utf-8')
    written.append(LEDGER)
    rules_note = ''
    if ENGINE_RULES.is_dir():
        (root / 'rules').mkdir(exist_ok=True)
        for p in sorted(ENGINE_RULES.glob('*.yaml')):
            shutil.copyfile(p, root / 'rules' / p.name)
        written.append('rules/ (the api gate\'s semgrep rules, from the engine)')
    else:
        rules_note = (f'- rules/: this engine was installed without its rules/ folder ({ENGINE_RULES} '
                      f'is missing); copy rules/ from a stagegate checkout into the repository.\n')
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(hook_text(sys.executable, spec_rel if spec else None), encoding='utf-8')
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    written.append(f'{hook} (pre-commit hook: gates check --tier pre-commit --staged)')
    out.write('gates init: wrote\n' + ''.join(f'  {w}\n' for w in written))
    entry = ('the adapter module `' + adapter + '` with prove, verify, sections and capabilities '
             '(all four required; signatures in the spec and docs/adopt.md)'
             if kind == 'python' else
             'subject.argv: your prover\'s command line (STAGEGATE_PROOF, STAGEGATE_VARIANT, '
             'STAGEGATE enter/exit lines)')
    out.write(
        'Fill in, in this order (every TODO in the spec; docs/adopt.md walks through each step):\n'
        f'  1. {entry};\n'
        f'  2. {spec_rel}: stages (names, paths), protected (your verifier and proof format), '
        'workloads and tiers;\n'
        '  3. commit the materialized prover (git commit --no-verify: the hook has no baseline '
        f'to judge against yet) and tag it as baseline.ref (git tag {project}-baseline);\n'
        '  4. gates freeze  (golden digests of every workload), commit them;\n'
        '  5. on a branch: convert one stage (capabilities offers "streaming" for it), then\n'
        '     gates check --tier ci, and gates accept once it passes.\n'
        + rules_note,
    )
    return 0
