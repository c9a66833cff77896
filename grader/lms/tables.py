"""Reading the CSV files instructors download from an LMS, and naming the place of a bad cell.

LMS exports differ in small ways that break a naive reader: Moodle writes a byte-order mark and
may use ``;`` or a tab, Canvas inserts a "Points Possible" row, spreadsheets leave blank lines.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..errors import UsageError

MAX_BYTES = 50_000_000


def read_table(path: str | Path, what: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and the rows (with their 1-based line numbers) of a CSV file; blank rows skipped.

    ``what`` names the file's role in messages ("roster", "overrides file")."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise UsageError(f"{path}: the {what} is larger than {MAX_BYTES // 1_000_000} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # Excel on Windows saves CSV this way
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((",", ";", "\t"), key=first.count) if first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = [c.strip() for c in cells]
                continue
            cells = [c.strip() for c in cells] + [""] * (len(header) - len(cells))
            rows.append((reader.line_num, dict(zip(header, cells, strict=False))))
    except csv.Error as exc:
        raise UsageError(f"{path}: line {reader.line_num}: not valid CSV: {exc}") from None
    if header is None:
        raise UsageError(f"{path}: the {what} is empty")
    return header, rows


def cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run: text that starts like a formula (``=``, ``+``,
    ``-``, ``@``, a tab or a carriage return) gets a leading apostrophe. Numbers pass as they are."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(text)
            return text
        except ValueError:
            return "'" + text
    return text


def write_csv(rows: list[list[object]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for r in rows:
        w.writerow([cell(c) for c in r])
    return buf.getvalue()


def number(x: float) -> str:
    """A score as the gradebooks print it: at most four decimals, no trailing zeros."""
    return format(round(float(x), 4), "g")
