"""Whole-class grading (``grade batch``) on a generated class of more than 100 students.

The class holds every kind a real class folder holds: correct code alone, code and an answers file
side by side or in one folder, answers files alone (each student's own key, spoilt keys, broken
JSON), notebooks, folders with helper modules, stray files, two code files, links and FIFOs,
empty folders, mutated and partly wrong code, hostile submissions that fail fast, forged report
lines, student ids that a spreadsheet would take for formulas, ANSWERS with one NaN, a set, an
unconvertible object or a self-reference. The default exercise has per-student variants, so the
course secret is set and every key is that student's own.

Every student is graded out of the exercise's full maximum (its questions and its functions); the
gradebook and the summary are golden files. ``grade batch`` runs as a subprocess, as instructors
and CI run it: the first run is the reference that every other run (``--jobs 1``, resumed,
changed and resumed) must reproduce byte for byte. Interrupts are tests/test_batch_interrupts.py.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import shutil
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from batchkit import (
    ROOT, assert_no_stray_processes, assert_same_outputs, grade_batch, graded_kept, outputs, processes_now,
    batch_environment,
)

from grader import batch, batch_worker, discover, grading, report, spec

SOLUTIONS = ROOT / "solutions"
HOSTILE = Path(__file__).parent / "hostile"
GOLDEN = Path(__file__).parent / "golden"
EXERCISE = "tutorial-4"
SECRET = "test-batch-course-secret"
HEADER = ["student", "score", "max_score", "percent"]
CORRECT = (SOLUTIONS / "submission.py").read_text("utf-8")  # with ANSWERS at the sheet's values
CODE_ONLY = CORRECT.split("\n\n# The typed questions")[0] + "\n"


# ---------------------------------------------------------------------------- the class
@dataclass
class Expect:
    functions: str  # "full", "zero", "partial", "below", "any", or every test "missing"/"no_result"/"invalid"
    questions: str
    exact: float | None = None  # the exact total, where it is known
    statuses: dict[str, str] = field(default_factory=dict)  # test id -> status
    passed: tuple[str, ...] = ()
    not_passed: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()  # files of the student listed as ignored (names relative to the class)


@dataclass
class Class:
    folder: Path
    expect: dict[str, Expect]
    full: float  # the one maximum
    stray: tuple[str, ...]  # files of the class folder that are no student's


SIGMOID_FORWARD = ("sigmoid/exercise", "sigmoid/hidden-1", "forward/exercise", "forward/hidden-1")
MUTATIONS = {  # name -> (text of the correct code, replacement, tests that pass, tests that do not)
    "no-output-derivative": ("delta2 = (y - t) * y * (1 - y)  #", "delta2 = (y - t)  #",
                             SIGMOID_FORWARD, ("backward/exercise", "train/exercise")),
    "no-hidden-derivative": ("delta1 = (W2.T @ delta2) * o * (1 - o)", "delta1 = (W2.T @ delta2)",
                             SIGMOID_FORWARD, ("backward/exercise", "train/exercise")),
    "gradient-ascent": ("W1 -= lr * dW1", "W1 += lr * dW1",
                        (*SIGMOID_FORWARD, "backward/exercise"), ("train/exercise",)),
    "bias-of-first-sample": ("db1 = delta1.sum(axis=1, keepdims=True)", "db1 = delta1[:, :1]",
                             (*SIGMOID_FORWARD, "backward/exercise"), ("backward/hidden-1",)),
    "sigmoid-sign": ("np.exp(-z)", "np.exp(z)", (), ("sigmoid/exercise", "forward/exercise")),
}
HOSTILE_CASES = {  # fast-failing cases only: batch grades with the default limits
    "always_eq.py": Expect("below", "missing", not_passed=("forward/exercise", "sigmoid/exercise")),
    "nan_result.py": Expect("below", "missing", not_passed=("forward/exercise", "sigmoid/exercise")),
    "evil_exception.py": Expect("below", "missing", passed=("sigmoid/exercise",), not_passed=("forward/exercise",)),
    "complex_dtype.py": Expect("below", "missing", not_passed=("forward/exercise", "backward/exercise")),
    "exit_at_import.py": Expect("zero", "missing"),
    "fake_results_print.py": Expect("below", "missing"),
}
FORGED = CODE_ONLY.replace("def backward(x, t, W1, b1, W2, b2):\n",
                           "def backward(x, t, W1, b1, W2, b2):\n"
                           "    print('Points 26/26')\n    print('::error::all good')\n"
                           "    raise ValueError('\\nScore: 26/26 (100.0%)\\nPoints 26/26\\n<b>bold</b>')\n")


def _notebook(code: str, magic: bool = False) -> str:
    cells = [nbformat.v4.new_markdown_cell("# Tutorial 4: backpropagation in matrix form")]
    if magic:
        cells.append(nbformat.v4.new_code_cell("%matplotlib inline\n!pip list"))
    cells += [nbformat.v4.new_code_cell(part.strip() + "\n") for part in code.split("\n\n\n")]
    return nbformat.writes(nbformat.v4.new_notebook(cells=cells))


def _key(student: str) -> dict:
    k = grading.answer_key(EXERCISE, student)
    return json.loads(report.key_json(k.exercise, k.answers))


def _spoil(value):
    return [_spoil(v) for v in value] if isinstance(value, list) else float(value) * 3 + 1


def make_class(folder: Path) -> Class:
    folder.mkdir()
    ex = spec.load_exercise(EXERCISE)
    full = grading.full_maximum(ex)
    questions_max = ex.max_score
    functions_max = full - questions_max
    points = {q.id: q.points for q in ex.questions}
    items: list[tuple[str, object]] = []  # (tag, writer(path without suffix, student) -> Expect)

    def put(tag, writer, times=1):
        items.extend([(tag, writer)] * times)

    def files(suffix: str, text, expect: Expect, answers: str | None = None):
        """A file per student (``answers``: with the student's own key beside it)."""
        def write(base: Path, student: str) -> Expect:
            p = base.with_suffix(suffix)
            (p.write_bytes if isinstance(text, bytes) else p.write_text)(text)
            if answers is not None:
                base.with_suffix(".json").write_text(json.dumps(_key(student)))
            return expect
        return write

    def folder_of(content: dict[str, str | None], expect: Expect):
        """A folder per student; None: the student's own key; "fifo"/"link": not a regular file."""
        def write(base: Path, student: str) -> Expect:
            base.mkdir()
            for name, text in content.items():
                if text == "fifo":
                    os.mkfifo(base / name)
                elif text is None:
                    (base / name).write_text(json.dumps(_key(student)))
                else:
                    (base / name).write_text(text)
            return expect
        return write

    code_full = dict(passed=("sigmoid/exercise", "backward/exercise", "train/hidden-1"))
    put("code", files(".py", CODE_ONLY, Expect("full", "missing", exact=functions_max, **code_full)), 22)
    # ANSWERS at the sheet's values: the student's variant has other values, so those are not passed
    put("code-answers", files(".py", CORRECT, Expect("full", "below", **code_full)), 4)
    put("pair", files(".py", CODE_ONLY, Expect("full", "full", exact=full), answers="own"), 10)
    put("notebook", files(".ipynb", _notebook(CODE_ONLY), Expect("full", "missing", exact=functions_max)), 2)
    put("notebook-magic", files(".ipynb", _notebook(CODE_ONLY, True), Expect("full", "missing", exact=functions_max)))
    put("partly", files(".py", (SOLUTIONS / "partly-correct.py").read_text("utf-8"),
                        Expect("partial", "missing", passed=SIGMOID_FORWARD, not_passed=("backward/exercise",))), 3)
    put("loops", files(".py", (SOLUTIONS / "loops.py").read_text("utf-8"),  # every case right, loops reported
                       Expect("any", "missing", passed=("backward/exercise",),
                              not_passed=("forward/vectorized", "backward/vectorized"))), 2)
    for name, (old, new, ok, bad) in MUTATIONS.items():
        assert CODE_ONLY.count(old) == 1, f"solutions/submission.py changed: {old!r} not found once"
        put(f"mut-{name}", files(".py", CODE_ONLY.replace(old, new), Expect("below", "missing", passed=ok, not_passed=bad)))

    # answers files alone: the functions are missing
    def key_file(spoil: str | None = None, bare: bool = False):
        def write(base: Path, student: str) -> Expect:
            data = _key(student)
            if spoil is not None:
                data["answers"][spoil] = _spoil(data["answers"][spoil])
            base.with_suffix(".json").write_text(json.dumps(data["answers"] if bare else data, indent=1))
            exact = questions_max - (points[spoil] if spoil else 0)
            return Expect("missing", "full" if spoil is None else "partial", exact=exact,
                          statuses={spoil: "wrong"} if spoil else {})
        return write

    put("key", key_file(), 12)
    put("key-bare", key_file(bare=True))
    for qid in sorted(points, key=lambda q: (-points[q], q))[:2]:
        put("key-one-wrong", key_file(spoil=qid))
    put("sample", files(".json", (SOLUTIONS / "sample-answers.json").read_text("utf-8"), Expect("missing", "below")), 2)
    for text in ("{", '{"answers": {"a": NaN}}', "[1, 2, 3]"):
        put("badjson", files(".json", text, Expect("invalid", "invalid", exact=0.0)))

    # typed values in ANSWERS that cannot all be read: each bad one fails its own question
    def own_answers(spoils: dict[str, str], extra: str = ""):
        def write(base: Path, student: str) -> Expect:
            answers = _key(student)["answers"]
            lines = [f"ANSWERS = {json.dumps(answers)}"]
            lines += [f"ANSWERS[{q!r}] = {expr}" for q, expr in spoils.items()]
            text = CODE_ONLY + "\n\nclass Opaque:\n    def __repr__(self):\n        raise RuntimeError('no')\n\n\n" + \
                "\n".join(lines) + "\n" + extra
            base.with_suffix(".py").write_text(text)
            bad = {q: "invalid" for q in spoils if q != "E"}
            good = {q: "passed" for q in points if q not in bad}
            return Expect("full", "partial", exact=full - sum(points[q] for q in bad), statuses={**bad, **good})
        return write

    put("answers-nan", own_answers({"y": "float('nan')", "E": "np.float64(ANSWERS['E'])",
                                    "delta2": "set(ANSWERS['delta2'])", "dW2": "Opaque()"}))
    put("answers-self", own_answers({"W1_new": "[]"}, "ANSWERS['W1_new'].append(ANSWERS['W1_new'])\n"
                                    "ANSWERS['self'] = ANSWERS\n"))

    # a folder per student
    put("dir", folder_of({"submission.py": CODE_ONLY, "notes.txt": "see submission.py"},
                         Expect("full", "missing", exact=functions_max, ignored=("notes.txt",))))
    put("dir-pair", folder_of({"submission.py": CODE_ONLY, "answers.json": None, "README.md": "hi"},
                              Expect("full", "full", exact=full, ignored=("README.md",))), 4)
    helper_main = "from mylayers import backward, forward, sigmoid, train  # noqa: F401\n\nEXERCISE = 'tutorial-4'\n"
    put("dir-helper", folder_of({"submission.py": helper_main, "mylayers.py": CODE_ONLY, "scratch.py": "x = 1\n"},
                                Expect("full", "missing", exact=functions_max, ignored=("scratch.py",))))
    put("dir-notebook", folder_of({"homework.ipynb": _notebook(CODE_ONLY)}, Expect("full", "missing", exact=functions_max)))
    put("dir-two-code", folder_of({"a.py": CODE_ONLY, "b.py": CODE_ONLY},
                                  Expect("full", "missing", exact=functions_max, ignored=("b.py",))), 2)
    put("dir-fifo", folder_of({"submission.py": CODE_ONLY, "answers.json": "fifo"},
                              Expect("full", "missing", exact=functions_max, ignored=("answers.json",))))
    put("dir-empty", folder_of({}, Expect("no_result", "no_result", exact=0.0)), 2)
    put("dir-nothing", folder_of({"notes.txt": "I will hand it in tomorrow"},
                                 Expect("no_result", "no_result", exact=0.0, ignored=("notes.txt",))))
    items.append(("Jane Doe_4242_assignsubmission_file_",
                  folder_of({"answers.json": None}, Expect("missing", "full", exact=questions_max))))

    # a link instead of a file: the student has a row that says why nothing was graded
    def link(base: Path, student: str) -> Expect:
        base.with_suffix(".py").symlink_to(SOLUTIONS / "submission.py")
        return Expect("no_result", "no_result", exact=0.0, ignored=(base.name + ".py",))
    put("link", link)

    # what a student writes cannot forge a report line or a gradebook cell
    put("forged", files(".py", FORGED, Expect("below", "missing", statuses={"backward/exercise": "error"})))
    for tag in ("=HYPERLINK(1)", "+1", "@SUM(A1)", "-2"):
        items.append((tag, files(".py", CODE_ONLY, Expect("full", "missing", exact=functions_max))))

    # broken submissions
    put("syntax", files(".py", "import numpy as np\n\ndef forward(x, W1, b1, W2, b2:\n    return x\n", Expect("zero", "missing")))
    put("empty", files(".py", "", Expect("zero", "missing", not_passed=("forward/exercise",))))
    put("raises", files(".py", "import numpy as np\n\nraise RuntimeError('not done yet')\n", Expect("zero", "missing")))
    put("latin1", files(".py", b"def sigmoid(z):\n    return '\xff\xfe'\n", Expect("invalid", "invalid", exact=0.0)))
    put("badnb", files(".ipynb", "this is not a notebook", Expect("invalid", "invalid", exact=0.0)))
    for name, expect in HOSTILE_CASES.items():
        put(f"hostile-{Path(name).stem.replace('_', '-')}", files(".py", (HOSTILE / name).read_text("utf-8"), expect))

    numbers = list(range(100, 100 + len(items)))
    random.Random(4).shuffle(numbers)  # interleave the kinds in the grading order
    expect = {}
    for n, (tag, writer) in zip(numbers, items, strict=True):
        student = tag if tag[0] in "=+-@J" else f"s{n}-{tag}"
        expect[student] = writer(folder / student, student)
    (folder / "README.txt").write_text("hand in by Friday\n")
    (folder / ".DS_Store").write_bytes(b"\0")
    assert len(expect) == len(items) >= 100
    return Class(folder, expect, full, ("README.txt", ".DS_Store"))


@pytest.fixture(scope="module", autouse=True)
def environment():
    """The course secret for the variants, and this process as a subreaper for orphans."""
    with batch_environment(SECRET) as reaper:
        yield reaper


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> Class:
    return make_class(tmp_path_factory.mktemp("batch") / "class")


@pytest.fixture(scope="module")
def reference(klass, tmp_path_factory):
    """The uninterrupted run (--jobs 2): every other run must end in these bytes."""
    out = tmp_path_factory.mktemp("reference") / "grades"
    proc = grade_batch(klass.folder, out)
    return out, proc


def _rows(out: Path) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.reader(io.StringIO((out / "gradebook.csv").read_text("utf-8"), newline=""))
    header, *rows = list(reader)
    return header, [dict(zip(header, r, strict=True)) for r in rows]


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"differs from {path}; UPDATE_GOLDEN=1 to accept"


# ---------------------------------------------------------------------------- the tests
def test_discover_accounts_for_every_file(klass):
    found = discover.discover(klass.folder)
    subs = {s.student: s for s in found.submissions}
    assert sorted(subs) == sorted(klass.expect)
    assert sorted(i.name for i in found.ignored) == sorted(klass.stray)
    helper = next(s for s in subs if s.endswith("dir-helper"))
    assert subs[helper].code.name == "submission.py" and [p.name for p in subs[helper].helpers] == ["mylayers.py"]
    pair = next(s for s in subs if s.endswith("-pair"))
    assert (subs[pair].code.name, subs[pair].answers.name) == (f"{pair}.py", f"{pair}.json")
    assert subs["Jane Doe_4242_assignsubmission_file_"].answers.name == "answers.json"
    for student, sub in subs.items():  # every file of a student: graded, a helper, or ignored with a reason
        base = klass.folder / student
        handed = sorted(p.name for p in base.iterdir()) if base.is_dir() and not base.is_symlink() else \
            sorted(p.name for p in klass.folder.iterdir() if p.stem == student and not p.is_dir())
        used = sorted([p.name for p in sub.files] + [Path(i.name).name for i in sub.ignored])
        assert used == handed, student
        assert all(i.reason for i in sub.ignored)


def test_every_student_has_a_result_and_a_row(klass, reference):
    out, proc = reference
    assert proc.returncode == 0, proc.stderr  # broken submissions still have results: exit 0
    total = len(klass.expect)
    assert graded_kept(proc.stdout) == (total, 0, total)
    assert {p.stem for p in (out / "results").glob("*.json")} == set(klass.expect)
    header, rows = _rows(out)
    assert header[:4] == HEADER
    assert [r["student"].lstrip("'") for r in rows] == sorted(klass.expect)
    ids = None
    for student in klass.expect:
        data = json.loads((out / "results" / f"{student}.json").read_text("utf-8"))
        assert data["student"] == student
        tests = [t["id"] for t in data["tests"]]
        assert ids is None or tests == ids, f"{student}: other tests than the class"  # one set of columns
        ids = tests
        for t in data["tests"]:
            assert ("expected" in t) == ("got" in t) and t.get("expected", 0) is not None  # no null noise
    assert header[4:] == ids


def _part(tests: list[dict], functions: bool) -> list[dict]:
    return [t for t in tests if ("/" in t["id"]) == functions]


def _judge(kind: str, tests: list[dict]) -> bool:
    score, top = sum(t["score"] for t in tests), sum(t["max_score"] for t in tests)
    if kind in ("missing", "no_result", "invalid"):
        return score == 0 and all(t["status"] == kind for t in tests)
    return {"full": abs(score - top) < 1e-9, "zero": score == 0, "partial": 0 < score < top - 1e-9,
            "below": 0 <= score < top - 1e-9, "any": 0 <= score <= top + 1e-9}[kind]


def test_scores_per_kind_out_of_one_maximum(klass, reference):
    out, _ = reference
    _, rows = _rows(out)
    by_student = {r["student"].lstrip("'"): r for r in rows}
    problems = []
    for student, want in klass.expect.items():
        data = json.loads((out / "results" / f"{student}.json").read_text("utf-8"))
        score, top = data["score"], data["max_score"]
        tests = {t["id"]: t for t in data["tests"]}
        if top != pytest.approx(klass.full):
            problems.append(f"{student}: graded out of {top}, not the class's {klass.full}")
        for part, kind in (("functions", want.functions), ("questions", want.questions)):
            if not _judge(kind, _part(data["tests"], part == "functions")):
                problems.append(f"{student}: {part} should be {kind}: "
                                f"{[(t['id'], t['score'], t['status']) for t in _part(data['tests'], part == 'functions')][:6]}")
        if want.exact is not None and score != pytest.approx(want.exact):
            problems.append(f"{student}: {score}, expected exactly {want.exact}")
        for tid in want.passed:
            if tests.get(tid, {}).get("status") != "passed":
                problems.append(f"{student}: {tid} should pass: {tests.get(tid)}")
        for tid in want.not_passed:
            if tid not in tests or tests[tid]["status"] == "passed":
                problems.append(f"{student}: {tid} should be reported as not passed: {tests.get(tid)}")
        for tid, status in want.statuses.items():
            if tests.get(tid, {}).get("status") != status:
                problems.append(f"{student}: {tid} should be {status}: {tests.get(tid)}")
        ignored = sorted(Path(i["file"]).name for i in data["files"]["ignored"])
        if ignored != sorted(want.ignored):
            problems.append(f"{student}: ignored {ignored}, expected {sorted(want.ignored)}")
        if score == 0 and not any(t["feedback"] for t in data["tests"]):
            problems.append(f"{student}: scored 0 without saying why")
        row = by_student[student]
        if (float(row["score"]), float(row["max_score"])) != (pytest.approx(score, abs=1e-4), pytest.approx(top)):
            problems.append(f"{student}: gradebook row {row['score']}/{row['max_score']} != result {score}/{top}")
        for tid, t in tests.items():
            if float(row[tid]) != pytest.approx(t["score"], abs=1e-4):
                problems.append(f"{student}: column {tid} = {row[tid]!r}, the result says {t['score']}")
        if sum(t["max_score"] for t in tests.values()) != pytest.approx(top) or \
                sum(t["score"] for t in tests.values()) != pytest.approx(score):
            problems.append(f"{student}: the tests do not add up to {score}/{top}")
    assert not problems, "\n".join(problems)


def test_typed_values_that_cannot_be_read_fail_only_their_question(klass, reference):
    out, _ = reference
    nan = next(s for s in klass.expect if s.endswith("answers-nan"))
    tests = {t["id"]: t for t in json.loads((out / "results" / f"{nan}.json").read_text())["tests"]}
    assert "not a finite number" in tests["y"]["feedback"]
    assert tests["delta2"]["status"] == "invalid" and tests["delta2"]["feedback"]  # a set arrives as its repr
    assert "cannot be converted to JSON" in tests["dW2"]["feedback"] and tests["E"]["status"] == "passed"
    me = next(s for s in klass.expect if s.endswith("answers-self"))
    data = json.loads((out / "results" / f"{me}.json").read_text())
    tests = {t["id"]: t for t in data["tests"]}
    assert "Circular reference" in tests["W1_new"]["feedback"]
    assert any("unknown question 'self'" in w for w in data["warnings"])
    assert not any("no ANSWERS" in w for w in data["warnings"])


def test_formula_cells_are_neutralised(klass, reference):
    out, _ = reference
    text = (out / "gradebook.csv").read_text("utf-8")
    cells = [row[0] for row in csv.reader(io.StringIO(text))]
    for student in ("=HYPERLINK(1)", "+1", "@SUM(A1)", "-2"):
        assert "'" + student in cells and student not in cells


def test_golden_gradebook_and_summary(klass, reference):
    out, proc = reference
    text = (out / "summary.txt").read_text("utf-8")
    assert text in proc.stdout  # the summary printed is the summary written
    golden("batch-gradebook.csv", (out / "gradebook.csv").read_text("utf-8"))
    golden("batch-summary.txt", text)
    percents = [json.loads(p.read_text("utf-8"))["percent"] for p in (out / "results").glob("*.json")]
    assert f"Submissions: {len(klass.expect)}" in text
    for part in (f"Mean: {statistics.fmean(percents):.1f}%", f"Median: {statistics.median(percents):.1f}%",
                 f"Min: {min(percents):.1f}%", f"Max: {max(percents):.1f}%"):
        assert part in text, part
    listed = text.split("Files not graded")[1]
    for student, want in klass.expect.items():
        for name in want.ignored:
            assert f"\n  {student}/{name}: " in listed or f"\n  {name}: " in listed, (student, name)
    for name in klass.stray:
        assert f"\n  {name}: " in listed and "(no student's)" in listed


def test_written_files_honour_the_umask(reference):
    out, _ = reference
    for p in [out / "gradebook.csv", out / "summary.txt", *(out / "results").glob("*.json")]:
        assert p.stat().st_mode & 0o777 == 0o644 & ~_umask(), p


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_jobs_1_and_a_resumed_rerun_agree(klass, reference, tmp_path):
    ref, _ = reference
    before = processes_now()
    one = grade_batch(klass.folder, tmp_path / "one", jobs=1)
    assert one.returncode == 0, one.stderr
    assert_same_outputs(tmp_path / "one", ref)
    proc = grade_batch(klass.folder, tmp_path / "one", "--resume")
    total = len(klass.expect)
    assert proc.returncode == 0 and graded_kept(proc.stdout) == (0, total, total)
    assert_same_outputs(tmp_path / "one", ref)
    assert_no_stray_processes(before)


def _copy(src: str, dst: str) -> None:
    """Copy a file of a class; a FIFO stays a FIFO (copying it would block)."""
    if Path(src).is_fifo():
        os.mkfifo(dst)
    else:
        shutil.copy2(src, dst)


def test_changes_regrade_exactly_the_students_they_touch(klass, reference, tmp_path):
    """On a copy of the class and of its grades: a changed file, a changed helper module, a new
    student, a student who left (their result moves to results/removed/)."""
    ref, _ = reference
    folder, out = tmp_path / "class", tmp_path / "grades"
    shutil.copytree(klass.folder, folder, symlinks=True, copy_function=_copy)
    shutil.copytree(ref, out)
    before = outputs(out)
    total = len(klass.expect)
    running = processes_now()

    victim = next(s for s, e in klass.expect.items() if s.endswith("-code"))
    (folder / f"{victim}.py").write_text(CODE_ONLY.replace("delta2 = (y - t) * y * (1 - y)", "delta2 = (y - t)"))
    proc = grade_batch(folder, out, "--resume")
    assert proc.returncode == 0, proc.stderr
    assert graded_kept(proc.stdout) == (1, total - 1, total)
    after = outputs(out)
    assert sorted(n for n in after if after[n] != before[n]) == ["gradebook.csv", f"results/{victim}.json", "summary.txt"]

    helper = next(s for s in klass.expect if s.endswith("dir-helper"))
    module = folder / helper / "mylayers.py"
    module.write_text(module.read_text().replace("np.exp(-z)", "np.exp(z)"))
    (folder / "zz-latecomer.py").write_text(CODE_ONLY)
    proc = grade_batch(folder, out, "--resume")
    assert graded_kept(proc.stdout) == (2, total - 1, total + 1)
    assert json.loads((out / "results" / f"{helper}.json").read_text())["score"] < klass.full

    gone = next(s for s in klass.expect if s.endswith("-key"))
    (folder / f"{gone}.json").unlink()
    proc = grade_batch(folder, out, "--resume")
    assert graded_kept(proc.stdout) == (0, total, total)
    assert not (out / "results" / f"{gone}.json").exists()
    assert (out / "results" / "removed" / f"{gone}.json").read_bytes() == before[f"results/{gone}.json"]
    _, rows = _rows(out)
    assert gone not in [r["student"] for r in rows] and rows[-1]["student"] == "zz-latecomer"
    assert f"moved to results/removed/ (1):\n  {gone}\n" in (out / "summary.txt").read_text()
    assert_no_stray_processes(running)


def test_library_run_in_process_leaves_no_process(tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    (small / "a.py").write_text(CODE_ONLY)
    shutil.copyfile(SOLUTIONS / "partly-correct.py", small / "b.py")
    before = processes_now()
    summary = batch.run(small, EXERCISE, tmp_path / "out", jobs=1)
    assert (summary.graded, summary.reused, summary.total) == (2, 0, 2)
    assert batch_worker._BOX is None
    assert_no_stray_processes(before, grace=2.0)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_file_per_student_cannot_import_a_classmates_file(tmp_path, jobs):
    """In a class folder of loose files, the modules beside a student's file are classmates':
    ``import carol`` fails for dave as it would on his own machine, and nothing is copied to OUT
    for it; in a folder of his own, the same import of his own module works."""
    klass = tmp_path / "class"
    klass.mkdir()
    borrow = "from carol import backward, forward, sigmoid, train  # noqa: F401\n\nEXERCISE = 'tutorial-4'\n"
    (klass / "carol.py").write_text(CODE_ONLY)
    (klass / "dave.py").write_text(borrow)
    (klass / "erin").mkdir()
    (klass / "erin" / "submission.py").write_text(borrow)
    (klass / "erin" / "carol.py").write_text(CODE_ONLY)
    summary = batch.run(klass, EXERCISE, tmp_path / "out", jobs=jobs)
    assert summary.graded == 3
    result = {s: json.loads((tmp_path / "out" / "results" / f"{s}.json").read_text()) for s in ("carol", "dave", "erin")}
    assert result["carol"]["score"] == result["erin"]["score"] > 0
    assert result["erin"]["files"]["helpers"] == ["erin/carol.py"]
    assert result["dave"]["score"] == 0 and result["dave"]["files"]["helpers"] == []
    assert "No module named 'carol'" in json.dumps(result["dave"])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["gradebook.csv", "results", "summary.txt"]


def test_the_pool_is_handed_a_few_submissions_per_worker_at_a_time(tmp_path, monkeypatch):
    """Submissions go to the pool a few per worker ahead of their turn, not the whole class at
    once: when the first result is saved, most of the class has not been handed over yet."""
    small = tmp_path / "class"
    small.mkdir()
    for k in range(24):
        (small / f"s{k:02d}.py").write_text(CODE_ONLY + f"\n# student {k}\n")
    handed: list[str] = []

    class Pool(batch.ProcessPoolExecutor):  # the real pool, counting what it is handed
        def submit(self, fn, *args, **kwargs):
            handed.append(args[0])
            return super().submit(fn, *args, **kwargs)
    monkeypatch.setattr(batch, "ProcessPoolExecutor", Pool)
    at_first: list[int] = []

    def progress(done: int, total: int) -> None:
        if not at_first:
            at_first.append(len(handed))
    summary = batch.run(small, EXERCISE, tmp_path / "out", jobs=2, progress=progress)
    assert summary.graded == 24 and len(handed) == 24
    assert at_first[0] <= 1 + batch.IN_FLIGHT * 2 < 24, at_first


def test_class_rows_share_equal_test_entries_and_keep_every_number_as_written(tmp_path):
    """The rows read back for the class-wide outputs: an entry equal to one read before is the same
    dict; 1, 1.0, true, 0.0 and -0.0 stay apart (equal in Python, written differently)."""
    results = tmp_path / "results"
    results.mkdir()
    subs = []
    for name, score in (("a", 1.0), ("b", 1.0), ("c", 1), ("d", True), ("e", 0.0), ("f", -0.0)):
        row = {"student": name, "tests": [{"id": "q", "name": "Q", "score": score, "max_score": 1.0,
                                           "status": "passed", "feedback": ""}, {"id": "w", "got": [1, 2]}]}
        (results / f"{name}.json").write_text(json.dumps(row))
        subs.append(discover.Submission(name))
    rows = batch.read_rows(results, subs)
    assert rows[0]["tests"][0] is rows[1]["tests"][0]
    for row, sub in zip(rows, subs, strict=True):
        assert json.dumps(row) == (results / f"{sub.student}.json").read_text()
    assert len({id(r["tests"][0]) for r in rows}) == 5
