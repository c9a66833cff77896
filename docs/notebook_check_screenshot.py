"""Renders docs/notebook-check.png: what grader.check shows in a notebook for a buggy backward.

The report is a real one (the functions below graded in the sandbox), shown as a notebook shows
_repr_html_, rendered by headless Chromium. Run from the repository root:
    python docs/notebook_check_screenshot.py
"""

import html
import inspect
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import grader

def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def forward(x, W1, b1, W2, b2):
    o = sigmoid(W1 @ x + b1)
    return o, sigmoid(W2 @ o + b2)


def backward(x, t, W1, b1, W2, b2):
    o, y = forward(x, W1, b1, W2, b2)
    d2 = y - t                        # forgot y * (1 - y)
    d1 = (W2.T @ d2) * o * (1 - o)
    return d1 @ x.T, d1.sum(axis=1, keepdims=True), d2 @ o.T, d2.sum(axis=1, keepdims=True)


CELL = inspect.getsource(backward).rstrip()  # the notebook cell of the picture

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--window-size=1180,940"]


def page(report_html: str) -> str:
    code = ("font-family:monospace;background:#f7f7f7;border:1px solid #e0e0e0;padding:8px;"
            "white-space:pre;margin:0 0 4px 0")
    prompt = "font-family:monospace;color:#303f9f;width:70px;display:inline-block;vertical-align:top"
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>grader.check</title></head>"
        "<body style='font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:13px;margin:16px'>"
        f"<div><span style='{prompt}'>[3]:</span><div style='{code};display:inline-block;width:1000px'>"
        f"{html.escape(CELL)}</div></div>"
        f"<div style='margin-top:10px'><span style='{prompt}'>[4]:</span><div style='{code};display:inline-block;"
        "width:1000px'>import grader\ngrader.check(\"tutorial-4\")</div></div>"
        f"<div style='margin-left:74px;margin-top:6px'>{report_html}</div></body></html>")


def main() -> None:
    report = grader.check("tutorial-4")
    out = Path(__file__).resolve().parent / "notebook-check.png"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "check.html"
        src.write_text(page(report._repr_html_()), encoding="utf-8")
        profile = Path(tmp) / "profile"
        profile.mkdir()
        subprocess.run(["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={out}",
                        src.as_uri()], check=True, capture_output=True, timeout=120)
    print(out)


if __name__ == "__main__":
    sys.exit(main())
