"""A fake ``/autograder`` tree that runs a Gradescope bundle's ``run_autograder`` as Gradescope
does (shared by the LMS tests of late penalties, overrides and accepted answers)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli


class Autograder:
    def __init__(self, tmp_path: Path, exercise: str, *options: str):
        grade = shutil.which("grade")
        if grade is None:
            pytest.skip("the grade console script is not on PATH (install the project)")
        self.zip = tmp_path / "autograder.zip"
        res = CliRunner().invoke(cli, ["bundle", exercise, "--gradescope", "-o", str(self.zip), *options],
                                 env={"GRADER_SECRET": ""})
        assert res.exit_code == 0, res.output
        self.root = tmp_path / "autograder"
        (self.root / "source").mkdir(parents=True)
        with zipfile.ZipFile(self.zip) as z:
            z.extractall(self.root / "source")
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("GRADER_")},
                    "AUTOGRADER_ROOT": str(self.root), "GRADER_COMMAND": grade}

    def run(self, files: dict[str, str], metadata: dict) -> dict:
        """Grade one submission (file name -> text) with Gradescope's ``submission_metadata.json``."""
        shutil.rmtree(self.root / "submission", ignore_errors=True)
        (self.root / "submission").mkdir()
        for name, text in files.items():
            (self.root / "submission" / name).write_text(text)
        (self.root / "submission_metadata.json").write_text(json.dumps(metadata))
        subprocess.run(["bash", str(self.root / "source" / "run_autograder")], env=self.env, check=True, timeout=120)
        return json.loads((self.root / "results" / "results.json").read_text())
