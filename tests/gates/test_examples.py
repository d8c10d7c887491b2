"""The second subject (examples/merkle, issue 8.5): a command subject in optimisation mode,
judged on real git repositories copied from the example, with real subprocesses.

An optimisation spec asks for a speed-up (``ratio_lt: 0.9``): the baseline itself, unchanged,
passes every gate but time, and fails time because it is not 10 % faster than itself.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.gates.conftest import commit_all
from tests.gates.conftest import git

EXAMPLE = Path(__file__).resolve().parents[2] / 'examples' / 'merkle'
FAST = (EXAMPLE / 'candidates' / 'merkle_fast.py').read_text(encoding='utf-8')


def example_repo(tmp_path: Path) -> Path:
    """The example committed on main and tagged as its oracle, then a branch for the change."""
    return example_repo_from(EXAMPLE, tmp_path)


def example_repo_from(source: Path, tmp_path: Path) -> Path:
    repo = tmp_path / 'merkle'
    shutil.copytree(source, repo, ignore=shutil.ignore_patterns('__pycache__', '.stagegate'))
    git(repo, 'init', '-q', '-b', 'main')
    git(repo, 'config', 'user.name', 'Test')
    git(repo, 'config', 'user.email', 'test@example.com')
    git(repo, 'config', 'commit.gpgsign', 'false')
    commit_all(repo, 'merkle example: baseline')
    git(repo, 'tag', 'merkle-v1')
    git(repo, 'checkout', '-q', '-b', 'change')
    return repo


def change(repo: Path, text: str, message: str) -> None:
    (repo / 'merkle.py').write_text(text, encoding='utf-8')
    commit_all(repo, message)


def gates(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        (sys.executable, '-m', 'gates', *args), cwd=repo, check=False, capture_output=True, text=True, timeout=300,
    )


def check(repo: Path) -> tuple[int, dict[str, dict[str, Any]]]:
    """``gates check --tier ci --json`` (no --spec: discovery finds specs/merkle.yaml)."""
    proc = gates(repo, 'check', '--tier', 'ci', '--json')
    doc = json.loads(proc.stdout)
    return proc.returncode, {v['gate']: v for v in doc['verdicts']}


def messages(verdict: dict[str, Any]) -> str:
    return '\n'.join(f['message'] for f in verdict['findings'])


def test_the_examples_own_tests_pass() -> None:
    proc = subprocess.run(
        (sys.executable, '-m', 'pytest', '-q', '-n', '0', '-p', 'no:cacheprovider', str(EXAMPLE / 'tests')),
        check=False, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_baseline_passes_everything_but_the_speed_up_it_does_not_make(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    (repo / 'README.md').write_text('A benign edit of a shared path.\n', encoding='utf-8')
    commit_all(repo, 'docs only')
    code, verdicts = check(repo)
    assert [g for g, v in verdicts.items() if not v['passed']] == ['time']
    assert verdicts['memory']['details']['workloads']['n12']['measure'] == 'rss-sync'
    # Only the target is judged, and a ratio near 1 is not below 0.9: a failure (exit 1) when the
    # interval clears 0.9, or, on a loaded machine where 16 pairs of this millisecond stage leave
    # it straddling 0.9, INCONCLUSIVE (exit 4). Never a pass: both are refusals in CI.
    if code == 1:
        assert 'stage 2: median ratio' in messages(verdicts['time'])
        assert 'is not below 0.9' in messages(verdicts['time'])
    else:
        assert code == 4, code
        assert verdicts['time']['inconclusive'] is True, verdicts['time']
        assert 'INCONCLUSIVE' in messages(verdicts['time'])


def test_a_real_optimisation_passes_and_accept_records_it(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    change(repo, FAST, 'read siblings from layers built once')
    code, verdicts = check(repo)
    assert code == 0, {g: messages(v) for g, v in verdicts.items()}
    assert verdicts['time']['details']['workloads']['n12']['ratio_stages']['2'] < 0.5
    head = git(repo, 'rev-parse', 'HEAD').strip()
    proc = gates(repo, 'accept')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = json.loads((repo / 'specs' / 'ledger.json').read_text(encoding='utf-8'))['rows']
    assert len(rows) == 1
    assert rows[0]['stage'] == 0 and rows[0]['stage_name'] == 'optimisation of stage 2'
    assert rows[0]['commit'] == head
    assert rows[0]['workloads']['n12']['time_ratio']['stages']['2'] < 0.5
    assert git(repo, 'log', '-1', '--format=%s').strip() == 'gates: accept stage 0 (optimisation of stage 2)'
    assert git(repo, 'status', '--porcelain').strip() == ''
    # The accept commit is trusted: this engine re-measures the row (RSS read at the stage
    # boundaries, rss-sync) and integrity passes;
    # the memory gate now ratchets against the row's peaks.
    code, verdicts = check(repo)
    assert code == 0, {g: messages(v) for g, v in verdicts.items()}
    assert 'ledger row' in verdicts['memory']['details']['workloads']['n12']['reference']['source']


def test_one_output_byte_fails_proof(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    flipped = FAST.replace(
        "    return b''.join(out)\n",
        "    proof = b''.join(out)\n    return proof[:-1] + bytes([proof[-1] ^ 1])\n",
    )
    assert flipped != FAST
    change(repo, flipped, 'faster, but the last byte differs')
    code, verdicts = check(repo)
    assert code == 1
    assert not verdicts['proof']['passed']
    assert 'sha256' in messages(verdicts['proof'])


def test_a_3x_slowdown_fails_time(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    line = '            path.append(subtree(leaf_hashes, sibling * size, size))\n'
    base = (EXAMPLE / 'merkle.py').read_text(encoding='utf-8')
    assert line in base
    # Three times the work of the target stage: every sibling subtree computed thrice.
    slow = base.replace(line, '            for _ in range(2):\n'
                              '                subtree(leaf_hashes, sibling * size, size)\n' + line)
    change(repo, slow, 'three times the openings work')
    code, verdicts = check(repo)
    assert code == 1
    assert not verdicts['time']['passed']
    ratio = verdicts['time']['details']['workloads']['n12']['ratio_stages']['2']
    assert ratio > 2.0, ratio
    assert verdicts['proof']['passed']


def test_64_mib_in_the_command_fails_memory_by_rss(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    heavy = FAST.replace(
        '    tree = layers(leaf_hashes)\n',
        "    tree = layers(leaf_hashes)\n    ballast = b'\\x01' * (64 << 20)   # touched pages\n",
    ).replace('    return out\n\n\ndef verify', '    del ballast\n    return out\n\n\ndef verify')
    assert heavy.count('ballast') == 2
    change(repo, heavy, 'faster, but holds 64 MiB in the openings')
    code, verdicts = check(repo)
    assert code == 1
    assert not verdicts['memory']['passed']
    found = messages(verdicts['memory'])
    assert 'stage 2 (openings) in-stage peak' in found
    assert verdicts['time']['passed'] and verdicts['proof']['passed']


def test_a_whole_run_target_judges_end_to_end_only(tmp_path: Path) -> None:
    repo = tmp_path / 'src'
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns('__pycache__', '.stagegate'))
    spec = repo / 'specs' / 'merkle.yaml'
    spec.write_text(spec.read_text(encoding='utf-8').replace('target: openings', 'target: run'), encoding='utf-8')
    example = example_repo_from(repo, tmp_path)
    change(example, FAST, 'read siblings from layers built once')
    code, verdicts = check(example)
    assert code == 0, {g: messages(v) for g, v in verdicts.items()}
    metrics = verdicts['time']['details']['workloads']['n12']['metrics']
    assert [m['metric'] for m in metrics if m['judged']] == ['total']
    assert verdicts['time']['details']['workloads']['n12']['ratio_total'] < 0.9
