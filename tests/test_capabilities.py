"""prover.probe.capabilities() reads each stage's own BACKENDS (issue 6, item 4).

Offering stage k as streaming must be an edit inside stage k's paths; these tests copy the
prover, change one stage's constant, and ask the copy in a fresh interpreter.
"""
from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _backends_of(path: Path) -> tuple[str, ...] | None:
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "BACKENDS" for t in node.targets):
            value = ast.literal_eval(node.value)
            return tuple(value)
    return None


def _capabilities(root: Path) -> dict[str, list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", "import json, prover.probe as p; print(json.dumps(p.capabilities()))"],
        cwd=root, capture_output=True, text=True, check=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
    )
    result: dict[str, list[str]] = json.loads(out.stdout)
    return result


def test_every_stage_declares_its_backends_in_its_own_module() -> None:
    for k in range(9):
        declared = _backends_of(ROOT / "prover" / "stages" / f"stage{k}.py")
        assert declared is not None, f"prover/stages/stage{k}.py has no BACKENDS constant"
        assert "materialized" in declared


def test_capabilities_follow_the_stage_constant(tmp_path: Path) -> None:
    # The copy keeps numba's on-disk caches (``__pycache__/*.nbi``, ``*.nbc``; the kernels are
    # ``cache=True``): without them the first fresh interpreter compiles every kernel again (about
    # 35 s on the project's 2-core machine) for a test about a constant. numba loads a cached kernel
    # only when its source file's timestamp and size and its bytecode match, and recompiles
    # otherwise, so what this test asks the copy is unchanged. Python's own .pyc files stay behind.
    shutil.copytree(ROOT / "prover", tmp_path / "prover", ignore=shutil.ignore_patterns("*.pyc"))
    before = _capabilities(tmp_path)
    assert before == {
        str(k): list(_backends_of(ROOT / "prover" / "stages" / f"stage{k}.py") or ()) for k in range(9)
    }
    # a stage not converted yet (it still offers only "materialized") gains "streaming" by its
    # constant alone
    open_stages = [k for k in range(9) if before[str(k)] == ["materialized"]]
    assert open_stages, "every stage streams: pick another constant to flip"
    k = str(open_stages[0])
    stage = tmp_path / "prover" / "stages" / f"stage{k}.py"
    text = stage.read_text(encoding="utf-8")
    old = 'BACKENDS = ("materialized",)'
    assert old in text
    stage.write_text(text.replace(old, 'BACKENDS = ("materialized", "streaming")'), encoding="utf-8")
    after = _capabilities(tmp_path)
    assert after[k] == ["materialized", "streaming"]
    assert {s: v for s, v in after.items() if s != k} == {s: v for s, v in before.items() if s != k}
