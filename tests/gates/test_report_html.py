"""``gates report``'s page, from real gate runs on the toy subject, checked in a real headless
Chromium: every plot image loads, no console or script error, and the page says what it shows."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _browser import load
from _loop_helpers import gates_env
from conftest import _SPEC_BLOCKS
from conftest import build_tiny_subject
from conftest import commit_all
from conftest import convert_stage
from conftest import git


def gates(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run((sys.executable, '-m', 'gates', *args), cwd=repo, env=gates_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600,
                          check=False)


@pytest.fixture(scope='module')
def accepted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Stage 0 converted, checked on the full tier (the baseline measured in that run: the
    ledger was empty) and accepted; returns the repo and the check document."""
    tmp = tmp_path_factory.mktemp('report')
    # As test_cli's end-to-end run: few-ms toy stages put the time gate's self-vs-self ratios at
    # the noise floor of a shared machine; 25 ms stages and up to 7 pairs keep them clear of it.
    # Stages 0 and 2 judged as one unit (as this project judges 0 + 8): the report gives the unit
    # a panel of its own, from the check document and from the accepted row.
    budgets = _SPEC_BLOCKS['budgets'].replace('max_pairs: 11', 'max_pairs: 7\n    units: [[0, 2]]')
    repo = build_tiny_subject(tmp, sleep_ms=25, budgets=budgets).path
    convert_stage(repo, 0)
    commit_all(repo, 'stage 0: streaming')
    proc = gates(repo, 'check', '--tier', 'full', '--json')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = tmp / 'full.json'
    doc.write_text(proc.stdout)
    proc = gates(repo, 'accept')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return repo, doc


@pytest.mark.slow
def test_the_report_page_loads_in_a_browser_with_every_plot(accepted: tuple[Path, Path], tmp_path: Path) -> None:
    repo, doc = accepted
    out = tmp_path / 'report'
    proc = gates(repo, 'report', '--out', str(out), '--check', str(doc))
    assert proc.returncode == 0, proc.stderr
    assert '(3 plots)' in proc.stdout
    page = (out / 'report.html').read_text()
    # Baseline and candidate from the check document, accepted from the ledger, per stage and T.
    for series in ('baseline', 'accepted: row 0, stage 0', 'candidate ('):
        assert f'<td class="l">{series}' in page, series
    assert '<td class="l">0 commit</td><td class="l">accepted: row 0' in page
    assert '2^13' in page and 'Ledger history' in page
    # The whole run's peak: the baseline measured in that check (the ledger was empty), the
    # accepted row and the candidate, each at every T of the full tier.
    whole = page.split('<h2>Whole-run peaks (the plotted figures)</h2>', 1)[1].split('</table>', 1)[0]
    for series in ('baseline (', 'accepted: row 0, stage 0', 'candidate ('):
        assert whole.count(f'<tr><td class="l">{series}') == 2, (series, whole)
    assert 'no baseline line' not in page
    # The unit's ratios: measured by the time gate, recorded in the accepted row, plotted.
    from gates.commands.report import check_figures, ledger_unit_figures, read_check
    from gates.session import load as load_spec_and_ledger
    spec, ledger = load_spec_and_ledger(repo, None)
    assert spec.budgets.time.units == ((0, 2),)
    row_units = [f.time_ratio_units for f in ledger.rows[0].workloads.values()]
    assert row_units and all(set(u) == {'0+2'} and u['0+2'] > 0 for u in row_units), row_units
    units: dict[str, list] = {'0+2': []}
    ledger_unit_figures(spec, ledger, units)
    check_figures(spec, read_check(doc), {}, {}, units)
    assert '<td class="l">stages 0 + 2</td><td class="l">accepted: row 0' in page  # the unit's table
    kinds = sorted(ln.kind for ln in units['0+2'])
    assert kinds == ['accepted', 'candidate'] and all(len(ln.points) == len(row_units) for ln in units['0+2'])
    loaded = load(out / 'report.html', tmp_path / 'browser')
    assert loaded.body.get('data-images-total') == '3', loaded.body
    assert loaded.body.get('data-images-loaded') == '3', loaded.body
    assert loaded.body.get('data-errors') == '0' and loaded.console == [], loaded.console
    assert loaded.screenshot.read_bytes()[:4] == b'\x89PNG'
    keep = os.environ.get('GATES_KEEP_REPORT')   # a folder, for a person to look at the page
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(loaded.screenshot, Path(keep) / 'screenshot.png')
        shutil.copy(out / 'report.html', Path(keep) / 'report.html')
        for png in out.glob('*.png'):
            shutil.copy(png, Path(keep) / png.name)


def test_the_browser_check_can_fail(tmp_path: Path) -> None:
    """A missing image and a script error are seen: the check above is not vacuous."""
    page = tmp_path / 'broken.html'
    from gates.reports.htmlreport import _SCRIPT
    page.write_text(f'<!doctype html><html><head>{_SCRIPT}</head><body><img src="missing.png">'
                    '<script>console.error("bad"); throw new Error("boom");</script></body></html>')
    loaded = load(page, tmp_path / 'browser')
    assert loaded.body.get('data-images-total') == '1' and loaded.body.get('data-images-loaded') == '0'
    assert int(loaded.body.get('data-errors', '0')) >= 2
    assert any('boom' in line for line in loaded.console) and 'did not load' in loaded.dom


def test_an_empty_ledger_says_why_and_how(tmp_path: Path) -> None:
    repo = build_tiny_subject(tmp_path).path
    out = tmp_path / 'report'
    proc = gates(repo, 'report', '--out', str(out))
    assert proc.returncode == 0, proc.stderr
    assert 'no plots: the ledger is empty and no --check document was given' in proc.stdout
    page = (out / 'report.html').read_text()
    assert 'Nothing to plot.' in page and 'gates check --tier full --json' in page
    assert '<img' not in page and not list(out.glob('*.png'))
    assert 'Nothing to plot: ' in (out / 'report.md').read_text()
    loaded = load(out / 'report.html', tmp_path / 'browser')
    assert loaded.body.get('data-images-total') == '0' and loaded.body.get('data-errors') == '0'
    assert loaded.console == []


def test_an_unwritable_out_is_refused_before_any_work(tmp_path: Path) -> None:
    # Refused even outside a repository: the --out check comes before the spec is read.
    a_file = tmp_path / 'taken'
    a_file.write_text('x')
    for out, words in ((a_file, 'is a file, not a folder'), (a_file / 'sub', 'cannot write there')):
        proc = gates(tmp_path, 'report', '--out', str(out))
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert proc.stderr == f'gates: error: --out {out}: {words}' + proc.stderr.split(words, 1)[1]
        assert proc.stderr.count('\n') == 1 and 'git repository' not in proc.stderr
    assert a_file.read_text() == 'x'


def test_a_bad_check_document_is_unusable_input(tmp_path: Path) -> None:
    repo = build_tiny_subject(tmp_path).path
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps({'schema': 1, 'error': 'git ref not found', 'verdicts': []}))
    out = tmp_path / 'report'
    proc = gates(repo, 'report', '--out', str(out), '--check', str(bad))
    assert proc.returncode == 2 and 'could not judge (git ref not found)' in proc.stderr
    assert not out.exists()                   # the folder made for it is removed again
    assert git(repo, 'status', '--porcelain') == ''


def test_a_check_document_without_figures_is_named_not_denied(tmp_path: Path) -> None:
    """A --check document that holds no memory or time figures (a pre-commit tier's) is named as
    such: the report never says no document was given when one was."""
    repo = build_tiny_subject(tmp_path).path
    doc = tmp_path / 'pre-commit.json'
    doc.write_text(json.dumps({'schema': 1, 'error': None, 'tier': 'pre-commit', 'head': 'a' * 40,
                               'verdicts': [{'gate': g, 'passed': True, 'findings': [], 'details': {}}
                                            for g in ('api', 'scope', 'integrity', 'proof')]}))
    out = tmp_path / 'report'
    proc = gates(repo, 'report', '--out', str(out), '--check', str(doc))
    assert proc.returncode == 0, proc.stderr
    assert 'no --check document' not in proc.stdout and 'was given' not in proc.stdout, proc.stdout
    assert f'{doc} holds no memory or time figures' in proc.stdout, proc.stdout
    page = (out / 'report.html').read_text()
    assert 'Nothing to plot.' in page and 'gates run: api, scope, integrity, proof' in page
    assert 'was given' not in page and '<img' not in page
