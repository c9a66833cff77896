"""Headless Chromium for the layout tests: load a page, run a measuring script, read its result.

The page gets a script that, once the page has loaded and its fonts are ready, writes
``JSON.stringify(measure())`` into ``<pre id="measured">``; ``--dump-dom`` prints the DOM after
that, so no DevTools client is needed. Chromium runs as the tests' user with a fresh empty
profile and everything that would reach the network turned off.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def require() -> str:
    """The Chromium binary, or a skip that says why (CI installs Debian's chromium: .ci/run)."""
    found = chromium()
    if found is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium; .ci/run does this)")
    return found


_RESULT = re.compile(r'<pre id="measured">(.*?)</pre>', re.S)


def measure(page: str, script: str, width: int = 1200, height: int = 900) -> object:
    """Load ``page`` (an HTML document) at a ``width`` × ``height`` window and return what the
    JavaScript function body ``script`` returns (JSON-serialisable)."""
    binary = require()
    hook = ("<script>window.addEventListener('load', async () => { await document.fonts.ready;"
            " const measure = () => {" + script + "};"
            " const pre = document.createElement('pre'); pre.id = 'measured';"
            " pre.textContent = JSON.stringify(measure()); document.body.appendChild(pre); });</script>")
    page = page.replace("</body>", hook + "</body>") if "</body>" in page else page + hook
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "page.html"
        path.write_text(page, encoding="utf-8")
        cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={Path(tmp) / 'profile'}", f"--window-size={width},{height}",
               "--virtual-time-budget=5000", "--dump-dom", path.as_uri()]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "LANG": "C.UTF-8"})
    found = _RESULT.search(run.stdout)
    assert found, f"Chromium wrote no measurement (exit {run.returncode}): {run.stderr[-1500:]}"
    import html

    return json.loads(html.unescape(found[1]))
