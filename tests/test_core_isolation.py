import subprocess
import sys

CORE = [
    "napari_dynmri.physics",
    "napari_dynmri.metrics",
    "napari_dynmri.io",
    "napari_dynmri.data.samples",
    "napari_dynmri.simulation",
    "napari_dynmri.profiles",
    "napari_dynmri.models",
    "napari_dynmri.losses",
    "napari_dynmri.training",
    "napari_dynmri.recon",
    "napari_dynmri.solvers.algorithms",
    "napari_dynmri.solvers.loop",
    "napari_dynmri.recon.weight",
    "napari_dynmri.evaluation",
    "napari_dynmri.validation",
    "napari_dynmri.data.sequences",
    "napari_dynmri.cli",
]


def test_core_imports_neither_napari_nor_qt():
    code = (
        "import sys\n"
        f"for name in {CORE!r}: __import__(name)\n"
        "from napari_dynmri.cli import build_parser; build_parser()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'napari', 'magicgui', 'qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'vispy'})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"core pulled in: {result.stdout}"


def test_physics_and_readers_do_not_import_torch():
    code = (
        "import sys\n"
        "import napari_dynmri.physics, napari_dynmri.io, napari_dynmri.metrics, napari_dynmri.simulation\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
