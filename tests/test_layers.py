"""The floors of docs/architecture.md hold: import-linter checks the contracts in pyproject.toml.

The first test lints the package as it is; the second copies the package, adds one module that
imports a floor above its own and one plugin module that imports training code, and shows that the
same contracts then fail and name both imports.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import napari_dynmri

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pyproject.toml"


def lint_imports(package_parent: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``lint-imports`` with the project's contracts on the installed package or on a copy under ``package_parent``."""
    env = None if package_parent is None else {**os.environ, "PYTHONPATH": str(package_parent)}
    command = [
        sys.executable,
        "-c",
        "from importlinter.cli import lint_imports_command; lint_imports_command()",
        "--no-cache",
        "--no-logo",
        str(CONFIG),
    ]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=package_parent or ROOT)


def test_the_package_keeps_its_import_contracts():
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_an_import_up_a_floor_breaks_the_contracts(tmp_path):
    package = Path(napari_dynmri.__file__).parent
    copy = tmp_path / "napari_dynmri"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "pretrained", "*.yaml"))
    (copy / "physics" / "_upward.py").write_text("from napari_dynmri.recon import get_method\n")
    (copy / "_napari" / "_trainer_button.py").write_text("import napari_dynmri.training\n")

    result = lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Each floor imports only the floors below it BROKEN" in result.stdout
    assert "napari_dynmri.physics._upward -> napari_dynmri.recon" in result.stdout
    assert "The plugin imports no training code and no training losses BROKEN" in result.stdout
    assert "napari_dynmri._napari._trainer_button -> napari_dynmri.training" in result.stdout
