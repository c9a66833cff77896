"""Taking files from a submission without following links.

A submission (a file, a folder, an unpacked Gradescope zip, a GitHub Classroom repository) is
untrusted, and so is every name in it: a member may be a symlink to ``/proc/self/environ``, to
``/etc/shadow`` or to an answer key, a FIFO that blocks its reader, a device, a socket, or a hard
link to a file outside the submission. The grader (which may run as root) reads submission files
only through this module:

    data = safefs.read_bytes(path, root=folder, limit=MAX_BYTES)  # the bytes, or raises Refused
    reason = safefs.refusal(path, root=folder)                    # None if it may be read, else why
    found = safefs.scan(folder)                                   # found.files, found.dirs, found.refused

``root`` is the directory the instructor named (the submission's folder, or a class folder):
every component from it down to the file is opened with ``O_NOFOLLOW``, so a symlinked directory
on the way is refused as well as a symlinked file. Without ``root`` the file's own directory is
the root (the path up to it is the instructor's). Only regular files are read; a regular file
with more than one link is refused unless all its links are inside ``root`` (a hard link made
by whoever packed the submission to a file outside it). :class:`Refused` is a
:class:`~grader.errors.SubmissionError` (exit status 2 when it is the submission itself) with
``path`` and ``reason``; a refused helper or member is named in the student's result and the rest
is graded.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import NamedTuple

from .errors import SubmissionError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
MAX_SCAN = 20000  # entries looked at when counting the links of a hard-linked file


class Refused(SubmissionError):
    """A file of a submission that is not read: ``reason`` says why (a symlink, a FIFO, …)."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{path}: refused: {reason}")
        self.path, self.reason = Path(path), reason


class Scan(NamedTuple):
    files: list[Path]  # regular files, sorted by name
    dirs: list[Path]  # real directories (never a symlink to one), sorted
    refused: list[tuple[Path, str]]  # everything else, with the reason


def kind(mode: int) -> str | None:
    """Why a file of this mode is not read (None: a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link (links in a submission are never followed)"
    if stat.S_ISDIR(mode):
        return "a directory, not a regular file"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not a regular file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a regular file"
    return "not a regular file"


def _parts(path: Path, root: Path | None) -> tuple[Path, list[str]]:
    """(root, the names from it down to the file), judged on the paths as written."""
    path = Path(os.path.abspath(path))
    base = Path(os.path.abspath(root)) if root is not None else path.parent
    try:
        rel = path.relative_to(base)
    except ValueError:
        raise Refused(path, f"outside the submission folder {base}") from None
    names = list(rel.parts)
    if not names or ".." in names:
        raise Refused(path, f"not a file inside the submission folder {base}")
    return base, names


def _walk(path: Path, root: Path | None) -> tuple[int, str, Path]:
    """An fd of the file's directory (reached without following links), its name, and the root."""
    base, names = _parts(path, root)
    try:
        dfd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise Refused(path, f"its folder cannot be opened: {exc.strerror}") from None
    try:
        for i, name in enumerate(names[:-1]):
            try:
                nfd = os.open(name, _DIR_FLAGS, dir_fd=dfd)
            except OSError as exc:
                where = os.path.join(*names[:i + 1])
                try:
                    why = kind(os.stat(name, dir_fd=dfd, follow_symlinks=False).st_mode) or "not a directory"
                except OSError:
                    why = exc.strerror or "cannot be opened"
                raise Refused(path, f"{where} on the way to it is {why}") from None
            os.close(dfd)
            dfd = nfd
    except BaseException:
        os.close(dfd)
        raise
    return dfd, names[-1], base


def _links_inside(st: os.stat_result, root: Path) -> int:
    """How many names of the file (dev, ino) there are below root (symlinks not followed)."""
    count, seen, stack = 0, 0, [str(root)]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    seen += 1
                    if seen > MAX_SCAN:
                        return count
                    est = entry.stat(follow_symlinks=False)
                    if stat.S_ISDIR(est.st_mode):
                        stack.append(entry.path)
                    elif est.st_ino == st.st_ino and est.st_dev == st.st_dev:
                        count += 1
        except OSError:
            continue
    return count


def _check(st: os.stat_result, path: Path, base: Path) -> None:
    why = kind(st.st_mode)
    if why is not None:
        raise Refused(path, why)
    if st.st_nlink > 1 and _links_inside(st, base) < st.st_nlink:
        raise Refused(path, f"a hard link to a file outside the submission ({st.st_nlink} links)")


def open_fd(path: str | Path, root: str | Path | None = None) -> int:
    """A read-only fd of a regular submission file (the caller closes it); raises Refused."""
    path = Path(path)
    dfd, name, base = _walk(path, Path(root) if root is not None else None)
    try:
        try:
            before = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            raise Refused(path, "no such file") from None
        except OSError as exc:
            raise Refused(path, f"cannot be examined: {exc.strerror}") from None
        _check(before, path, base)  # before opening: opening a device or FIFO can have effects
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=dfd)
        except OSError as exc:
            raise Refused(path, f"cannot be opened: {exc.strerror}") from None
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino) or kind(st.st_mode) is not None:
            os.close(fd)
            raise Refused(path, "it was replaced while being opened")
        os.set_blocking(fd, True)
        return fd
    finally:
        os.close(dfd)


def read_bytes(path: str | Path, root: str | Path | None = None, limit: int | None = None) -> bytes:
    """The bytes of a regular submission file, never through a link; raises Refused (also when
    the file is larger than ``limit`` bytes)."""
    fd = open_fd(path, root)
    try:
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read() if limit is None else f.read(limit + 1)
    except OSError as exc:
        raise Refused(path, f"cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if limit is not None and len(data) > limit:
        raise Refused(path, f"larger than {limit // 1024} KiB" if limit >= 1024 else f"larger than {limit} bytes")
    return data


def refusal(path: str | Path, root: str | Path | None = None, directory: bool = False) -> str | None:
    """None when ``path`` may be taken from the submission (a regular file, or with ``directory``
    a real directory), else the reason it is refused. Nothing is opened but directories."""
    path = Path(path)
    try:
        dfd, name, base = _walk(path, Path(root) if root is not None else None)
    except Refused as exc:
        return exc.reason
    try:
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        if directory:
            return None if stat.S_ISDIR(st.st_mode) else kind(st.st_mode) or "a file, not a folder"
        _check(st, path, base)
        return None
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return f"cannot be examined: {exc.strerror}"
    except Refused as exc:
        return exc.reason
    finally:
        os.close(dfd)


def scan(folder: str | Path, root: str | Path | None = None) -> Scan:
    """The entries of ``folder`` (itself reached from ``root`` without following links): regular
    files and real directories, and every other entry with the reason it is refused."""
    folder = Path(folder)
    base = Path(root) if root is not None else folder
    files, dirs, refused = [], [], []
    if os.path.abspath(folder) != os.path.abspath(base):
        why = refusal(folder, base, directory=True)
        if why is not None:
            return Scan([], [], [(folder, why)])
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        return Scan([], [], [(folder, f"cannot be listed: {exc.strerror}")])
    for name in names:
        path = folder / name
        try:
            st = os.lstat(path)
        except OSError as exc:
            refused.append((path, f"cannot be examined: {exc.strerror}"))
            continue
        if stat.S_ISDIR(st.st_mode):
            dirs.append(path)
            continue
        why = kind(st.st_mode)
        if why is None and st.st_nlink > 1 and _links_inside(st, Path(base)) < st.st_nlink:
            why = f"a hard link to a file outside the submission ({st.st_nlink} links)"
        if why is None:
            files.append(path)
        else:
            refused.append((path, why))
    return Scan(files, dirs, refused)
