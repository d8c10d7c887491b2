"""``gates report`` on the two subjects this repository ships, in a real headless Chromium:
the bundled prover's spec with its ledger (no check is run on it), and examples/merkle (a
command subject whose workloads have no ``log_t``) with a ``gates check --json`` document of its
own. Set GATES_KEEP_REPORT=DIR to keep each page's screenshot (docs/report-*.png come from it)
and the bundled prover's whole-run plot (docs/whole-run-peak.png)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _browser import load
from _loop_helpers import gates_env
from gates.contract.spec import parse_spec
from gates.model import GateError

ROOT = Path(__file__).resolve().parents[2]
MERKLE = ROOT / 'examples' / 'merkle'


def gates(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run((sys.executable, '-m', 'gates', *args), cwd=cwd, env=gates_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900,
                          check=False)


def keep(shot: Path, name: str) -> None:
    where = os.environ.get('GATES_KEEP_REPORT')
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(where) / name)


def test_the_bundled_prover_report_shows_baseline_units_and_sizes(tmp_path: Path) -> None:
    out = tmp_path / 'report'
    proc = gates(ROOT, 'report', '--out', str(out))
    assert proc.returncode == 0, proc.stderr
    assert '(3 plots)' in proc.stdout
    page = (out / 'report.html').read_text()
    # x from log_t, one tick per workload of the ledger row
    assert all(f'<td>2^{k}</td>' in page for k in range(16, 21)), page
    # the baseline's own series on the time panels, beside the accepted row
    assert '<td class="l">8 openings</td><td class="l">baseline (ratio 1 by definition)</td>' in page
    assert '<td class="l">8 openings</td><td class="l">accepted: row 0, stage 0' in page
    # each unit's panel (v3: stages 0 + 8 and stages 2-6), with row 0's recorded unit figures
    for unit in ('stages 0 + 8', 'stages 2 + 3 + 4 + 5 + 6'):
        assert f'<td class="l">{unit}</td><td class="l">accepted: row 0, stage 0' in page
        assert f'<td class="l">{unit}</td><td class="l">baseline (ratio 1 by definition)' in page
    # what the ledger cannot show is said, and nothing false about --check
    assert 'No baseline peaks: ledger rows keep' in page and 'no --check' not in proc.stdout
    # the whole run's peak of every ledger row (tests/gates/test_report_whole.py checks its figures)
    assert '<img src="whole_peak_vs_T.png"' in page and 'Whole-run plot: no baseline line.' in page
    loaded = load(out / 'report.html', tmp_path / 'browser', size='1400,4000')
    assert loaded.body.get('data-images-total') == '3', loaded.body
    assert loaded.body.get('data-images-loaded') == '3', loaded.body
    assert loaded.body.get('data-errors') == '0' and loaded.console == [], loaded.console
    keep(loaded.screenshot, 'report-prover.png')
    keep(out / 'whole_peak_vs_T.png', 'whole-run-peak.png')   # the whole-run plot alone


@pytest.fixture(scope='module')
def merkle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """examples/merkle as examples/merkle/ci-check.sh sets it up, checked on its ci tier."""
    repo = tmp_path_factory.mktemp('merkle') / 'repo'
    shutil.copytree(MERKLE, repo, ignore=shutil.ignore_patterns('__pycache__'))
    env = {**os.environ, 'GIT_AUTHOR_NAME': 'ci', 'GIT_AUTHOR_EMAIL': 'ci@example.invalid',
           'GIT_COMMITTER_NAME': 'ci', 'GIT_COMMITTER_EMAIL': 'ci@example.invalid'}
    for cmd in (['init', '-q', '-b', 'main'], ['add', '-A'], ['commit', '-qm', 'baseline'],
                ['tag', 'merkle-v1'], ['checkout', '-qb', 'fast']):
        subprocess.run(['git', *cmd], cwd=repo, env=env, check=True)
    shutil.copy(repo / 'candidates' / 'merkle_fast.py', repo / 'merkle.py')
    subprocess.run(['git', 'commit', '-qam', 'fast'], cwd=repo, env=env, check=True)
    proc = gates(repo, 'check', '--tier', 'ci', '--json')
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    doc = repo.parent / 'merkle-ci.json'
    doc.write_text(proc.stdout)
    return repo, doc


@pytest.mark.slow
def test_the_merkle_report_plots_a_foreign_subject(merkle: tuple[Path, Path], tmp_path: Path) -> None:
    repo, doc = merkle
    out = tmp_path / 'report'
    proc = gates(repo, 'report', '--out', str(out), '--check', str(doc))
    assert proc.returncode == 0, proc.stderr
    assert '(3 plots)' in proc.stdout and 'no --check' not in proc.stdout
    page = (out / 'report.html').read_text()
    # no parameter is a size (log_n, queries): the workloads in spec order, named by id
    assert '<th>workload (spec order)</th>' in page and '<td>n12</td>' in page
    assert 'name one with report.size_param' in page
    # both sides: the memory gate's baseline beside the candidate, and the time ratio's baseline
    for stage in ('0 leaves', '1 root', '2 openings'):
        assert f'<td class="l">{stage}</td><td class="l">baseline (' in page, stage
        assert f'<td class="l">{stage}</td><td class="l">candidate (' in page, stage
    assert '<td class="l">2 openings</td><td class="l">baseline (ratio 1 by definition)' in page
    # the whole run: the baseline measured in that check beside the candidate
    whole = page.split('<h2>Whole-run peaks (the plotted figures)</h2>', 1)[1].split('</table>', 1)[0]
    assert '<tr><td class="l">baseline (' in whole and '<tr><td class="l">candidate (' in whole, whole
    loaded = load(out / 'report.html', tmp_path / 'browser', size='1400,3000')
    assert loaded.body.get('data-images-loaded') == '3' == loaded.body.get('data-images-total')
    assert loaded.body.get('data-errors') == '0' and loaded.console == [], loaded.console
    keep(loaded.screenshot, 'report-merkle.png')
    # the same figures against the size the spec names
    spec = repo / 'specs' / 'merkle.yaml'
    spec.write_text(spec.read_text() + 'report:\n  size_param: log_n\n  size_log2: true\n')
    proc = gates(repo, 'report', '--out', str(tmp_path / 'sized'), '--check', str(doc))
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / 'sized' / 'report.html').read_text()
    assert '<th>2^log_n</th>' in page and '<td>2^12</td>' in page and 'from report.size_param log_n' in page


def _merkle_spec(report: str) -> str:
    return (MERKLE / 'specs' / 'merkle.yaml').read_text() + report


@pytest.mark.parametrize('report, words', [
    ('report:\n  size_param: width\n', 'report.size_param: workload "n12" has no parameter "width"'),
    ('report:\n  size_param: log_n\n  size_log2: yes please\n', 'report.size_log2: expected true or false'),
    ('report:\n  size_log2: true\n', 'report.size_log2: size_log2 needs report.size_param'),
    ('report:\n  size: log_n\n', 'report'),
])
def test_a_bad_report_key_is_one_located_line(report: str, words: str) -> None:
    with pytest.raises(GateError) as e:
        parse_spec(_merkle_spec(report), 'specs/merkle.yaml')
    assert words in str(e.value) and '\n' not in str(e.value), str(e.value)
    assert str(e.value).startswith('specs/merkle.yaml:')


def test_a_size_param_is_read(tmp_path: Path) -> None:
    from gates.reports.htmlreport import size_axis
    spec = parse_spec(_merkle_spec('report:\n  size_param: queries\n'), 'specs/merkle.yaml')
    axis = size_axis(spec)
    assert axis.xs == {'n12': 32.0} and axis.label == 'queries' and axis.sized
    assert size_axis(parse_spec(_merkle_spec(''), 'specs/merkle.yaml')).sized is False


def test_a_bad_spec_report_key_exits_2_with_one_line(tmp_path: Path) -> None:
    repo = tmp_path / 'repo'
    shutil.copytree(MERKLE, repo, ignore=shutil.ignore_patterns('__pycache__'))
    subprocess.run(['git', 'init', '-q', '-b', 'main'], cwd=repo, check=True)
    (repo / 'specs' / 'merkle.yaml').write_text(_merkle_spec('report:\n  size_param: queries\n'
                                                             '  size_log2: 3\n'))
    proc = gates(repo, 'report', '--out', str(tmp_path / 'out'))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count('\n') == 1 and 'report.size_log2: expected true or false' in proc.stderr


@pytest.mark.parametrize('peaks', [{'zero': 5}, {'0': 'many'}, ['not', 'an', 'object']])
def test_a_check_document_with_bad_peaks_exits_2_with_one_line(peaks: object, tmp_path: Path) -> None:
    import json
    repo = tmp_path / 'repo'
    shutil.copytree(MERKLE, repo, ignore=shutil.ignore_patterns('__pycache__'))
    subprocess.run(['git', 'init', '-q', '-b', 'main'], cwd=repo, check=True)
    doc = tmp_path / 'bad.json'
    doc.write_text(json.dumps({'schema': 1, 'tier': 'ci', 'verdicts': [{'gate': 'memory', 'details': {
        'workloads': {'n12': {'candidate': {'stage_peaks': peaks}}}}}]}))
    proc = gates(repo, 'report', '--out', str(tmp_path / 'out'), '--check', str(doc))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count('\n') == 1 and 'memory.workloads.n12.candidate.stage_peaks' in proc.stderr
    assert not (tmp_path / 'out').exists()
