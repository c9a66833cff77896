"""The installed package holds every subpackage of the source tree.

CI and users install non-editably (`pip install .`), where a package missing from setup.cfg's
explicit list is simply absent: the installed `grade` then fails while tests run from the source
tree still pass. This compares the list with the tree.
"""

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_setup_cfg_lists_every_subpackage_of_grader() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = {line.strip() for line in cfg["options"]["packages"].splitlines() if line.strip()}
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "grader").rglob("__init__.py")}
    missing = on_disk - listed
    assert not missing, f"add to [options] packages in setup.cfg: {sorted(missing)}"
    # grader.exercises is mapped from the top-level exercises/ folder
    assert "grader.exercises" in listed and (ROOT / "exercises").is_dir()


def _packages(text: str) -> set[str]:
    cfg = configparser.ConfigParser()
    cfg.read_string(text)
    return {line.strip() for line in cfg["options"]["packages"].splitlines() if line.strip()}


def test_a_bundle_from_an_installed_grader_writes_a_setup_cfg_with_every_package() -> None:
    from grader.bundle import _minimal_setup_cfg

    assert _packages(_minimal_setup_cfg(ROOT / "grader")) == _packages((ROOT / "setup.cfg").read_text())
