"""Grades that land in an LMS as they are: rosters, Canvas and Moodle gradebooks, late
penalties, instructor overrides, GitHub Classroom's reporter format, quiz export and
shared-answer detection.

Each module is one job and reads or writes one kind of file; :mod:`grader.batch` and
:mod:`grader.cli` call them through thin hooks. The formats follow each LMS's own importer
source: ``docs/lms-formats.md`` says which files were read and what was relied on.
"""
