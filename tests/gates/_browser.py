"""A real headless Chromium (Debian's ``chromium`` package) for the report page's tests.

Two runs per page: ``--dump-dom`` after the load event (the page's inline script has then marked
on ``<body>`` how many images loaded and how many errors happened), and ``--screenshot``. Console
messages come from Chromium's own log on stderr (``INFO:CONSOLE`` lines).
"""
from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest

APT = 'apt-get update && apt-get install -y chromium chromium-driver'
FLAGS = (
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--enable-logging=stderr', '--v=0', '--virtual-time-budget=5000', '--hide-scrollbars',
)


def chromium() -> str:
    found = shutil.which('chromium') or shutil.which('chromium-browser')
    if found is None:
        pytest.skip(f'chromium is not installed; the report page needs a real browser: {APT}')
    return found


@dataclasses.dataclass(frozen=True)
class Loaded:
    body: dict[str, str]          # the attributes of <body> after load
    console: list[str]            # console messages Chromium logged
    dom: str
    screenshot: Path


def load(page: Path, work: Path, size: str = '1400,2400') -> Loaded:
    browser = chromium()
    work.mkdir(parents=True, exist_ok=True)
    url = page.resolve().as_uri()

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        profile = work / f'profile-{len(list(work.iterdir()))}'
        return subprocess.run(
            (browser, *FLAGS, f'--user-data-dir={profile}', *extra, url),
            capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
        )

    dom = run('--dump-dom')
    assert dom.returncode == 0, dom.stderr[-2000:]
    shot = work / 'screenshot.png'
    taken = run(f'--screenshot={shot}', f'--window-size={size}')
    assert taken.returncode == 0 and shot.is_file(), taken.stderr[-2000:]
    match = re.search(r'<body([^>]*)>', dom.stdout)
    body = dict(re.findall(r'([\w-]+)="([^"]*)"', match.group(1))) if match else {}
    console = [line for line in (dom.stderr + taken.stderr).splitlines() if ':CONSOLE' in line]
    return Loaded(body, console, dom.stdout, shot)
