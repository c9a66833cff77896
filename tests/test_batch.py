"""Whole-class grading (``grade batch``) on a generated class of about 60 submissions.

The class mixes every kind a real class folder holds: correct code, partly wrong code (the
solutions' partly-correct.py and loops.py, and small generated mutations of the correct code),
answers files (each student's own key, a key with one wrong answer, the sample answers, broken
JSON), notebooks, a folder per student (with a helper module, a Moodle-style folder name), broken
files and a few fast hostile submissions from tests/hostile/. The default exercise has per-student
variants, so the course secret is set and every key is that student's own.

``grade batch`` runs as a subprocess (as instructors and CI run it): the first, uninterrupted run
is the reference that every other run (``--jobs 1``, killed and resumed, rerun, changed and
resumed) must reproduce byte for byte. The test process makes itself a child subreaper, so that a
process of a batch that outlives it (a pool worker, a sandbox worker, a submission's child) is
re-parented here and found.

Batch cannot pass sandbox limits, so the hostile cases are only the ones that fail fast.
"""

from __future__ import annotations

import csv
import ctypes
import io
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from grader import batch, grading, report, spec

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
HOSTILE = Path(__file__).parent / "hostile"
EXERCISE = "tutorial-4"
SECRET = "test-batch-course-secret"
HEADER = ["student", "score", "max_score", "percent"]
NOBODY = 65534
CLI = [sys.executable, "-c", "from grader.cli import main; import sys; sys.exit(main(sys.argv[1:]))"]
GRADED = re.compile(r"^Graded (\d+), kept (\d+) of (\d+);", re.M)
PR_SET_CHILD_SUBREAPER = 36


# ---------------------------------------------------------------------------- the class
@dataclass
class Expect:
    kind: str  # "code" or "answers": which maximum the row has
    score: str  # "full", "zero", "partial" (strictly between), "below" (under full), "any"
    passed: tuple[str, ...] = ()  # test ids that must pass
    not_passed: tuple[str, ...] = ()  # test ids that must not pass
    exact: float | None = None  # the exact score, where it is known
    statuses: dict[str, str] = field(default_factory=dict)  # test id -> status


@dataclass
class Class:
    folder: Path
    expect: dict[str, Expect]
    code_max: float
    answers_max: float
    cases: tuple[str, ...]  # every function case of the exercise: a code result has them all


CORRECT = (SOLUTIONS / "submission.py").read_text("utf-8")
SIGMOID_FORWARD = ("sigmoid/exercise", "sigmoid/hidden-1", "forward/exercise", "forward/hidden-1")
MUTATIONS = {  # name -> (text of the correct code, replacement, tests that pass, tests that do not)
    "no-output-derivative": ("delta2 = (y - t) * y * (1 - y)", "delta2 = (y - t)",
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
    "always_eq.py": Expect("code", "below", not_passed=("forward/exercise", "sigmoid/exercise")),
    "nan_result.py": Expect("code", "below", not_passed=("forward/exercise", "sigmoid/exercise")),
    "evil_exception.py": Expect("code", "below", passed=("sigmoid/exercise",), not_passed=("forward/exercise",)),
    "complex_dtype.py": Expect("code", "below", not_passed=("forward/exercise", "backward/exercise")),
    "exit_at_import.py": Expect("code", "zero"),
    "os_exit_at_import.py": Expect("code", "zero"),
}


def _notebook(code: str, magic: bool = False) -> str:
    cells = [nbformat.v4.new_markdown_cell("# Tutorial 4: backpropagation in matrix form")]
    if magic:
        cells.append(nbformat.v4.new_code_cell("%matplotlib inline\n!pip list"))
    cells += [nbformat.v4.new_code_cell(part.strip() + "\n") for part in code.split("\n\n\n")]
    return nbformat.writes(nbformat.v4.new_notebook(cells=cells))


def _key_json(student: str) -> dict:
    k = grading.answer_key(EXERCISE, student)
    return json.loads(report.key_json(k.exercise, k.answers))


def _spoil(value):
    return [_spoil(v) for v in value] if isinstance(value, list) else float(value) * 3 + 1


def make_class(folder: Path) -> Class:
    folder.mkdir()
    ex = spec.load_exercise(EXERCISE)
    code_max = float(sum(f.points + (f.vectorized_points if f.vectorized else 0) for f in ex.functions))
    answers_max = ex.max_score
    points = {q.id: q.points for q in ex.questions}
    items: list[tuple[str, object]] = []  # (tag, writer(path_without_suffix) -> Expect)

    def put(tag, writer):
        items.append((tag, writer))

    def text_file(suffix, text, expect):
        def write(base: Path) -> Expect:
            p = base.with_suffix(suffix)
            (p.write_bytes if isinstance(text, bytes) else p.write_text)(text)
            return expect
        return write

    full_code = Expect("code", "full", passed=("sigmoid/exercise", "backward/exercise", "train/hidden-1"))
    for _ in range(16):
        put("correct", text_file(".py", CORRECT, full_code))
    partly = (SOLUTIONS / "partly-correct.py").read_text("utf-8")
    for _ in range(3):
        put("partly", text_file(".py", partly, Expect("code", "partial", SIGMOID_FORWARD, ("backward/exercise",))))
    loops = (SOLUTIONS / "loops.py").read_text("utf-8")
    for _ in range(2):  # every case right; the vectorized checks report the loops
        put("loops", text_file(".py", loops, Expect("code", "any", ("backward/exercise",),
                                                    ("forward/vectorized", "backward/vectorized"))))
    for name, (old, new, ok, bad) in MUTATIONS.items():
        assert CORRECT.count(old) == 1, f"solutions/submission.py changed: {old!r} not found once"
        put(f"mut-{name}", text_file(".py", CORRECT.replace(old, new), Expect("code", "below", ok, bad)))

    # answers files: each student's own key (the exercise has variants), spoilt keys, the sample
    def key_file(spoil: str | None = None, bare: bool = False):
        def write(base: Path) -> Expect:
            data = _key_json(base.name)
            exact = answers_max
            if spoil is not None:
                data["answers"][spoil] = _spoil(data["answers"][spoil])
                exact -= points[spoil]
            if bare:
                data = data["answers"]
            base.with_suffix(".json").write_text(json.dumps(data, indent=1))
            return Expect("answers", "full" if spoil is None else "partial", exact=exact,
                          statuses={spoil: "wrong"} if spoil else {})
        return write

    for _ in range(5):
        put("key", key_file())
    put("key-bare", key_file(bare=True))
    for qid in sorted(points, key=lambda q: (-points[q], q))[:2]:
        put("key-one-wrong", key_file(spoil=qid))
    sample = (SOLUTIONS / "sample-answers.json").read_text("utf-8")
    for _ in range(2):  # the base exercise's values, not the student's variant
        put("sample", text_file(".json", sample, Expect("answers", "below")))
    for text in ("{", '{"answers": {"a": NaN}}', "[1, 2, 3]"):
        put("badjson", text_file(".json", text, Expect("answers", "zero", statuses={"submission": "invalid"})))

    # notebooks
    for magic in (False, False, True):
        put("notebook", text_file(".ipynb", _notebook(CORRECT, magic), full_code))

    # a folder per student
    def folder_of(files: dict[str, str | None], expect: Expect, key_name: str | None = None):
        def write(base: Path) -> Expect:
            base.mkdir()
            for name, content in files.items():
                if content is None:  # the student's own key
                    content = json.dumps(_key_json(base.name))
                (base / name).write_text(content)
            return expect
        return write

    put("dir", folder_of({"submission.py": CORRECT, "notes.txt": "see submission.py"}, full_code))
    helper_main = "from mylayers import backward, forward, sigmoid, train  # noqa: F401\n\nEXERCISE = 'tutorial-4'\n"
    put("dir-helper", folder_of({"submission.py": helper_main, "mylayers.py": CORRECT}, full_code))
    put("dir-notebook", folder_of({"homework.ipynb": _notebook(CORRECT)}, full_code))
    items.append(("Jane Doe_4242_assignsubmission_file_",
                  folder_of({"answers.json": None}, Expect("answers", "full", exact=answers_max))))

    # broken submissions
    zero_code = Expect("code", "zero")
    put("syntax", text_file(".py", "import numpy as np\n\ndef forward(x, W1, b1, W2, b2:\n    return x\n", zero_code))
    put("empty", text_file(".py", "", Expect("code", "zero", not_passed=("forward/exercise",))))
    put("raises", text_file(".py", "import numpy as np\n\nraise RuntimeError('not done yet')\n", zero_code))
    put("latin1", text_file(".py", b"def sigmoid(z):\n    return '\xff\xfe'\n", zero_code))
    put("badnb", text_file(".ipynb", "this is not a notebook", zero_code))

    # hostile submissions that fail fast
    for name, expect in HOSTILE_CASES.items():
        put(f"hostile-{Path(name).stem.replace('_', '-')}", text_file(".py", (HOSTILE / name).read_text("utf-8"), expect))

    numbers = list(range(10, 10 + len(items)))
    random.Random(4).shuffle(numbers)  # interleave the kinds in the grading order
    expect = {}
    for n, (tag, writer) in zip(numbers, items, strict=True):
        student = tag if " " in tag else f"s{n}-{tag}"
        expect[student] = writer(folder / student)
    assert len(expect) == len(items) >= 50
    cases = tuple(f"{f.name}/{c.id}" for f in ex.functions for c in f.cases if not c.group)
    return Class(folder, expect, code_max, answers_max, cases)


# ---------------------------------------------------------------------------- processes
def _table() -> dict[int, tuple[int, int, str]]:
    """pid -> (ppid, uid, state) of every process."""
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                data = Path(f"/proc/{name}/stat").read_bytes()
                uid = os.stat(f"/proc/{name}").st_uid
            except OSError:
                continue
            fields = data[data.rfind(b")") + 2:].split()
            out[int(name)] = (int(fields[1]), uid, fields[0].decode())
    return out


def _descendants(pid: int) -> dict[int, tuple[int, int, str]]:
    table = _table()
    found, todo = {}, [pid]
    while todo:
        here = todo.pop()
        for child, row in table.items():
            if row[0] == here and child not in found:
                found[child] = row
                todo.append(child)
    return found


def _describe(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        cmd = "?"
    return f"{pid} {cmd[:120]}"


def _is_new(pid: int, left: dict, before: set[int]) -> bool:
    """Neither ``pid`` nor an ancestor of it below this process was there before."""
    while pid in left:
        if pid in before:
            return False
        pid = left[pid][0]
    return True


def assert_no_stray_processes(before: set[int], grace: float = 5.0) -> None:
    """No new process below this one (a subreaper: orphans of the batch land here), none as
    nobody. Processes that were already there (``before``), and theirs, belong to someone else."""
    deadline = time.monotonic() + grace
    while True:
        left = _descendants(os.getpid())
        for pid, (ppid, _, state) in left.items():
            if state == "Z" and ppid == os.getpid() and pid not in before:  # an orphan that ended here
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
        live = {p: r for p, r in left.items() if r[2] != "Z" and _is_new(p, left, before)}
        if not live or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not live, "processes left after the batch: " + "; ".join(
        f"{_describe(p)} (uid {uid})" for p, (_, uid, _s) in live.items())
    assert NOBODY not in {uid for _, uid, _s in live.values()}


def processes_now() -> set[int]:
    return set(_descendants(os.getpid()))


@pytest.fixture(scope="module", autouse=True)
def environment():
    """The course secret for the variants, and this process as a subreaper for orphans."""
    old = os.environ.get("GRADER_SECRET")
    os.environ["GRADER_SECRET"] = SECRET
    libc = ctypes.CDLL(None, use_errno=True)
    reaper = sys.platform == "linux" and libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    yield reaper
    if reaper:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
    if old is None:
        os.environ.pop("GRADER_SECRET", None)
    else:
        os.environ["GRADER_SECRET"] = old


# ---------------------------------------------------------------------------- running the batch
def grade_batch(folder: Path, out: Path, *extra: str, jobs: int = 2) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "batch", str(folder), "-e", EXERCISE, "-o", str(out), "--jobs", str(jobs), *extra],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def graded_kept(output: str) -> tuple[int, int, int]:
    m = GRADED.search(output)
    assert m, f"no 'Graded N, kept M of T' line in:\n{output}"
    return int(m[1]), int(m[2]), int(m[3])


def outputs(out: Path) -> dict[str, bytes]:
    """Every file the batch wrote that is meant to stay (temp files of a killed write aside)."""
    files = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
             if p.is_file() and not p.name.startswith(".")}
    assert "gradebook.csv" in files and "summary.txt" in files
    return files


def assert_same_outputs(got: Path, want: Path) -> None:
    a, b = outputs(got), outputs(want)
    assert sorted(a) == sorted(b), f"different files: {sorted(set(a) ^ set(b))}"
    differ = [name for name in a if a[name] != b[name]]
    assert not differ, f"{len(differ)} files differ from the reference run, e.g. {differ[:5]}: " + \
        _first_difference(a[differ[0]], b[differ[0]])
    assert not [p for p in got.rglob(".*") if p.is_dir()], "a hidden folder (staging) was left in OUT"


def _first_difference(a: bytes, b: bytes) -> str:
    k = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return f"at byte {k}: {a[max(0, k - 60):k + 60]!r} != {b[max(0, k - 60):k + 60]!r}"


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


# ---------------------------------------------------------------------------- the tests
def test_discover_layouts(klass):
    subs = {s.student: s.path for s in batch.discover(klass.folder)}
    assert sorted(subs) == sorted(klass.expect)
    helper = next(s for s in subs if s.endswith("dir-helper"))
    assert subs[helper].name == "submission.py"  # not the helper module beside it
    assert subs["Jane Doe_4242_assignsubmission_file_"].name == "answers.json"
    assert subs[next(s for s in subs if s.endswith("dir-notebook"))].name == "homework.ipynb"


def test_every_student_has_a_result_and_a_row(klass, reference):
    out, proc = reference
    assert proc.returncode == 0, proc.stderr  # broken submissions still have results: exit 0
    total = len(klass.expect)
    assert graded_kept(proc.stdout) == (total, 0, total)
    results = {p.stem for p in (out / "results").glob("*.json")}
    assert results == set(klass.expect)
    header, rows = _rows(out)
    assert header[:4] == HEADER
    assert [r["student"] for r in rows] == sorted(klass.expect)
    tests = set()
    for student in klass.expect:
        data = json.loads((out / "results" / f"{student}.json").read_text("utf-8"))
        assert data["student"] == student
        tests |= {t["id"] for t in data["tests"]}
    assert set(header[4:]) == tests and len(header) == len(set(header))
    assert {"sigmoid/exercise", "backward/hidden-1", "train/exercise", "submission"} <= tests


def test_scores_per_kind(klass, reference):
    out, _ = reference
    _, rows = _rows(out)
    by_student = {r["student"]: r for r in rows}
    problems = []
    for student, want in klass.expect.items():
        data = json.loads((out / "results" / f"{student}.json").read_text("utf-8"))
        score, top = data["score"], data["max_score"]
        tests = {t["id"]: t for t in data["tests"]}
        expected_top = klass.code_max if want.kind == "code" else klass.answers_max
        ok = {"full": score == pytest.approx(top), "zero": score == 0, "partial": 0 < score < top - 1e-9,
              "below": 0 <= score < top - 1e-9, "any": 0 <= score <= top + 1e-9}[want.score]
        if not ok or top != pytest.approx(expected_top):
            problems.append(f"{student}: {score}/{top}, expected {want.score} of {expected_top}")
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
        if want.score == "zero" and not any(t["feedback"] for t in data["tests"]) and not data.get("warnings"):
            problems.append(f"{student}: scored 0 without saying why")
        row = by_student[student]
        if (float(row["score"]), float(row["max_score"])) != (pytest.approx(score, abs=1e-4), pytest.approx(top)):
            problems.append(f"{student}: gradebook row {row['score']}/{row['max_score']} != result {score}/{top}")
        if float(row["percent"]) != pytest.approx(100 * score / top if top else 0, abs=1e-2):
            problems.append(f"{student}: percent {row['percent']}")
        for tid, t in tests.items():
            if row[tid] == "" or float(row[tid]) != pytest.approx(t["score"], abs=1e-4):
                problems.append(f"{student}: column {tid} = {row[tid]!r}, the result says {t['score']}")
        if [c for c in row if c not in HEADER and c not in tests and row[c] != ""]:
            problems.append(f"{student}: a value in a column of a test the student does not have")
        if sum(t["max_score"] for t in tests.values()) != pytest.approx(top) or \
                sum(t["score"] for t in tests.values()) != pytest.approx(score):
            problems.append(f"{student}: the tests do not add up to {score}/{top}")
        if want.kind == "code" and list(tests) != ["submission"] and not set(klass.cases) <= set(tests):
            problems.append(f"{student}: cases missing from the result: {sorted(set(klass.cases) - set(tests))}")
    assert not problems, "\n".join(problems)


def test_summary(klass, reference):
    out, proc = reference
    text = (out / "summary.txt").read_text("utf-8")
    assert text in proc.stdout  # the summary printed is the summary written
    percents = [json.loads(p.read_text("utf-8"))["percent"] for p in (out / "results").glob("*.json")]
    assert f"Submissions: {len(klass.expect)}" in text
    stats = (f"Mean: {statistics.fmean(percents):.1f}%", f"Median: {statistics.median(percents):.1f}%",
             f"Min: {min(percents):.1f}%", f"Max: {max(percents):.1f}%")
    for part in stats:
        assert part in text, part
    assert "Min: 0.0%" in text and "Max: 100.0%" in text
    bars = re.findall(r"^\s+(\d+)-(\d+)\s*%\s+#*\s+(\d+)$", text, re.M)
    assert len(bars) == 10 and sum(int(n) for *_, n in bars) == len(percents)
    assert int(bars[0][2]) == sum(p < 10 for p in percents) and int(bars[-1][2]) == sum(p >= 90 for p in percents)
    assert "Most often not passed:" in text
    worst = text.split("Most often not passed:\n")[1].split("\n\n")[0].splitlines()
    assert 1 <= len(worst) <= 5 and all(re.match(rf"\s*\d+ / {len(percents)}\s+\S", line) for line in worst)


def test_jobs_1_and_2_and_a_fresh_rerun_agree(klass, reference, tmp_path):
    ref, _ = reference
    before = processes_now()
    one = grade_batch(klass.folder, tmp_path / "one", jobs=1)
    assert one.returncode == 0, one.stderr
    assert_same_outputs(tmp_path / "one", ref)
    again = grade_batch(klass.folder, tmp_path / "again")
    assert again.returncode == 0, again.stderr
    assert_same_outputs(tmp_path / "again", ref)
    assert_no_stray_processes(before)


def test_rerun_with_resume_keeps_everything(klass, reference, tmp_path):
    ref, _ = reference
    out = tmp_path / "grades"
    shutil.copytree(ref, out)
    proc = grade_batch(klass.folder, out, "--resume")
    assert proc.returncode == 0, proc.stderr
    total = len(klass.expect)
    assert graded_kept(proc.stdout) == (0, total, total)
    assert_same_outputs(out, ref)


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_interrupted_run_resumes_to_the_same_bytes(klass, reference, tmp_path, how):
    """Killed (the whole process group, as a crash or a cancelled CI job) or interrupted (Ctrl-C
    reaches the whole foreground group) after a few results, then resumed."""
    ref, _ = reference
    out = tmp_path / "grades"
    total = len(klass.expect)
    before = processes_now()
    proc = subprocess.Popen([*CLI, "batch", str(klass.folder), "-e", EXERCISE, "-o", str(out), "--jobs", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((out / "results").glob("*.json"))) >= 3:
            break
        time.sleep(0.002)
    assert proc.poll() is None, "the batch ended before it could be interrupted"
    os.killpg(proc.pid, getattr(signal, how))
    _, err = proc.communicate(timeout=60)
    if how == "SIGINT":
        assert proc.returncode == 130, f"exit {proc.returncode} after Ctrl-C: {err}"
    else:
        assert proc.returncode == -signal.SIGKILL
        try:  # pool workers lose their parent; the group dies with it
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert_no_stray_processes(before)
    kept = len(list((out / "results").glob("*.json")))
    assert 3 <= kept < total, f"{kept} of {total} results after the interruption"
    assert not (out / "gradebook.csv").exists()

    resumed = grade_batch(klass.folder, out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert graded_kept(resumed.stdout) == (total - kept, kept, total)
    assert_same_outputs(out, ref)
    assert_no_stray_processes(before)


def test_changing_one_submission_regrades_exactly_that_one(klass, reference, tmp_path):
    """On a copy of the class and of its grades: a changed file, a changed helper module beside a
    submission, a new student; each resume regrades exactly those."""
    ref, _ = reference
    folder, out = tmp_path / "class", tmp_path / "grades"
    shutil.copytree(klass.folder, folder)
    shutil.copytree(ref, out)
    before = outputs(out)
    total = len(klass.expect)
    running = processes_now()

    victim = next(s for s, e in klass.expect.items() if s.endswith("-correct"))
    (folder / f"{victim}.py").write_text(CORRECT.replace("delta2 = (y - t) * y * (1 - y)", "delta2 = (y - t)"))
    proc = grade_batch(folder, out, "--resume")
    assert proc.returncode == 0, proc.stderr
    assert graded_kept(proc.stdout) == (1, total - 1, total)
    after = outputs(out)
    changed = sorted(name for name in after if after[name] != before[name])
    assert changed == ["gradebook.csv", f"results/{victim}.json", "summary.txt"]
    data = json.loads(after[f"results/{victim}.json"])
    assert 0 < data["score"] < data["max_score"]
    old_rows = list(csv.reader(io.StringIO(before["gradebook.csv"].decode())))
    new_rows = list(csv.reader(io.StringIO(after["gradebook.csv"].decode())))
    assert [r for r in new_rows if r[0] != victim] == [r for r in old_rows if r[0] != victim]

    helper = next(s for s in klass.expect if s.endswith("dir-helper"))
    module = folder / helper / "mylayers.py"
    module.write_text(module.read_text().replace("np.exp(-z)", "np.exp(z)"))
    proc = grade_batch(folder, out, "--resume")
    assert graded_kept(proc.stdout) == (1, total - 1, total)
    assert json.loads((out / "results" / f"{helper}.json").read_text())["score"] < klass.code_max

    (folder / "zz-latecomer.py").write_text(CORRECT)
    proc = grade_batch(folder, out, "--resume")
    assert proc.returncode == 0, proc.stderr
    assert graded_kept(proc.stdout) == (1, total, total + 1)
    header, rows = _rows(out)
    assert rows[-1]["student"] == "zz-latecomer" and float(rows[-1]["percent"]) == 100
    assert_no_stray_processes(running)


def test_library_run_with_workers_leaves_no_process(klass, tmp_path):
    before = processes_now()
    small = tmp_path / "small"
    small.mkdir()
    for name in ("a-correct.py", "b-partly.py", "c-exit.py"):
        src = {"a": SOLUTIONS / "submission.py", "b": SOLUTIONS / "partly-correct.py",
               "c": HOSTILE / "exit_at_import.py"}[name[0]]
        shutil.copyfile(src, small / name)
    shutil.copyfile(SOLUTIONS / "sample-answers.json", small / "d-sample.json")
    summary = batch.run(small, EXERCISE, tmp_path / "out", jobs=2)
    assert (summary.graded, summary.reused, summary.total) == (4, 0, 4)
    assert_no_stray_processes(before)


def test_library_run_in_process_leaves_no_process(tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    shutil.copyfile(SOLUTIONS / "submission.py", small / "a.py")
    shutil.copyfile(SOLUTIONS / "partly-correct.py", small / "b.py")
    if batch._BOX is not None:  # one left by an earlier test: start from none
        batch._BOX.close()
        batch._BOX = None
    before = processes_now()
    try:
        summary = batch.run(small, EXERCISE, tmp_path / "out", jobs=1)
        assert summary.graded == 2
        assert_no_stray_processes(before, grace=2.0)
    finally:
        if batch._BOX is not None:  # do not leave it to the rest of the session
            batch._BOX.close()
            batch._BOX = None


def test_code_wins_over_an_answers_file_of_the_same_student(tmp_path):
    shutil.copyfile(SOLUTIONS / "submission.py", tmp_path / "alice.py")
    shutil.copyfile(SOLUTIONS / "sample-answers.json", tmp_path / "alice.json")
    assert [(s.student, s.path.name) for s in batch.discover(tmp_path)] == [("alice", "alice.py")]
