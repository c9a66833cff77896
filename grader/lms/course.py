"""The LMS side of ``grade batch``: a roster, submission times, overrides and the LMS gradebooks.

:class:`Course` is built before anything is graded (so that bad options or files stop the run
early, and each submission is graded on its matched person's variant) and :meth:`Course.finish`
runs on the graded results: it applies overrides and late penalties, adds a row for everyone on
the roster who did not submit, and returns the gradebooks and the summary lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..spec import Exercise, did_you_mean
from . import adjust, gradebooks, late, rosters, shared
from .tables import cell, number

GRADEBOOKS = ("csv", "canvas", "moodle")


@dataclass(frozen=True)
class Options:
    roster: str | None = None
    gradebook: str = "csv"
    assignment: str | None = None  # Canvas: "Title (ID)"; Moodle: the grade column's name
    match: str = "email"  # Moodle's identity field
    policy: late.Policy | None = None
    times: str | None = None
    overrides: str | None = None


def options(roster: str | None = None, gradebook: str = "csv", assignment: str | None = None,
            match: str = "email", deadline: str | None = None, late_penalty: float | None = None,
            grace: str | None = None, late_cap: str | None = None, times: str | None = None,
            overrides: str | None = None) -> Options:
    """Options from the command line, checked."""
    if deadline is None and (late_penalty is not None or grace or late_cap or times):
        raise UsageError("--late-penalty, --grace, --late-cap and --times need --deadline ISO8601")
    policy = late.Policy.from_options(deadline, late_penalty, grace, late_cap) if deadline else None
    return Options(roster, gradebook, assignment, match, policy, times, overrides)


def bundle_arguments(exercise: str, deadline: str | None, late_penalty: float | None, grace: str | None,
                     late_cap: str | None, overrides: str | None) -> list[str]:
    """The checked late-penalty arguments for a Gradescope bundle; its overrides file checked
    against the exercise (a typo must fail now, not in every student's run)."""
    from ..spec import load_exercise

    options(deadline=deadline, late_penalty=late_penalty, grace=grace, late_cap=late_cap)
    if overrides:
        check_overrides(adjust.read_overrides(overrides), load_exercise(exercise))
    pairs = (("--deadline", deadline), ("--late-penalty", late_penalty), ("--grace", grace), ("--late-cap", late_cap))
    return [str(x) for name, value in pairs if value is not None for x in (name, value)]


def check_overrides(overrides: list[adjust.Override], ex: Exercise) -> None:
    """Every overridden question is one of the exercise's (a typo is an error naming the line)."""
    tests = known_tests(ex)
    for o in overrides:
        if o.question != adjust.WHOLE and o.question not in tests:
            raise UsageError(f"{o.where}: no question or case {o.question!r} in {ex.id}{did_you_mean(o.question, tests)}")


def full_maximum(ex: Exercise) -> float:
    """What a submission of the exercise can earn: its questions and its functions."""
    return float(ex.max_score + sum(f.points + (f.vectorized_points if f.vectorized else 0) for f in ex.functions))


def known_tests(ex: Exercise) -> list[str]:
    ids = [q.id for q in ex.questions]
    for fn in ex.functions:
        ids += [f"{fn.name}/{c.id}" for c in fn.cases if not c.group]
        if any(c.group == "vectorized" for c in fn.cases):
            ids.append(f"{fn.name}/vectorized")
    return [*ids, "backward/self-consistency", "submission"]


@dataclass
class Finished:
    rows: list[dict[str, Any]]  # every row of gradebook.csv: graded submissions, then absent people
    columns: list[tuple[str, Any]]  # extra gradebook.csv columns: (header, row -> cell)
    files: dict[str, str] = field(default_factory=dict)  # other gradebooks: file name -> text
    lines: list[str] = field(default_factory=list)  # for the summary


class Course:
    def __init__(self, options: Options, ex: Exercise, folder: str | Path, names: list[str]):
        if options.gradebook not in GRADEBOOKS:
            raise UsageError(f"--gradebook {options.gradebook}: one of {', '.join(GRADEBOOKS)}")
        self.options = options
        self.folder = Path(folder)
        self.roster = rosters.read_roster(options.roster) if options.roster else None
        gradebooks.check_options(options.gradebook, self.roster, options.match)
        self.metadata = rosters.read_metadata(folder, names)
        self.matching = rosters.match(self.roster, names, self.metadata) if self.roster else None
        self.times = late.read_times(options.times) if options.times else {}
        self.overrides = adjust.read_overrides(options.overrides) if options.overrides else []
        check_overrides(self.overrides, ex)

    # -- who
    def person(self, name: str) -> rosters.Person | None:
        return self.matching.person_of.get(name) if self.matching else None

    def student_key(self, name: str) -> str:
        """The id a submission is graded as (its variant): the matched person's id, else its name."""
        p = self.person(name)
        return p.id if p is not None else name

    def names_of(self, name: str) -> list[str]:
        p = self.person(name)
        return [name, *(p.keys() if p else [])]

    # -- when
    def submitted(self, name: str, path: Path) -> tuple[datetime | None, str]:
        meta = self.metadata.get(name)
        if meta is not None and meta.created_at:
            return late.parse_time(meta.created_at, f"{name}: submission_metadata created_at"), "gradescope"
        for key in self.names_of(name):
            if key.lower() in self.times:
                return self.times[key.lower()], "times file"
        folder = self.folder / name
        if folder.is_dir():
            when = late.git_time(folder)
            if when is not None:
                return when, "git"
        return late.mtime(path), "mtime"

    # -- after grading
    def finish(self, ex: Exercise, subs: list[Any], rows: list[dict[str, Any]]) -> Finished:
        o = self.options
        path_of = {s.student: s.path or self.folder / s.student for s in subs}  # an empty folder: itself
        out, lines, sources, used = [], [], {}, set()
        for row in rows:
            name = row["student"]
            mine = adjust.for_student(self.overrides, self.names_of(name))
            used |= {id(ov) for ov in mine}
            lateness = None
            if o.policy is not None:
                when, source = self.submitted(name, Path(path_of[name]))
                lateness = late.lateness(o.policy, when, source)
                sources[source] = sources.get(source, 0) + 1
            out.append(adjust.adjust_data(row, mine, lateness))
        top = max((float(r["max_score"]) for r in out), default=full_maximum(ex))
        absent_rows = []
        if self.roster is not None and self.matching is not None:
            lines += rosters.summary_lines(self.roster, self.matching)
            for p in self.matching.absent:  # an override can still give them points (work handed in on paper)
                mine = adjust.for_student(self.overrides, [p.id, *p.keys()])
                used |= {id(ov) for ov in mine}
                absent_rows.append(adjust.adjust_data(_no_result(ex.id, p, top), mine, None))
        unused = [ov for ov in self.overrides if id(ov) not in used]
        if unused:
            lines.append("")
            lines += [f"Override for {ov.student!r} ({ov.where}) matches no submission: not applied" for ov in unused]
        if o.policy is not None:
            lines += _late_lines(o.policy, out, sources)
        if self.overrides:
            n = sum(1 for r in out + absent_rows if r["extra_data"].get("adjustments", {}).get("overrides"))
            lines.append(f"Instructor overrides: {n} result{'s' * (n != 1)} changed (marked in gradebook.csv)")
        everyone = [p.id for p in self.roster.people] if self.roster is not None else []
        names = {p.id: p.name for p in self.roster.people if p.name} if self.roster is not None else {}
        label = lambda pid: f"{names[pid]} ({pid})" if pid in names else pid
        lines += shared.summary_lines(ex, out, self.student_key, everyone, label)
        finished = Finished(out + absent_rows, self._columns(), lines=lines)
        self._lms_gradebooks(ex, out, absent_rows, top, finished)
        return finished

    def _columns(self) -> list[tuple[str, Any]]:
        cols: list[tuple[str, Any]] = []
        if self.roster is not None:
            cols.append(("roster_id", lambda r: self.student_key(r["student"]) if self.person(r["student"])
                         or r.get("submission") is None else ""))
            cols.append(("name", lambda r: (self.person(r["student"]).name if self.person(r["student"])
                                            else r.get("name", ""))))
        if self.options.policy is not None:
            adj = lambda r: r["extra_data"].get("adjustments", {})
            cols += [("raw_score", lambda r: number(adj(r).get("raw_score", r["score"]))),
                     ("submitted_at", lambda r: adj(r).get("submitted_at") or ""),
                     ("time_source", lambda r: adj(r).get("time_source", "")),
                     ("lateness", lambda r: adj(r).get("lateness", "")),
                     ("penalty_percent", lambda r: number(adj(r).get("penalty_percent", 0)))]
        if self.overrides:
            cols.append(("overrides", lambda r: "; ".join(
                f"{x['question']}: {number(x['was'])} -> {number(x['points'])} ({x['reason']})"
                for x in r["extra_data"].get("adjustments", {}).get("overrides", []))))
        # text from rosters and override files goes into a spreadsheet: never as a formula
        return [(h, lambda r, f=f: cell(f(r))) for h, f in cols]

    def _lms_gradebooks(self, ex: Exercise, out: list[dict[str, Any]], absent: list[dict[str, Any]], top: float,
                        finished: Finished) -> None:
        o = self.options
        if o.gradebook == "csv" or self.roster is None or self.matching is None:
            return
        by_person = {self.student_key(r["student"]): r for r in out if self.person(r["student"])}
        by_person.update({r["student"]: r for r in absent})
        entries = [(p, by_person[p.id]) for p in self.roster.people]
        name = o.assignment or ex.title
        if o.gradebook == "canvas":
            finished.files["gradebook-canvas.csv"] = gradebooks.canvas_csv(self.roster, entries, name, top)
            return
        feedback = {p.id: " ".join(r.get("extra_data", {}).get("adjustments", {}).get("notes", []))
                    for p, r in entries}
        text, left_out = gradebooks.moodle_csv(entries, o.match, name, feedback)
        finished.files["gradebook-moodle.csv"] = text
        if left_out:
            field = gradebooks.MOODLE_MATCH[o.match][0].lower()
            finished.lines.append(f"Not in gradebook-moodle.csv (no {field} on the roster): "
                                  + ", ".join(p.id for p in left_out))


def _no_result(exercise: str, p: rosters.Person, top: float) -> dict[str, Any]:
    return {"student": p.id, "submission": None, "name": p.name, "exercise": exercise, "score": 0.0,
            "max_score": top, "percent": 0.0,
            "tests": [{"id": "submission", "name": "submission", "score": 0.0, "max_score": top,
                       "status": "no_result", "feedback": "no submission"}],
            "warnings": [], "output": "", "extra_data": {}}


def _late_lines(policy: late.Policy, rows: list[dict[str, Any]], sources: dict[str, int]) -> list[str]:
    adj = [r["extra_data"].get("adjustments", {}) for r in rows]
    n_late = sum(1 for a in adj if a.get("days_late"))
    n_cap = sum(1 for a in adj if a.get("past_cap"))
    lines = ["", f"Deadline {policy.deadline.isoformat()}: {n_late} late ({n_cap} past the last accepted time), "
             f"{number(policy.penalty_per_day)}% per day late"]
    lines.append("Submission times from: " + ", ".join(f"{k} {v}" for k, v in sorted(sources.items())))
    if sources.get("mtime"):
        lines.append(f"warning: {sources['mtime']} submission time{'s' * (sources['mtime'] != 1)} came from file "
                     "modification times, which copying or unzipping can change: give --times FILE")
    return lines
