"""Late penalties and overrides for one submission (``grade FILE``, the Gradescope bundle).

The submitter is ``--student`` and, in a Gradescope run, the sids and emails of
``submission_metadata.json``; the submission time is its ``created_at``, else
``--submitted-at``, else the file's modification time (with a warning in the result).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ..errors import UsageError
from ..results import Results
from . import adjust, late, rosters


def read_metadata_file(path: str | Path | None) -> rosters.Metadata:
    if not path:
        return rosters.Metadata()
    try:
        return rosters._metadata_of(json.loads(Path(path).read_text("utf-8")))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read Gradescope's metadata: {exc}") from None


def adjusted(results: Results, file: str, student: str | None, metadata: str | None, submitted_at: str | None,
             policy: late.Policy | None, overrides: str | None) -> Results:
    if policy is None and not overrides:
        return results
    meta = read_metadata_file(metadata)
    mine = adjust.for_student(adjust.read_overrides(overrides), [student or "", *meta.sids, *meta.emails]) \
        if overrides else []
    known = {t.id for t in results.tests}
    for o in mine:
        if o.question != adjust.WHOLE and o.question not in known:
            raise UsageError(f"{o.where}: no question or case {o.question!r} in this result")
    lateness = None
    notes: tuple[str, ...] = ()
    if policy is not None:
        if meta.created_at:
            when, source = late.parse_time(meta.created_at, f"{metadata}: created_at"), "gradescope"
        elif submitted_at:
            when, source = late.parse_time(submitted_at, "--submitted-at"), "given"
        else:
            when, source = late.mtime(Path(file)), "mtime"
            notes = ("the submission time is the file's modification time (no --submitted-at or metadata)",)
        lateness = late.lateness(policy, when, source)
    out = adjust.adjust_results(results, mine, lateness)
    return dataclasses.replace(out, warnings=(*out.warnings, *notes)) if notes else out
