"""``gates rebaseline REF --reason TEXT [--reset-ledger] [--tag NAME]``: a new oracle, on purpose.

When the subject's protocol changes, the frozen baseline must change with it, and that must be
an operation of the engine, not a hand edit (docs/gates.md, "Re-baselining"). In ONE commit of
the engine's own (subject ``gates: rebaseline to <sha12> (baseline vN)``), touching only assets:

- the spec: ``baseline.ref`` names the tag (the spec's, or ``--tag``), ``baseline.version`` + 1;
- the golden digests: made by the engine from REF's prover on every workload of every tier, with
  a ``rebaseline`` record (version, reason, previous baseline commit, ledger rows reset);
- the ledger: emptied. Refused while it has rows unless ``--reset-ledger``: accepted stages were
  measured against the old oracle, and dropping them is a decision with a reason.

Then the tag is created or moved to REF. In CI the commit is judged like any asset change: alone
it passes, with subject code it fails, and the integrity gate re-makes the golden digests of the
ci workloads from the new baseline commit and compares them with the committed ones.
"""
from __future__ import annotations

import datetime
import json
import re
from pathlib import Path
from typing import TextIO

import git

from gates.vcs import repo as repo_mod
from gates.measuring.golden import golden_of
from gates.session import spec_relpath
from gates.contract.ledger import Ledger
from gates.contract.ledger import read_ledger
from gates.contract.ledger import render
from gates.model import GateError
from gates.contract.spec import parse_spec
from gates.contract.spec import load_spec

SUBJECT = re.compile(r'^gates: rebaseline to ([0-9a-f]{12}) \(baseline v(\d+)\)$')


def subject(commit: str, version: int) -> str:
    return f'gates: rebaseline to {commit[:12]} (baseline v{version})'


def edit_baseline_block(text: str, display: str, ref: str, version: int) -> str:
    """The spec text with ``baseline.ref`` and ``baseline.version`` set; everything else, comments
    included, byte for byte as it was."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(r'^baseline:\s*(#.*)?$', line)), None)
    if start is None:
        raise GateError(f'{display}: no top-level "baseline:" block to re-baseline (block style expected).')
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in ' \t'):
        end += 1
    block = lines[start + 1:end]
    indent = '  '
    found_ref = found_version = False
    for i, line in enumerate(block):
        m = re.match(r'^(\s+)(ref|version):(\s*)([^#\n]*?)(\s*#.*)?$', line.rstrip('\n'))
        if m is None:
            continue
        indent = m.group(1)
        value = ref if m.group(2) == 'ref' else str(version)
        block[i] = f'{m.group(1)}{m.group(2)}: {value}{m.group(5) or ""}\n'
        found_ref |= m.group(2) == 'ref'
        found_version |= m.group(2) == 'version'
    if not found_ref:
        block.append(f'{indent}ref: {ref}\n')
    if not found_version:
        # Right after the ref line, so the two read together.
        at = next((i + 1 for i, line in enumerate(block) if re.match(r'^\s+ref:', line)), len(block))
        block.insert(at, f'{indent}version: {version}\n')
    return ''.join(lines[:start + 1] + block + lines[end:])


def _new_baseline(repo: git.Repo, ref: str, tag_name: str) -> tuple[str, str]:
    """REF's commit, which must be in HEAD's history, and the tag that will name it."""
    commit = repo_mod.resolve(repo, ref, 'revision')
    if not repo_mod.is_ancestor(repo, commit, 'HEAD'):
        raise GateError(
            f'{ref} ({commit[:12]}) is not in the history of HEAD; the new baseline must be a '
            f'commit of this branch, so that every clone has the oracle.',
        )
    if not re.fullmatch(r'[A-Za-z0-9][A-Za-z0-9._/-]*', tag_name) or tag_name.endswith(('.lock', '/')):
        raise GateError(f'--tag {tag_name!r}: not a usable tag name.')
    return commit, tag_name


def _previous_baseline(golden: Path) -> str | None:
    """The baseline commit the current golden file names (None: no file, or none it names)."""
    if not golden.is_file():
        return None
    try:
        found: str | None = json.loads(golden.read_text(encoding='utf-8')).get('baseline_commit')
    except (json.JSONDecodeError, AttributeError):
        return None
    return found


def _commit(repo: git.Repo, root: Path, files: dict[str, str], body: str) -> str:
    """``files`` written and committed as one commit (hooks skipped); its sha."""
    before = {rel: (root / rel).read_bytes() if (root / rel).is_file() else None for rel in files}
    try:
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text, encoding='utf-8')
        repo.index.add(list(files))
        return str(repo.index.commit(body, skip_hooks=True).hexsha)
    except BaseException:
        # Leave nothing half-done: the files and the index go back to what was committed.
        for rel, data in before.items():
            if data is None:
                (root / rel).unlink(missing_ok=True)
            else:
                (root / rel).write_bytes(data)
        repo.git.reset('-q', 'HEAD', '--', *files)
        raise


def rebaseline(
        cwd: Path,
        spec: str | None,
        ref: str,
        reason: str,
        reset_ledger: bool,
        tag: str | None,
        out: TextIO,
) -> int:
    repo = repo_mod.open_repo(cwd)
    root = repo_mod.root(repo)
    if not reason.strip():
        raise GateError('--reason is empty; say why the oracle changes (it is recorded in the golden digests).')
    dirty = repo_mod.dirty_paths(repo)
    if dirty:
        raise GateError(
            f'the working tree has uncommitted changes ({", ".join(dirty[:5])}); commit or stash '
            f'them first: the re-baseline commit holds only the spec, the golden digests and the ledger.',
        )
    spec_rel = spec_relpath(root, spec)
    the_spec = load_spec(root / spec_rel, spec_rel)
    ledger = read_ledger(root / the_spec.ledger, the_spec.ledger)
    if ledger.rows and not reset_ledger:
        raise GateError(
            f'{the_spec.ledger} has {len(ledger.rows)} accepted row(s) (stages '
            f'{", ".join(str(s) for s in ledger.accepted_stages())}), measured against the old '
            f'oracle; a new baseline discards them. Pass --reset-ledger to do so on purpose.',
        )
    commit, tag_name = _new_baseline(repo, ref, tag or the_spec.baseline_ref)
    version = the_spec.baseline_version + 1
    previous = _previous_baseline(root / the_spec.golden)

    spec_path = root / spec_rel
    spec_before = spec_path.read_text(encoding='utf-8')
    spec_after = edit_baseline_block(spec_before, spec_rel, tag_name, version)
    parse_spec(spec_after, spec_rel)   # never commit a spec the engine cannot read

    def say(line: str) -> None:
        out.write(f'rebaseline: {line} (at {commit[:12]})\n')
        out.flush()

    workloads = golden_of(repo, the_spec, commit, say)
    when = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
    golden_doc = {
        'schema': 1,
        'baseline_commit': commit,
        'workloads': workloads,
        'rebaseline': {
            'version': version,
            'reason': reason.strip(),
            'previous_baseline_commit': previous,
            'ledger_rows_reset': len(ledger.rows),
            'at': when,
        },
    }
    files = {
        spec_rel: spec_after,
        the_spec.golden: json.dumps(golden_doc, indent=2, sort_keys=True) + '\n',
        the_spec.ledger: render(Ledger(the_spec.ledger, ())),
    }
    body = (
        f'{subject(commit, version)}\n\n'
        f'Reason: {reason.strip()}\n'
        f'New oracle: {tag_name} = {commit} (was {previous or "none"}); golden digests of '
        f'{len(workloads)} workloads made by the engine; ledger reset ({len(ledger.rows)} rows).\n'
    )
    sha = _commit(repo, root, files, body)
    moved = repo_mod.try_resolve(repo, f'refs/tags/{tag_name}')
    repo.git.tag('-f', tag_name, commit)
    was = '' if moved is None or moved == commit else f' (moved from {moved[:12]}; push it with `git push -f origin tag {tag_name}`)'
    out.write(
        f'gates: re-baselined to {commit[:12]} (baseline v{version}); tag {tag_name}{was}; '
        f'committed {sha[:12]}\n',
    )
    return 0
