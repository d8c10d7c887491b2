"""CI entry points (issue 13.4): an edit of `.ci/run` or the workflow alone may not run
`gates check` less. The integrity gate on real throw-away repositories (the toy's `.ci/run`, and
this repository's own workflow committed on the toy's main), and the rule itself on this
repository's real `.ci/run`, workflow and example script."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import (
    _SPEC_BLOCKS,
    ENGINE_ROOT,
    TinyRepo,
    build_tiny_subject,
    commit_all,
    convert_stage,
    git,
    toy_spec_yaml,
    write_files,
)
from structural_helpers import rendered, run_gate

from gates.analysis import ci_entry
from gates.contract.spec import parse_spec
from gates.model import GateError

CI_RUN = '.ci/run'
WORKFLOW = '.github/workflows/gates.yml'
REAL_RUN = (ENGINE_ROOT / CI_RUN).read_text(encoding='utf-8')
REAL_WORKFLOW = (ENGINE_ROOT / WORKFLOW).read_text(encoding='utf-8')
REAL_EXAMPLE = (ENGINE_ROOT / 'examples/merkle/ci-check.sh').read_text(encoding='utf-8')
TOY_GATES_LINE = 'gates check --tier ci\n'


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding='utf-8')
    assert old in text, f'{old!r} not in {path}'
    path.write_text(text.replace(old, new, 1), encoding='utf-8')


def _line_of(path: Path, needle: str) -> int:
    return next(i + 1 for i, text in enumerate(path.read_text().splitlines()) if needle in text)


def _only_ci_finding(repo: Path, rel: str) -> str:
    verdict = run_gate(repo, 'integrity')
    assert not verdict.passed
    (finding,) = verdict.findings
    assert finding.file == rel
    assert finding.message.startswith(f'CI entry point {rel} runs the gates less than the base: ')
    assert f'git checkout {git(repo, "merge-base", "main", "HEAD")[:12]} -- {rel}' in finding.message
    return f'{finding.file}:{finding.line}: {finding.message}'


# --- the toy's .ci/run, judged by the integrity gate ------------------------------------------


def test_an_unchanged_ci_script_and_a_comment_or_echo_edit_pass(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    write_files(repo, {'tests/test_more.py': 'X = 1\n'})
    commit_all(repo, 'tests: one more')
    verdict = run_gate(repo, 'integrity')
    assert verdict.passed, rendered(verdict)
    _edit(repo / CI_RUN, 'set -euo pipefail\n', '# Stop at the first failure.\nset -euo pipefail\n')
    _edit(repo / CI_RUN, 'echo "== gates check --tier ci"', 'echo "== the gates (ci tier)" >&2')
    commit_all(repo, 'ci: say more')
    verdict = run_gate(repo, 'integrity')
    assert verdict.passed, rendered(verdict)


@pytest.mark.parametrize(('new', 'why'), [
    ('gates check --tier pre-commit\n', 'its tier was lowered from ci to pre-commit'),
    ('gates check --tier ci --gate api --gate scope --gate proof\n',
     'it was narrowed from every gate of the tier to --gate api --gate scope --gate proof'),
    ('gates check --tier ci || true\n', '`||` swallows its exit status'),
    ('gates check --tier ci || :\n', '`||` swallows its exit status'),
    ('echo gates check --tier ci\n', '`gates check --tier ci` (line 6 of the base) was removed'),
    ('set +e\ngates check --tier ci\n', '`set +e` was added'),
])
def test_a_narrowed_ci_script_alone_fails(tiny_subject: TinyRepo, new: str, why: str) -> None:
    repo = tiny_subject.path
    _edit(repo / CI_RUN, TOY_GATES_LINE, new)
    commit_all(repo, 'ci: a quicker check')
    shown = _only_ci_finding(repo, CI_RUN)
    assert why in shown, shown
    assert shown.startswith(f'{CI_RUN}:{_line_of(repo / CI_RUN, new.splitlines()[0])}: '), shown


def test_a_stronger_ci_script_passes(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    _edit(repo / CI_RUN, TOY_GATES_LINE, 'gates check --tier full\n')
    commit_all(repo, 'ci: the full tier')
    verdict = run_gate(repo, 'integrity')
    assert verdict.passed, rendered(verdict)


def test_a_deleted_ci_script_fails(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    (repo / CI_RUN).unlink()
    commit_all(repo, 'ci: not needed')
    shown = _only_ci_finding(repo, CI_RUN)
    assert 'the file was deleted (or renamed)' in shown


def test_a_narrowed_ci_script_with_subject_code_fails_for_both_reasons(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    _edit(repo / CI_RUN, TOY_GATES_LINE, 'gates check --tier ci --gate api\n')
    convert_stage(repo, 0)
    commit_all(repo, 'stage 0, and a quicker CI')
    text = rendered(run_gate(repo, 'integrity'))
    assert 'edited together with subject code' in text
    assert f'{CI_RUN}:6: CI entry point {CI_RUN} runs the gates less than the base' in text


def test_removing_an_entry_point_from_the_spec_is_a_loosening(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    _edit(tiny_subject.spec_path, 'ci_entry_points: [.ci/run]\n', 'ci_entry_points: []\n')
    commit_all(repo, 'specs: no entry points')
    verdict = run_gate(repo, 'integrity')
    (finding,) = verdict.findings
    assert finding.message.startswith('ci_entry_points loosened: [.ci/run] -> [] (')
    assert '(removed: .ci/run)' in finding.message
    assert finding.file == 'specs/streaming-prover.yaml'
    assert finding.line == _line_of(tiny_subject.spec_path, 'ci_entry_points:')


def test_an_entry_point_that_is_not_an_asset_is_unusable_input() -> None:
    text = toy_spec_yaml(ci_entry_points='ci_entry_points: [.ci/run, ci.sh]\n')
    with pytest.raises(GateError) as caught:
        parse_spec(text, 'specs/streaming-prover.yaml')
    line = next(i + 1 for i, t in enumerate(text.splitlines()) if t.startswith('ci_entry_points:'))
    assert str(caught.value) == (
        f'specs/streaming-prover.yaml:{line}: ci_entry_points[1]: "ci.sh" is not a gate asset; add it (or a '
        'glob covering it) to assets, or an edit of it could come with subject code.')


# --- this repository's workflow, committed on the toy's main ----------------------------------


@pytest.fixture
def workflow_repo(tmp_path: Path) -> Path:
    tiny = build_tiny_subject(
        tmp_path, assets=_SPEC_BLOCKS['assets'] + '  - .github/**\n',
        ci_entry_points=f'ci_entry_points: [{CI_RUN}, {WORKFLOW}]\n',
    )
    repo = tiny.path
    git(repo, 'checkout', '-q', 'main')
    write_files(repo, {WORKFLOW: REAL_WORKFLOW})
    commit_all(repo, 'ci: the workflow')
    git(repo, 'checkout', '-q', 'conversion')
    git(repo, 'reset', '-q', '--hard', 'main')
    return repo


def test_the_workflow_with_a_comment_and_an_echo_edit_passes(workflow_repo: Path) -> None:
    path = workflow_repo / WORKFLOW
    _edit(path, '          args=(check --tier "$TIER")\n',
          '          # The tier comes from the job (full on schedule).\n          args=(check --tier "$TIER")\n')
    _edit(path, 'echo "### gates: the run did not pass (tier $TIER)"', 'echo "### gates failed (tier $TIER)"')
    _edit(path, '- name: Run the base\'s gates against the head', '- name: Run the base\'s gates on the head')
    commit_all(workflow_repo, 'ci: clearer words')
    verdict = run_gate(workflow_repo, 'integrity')
    assert verdict.passed, rendered(verdict)


def test_the_workflow_without_base_fails(workflow_repo: Path) -> None:
    path = workflow_repo / WORKFLOW
    _edit(path, '            args+=(--base "$BASE_SHA")\n', '            true\n')
    commit_all(workflow_repo, 'ci: the default base')
    shown = _only_ci_finding(workflow_repo, WORKFLOW)
    assert '--base $BASE_SHA was dropped' in shown, shown
    line = _line_of(path, '"$RUNNER_TEMP/engine/bin/gates" "${args[@]}"')
    assert shown.startswith(f'{WORKFLOW}:{line}: '), shown


# --- the rule on this repository's real files --------------------------------------------------


def _problems(rel: str, base: str, old: str, new: str) -> list[ci_entry.Problem]:
    assert old in base, old
    return ci_entry.problems(rel, base, base.replace(old, new, 1))


def test_the_real_entry_points_read_as_gates_runs() -> None:
    runs = [r.shown() for u in ci_entry.read_script(REAL_RUN).units for r in u.runs]
    assert runs == ['.venv/bin/gates check --tier ci', "examples/merkle/ci-check.sh '$PWD/.venv/bin/gates'"]
    runs = [r.shown() for u in ci_entry.read_script(REAL_EXAMPLE).units for r in u.runs]
    assert runs == ["'$gates' check --tier ci"]
    for rel, text in ((CI_RUN, REAL_RUN), (WORKFLOW, REAL_WORKFLOW)):
        assert ci_entry.problems(rel, text, text) == []
        assert ci_entry.problems(rel, text, text.replace('\n', '\n# a note\n', 3)) == []


@pytest.mark.parametrize(('old', 'new', 'why'), [
    ('TIER: ${{ (github.event_name', 'TIER: ${{ (false && github.event_name', "job `gates`: `env` changed"),
    ('      - name: Run the base\'s gates against the head\n        id: gates\n',
     '      - name: Run the base\'s gates against the head\n        id: gates\n        continue-on-error: true\n',
     '`continue-on-error` changed from None to True (the job then passes when gates fail)'),
    ('      - name: Run the base\'s gates against the head\n        id: gates\n',
     '      - name: Run the base\'s gates against the head\n        id: gates\n        if: false\n',
     '`if` changed from None to False (a condition can skip it)'),
    ('"$RUNNER_TEMP/engine/bin/gates" "${args[@]}"', '"$RUNNER_TEMP/engine/bin/gates" "${args[@]}" || true',
     '`||` swallows its exit status'),
    ('args=(check --tier "$TIER")', 'args=(check --tier ci)', 'its tier changed from $TIER to ci'),
    ('args=(check --tier "$TIER")', 'args=(check --tier "$TIER" --gate api)',
     'narrowed from every gate of the tier to --gate api'),
    ('if [ "$EVENT" = "pull_request" ]; then', 'if false; then', '`if false ; then` was changed'),
    ('git archive "$BASE_SHA"', 'git archive "$HEAD_SHA"', 'was changed (the base has `git archive $BASE_SHA'),
    ('  pull_request:\n', '  pull_request_target:\n', 'the top-level `on` changed'),
])
def test_a_weakened_workflow_fails(old: str, new: str, why: str) -> None:
    found = _problems(WORKFLOW, REAL_WORKFLOW, old, new)
    assert found, (old, new)
    assert any(why in p.what for p in found), [p.what for p in found]


def test_the_real_ci_script_weakened_fails() -> None:
    found = _problems(CI_RUN, REAL_RUN, '.venv/bin/gates check --tier ci\n', '.venv/bin/gates check --tier ci \\\n  --gate api\n')
    assert [p.line for p in found] == [REAL_RUN.splitlines().index('.venv/bin/gates check --tier ci') + 1]
    found = _problems(CI_RUN, REAL_RUN, 'examples/merkle/ci-check.sh "$PWD/.venv/bin/gates"\n', '')
    assert 'examples/merkle/ci-check.sh' in found[0].what and 'was removed' in found[0].what
    found = _problems(CI_RUN, REAL_RUN, 'set -euo pipefail\n', 'set -uo pipefail\n')
    assert found and 'set -uo pipefail' in found[0].what
    assert _problems(CI_RUN, REAL_RUN, '.venv/bin/gates check --tier ci\n', '.venv/bin/gates check --tier full\n') == []
    found = _problems('examples/merkle/ci-check.sh', REAL_EXAMPLE, '"$gates" check --tier ci', '"$gates" check --tier pre-commit')
    assert 'lowered from ci to pre-commit' in found[0].what


# --- the sharded full tier (issue 18): a later PR may not narrow the matrix or drop the merge --


@pytest.mark.parametrize(('old', 'new', 'why'), [
    ('        shard: [1, 2, 3, 4, 5]\n', '        shard: [1, 2, 3, 4]\n', 'job `full-shard`: `strategy` changed'),
    ('        shard: [1, 2, 3, 4, 5]\n', '        shard: [1, 2, 3]\n        exclude: []\n', 'job `full-shard`: `strategy` changed'),
    ('--shard "$SHARD/5"', '--shard "$SHARD/4"', 'its other arguments changed'),
    ('args=(check --tier full --shard', 'args=(check --tier ci --shard', 'its tier was lowered from full to ci'),
    ('"$RUNNER_TEMP/engine/bin/gates" merge "$RUNNER_TEMP"/shards/result-*.json',
     '"$RUNNER_TEMP/engine/bin/gates" merge "$RUNNER_TEMP"/shards/result-1.json',
     'became'),
    ('"$RUNNER_TEMP/engine/bin/gates" merge "$RUNNER_TEMP"/shards/result-*.json',
     '"$RUNNER_TEMP/engine/bin/gates" merge "$RUNNER_TEMP"/shards/result-*.json || true',
     '`||` swallows its exit status'),
    ("    if: always() && needs.full-shard.result != 'skipped'\n", "    if: false\n",
     'job `full-merge`: `if` changed'),
    ('    needs: full-shard\n', '', 'job `full-merge`: `needs` changed'),
])
def test_a_narrowed_sharded_matrix_fails(old: str, new: str, why: str) -> None:
    found = _problems(WORKFLOW, REAL_WORKFLOW, old, new)
    assert found, (old, new)
    assert any(why in p.what for p in found), [p.what for p in found]


def test_dropping_the_merge_job_or_a_shard_step_fails() -> None:
    start = REAL_WORKFLOW.index('  full-merge:\n')
    found = ci_entry.problems(WORKFLOW, REAL_WORKFLOW, REAL_WORKFLOW[:start])
    assert any('job `full-merge`, which runs gates, was removed' in p.what for p in found), found
    start = REAL_WORKFLOW.index('  full-shard:\n')
    end = REAL_WORKFLOW.index('  full-merge:\n')
    found = ci_entry.problems(WORKFLOW, REAL_WORKFLOW, REAL_WORKFLOW[:start] + REAL_WORKFLOW[end:])
    assert any('job `full-shard`, which runs gates, was removed' in p.what for p in found), found
    runs = [r.shown() for u in ci_entry.read_script(
        REAL_WORKFLOW[REAL_WORKFLOW.index('mkdir -p "$RUNNER_TEMP/shard"'):].split('\n\n')[0]).units for r in u.runs]
    assert runs == ["'$RUNNER_TEMP/engine/bin/gates' check --tier full --shard '$SHARD/5' --out "
                    "'$RUNNER_TEMP/shard/result-$SHARD.json' --base '$BASE_SHA'"]
