"""The one place where results and keys become text, JSON and files.

Key order is fixed and numbers are printed the same way every run, so golden files compare
byte for byte.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import UsageError
from .results import Results, TestResult

if TYPE_CHECKING:  # report stays light: `grade FILE` imports it before the spec machinery
    from .spec import Exercise


# ---------------------------------------------------------------------------- numbers
def fmt(value: Any, digits: int = 10) -> str:
    """A number or nested list of numbers, with ``digits`` significant figures."""
    if isinstance(value, list):
        return "[" + ", ".join(fmt(v, digits) for v in value) + "]"
    if isinstance(value, (int, float)):
        return format(float(value), f".{digits}g")
    return str(value)


def _score(x: float) -> str:
    return format(round(x, 2), "g")


def dumps(data: Any) -> str:
    """``json.dumps(data, indent=2, ensure_ascii=False)`` and a newline, byte for byte. With an
    indent, ``json`` takes its pure-Python encoder (a generator per list and dict); a batch
    writes one result a student, so the same text is made here in one recursive pass, with
    ``json``'s own C string encoder. Anything this pass does not know (a circular structure, a
    type ``json`` refuses, a subclass of str) goes to ``json.dumps``, to get its text or its error."""
    out: list[str] = []
    try:
        _encode(data, out, "\n")
    except (TypeError, ValueError, RecursionError):
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    out.append("\n")
    return "".join(out)


_encode_str = json.encoder.encode_basestring  # the C one where there is one, as json.dumps uses
_CONSTANTS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _float(value: float) -> str:
    text = float.__repr__(value)
    return _CONSTANTS.get(text, text)  # json writes these three as JavaScript names


def _scalar(value: Any) -> str | None:
    """The text of a JSON scalar, in ``json``'s order of tests; None for anything else."""
    kind = type(value)
    if kind is str:
        return _encode_str(value)
    if kind is float:
        return _float(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        raise TypeError("a str subclass")  # json.dumps decides how it writes one
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _float(value)
    return None


def _encode(value: Any, out: list[str], pad: str) -> None:
    r"""Append ``value``'s text at the indent ``pad`` ("\n" and two spaces a level)."""
    text = _scalar(value)
    if text is not None:
        out.append(text)
        return
    inner = pad + "  "
    if isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        sep = "{" + inner
        for key, item in value.items():
            # json writes a scalar key's own text as the key (true, 1.5, NaN); skipkeys is off
            name = key if type(key) is str else _scalar(key)
            if name is None:
                raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
            out.append(sep)
            out.append(_encode_str(name))
            out.append(": ")
            _encode(item, out, inner)
            sep = "," + inner
        out.append(pad + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        sep = "[" + inner
        for item in value:
            out.append(sep)
            _encode(item, out, inner)
            sep = "," + inner
        out.append(pad + "]")
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# ---------------------------------------------------------------------------- answer keys
def key_data(ex: Exercise, key: dict[str, Any]) -> dict[str, Any]:
    return {"exercise": ex.id, "answers": {q.id: key[q.id] for q in ex.questions}}


def key_json(ex: Exercise, key: dict[str, Any]) -> str:
    """``{"exercise": ID, "answers": {QUESTION_ID: VALUE}}``."""
    return dumps(key_data(ex, key))


def key_text(ex: Exercise, key: dict[str, Any]) -> str:
    """The answer key as a table: question, what is asked, conditions, value."""
    rows = [("id", "ask", "given / when", "value")]
    for q in ex.questions:
        when = [f"{k} = {fmt(v, 6)}" for k, v in q.given]
        if q.after_epochs:
            when.append(f"after {q.after_epochs} epoch{'s' if q.after_epochs != 1 else ''}")
        if q.sample is not None:
            when.append(f"sample {q.sample}")
        rows.append((q.id, q.ask, "; ".join(when), fmt(key[q.id])))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    who = f", the variant of student {ex.student}" if ex.student is not None else ""
    lines = [f"Answer key: {ex.id} ({ex.title}){who}", ""]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3])
        if r is rows[0]:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 5)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- results
def _test_data(t: TestResult, show_expected: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": t.id,
        "name": t.name,
        "score": t.score,
        "max_score": t.max_score,
        "status": t.status,
        "feedback": t.feedback,
    }
    if show_expected or t.revealed:  # only what there is: no "expected": null, "got": null
        data.update({k: v for k, v in (("expected", t.expected), ("got", t.got)) if v is not None})
    return data


def exercise_sha12(r: Results) -> str | None:
    """The first 12 hex digits of the SHA-256 of the exercise's spec file, when known."""
    digest = dict(r.extra).get("exercise_sha256")
    return digest[:12] if isinstance(digest, str) else None


def exercise_label(r: Results) -> str:
    """How every report names the exercise: its id and a prefix of its spec's hash."""
    sha = exercise_sha12(r)
    return f"{r.exercise} (sha256 {sha})" if sha else r.exercise


def results_data(r: Results, show_expected: bool = False) -> dict[str, Any]:
    return {
        "exercise": r.exercise,
        "score": r.score,
        "max_score": r.max_score,
        "percent": round(r.percent, 2),
        "exercise_sha12": exercise_sha12(r),
        "tests": [_test_data(t, show_expected) for t in r.tests],
        "warnings": list(r.warnings),
        "output": r.output,
        "extra_data": dict(r.extra),
    }


def results_json(r: Results, show_expected: bool = False) -> str:
    """The results object: exercise, score, max_score, tests[id, name, score, max_score, status, feedback]."""
    return dumps(results_data(r, show_expected))


_MARK = {"passed": "PASS", "partial": "PART"}


def _details(t: TestResult, show_expected: bool) -> list[str]:
    """What the student is told under a test's line: its feedback, and the expected value only
    where it may be shown (the same in every human-readable format)."""
    out = [t.feedback] if t.feedback else []
    if (show_expected or t.revealed) and t.status != "passed" and t.expected is not None:
        out.append(f"expected {fmt(t.expected)}; got {fmt(t.got) if t.got is not None else '-'}")
    return out


_HTML_MARK = {"PASS": "#1a7f37", "PART": "#9a6700", "FAIL": "#cf222e"}


def results_html(r: Results, show_expected: bool = False) -> str:
    """The text report as one HTML fragment (a notebook's ``_repr_html_``): the PASS/FAIL table
    with the same feedback, everything escaped, inline styles only (no scripts, no links)."""
    import html

    e = html.escape
    cell = "padding:2px 8px;text-align:left;vertical-align:top"
    rows = []
    for t in r.tests:
        mark = _MARK.get(t.status, "FAIL")
        details = "<br>".join(e(line) for line in _details(t, show_expected))
        rows.append(
            f'<tr class="grader-{mark.lower()}"><td style="{cell};font-weight:bold;color:{_HTML_MARK[mark]}">{mark}</td>'
            f'<td style="{cell};white-space:nowrap">{e(t.name)}</td><td style="{cell};text-align:right">'
            f'{_score(t.score)}/{_score(t.max_score)}</td><td style="{cell}">{e(t.status)}</td>'
            f'<td style="{cell};white-space:pre-wrap">{details}</td></tr>')
    parts = [f'<div class="grader-report"><p><b>Exercise: {e(r.exercise)}</b></p>',
             f'<table style="border-collapse:collapse"><thead><tr><th style="{cell}"></th><th style="{cell}">test'
             f'</th><th style="{cell}">points</th><th style="{cell}">status</th><th style="{cell}">feedback</th>'
             f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"]
    parts += [f'<p style="white-space:pre-wrap">warning: {e(w)}</p>' for w in r.warnings]
    if r.output:
        parts.append(f"<p>Output of the submission (escaped, trimmed):</p><pre>{e(r.output)}</pre>")
    parts.append(f'<p class="grader-score"><b>Score: {_score(r.score)}/{_score(r.max_score)} '
                 f"({r.percent:.1f}%)</b></p></div>")
    return "\n".join(parts) + "\n"


def results_text(r: Results, show_expected: bool = False) -> str:
    """A readable report: one line per question, feedback under it, then the total."""
    lines = [f"Exercise: {exercise_label(r)}", ""]
    width = max((len(t.name) for t in r.tests), default=0)
    for t in r.tests:
        mark = _MARK.get(t.status, "FAIL")
        points = f"{_score(t.score)}/{_score(t.max_score)}"
        lines.append(f"  {mark}  {t.name.ljust(width)}  {points.rjust(7)}  {t.status}")
        lines += ["        " + defang(line).replace("\n", "\n        ") for line in _details(t, show_expected)]
    for w in r.warnings:
        lines.append("  warning: " + defang(w).replace("\n", "\n    "))
    if r.output:
        lines += ["", "Output of the submission (escaped, trimmed):"]
        lines += ["  | " + line for line in defang(r.output).splitlines()]
    lines += ["", f"Score: {_score(r.score)}/{_score(r.max_score)} ({r.percent:.1f}%)"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- files
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, text: str | bytes) -> None:
    """Write via a temp file and a rename, so a crash never leaves half a file. The file gets
    the mode an ordinary ``open`` would give it (0644 under umask 022), not the temp file's 0600:
    a TA or a web server must be able to read reports and gradebooks."""
    import tempfile  # only when writing a file (-o): not on the path of a report to stdout

    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8") if isinstance(text, str) else text)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------- LMS and CI formats
def csv_cell(text: str) -> str:
    """A CSV cell that a spreadsheet cannot take for a formula (OWASP CSV injection: a leading
    ``=``, ``+``, ``-``, ``@``, tab or CR is prefixed with ``'``). For every cell a student controls."""
    text = str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text

_FORGED = re.compile(r"(?i)\b(p)(oints\s*:?\s*[-+]?[\d.]+\s*/\s*[-+]?[\d.]+)|\b(s)(core\s*:?\s*[-+]?[\d.]+\s*/)")


def defang(text: str) -> str:
    """Student-controlled text (feedback, warnings, output) never reads ``Points <n>/<n>`` (what
    GitHub Classroom takes as the grade) or ``Score: <n>/<n>`` (the text report's total): a zero
    width space goes after the first letter, so only our own last line has the pattern."""
    return _FORGED.sub(lambda m: (m[1] or m[3]) + "\u200b" + (m[2] or m[4]), text)


def md_text(text: str) -> str:
    """Student-controlled text for Markdown (and HTML inside it): ``&``, ``<``, ``>`` escaped,
    no forged points line."""
    import html  # its entity table costs the text report's path a few ms

    return html.escape(defang(text), quote=False)


def _md_cell(text: str) -> str:
    return md_text(text).replace("|", "\\|").replace("\n", "<br>") if text else ""


def results_markdown(r: Results, show_expected: bool = False) -> str:
    """A Markdown table (GitHub step summaries, READMEs): test, points, status, feedback."""
    lines = [f"### {exercise_label(r)}: {_score(r.score)}/{_score(r.max_score)} ({r.percent:.1f}%)", "",
             "| test | points | status | feedback |", "|---|---:|---|---|"]
    for t in r.tests:
        feedback = t.feedback
        if (show_expected or t.revealed) and t.status != "passed" and t.expected is not None:
            feedback = f"{feedback} (expected {fmt(t.expected)}; got {fmt(t.got) if t.got is not None else '-'})"
        lines.append(f"| {_md_cell(t.name)} | {_score(t.score)}/{_score(t.max_score)} | {t.status} | {_md_cell(feedback)} |")
    for w in r.warnings:
        lines.append(f"\n> warning: {_md_cell(w)}")
    if r.output:  # an HTML block ends only at </pre>, which escaped text cannot contain
        lines += ["", "<details><summary>Output of the submission</summary>", "", "<pre>",
                  md_text(r.output.rstrip("\n")), "</pre>", "</details>"]
    return "\n".join(lines) + "\n"


def results_github(r: Results, show_expected: bool = False) -> str:
    """Markdown for a GitHub job, then the ``Points X/Y`` line GitHub Classroom reads."""
    return results_markdown(r, show_expected) + f"\nPoints {_score(r.score)}/{_score(r.max_score)}\n"


def results_gradescope(r: Results, execution_time: float = 0.0, show_expected: bool = False) -> str:
    """Gradescope's ``results.json``: score, execution_time, output, tests[] with name, number,
    score, max_score, status (passed/failed), output, visibility, tags; extra_data for audits."""
    tests = []
    for k, t in enumerate(r.tests, start=1):
        out = t.feedback or ("passed" if t.status == "passed" else t.status)
        if (show_expected or t.revealed) and t.status != "passed" and t.expected is not None:
            out += f"\nexpected {fmt(t.expected)}; got {fmt(t.got) if t.got is not None else '-'}"
        tests.append({
            "name": t.name,
            "number": str(k),
            "score": t.score,
            "max_score": t.max_score,
            "status": "passed" if t.status == "passed" else "failed",
            "output": out,
            "output_format": "text",
            "visibility": t.visibility,
            "tags": [t.status, *t.tags],
        })
    output = "\n".join([f"{exercise_label(r)}: {_score(r.score)}/{_score(r.max_score)} ({r.percent:.1f}%)",
                        *(f"warning: {w}" for w in r.warnings)])
    if r.output:
        output += "\n\nOutput of the submission (escaped, trimmed):\n" + r.output
    data = {
        "score": r.score,
        "execution_time": round(float(execution_time), 3),
        "output": output,
        "output_format": "text",
        "test_output_format": "text",
        "stdout_visibility": "hidden",
        "visibility": "visible",
        "tests": tests,
        "extra_data": {"exercise": r.exercise, "exercise_sha12": exercise_sha12(r), **dict(r.extra)},
    }
    return dumps(data)


_ERRORS = ("error", "timeout", "memory_limit", "crashed", "no_result")


def _xml_text(text: str) -> str:
    """XML 1.0 cannot hold most control characters, even escaped: drop them."""
    return "".join(ch for ch in text if ch in "\t\n\r" or ch >= " ")


def results_junit(r: Results, show_expected: bool = False) -> str:
    """JUnit XML (GitLab, Jenkins): one testcase per question or case; wrong answers are
    failures, crashes and timeouts errors, with the feedback as text."""
    import xml.etree.ElementTree as ET

    failures = sum(1 for t in r.tests if t.status != "passed" and t.status not in _ERRORS)
    errors = sum(1 for t in r.tests if t.status in _ERRORS)
    suites = ET.Element("testsuites", name="grader", tests=str(len(r.tests)), failures=str(failures), errors=str(errors))
    suite = ET.SubElement(suites, "testsuite", name=r.exercise, tests=str(len(r.tests)), failures=str(failures),
                          errors=str(errors), skipped="0", time="0")
    props = ET.SubElement(suite, "properties")
    for name, value in (("score", _score(r.score)), ("max_score", _score(r.max_score)),
                        ("exercise", r.exercise), ("exercise_sha12", exercise_sha12(r)), *r.extra):
        if value is None:
            continue
        ET.SubElement(props, "property", name=name, value=_xml_text(str(value)))
    for t in r.tests:
        case = ET.SubElement(suite, "testcase", classname=r.exercise, name=_xml_text(t.name), time="0")
        cprops = ET.SubElement(case, "properties")
        ET.SubElement(cprops, "property", name="score", value=_score(t.score))
        ET.SubElement(cprops, "property", name="max_score", value=_score(t.max_score))
        if t.status != "passed":
            text = t.feedback
            if (show_expected or t.revealed) and t.expected is not None:
                text += f"\nexpected {fmt(t.expected)}; got {fmt(t.got) if t.got is not None else '-'}"
            tag = "error" if t.status in _ERRORS else "failure"
            el = ET.SubElement(case, tag, message=_xml_text(f"{t.status}: {t.feedback}"[:200]), type=t.status)
            el.text = _xml_text(text)
    if r.output or r.warnings:
        ET.SubElement(suite, "system-out").text = _xml_text("\n".join([*(f"warning: {w}" for w in r.warnings), r.output]))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


FORMATS = ("text", "json", "markdown", "github", "classroom", "gradescope", "junit")


def neutralise(text: str) -> str:
    """No line of ours may start a GitHub workflow command (``::error::…``), whatever a student
    managed to put into a message."""
    return re.sub(r"(?m)^(\s*):(?=:)", r"\1: ", text)


def render(r: Results, fmt_name: str, show_expected: bool = False, execution_time: float = 0.0) -> str:
    """One graded submission in any of :data:`FORMATS`."""
    if fmt_name == "json":
        return results_json(r, show_expected)
    if fmt_name == "markdown":
        return neutralise(results_markdown(r, show_expected))
    if fmt_name in ("github", "classroom"):  # classroom: the result JSON goes to $GITHUB_OUTPUT (grader.lms.classroom)
        return neutralise(results_github(r, show_expected))
    if fmt_name == "gradescope":
        return results_gradescope(r, execution_time, show_expected)
    if fmt_name == "junit":
        return results_junit(r, show_expected)
    return neutralise(results_text(r, show_expected))
