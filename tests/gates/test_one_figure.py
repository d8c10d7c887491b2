"""One figure per tree, whatever measures it (issue 13.1).

Measured on main at 12f3e63: the engine installed with ``pip install`` (as CI installs the base's
engine) could not even import numpy in the subject, and where it ran, pymalloc's 1 MiB arenas
moved the whole-run peak by +1,049,458 B with nothing but sys.path changed, and stage 0 by
4.9 MB between a cold and a warm JIT cache (the memory gate's path against the trust
re-measure's). Heap runs now allocate with malloc (probe.MEMORY_ENV) and the child gets the
site-packages folder the engine lives in without the engine's packages. Real venvs, real pip,
real subprocesses, real memray.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest
from gate_helpers import python_subject
from gate_helpers import write_subject

from gates.measuring import probe
from gates.measuring.request import RunRequest

REPO = Path(__file__).resolve().parents[2]
STAGES = [0, 1, 2]
MAT = {'0': 'materialized', '1': 'materialized', '2': 'materialized'}
NOISE_SEEN = 16 << 10   # a few bytes measured across installs; a pymalloc arena is 1 MiB

# A subject that allocates Python objects of many sizes in every stage (what arenas quantize) and
# reports what it can import.
SUBJECT = '''\
import importlib.util, json
seen = {{'gates': importlib.util.find_spec('gates') is not None,
        'prover': importlib.util.find_spec('prover') is not None,
        'thirdparty': importlib.util.find_spec('thirdparty_marker') is not None}}
with open({seen!r}, 'w') as fh:
    json.dump(seen, fh)
kept = []
for k in range(3):
    observer.enter(k)
    held = [str(i) * (i % 7 + 1) for i in range(20000 * (k + 1))]
    kept.append(len(held))
    del held
    observer.exit(k)
return b"PROOF"
'''

MEASURE = '''\
import json, sys, tempfile
from pathlib import Path
from gates.measuring import probe
from gates.contract.spec import Subject
subject = Subject('python', '.', 'subj:prove', 'subj:verify', 'subj:sections', 'subj:capabilities', ())
with tempfile.TemporaryDirectory() as cap:
    run = probe.memory_run(subject, Path(sys.argv[1]), 'w', {{}}, {mat!r}, [0, 1, 2], Path(cap))
print(json.dumps({{'engine': str(probe.engine_root()), 'stages': dict(run.stage_peaks),
                  'whole': run.whole_run_peak}}))
'''


def _installed_engine(tmp_path: Path) -> Path:
    """A venv where stagegate is installed as CI installs it (a wheel, not -e) and its
    dependencies are this interpreter's (linked, not downloaded); its python."""
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True)
    site = Path(subprocess.run(
        [str(venv / 'bin' / 'python'), '-c', 'import site; print(site.getsitepackages()[0])'],
        check=True, capture_output=True, text=True).stdout.strip())
    ours = Path(sysconfig.get_paths()['purelib'])
    for entry in ours.iterdir():
        name = entry.name
        if name.split('-')[0] in ('gates', 'prover', 'stagegate') or name.startswith('__editable__') \
                or name.endswith('.pth'):
            continue
        os.symlink(entry, site / name)
    (site / 'thirdparty_marker.py').write_text('X = 1\n', encoding='utf-8')
    subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps',
         '--target', str(site), str(REPO)], check=True, capture_output=True,
    )
    assert (site / 'gates' / 'measuring' / 'probe.py').is_file()
    return venv / 'bin' / 'python'


@pytest.mark.slow
def test_an_engine_installed_as_a_package_measures_what_the_checkout_measures(tmp_path: Path) -> None:
    seen = tmp_path / 'seen.json'
    tree = tmp_path / 'tree'
    write_subject(tree, SUBJECT.format(seen=str(seen)))
    python = _installed_engine(tmp_path)
    proc = subprocess.run([str(python), '-c', MEASURE.format(mat=MAT), str(tree)], cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, 'PYTHONPATH': ''})
    assert proc.returncode == 0, proc.stderr[-3000:]
    installed = json.loads(proc.stdout)
    assert 'site-packages' in installed['engine']
    # The subject imports third-party packages from the engine's site-packages, not the engine.
    assert json.loads(seen.read_text()) == {'gates': False, 'prover': False, 'thirdparty': True}
    # And measures, to within a few bytes, what this checkout's engine measures.
    import tempfile
    with tempfile.TemporaryDirectory() as cap:
        here = probe.memory(RunRequest(python_subject(), tree, 'w', {}, MAT, STAGES), Path(cap))
    print(f'installed {installed}; checkout {dict(here.stage_peaks)} whole {here.whole_run_peak}')
    for k in STAGES:
        assert abs(installed['stages'][str(k)] - here.stage_peaks[k]) < NOISE_SEEN
    assert abs(installed['whole'] - here.whole_run_peak) < NOISE_SEEN


@pytest.mark.slow
def test_a_cold_and_a_warm_jit_cache_give_the_same_stage_figure(tmp_path: Path) -> None:
    """The bundled prover, whose numba kernels compile on a cold cache and load on a warm one:
    the memory gate measured stage 0 with one, the trust re-measure with the other."""
    from gates.contract.spec import load_spec
    spec = load_spec(REPO / 'specs/streaming-prover.yaml')
    variant = spec.variant((0,))
    stages = [s.id for s in spec.stages]
    params = {'workload': 'sha2-chain', 'log_t': 12}
    figures = []
    for i in range(2):   # one engine process: the tree's JIT cache is cold, then warm
        capture = probe.capture(RunRequest(spec.subject, REPO, 'sha2-12', params, variant, stages), 0,
                                tmp_path / str(i))
        figures.append(probe.peak_bytes(capture))
    cold, warm = figures
    print(f'stage 0 at 2^12: cold {cold} B, warm {warm} B')
    assert abs(cold - warm) < spec.budgets.memory.tolerance_bytes
