"""Rosters: who is in the class, read from what an LMS exports, and which submission is whose.

Kinds, detected from the header (the first that fits):

- ``canvas``: a Canvas gradebook export (``Student, ID, [SIS User ID, SIS Login ID, …], Section``
  then assignments; a "Points Possible" row under the header);
- ``moodle``: a Moodle grades export (``First name, Last name, ID number, …, Email address``),
  a participants download, or an assignment's grading worksheet (``Identifier`` =
  "Participant 1234", ``Full name``, ``Email address``);
- ``gradescope``: a Gradescope roster or grades export (``SID`` and ``Email``);
- ``classroom``: a GitHub Classroom roster (``identifier, github_username, …``);
- ``plain``: ``student, email, id`` (and optionally ``login``).

Each person's ``id`` is the key of their variant and of their gradebook row: Canvas's SIS User
ID (else its ID), Moodle's ID number (else email, username), Gradescope's SID (else email),
Classroom's identifier (else login), the plain roster's ``id`` (else email).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .tables import read_table

CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Root Account", "Section")
MOODLE_FOLDER = re.compile(r"^(?P<name>.+?)_(?P<participant>\d+)_(?:assignsubmission|onlinetext)")


@dataclass(frozen=True)
class Person:
    id: str
    name: str = ""
    email: str = ""
    login: str = ""  # Canvas SIS Login ID, Moodle username, GitHub login
    sid: str = ""  # Canvas SIS User ID, Moodle ID number, Gradescope SID
    lms_id: str = ""  # Canvas's own user ID
    participant: str = ""  # Moodle's participant id (the number in assignment folder names)
    columns: tuple[tuple[str, str], ...] = ()  # the identity columns as the export had them

    def keys(self) -> list[str]:
        """Every string a submission may be named by, lower-cased."""
        return [k.lower() for k in (self.id, self.sid, self.lms_id, self.email, self.login) if k]


@dataclass(frozen=True)
class Roster:
    kind: str
    path: str
    people: tuple[Person, ...]
    identity: tuple[str, ...] = ()  # Canvas: the identity columns of the export, in order


def _get(row: dict[str, str], *names: str) -> str:
    lower = {k.lower(): v for k, v in row.items()}
    for n in names:
        v = lower.get(n.lower(), "")
        if v:
            return v
    return ""


def _kind(header: list[str]) -> str | None:
    low = [h.lower() for h in header]
    if len(header) > 3 and "Student" in header[0] and "ID" in header[1] and "Section" in header:
        return "canvas"
    if "email address" in low and ({"first name", "last name", "full name", "id number", "username",
                                   "identifier"} & set(low)):
        return "moodle"
    if "SID" in header and "Email" in header:
        return "gradescope"
    if "github_username" in low:
        return "classroom"
    if "student" in low and ({"email", "id"} & set(low)):
        return "plain"
    return None


def _person(kind: str, row: dict[str, str], header: list[str]) -> Person:
    if kind == "canvas":
        return Person(id=_get(row, "SIS User ID") or _get(row, "ID"), name=_get(row, "Student"),
                      login=_get(row, "SIS Login ID"), sid=_get(row, "SIS User ID"), lms_id=_get(row, "ID"),
                      email=_get(row, "SIS Login ID") if "@" in _get(row, "SIS Login ID") else "",
                      columns=tuple((h, row.get(h, "")) for h in header if h in CANVAS_IDENTITY))
    if kind == "moodle":
        name = _get(row, "Full name") or " ".join(p for p in (_get(row, "First name"), _get(row, "Last name")) if p)
        ident = _get(row, "Identifier")
        participant = re.sub(r"\D", "", ident) if ident else ""
        email, idnumber, username = _get(row, "Email address"), _get(row, "ID number"), _get(row, "Username")
        return Person(id=idnumber or email or username, name=name, email=email, login=username, sid=idnumber,
                      participant=participant)
    if kind == "gradescope":
        name = _get(row, "Name") or " ".join(p for p in (_get(row, "First Name"), _get(row, "Last Name")) if p)
        return Person(id=_get(row, "SID") or _get(row, "Email"), name=name, email=_get(row, "Email"),
                      sid=_get(row, "SID"))
    if kind == "classroom":
        login = _get(row, "github_username")
        return Person(id=_get(row, "identifier") or login, name=_get(row, "name"), login=login,
                      sid=_get(row, "identifier"))
    return Person(id=_get(row, "id") or _get(row, "email"), name=_get(row, "student", "name"),
                  email=_get(row, "email"), login=_get(row, "login", "username", "github_username"),
                  sid=_get(row, "id"))


def read_roster(path: str | Path) -> Roster:
    """Read and check a roster; the kind comes from the header. Errors name the file and line."""
    header, rows = read_table(path, "roster")
    kind = _kind(header)
    if kind is None:
        raise UsageError(f"{path}: line 1: not a roster this grader knows (Canvas gradebook export, Moodle "
                         "grades or participants export, Gradescope roster, GitHub Classroom roster, or "
                         f"student,email,id); the header is {', '.join(header[:8])}")
    people: list[Person] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        first = next(iter(row.values()), "")
        if kind == "canvas" and ("Points Possible" in first or all(
                re.fullmatch(r"\s*(Muted|Manual Posting.*)?\s*", v or "", re.I) for v in row.values())):
            continue  # Canvas's rows that describe the assignments, not a student
        if kind == "canvas" and first.strip() in ("Test Student", "Student, Test"):
            continue  # Canvas's student view user
        role = _get(row, "Role", "Roles")
        if role and "student" not in role.lower():
            continue  # Gradescope and Moodle list staff too
        p = _person(kind, row, header)
        if not p.id:
            raise UsageError(f"{path}: line {line}: no id for {p.name or 'this row'} "
                             "(every person needs an id, an email or a login)")
        if p.id.lower() in seen:
            raise UsageError(f"{path}: line {line}: {p.id!r} is listed twice (first on line {seen[p.id.lower()]})")
        seen[p.id.lower()] = line
        people.append(p)
    identity = tuple(h for h in header if h in CANVAS_IDENTITY) if kind == "canvas" else ()
    return Roster(kind, str(path), tuple(people), identity)


# ---------------------------------------------------------------------------- Gradescope metadata
@dataclass(frozen=True)
class Metadata:
    """What Gradescope says about one submission: its submitters and when it was made."""

    sids: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    created_at: str | None = None


def _metadata_of(data: Any) -> Metadata:
    if not isinstance(data, dict):
        return Metadata()
    users = data.get("users") or data.get("submitters") or data.get(":submitters") or []
    users = [u for u in users if isinstance(u, dict)] if isinstance(users, list) else []
    pick = lambda key: tuple(str(u.get(key) or u.get(":" + key)) for u in users if u.get(key) or u.get(":" + key))
    created = data.get("created_at") or data.get(":created_at")
    if isinstance(created, datetime):  # YAML read it as a time already; YAML's zone-less times are UTC
        created = (created if created.tzinfo else created.replace(tzinfo=timezone.utc)).isoformat()
    return Metadata(pick("sid"), pick("email"), str(created) if created else None)


def read_metadata(folder: str | Path, names: list[str]) -> dict[str, Metadata]:
    """Gradescope metadata per submission name, from the ``submission_metadata.json`` (or
    ``.yml``, read when PyYAML is installed) at the top of the class folder that maps folder names
    to their submitters, as Gradescope's export has it. A ``submission_metadata.json`` inside a
    student's folder is the student's own file: it is never read (it could claim anyone's sid)."""
    folder = Path(folder)
    top: Any = None
    for name in ("submission_metadata.json", "submission_metadata.yml"):
        p = folder / name
        if p.is_file() and not p.is_symlink():
            try:
                if name.endswith(".json"):
                    top = json.loads(p.read_text("utf-8"))
                else:
                    import yaml  # optional: Gradescope's export is YAML with Ruby-style keys

                    top = yaml.safe_load(p.read_text("utf-8"))
            except ImportError:
                continue
            except (OSError, ValueError) as exc:
                raise UsageError(f"{p}: cannot read Gradescope's metadata: {exc}") from None
            except Exception as exc:  # a YAML error
                raise UsageError(f"{p}: cannot read Gradescope's metadata: {type(exc).__name__}") from None
            break
    if not isinstance(top, dict):
        return {}
    return {n: _metadata_of(top[n]) for n in names if isinstance(top.get(n), dict)}


# ---------------------------------------------------------------------------- matching
@dataclass
class Matching:
    """Which submission (by its name in the class folder) is whose."""

    person_of: dict[str, Person] = field(default_factory=dict)
    how: dict[str, str] = field(default_factory=dict)  # submission -> how it was matched
    unmatched: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str, str]] = field(default_factory=list)  # (submission, person id, kept)
    absent: list[Person] = field(default_factory=list)


def _norm_name(name: str) -> str:
    return " ".join(name.replace("_", " ").lower().split())


def match(roster: Roster, names: list[str], metadata: dict[str, Metadata] | None = None) -> Matching:
    """Match each submission name to one person of ``roster``: by Gradescope's sid/email, by the
    participant id (else the full name) in a Moodle folder name, by id, email or login, then by a
    GitHub Classroom repository name ``assignment-login``. A person matched twice keeps the first
    submission (in sorted order); the others are listed as duplicates."""
    metadata = metadata or {}
    by_key: dict[str, Person] = {}
    for p in roster.people:
        for k in p.keys():
            by_key.setdefault(k, p)
    by_participant = {p.participant: p for p in roster.people if p.participant}
    by_name: dict[str, list[Person]] = {}
    for p in roster.people:
        if p.name:
            by_name.setdefault(_norm_name(p.name), []).append(p)
    logins = sorted((p for p in roster.people if p.login), key=lambda p: -len(p.login))
    m = Matching()
    taken: dict[str, str] = {}
    for n in sorted(names):
        person, how = None, ""
        meta = metadata.get(n)
        if meta is not None:
            for k in (*meta.sids, *meta.emails):
                if k.lower() in by_key:
                    person, how = by_key[k.lower()], "Gradescope metadata"
                    break
        moodle = MOODLE_FOLDER.match(n)
        if person is None and moodle:
            person = by_participant.get(moodle["participant"])
            how = "Moodle participant id"
            if person is None and len(by_name.get(_norm_name(moodle["name"]), [])) == 1:
                person, how = by_name[_norm_name(moodle["name"])][0], "Moodle folder name"
        if person is None and n.lower() in by_key:
            person, how = by_key[n.lower()], "id, email or login"
        if person is None:
            for p in logins:
                if n.lower().endswith("-" + p.login.lower()):
                    person, how = p, "GitHub Classroom repository"
                    break
        if person is None:
            m.unmatched.append(n)
            continue
        if person.id in taken:
            m.duplicates.append((n, person.id, taken[person.id]))
            continue
        taken[person.id] = n
        m.person_of[n] = person
        m.how[n] = how
    m.absent = [p for p in roster.people if p.id not in taken]
    return m


def summary_lines(roster: Roster, m: Matching) -> list[str]:
    """The roster part of a batch summary: kind, counts, who matched nobody, who did not submit."""
    lines = ["", f"Roster: {roster.kind} ({len(roster.people)} people); {len(m.person_of)} submissions matched"]
    if m.unmatched:
        lines.append(f"Submissions that match nobody on the roster ({len(m.unmatched)}):")
        lines += [f"  {n}" for n in m.unmatched]
    for n, pid, kept in m.duplicates:
        lines.append(f"Submission {n} is also {pid}'s, who is graded on {kept}: not in the LMS gradebook")
    if m.absent:
        lines.append(f"On the roster without a submission ({len(m.absent)}; 0 points, no_result):")
        lines += [f"  {p.id}" + (f" ({p.name})" if p.name else "") for p in m.absent]
    return lines
