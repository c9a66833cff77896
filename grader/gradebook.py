"""The outputs of a batch that span the class: the gradebook CSV and the summary.

Rows are the per-student results as saved (``OUT/results/<id>.json``), so a gradebook rebuilt from
them after an interruption is the same bytes. Every cell a student controls (the student id
comes from a file name) goes through :func:`grader.report.csv_cell`.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .report import csv_cell


def columns(rows: list[dict[str, Any]]) -> list[str]:
    """The test ids of the class, in the order the results list them."""
    cols: list[str] = []
    seen: set[str] = set()
    for r in rows:
        for t in r["tests"]:
            if t["id"] not in seen:
                seen.add(t["id"])
                cols.append(t["id"])
    return cols


def _num(x: float) -> str:
    return format(round(float(x), 4), "g")


def row_cells(r: dict[str, Any], cols: list[str], extra: Sequence[tuple[str, Callable[[dict], str]]] = ()) -> list[str]:
    """One student's row: id, score, max, percent, the ``extra`` cells, then each test's points
    ("" where it has none)."""
    by_id = {t["id"]: t["score"] for t in r["tests"]}
    return [csv_cell(r["student"]), _num(r["score"]), _num(r["max_score"]), _num(r["percent"]),
            *(csv_cell(f(r)) for _, f in extra), *(_num(by_id[c]) if c in by_id else "" for c in cols)]


def gradebook_csv(rows: list[dict[str, Any]], extra: Sequence[tuple[str, Callable[[dict], str]]] = ()) -> str:
    """Student id, score, max, percent, the ``extra`` columns (roster, lateness, overrides: header
    and a function of the row), then one column per question or case (its points)."""
    cols = columns(rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student", "score", "max_score", "percent", *(h for h, _ in extra), *(csv_cell(c) for c in cols)])
    for r in rows:
        w.writerow(row_cells(r, cols, extra))
    return buf.getvalue()


def _histogram(percents: list[float]) -> Iterator[str]:
    bins = [0] * 10
    for p in percents:
        bins[min(9, int(p // 10))] += 1
    width = max(bins) or 1
    for k, n in enumerate(bins):
        label = f"{k * 10:3d}-{k * 10 + 9 if k < 9 else 100:<3d}%"
        yield f"  {label} {'#' * round(30 * n / width):<30} {n}"


def _plain(text: str) -> str:
    """A name from a file system on one line of the summary (no control characters)."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def summary_text(exercise: str, rows: list[dict[str, Any]], stray: list[tuple[str, str]] = (),
                 removed: list[str] = ()) -> str:
    """Count, mean, median, min, max, a text histogram, the questions most often not passed, every
    file that was not graded (with its reason) and the results moved away for removed students."""
    percents = [float(r["percent"]) for r in rows]
    lines = [f"Exercise: {exercise}", f"Submissions: {len(rows)}"]
    if percents:
        lines += [
            f"Mean: {statistics.fmean(percents):.1f}%   Median: {statistics.median(percents):.1f}%   "
            f"Min: {min(percents):.1f}%   Max: {max(percents):.1f}%",
            "", "Scores:", *_histogram(percents),
        ]
        wrong: dict[str, int] = {}
        names: dict[str, str] = {}
        for r in rows:
            for t in r["tests"]:
                names.setdefault(t["id"], t["name"])
                if t["status"] != "passed":
                    wrong[t["id"]] = wrong.get(t["id"], 0) + 1
        top = sorted(wrong.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        if top:
            lines += ["", "Most often not passed:"]
            lines += [f"  {n:4d} / {len(rows)}  {names[k]}" for k, n in top]
    ignored = [(i["file"], i["reason"]) for r in rows for i in r.get("files", {}).get("ignored", [])]
    ignored += [(name, f"{reason} (no student's)") for name, reason in stray]
    if ignored:
        lines += ["", f"Files not graded ({len(ignored)}, named from the class folder):"]
        lines += [f"  {_plain(name)}: {reason}" for name, reason in ignored]
    if removed:
        lines += ["", f"Results of students no longer in the folder, moved to results/removed/ ({len(removed)}):"]
        lines += [f"  {_plain(s)}" for s in removed]
    return "\n".join(lines) + "\n"
