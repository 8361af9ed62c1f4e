"""What the import contracts (pyproject.toml, tests/test_layers.py) cannot see: imports at run time.

import-linter reads every import statement, those inside functions too, so it checks that the core
never imports napari or Qt, except the demo's viewer in ``cli/demo.py``, which it is told to ignore;
and it allows physics its torch imports inside the functions that take tensors. These tests check,
in a fresh interpreter, that building the whole ``dynmri`` parser loads no napari or Qt, and that
importing physics, the readers and the simulation loads no torch.
"""

import subprocess
import sys


def test_the_cli_loads_neither_napari_nor_qt():
    code = (
        "import sys\n"
        "from napari_dynmri.cli import build_parser; build_parser()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'napari', 'magicgui', 'qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'vispy'})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"the CLI pulled in: {result.stdout}"


def test_physics_and_readers_do_not_load_torch():
    code = (
        "import sys\n"
        "import napari_dynmri.physics, napari_dynmri.io, napari_dynmri.simulation\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
