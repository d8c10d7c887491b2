"""``gates report``'s whole-run plot (issue 16): whole-run peak against T, each ledger row, the
baseline and candidate of a ``--check`` document, and extra points from ``--points`` (a figure no
tier measures, e.g. a benchmark's 2^22). In-process and on real files: the bundled prover's own
ledger and examples/merkle with a check document written for it; fast (no gate is run)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _loop_helpers import gates_env
from gates.cli import main
from gates.reports.report import human_bytes

ROOT = Path(__file__).resolve().parents[2]
MERKLE = ROOT / 'examples' / 'merkle'
T22 = 2 ** 22
POINT = {'series': 'streaming (benchmark)', 'x': T22, 'whole_bytes': 9_000_000_123,
         'source': 'benchmarks/bench_prover.py at 2^22'}


def run(cwd: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        *args: str) -> tuple[int, str, str]:
    monkeypatch.chdir(cwd)
    code = main(['report', *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:4] == b'\x89PNG'


def test_the_bundled_prover_gets_a_whole_run_line_per_ledger_row_and_extra_points(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    points = tmp_path / 'points.json'
    points.write_text(json.dumps([POINT]))
    out = tmp_path / 'report'
    code, stdout, err = run(ROOT, monkeypatch, capsys, '--out', str(out), '--points', str(points))
    assert code == 0, err
    assert '(3 plots)' in stdout and png(out / 'whole_peak_vs_T.png')
    page = (out / 'report.html').read_text()
    assert '<img src="whole_peak_vs_T.png" alt="Whole-run peak against T (trace rows)">' in page
    table = page.split('<h2>Whole-run peaks (the plotted figures)</h2>', 1)[1].split('</table>', 1)[0]
    # Every row of the repository's ledger, every workload: its whole-run figure, labelled with
    # the row's stage and commit.
    rows = json.loads((ROOT / 'specs' / 'ledger.json').read_text())['rows']
    assert rows
    for i, row in enumerate(rows):
        for wid, fig in row['workloads'].items():
            k = int(wid.rsplit('-', 1)[1])
            cells = (f'<td class="l">accepted: row {i}, stage {row["stage"]} ({row["commit"][:8]})</td>'
                     f'<td class="l">ledger row {i} ({row["commit"][:12]})</td><td>2^{k}</td>'
                     f'<td>{human_bytes(fig["whole_run_peak"])}</td><td>{fig["whole_run_peak"]:,}</td>')
            assert cells in table, cells
    # The extra point: in the table with its source, on the axis as 2^22, and said on the page.
    assert ('<td class="l">streaming (benchmark)</td><td class="l">benchmarks/bench_prover.py at 2^22</td>'
            '<td>2^22</td><td>8.4 GiB</td><td>9,000,000,123</td>') in table
    assert f'the stars are 1 point(s) from <code>{points}</code>' in page
    # No baseline in the ledger: the page says why and how to get one.
    assert 'Whole-run plot: no baseline line.' in page and 'no <code>--check</code> document was given' in page
    md = (out / 'report.md').read_text()
    assert '![whole_peak_vs_T](whole_peak_vs_T.png)' in md
    assert '| streaming (benchmark) | benchmarks/bench_prover.py at 2^22 | 2^22 | 8.4 GiB | 9000000123 |' in md


def _merkle(tmp_path: Path) -> Path:
    repo = tmp_path / 'repo'
    shutil.copytree(MERKLE, repo, ignore=shutil.ignore_patterns('__pycache__'))
    subprocess.run(['git', 'init', '-q', '-b', 'main'], cwd=repo, check=True)
    return repo


def _check_doc(path: Path, memory: bool = True) -> Path:
    """A ci-tier check document of examples/merkle as `gates check --json` writes its figures."""
    stages = {'0': 1_000_000, '1': 2_000_000, '2': 3_000_000}
    verdicts = [{'gate': 'time', 'passed': True, 'findings': [], 'details': {'workloads': {
        'n12': {'ratio_stages': {'0': 1.0, '1': 1.0, '2': 0.4}}}}}]
    if memory:
        verdicts.append({'gate': 'memory', 'passed': True, 'findings': [], 'details': {'workloads': {'n12': {
            'candidate': {'whole_run_peak': 30_000_000, 'stage_peaks': stages},
            'reference': {'source': 'baseline ref merkle-v1 measured now', 'whole_run_peak': 31_000_000,
                          'stage_peaks': stages}}}}})
    path.write_text(json.dumps({'schema': 1, 'error': None, 'tier': 'ci', 'head': 'abcdef0123456789',
                                'verdicts': verdicts}))
    return path


def test_the_merkle_example_plots_baseline_against_candidate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo, out = _merkle(tmp_path), tmp_path / 'report'
    doc = _check_doc(tmp_path / 'ci.json')
    code, stdout, err = run(repo, monkeypatch, capsys, '--out', str(out), '--check', str(doc))
    assert code == 0, err
    assert '(3 plots)' in stdout and png(out / 'whole_peak_vs_T.png')
    page = (out / 'report.html').read_text()
    assert (f'<td class="l">baseline (measured in the check)</td><td class="l">{doc}: baseline ref '
            'merkle-v1 measured now</td><td>n12</td><td>29.6 MiB</td><td>31,000,000</td>') in page
    assert (f'<td class="l">candidate (abcdef01, tier ci)</td><td class="l">{doc}: memory candidate</td>'
            '<td>n12</td><td>28.6 MiB</td><td>30,000,000</td>') in page
    assert 'no baseline line' not in page and 'Whole-run peak against workload (spec order)' in page
    # x is the workloads in spec order: a point's size has no place there, and --points says so.
    points = tmp_path / 'points.json'
    points.write_text(json.dumps([POINT]))
    code, stdout, err = run(repo, monkeypatch, capsys, '--out', str(tmp_path / 'p'), '--check', str(doc),
                            '--points', str(points))
    assert code == 2 and err.count('\n') == 1 and 'no size axis' in err and 'report.size_param' in err, err
    # ... and with the size named in the spec, the point is drawn.
    spec = repo / 'specs' / 'merkle.yaml'
    spec.write_text(spec.read_text() + 'report:\n  size_param: log_n\n  size_log2: true\n')
    code, stdout, err = run(repo, monkeypatch, capsys, '--out', str(tmp_path / 'p'), '--check', str(doc),
                            '--points', str(points))
    assert code == 0, err
    assert '<td>2^12</td><td>28.6 MiB</td>' in (tmp_path / 'p' / 'report.html').read_text()
    assert '<td>2^22</td><td>8.4 GiB</td>' in (tmp_path / 'p' / 'report.html').read_text()


def test_no_whole_run_figures_is_said_not_drawn(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A check document with time figures only: the time plot, and for the whole run the page
    says there is nothing to plot (no empty image, no table)."""
    repo, out = _merkle(tmp_path), tmp_path / 'report'
    code, stdout, err = run(repo, monkeypatch, capsys, '--out', str(out), '--check',
                            str(_check_doc(tmp_path / 'time.json', memory=False)))
    assert code == 0, err
    assert '(1 plots)' in stdout and not (out / 'whole_peak_vs_T.png').exists()
    page = (out / 'report.html').read_text()
    assert ("Whole-run plot: nothing to plot: the ledger's rows or the <code>--check</code> documents "
            'hold no whole-run peak of this spec\'s workloads') in page, page
    assert 'Whole-run peaks (the plotted figures)' not in page


@pytest.mark.parametrize('content, words', [
    ('{"series": "a"}', 'the file holds a JSON dict, not a list; give a JSON list of {"series": str'),
    ('[1, 2', 'not JSON ('),
    ('[7]', '[0] = 7 is not an object'),
    (json.dumps([POINT, {**POINT, 'x': 2 ** 21, 'whole_byte': 5}]),
     '[1].whole_byte: unknown key (a point has series, x, whole_bytes, source); rename or remove it.'),
    (json.dumps([{k: v for k, v in POINT.items() if k != 'source'}]), '[0]: no "source" key'),
    (json.dumps([{**POINT, 'whole_bytes': 'many'}]),
     '[0].whole_bytes = "many" is not a byte count; give the whole run\'s peak in bytes, an integer > 0.'),
    (json.dumps([{**POINT, 'whole_bytes': 1.5e9}]), '[0].whole_bytes = 1500000000.0 is not a byte count'),
    (json.dumps([{**POINT, 'x': 0}]), '[0].x = 0 is not a size > 0; give the size itself as a number'),
    (json.dumps([{**POINT, 'x': True}]), '[0].x = true is not a size > 0'),
    (json.dumps([{**POINT, 'series': ''}]), '[0].series = "" is not a non-empty string; give the legend label.'),
    (json.dumps([{**POINT, 'source': None}]), '[0].source = null is not a non-empty string'),
    (json.dumps([POINT, POINT]), '[1]: series "streaming (benchmark)" already has a point at x = 2^22; give one point per series and x.'),
])
def test_bad_points_are_refused_in_one_line(content: str, words: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    points = tmp_path / 'points.json'
    points.write_text(content)
    out = tmp_path / 'report'
    code, stdout, err = run(ROOT, monkeypatch, capsys, '--out', str(out), '--points', str(points))
    assert code == 2, stdout + err
    assert err.startswith(f'gates: error: --points {points}: ') and err.count('\n') == 1, err
    assert words in err, err
    assert not out.exists()            # the folder made for the report is removed again


def test_bad_points_exit_2_from_the_command(tmp_path: Path) -> None:
    """The real process: exit status 2, one line on stderr, nothing on stdout, no folder left."""
    points = tmp_path / 'points.json'
    points.write_text(json.dumps([{**POINT, 'whole_bytes': -1}]))
    out = tmp_path / 'report'
    proc = subprocess.run((sys.executable, '-m', 'gates', 'report', '--out', str(out), '--points', str(points)),
                          cwd=ROOT, env=gates_env(), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 2 and proc.stdout == '', proc.stdout + proc.stderr
    assert proc.stderr == (f'gates: error: --points {points}: [0].whole_bytes = -1 is not a byte count; '
                           'give the whole run\'s peak in bytes, an integer > 0.\n')
    assert not out.exists()


def test_a_missing_points_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / 'nope.json'
    code, _, err = run(ROOT, monkeypatch, capsys, '--out', str(tmp_path / 'r'), '--points', str(missing))
    assert code == 2 and err == f'gates: error: --points {missing}: cannot read it (No such file or ' \
                                'directory); give a readable file.\n', err
