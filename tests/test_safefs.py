"""safefs: files are taken from a submission only as regular files, never through a link."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from grader import safefs
from grader.errors import SubmissionError


@pytest.fixture()
def folder(tmp_path):
    sub = tmp_path / "alice"
    sub.mkdir()
    (sub / "submission.py").write_text("x = 1\n")
    (tmp_path / "outside.txt").write_text("the key\n")
    return sub


def test_a_regular_file_is_read(folder):
    assert safefs.read_bytes(folder / "submission.py") == b"x = 1\n"
    assert safefs.read_bytes(folder / "submission.py", root=folder.parent) == b"x = 1\n"
    assert safefs.refusal(folder / "submission.py") is None


@pytest.mark.parametrize("target", ["/proc/self/environ", "/etc/shadow", "../outside.txt", "submission.py"])
def test_a_symlink_is_never_followed(folder, target):
    (folder / "h.py").symlink_to(target)
    with pytest.raises(safefs.Refused, match=r"h\.py: refused: a symbolic link") as info:
        safefs.read_bytes(folder / "h.py")
    assert isinstance(info.value, SubmissionError) and info.value.path.name == "h.py"
    assert "symbolic link" in safefs.refusal(folder / "h.py")


def test_a_symlinked_directory_on_the_way_is_refused(folder):
    (folder / "pkg").symlink_to(folder.parent)
    with pytest.raises(safefs.Refused, match=r"pkg on the way to it is a symbolic link"):
        safefs.read_bytes(folder / "pkg" / "outside.txt", root=folder)
    with pytest.raises(safefs.Refused, match="outside the submission"):
        safefs.read_bytes(folder.parent / "outside.txt", root=folder)


def test_a_fifo_is_refused_without_blocking(folder):
    os.mkfifo(folder / "answers.json")
    done = []
    t = threading.Thread(target=lambda: done.append(safefs.refusal(folder / "answers.json")), daemon=True)
    t.start()
    t.join(5)
    assert done == ["a FIFO (named pipe), not a regular file"]
    with pytest.raises(safefs.Refused, match="FIFO"):
        safefs.read_bytes(folder / "answers.json")


def test_a_socket_and_a_device_are_refused(folder):
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(folder / "s.py"))
        with pytest.raises(safefs.Refused, match="a socket"):
            safefs.read_bytes(folder / "s.py")
    finally:
        sock.close()
    try:
        os.mknod(folder / "null.py", 0o600 | 0o020000, os.makedev(1, 3))  # a character device
    except PermissionError:
        pytest.skip("mknod needs root")
    with pytest.raises(safefs.Refused, match="a device"):
        safefs.read_bytes(folder / "null.py")


def test_a_hard_link_to_a_file_outside_is_refused(folder):
    os.link(folder.parent / "outside.txt", folder / "h.py")
    with pytest.raises(safefs.Refused, match="hard link to a file outside the submission"):
        safefs.read_bytes(folder / "h.py")
    # the same two names inside the root are both the submission's
    assert safefs.read_bytes(folder / "h.py", root=folder.parent) == b"the key\n"
    os.link(folder / "submission.py", folder / "copy.py")
    assert safefs.read_bytes(folder / "copy.py") == b"x = 1\n"


def test_limit_directory_and_missing(folder):
    (folder / "big.py").write_bytes(b"#" * 2048)
    with pytest.raises(safefs.Refused, match="larger than 1 KiB"):
        safefs.read_bytes(folder / "big.py", limit=1024)
    assert len(safefs.read_bytes(folder / "big.py", limit=2048)) == 2048
    assert safefs.refusal(folder) == "a directory, not a regular file"
    assert safefs.refusal(folder, directory=True) is None
    assert safefs.refusal(folder / "nope.py") == "no such file"


def test_scan_sorts_entries_and_gives_reasons(folder):
    (folder / "b.py").write_text("")
    (folder / "link.py").symlink_to("/etc/passwd")
    (folder / "dirlink").symlink_to("/etc")
    (folder / "sub").mkdir()
    os.mkfifo(folder / "pipe.json")
    found = safefs.scan(folder)
    assert [p.name for p in found.files] == ["b.py", "submission.py"]
    assert [p.name for p in found.dirs] == ["sub"]
    assert {p.name: why.split(" ")[1] for p, why in found.refused} == {
        "dirlink": "symbolic", "link.py": "symbolic", "pipe.json": "FIFO"}
    linked = folder.parent / "bob"
    linked.symlink_to(folder)
    assert safefs.scan(linked, root=folder.parent).refused[0][1].startswith("a symbolic link")


def test_a_folder_with_a_symlinked_helper_is_graded_without_it(tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from grader.cli import cli

    monkeypatch.setenv("GRADER_SECRET", "planted-secret")
    sub = tmp_path / "alice"
    sub.mkdir()
    (sub / "submission.py").write_text(
        "try:\n    import h\n    LEAK = h.__doc__\nexcept ImportError as exc:\n    LEAK = str(exc)\n"
        "def sigmoid(z):\n    print(LEAK)\n    import numpy as np\n    return 1 / (1 + np.exp(-z))\n")
    (sub / "h.py").symlink_to("/proc/self/environ")
    res = CliRunner().invoke(cli, [str(sub), "--exercise", "tutorial-4", "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert "h.py: not used: a symbolic link (links in a submission are never followed)" in data["warnings"]
    assert "planted-secret" not in res.output
    assert [t["status"] for t in data["tests"] if t["id"].startswith("sigmoid/")][0] == "passed"
