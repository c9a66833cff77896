"""Gradebooks that an LMS imports as they are.

- Canvas (its gradebook importer, ``GradebookImporter``): the identity columns first, in the
  order of a Canvas export (``Student, ID, [SIS User ID, SIS Login ID, [Integration ID],
  [Root Account]], Section``), then one column per assignment named ``Title (ID)``; a row whose
  first cell contains "Points Possible" gives each assignment's points. Canvas matches a row by
  ``ID``, then SIS User ID, then SIS Login ID, then the name. Any other column would become a new
  assignment, so overrides and lateness are not written here (they are in ``gradebook.csv``).
- Moodle (``grade/import/csv``): one identity column that the import maps to the user's email,
  ID number or username, a grade column, and a feedback column that can be mapped to the grade's
  feedback. ``-`` or an empty cell means no grade; a number uses ``.``.
"""

from __future__ import annotations

from typing import Any

from ..errors import UsageError
from .rosters import Person, Roster
from .tables import number, write_csv

CANVAS_DEFAULT = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_MATCH = {"email": ("Email address", "email"), "idnumber": ("ID number", "sid"),
                "username": ("Username", "login")}


def check_options(kind: str, roster: Roster | None, match: str) -> None:
    """Before anything is graded: an LMS gradebook needs a roster, and Moodle's identity field."""
    if kind in ("canvas", "moodle") and roster is None:
        raise UsageError(f"--gradebook {kind} needs --roster FILE: the LMS matches rows by its own ids, "
                         "which only a roster has")
    if kind == "moodle" and roster is not None:
        if match not in MOODLE_MATCH:
            raise UsageError(f"--match {match}: one of {', '.join(MOODLE_MATCH)}")
        field = MOODLE_MATCH[match][1]
        if roster.people and not any(getattr(p, field) for p in roster.people):
            raise UsageError(f"{roster.path}: --match {match}: this {roster.kind} roster has no "
                             f"{MOODLE_MATCH[match][0].lower()} for anyone; choose another --match")


def canvas_csv(roster: Roster, entries: list[tuple[Person, dict[str, Any]]], assignment: str,
               points: float) -> str:
    """``gradebook-canvas.csv``: one row per person of the roster, in roster order."""
    identity = roster.identity or CANVAS_DEFAULT
    rows: list[list[object]] = [[*identity, assignment]]
    rows.append(["    Points Possible", *([""] * (len(identity) - 1)), number(points)])
    for person, data in entries:
        own = dict(person.columns)
        if not own:
            own = {"Student": person.name or person.id, "ID": person.lms_id, "SIS User ID": person.sid or person.id,
                   "SIS Login ID": person.login or person.email, "Section": ""}
        rows.append([*(own.get(h, "") for h in identity), number(data["score"])])
    return write_csv(rows)


def moodle_csv(entries: list[tuple[Person, dict[str, Any]]], match: str, assignment: str,
               feedback: dict[str, str]) -> tuple[str, list[Person]]:
    """``gradebook-moodle.csv`` and the people left out for want of the identity field."""
    header, field = MOODLE_MATCH[match]
    rows: list[list[object]] = [[header, assignment, "Feedback"]]
    left_out = []
    for person, data in entries:
        ident = getattr(person, field)
        if not ident:
            left_out.append(person)
            continue
        rows.append([ident, number(data["score"]), feedback.get(person.id, "")])
    return write_csv(rows), left_out
