"""A Gradescope autograder bundle: ``setup.sh``, ``run_autograder``, the exercise and this grader.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once when the image is
built, then ``run_autograder`` for each submission, which must leave
``/autograder/results/results.json``. The grader travels as source inside the zip (it is not on
PyPI), and ``setup.sh`` installs it with its dependencies.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from . import spec

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
cd "$(dirname "$0")"
apt-get update -qq && apt-get install -y -qq python3 python3-pip python3-venv >/dev/null || true
python3 -m venv /opt/grader-venv
/opt/grader-venv/bin/pip install --quiet --upgrade pip
/opt/grader-venv/bin/pip install --quiet ./grader-src
ln -sf /opt/grader-venv/bin/grade /usr/local/bin/grade
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for each submission. AUTOGRADER_ROOT (default /autograder) lets a test run
# it against a fake tree.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
GRADE="${GRADER_COMMAND:-grade}"
mkdir -p "$ROOT/results"
out="$ROOT/results/results.json"
student=()
if [ -s "$ROOT/source/grader_secret" ] && [ -f "$ROOT/submission_metadata.json" ]; then
    # per-student variants: the student is the submitter Gradescope names (sid, else email, else id)
    sid=$(python3 -c 'import json, sys
try:
    users = json.load(open(sys.argv[1])).get("users") or [{}]
    print(users[0].get("sid") or users[0].get("email") or users[0].get("id") or "")
except Exception:
    print("")' "$ROOT/submission_metadata.json")
    if [ -n "$sid" ]; then
        GRADER_SECRET="$(cat "$ROOT/source/grader_secret")"
        export GRADER_SECRET
        student=(--student "$sid")
    fi
fi
lms=()  # late penalties and overrides, as given to grade bundle; the submitter and time from Gradescope
if [ -s "$ROOT/source/grader_options" ]; then
    mapfile -t lms < "$ROOT/source/grader_options"
fi
if [ -s "$ROOT/source/overrides.csv" ]; then
    lms+=(--overrides "$ROOT/source/overrides.csv")
fi
if [ -f "$ROOT/submission_metadata.json" ] && [ ${#lms[@]} -gt 0 ]; then
    lms+=(--metadata "$ROOT/submission_metadata.json")
fi
"$GRADE" "$ROOT/submission" --exercise "$ROOT/source/exercise.json" --format gradescope --output "$out" \
    ${student[@]+"${student[@]}"} ${lms[@]+"${lms[@]}"} > "$ROOT/results/grader.log" 2>&1
if [ ! -s "$out" ]; then
    # never leave Gradescope without a result: say what happened, score 0
    msg=$(tail -c 2000 "$ROOT/results/grader.log" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')
    printf '{"score": 0, "output": %s, "tests": []}\n' "$msg" > "$out"
fi
exit 0
"""

# what of this project the bundle carries to install it
_SOURCE = ("pyproject.toml", "setup.cfg", "README.md")


def _project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def _add_tree(z: zipfile.ZipFile, folder: Path, arc: str) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            z.write(path, f"{arc}/{path.relative_to(folder).as_posix()}")


def build(exercise: str | Path, secret: str | None = None, options: list[str] = (),
          overrides: str | None = None) -> bytes:
    """The zip's bytes: setup.sh, run_autograder, exercise.json and grader-src/ (this grader); with
    a course ``secret`` and an exercise that has variants, ``grader_secret`` too, so that each
    Gradescope submitter is graded on their own variant. ``options`` (late-penalty options, one
    argument a line in ``grader_options``) and the ``overrides`` file go with every run."""
    path = spec.find(exercise)
    ex = spec.load(path)  # never ship an invalid exercise
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o755 << 16
            z.writestr(info, text)
        z.write(path, "exercise.json")
        if secret and "variants" in ex.raw:
            z.writestr("grader_secret", secret)
        if options:
            z.writestr("grader_options", "".join(f"{a}\n" for a in options))
        if overrides:
            z.write(overrides, "overrides.csv")
        root = _project_root()
        grader_pkg = Path(__file__).resolve().parent
        _add_tree(z, grader_pkg, "grader-src/grader")
        exercises = spec.exercises_folder()
        _add_tree(z, exercises, "grader-src/exercises")
        for name in _SOURCE:
            if (root / name).is_file():
                z.write(root / name, f"grader-src/{name}")
            else:  # an installed grader has no setup.cfg beside it: write a minimal one
                text = _minimal_setup_cfg(grader_pkg) if name == "setup.cfg" else _MINIMAL.get(name, "")
                z.writestr(f"grader-src/{name}", text)
    return buf.getvalue()


def _minimal_setup_cfg(grader_pkg: Path) -> str:
    """A setup.cfg for the shipped source of an installed grader, listing every subpackage it has."""
    found = sorted(".".join(("grader", *p.parent.relative_to(grader_pkg).parts))
                   for p in grader_pkg.rglob("__init__.py") if "__pycache__" not in p.parts)
    packages = sorted(set(found) | {"grader.exercises"})
    return (
        "[metadata]\nname = backprop-grader\nversion = attr: grader._about.__version__\n\n[options]\npython_requires = >=3.10\n"
        "packages =\n" + "".join(f"    {name}\n" for name in packages)
        + "package_dir =\n    grader.exercises = exercises\ninstall_requires =\n    numpy>=1.22\n    click>=8.0\n"
        "    jsonschema>=4.18\n    nbformat>=5.1\n\n[options.package_data]\ngrader.exercises = *.json\n"
        "grader.schema = *.json\n\n[options.entry_points]\nconsole_scripts =\n    grade = grader.__main__:main\n"
    )


_MINIMAL = {
    "pyproject.toml": '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n',
    "README.md": "grader (bundled for a Gradescope autograder)\n",
}
