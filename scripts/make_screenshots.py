"""Take the user guide's screenshots (docs/images/*.png) in a real napari window.

Run under a virtual display from the repository root::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/make_screenshots.py [--model NAME]

Each widget is driven as a user would (values set, buttons' actions called) on the bundled pig cine;
the DICOM screenshot needs ../shared/data/pig_cine/dicom_sax_2slices next to the repository.
Screenshots are reduced to a 256-colour palette so each PNG stays well under 300 KB.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import napari
import numpy as np
from PIL import Image
from qtpy.QtWidgets import QApplication, QWidget

from napari_dynmri._napari._demo import PLUGIN, demo_model

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
DICOM_FOLDER = ROOT.parent / "shared" / "data" / "pig_cine" / "dicom_sax_2slices"
LINE_PIXELS = np.array([[135.0, 70.0], [135.0, 200.0]])  # across the right and left ventricles of the pig cine


def settle(seconds: float = 0.5) -> None:
    """Let Qt process events (redraws, queued signals) for ``seconds``."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        QApplication.processEvents()
        time.sleep(0.02)


def wait_until(condition, timeout: float = 900.0) -> None:
    end = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > end:
            raise TimeoutError("the viewer did not reach the expected state in time")
        settle(0.1)


def save(viewer, name: str, with_activity: bool = False) -> None:
    """Save the window as ``docs/images/<name>``; ``with_activity`` opens napari's progress panel first.

    Notification toasts are closed first. The progress panel is a window of its own, so that shot
    is grabbed from the screen rather than from the main window.
    """
    window = viewer.window._qt_window
    for toast in window.findChildren(QWidget):
        if type(toast).__name__ == "NapariQtNotification":
            toast.close()
    window.statusBar()._toggle_activity_dock(with_activity)
    settle()
    path = IMAGES / name
    if with_activity:
        geometry = window.frameGeometry()
        QApplication.primaryScreen().grabWindow(0, geometry.x(), geometry.y(), geometry.width(),
                                                geometry.height()).save(str(path))
        window.statusBar()._toggle_activity_dock(False)
        picture = Image.open(path).convert("RGB")
    else:
        picture = Image.fromarray(viewer.screenshot(canvas_only=False, flash=False)[..., :3])
    picture.quantize(colors=256).save(path, optimize=True)
    print(f"{path.relative_to(ROOT)}: {picture.width}x{picture.height}, {path.stat().st_size / 1024:.0f} KB")


def dock(viewer, title: str):
    """Open the plugin widget ``title`` as the Plugins menu does (it joins the plugin's tabs, in front); returns it."""
    widget = viewer.window.add_plugin_dock_widget(PLUGIN, title)[1]
    settle(0.2)
    return widget


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model for the Reconstruct screenshots (default: as the demo)")
    parser.add_argument("--cs-iterations", type=int, default=40, help="solver iterations of a compressed-sensing model")
    args = parser.parse_args()
    IMAGES.mkdir(parents=True, exist_ok=True)
    viewer = napari.Viewer(title="napari-dynmri", show=True)
    viewer.window.resize(1400, 860)
    viewer.canvas.overlays.scale_bar.visible = True  # the layers carry mm, so it reads mm

    if DICOM_FOLDER.is_dir():
        viewer.open(DICOM_FOLDER, plugin=PLUGIN)
        viewer.dims.set_current_step(1, 6)
        save(viewer, "open-dicom.png")
        viewer.layers.clear()

    reference = viewer.open_sample(PLUGIN, "pig")[0]
    undersample = dock(viewer, "Undersample")
    undersample.image.value = reference
    mask, kspace, zero_filled = undersample.run()
    for layer in (mask, kspace):
        layer.visible = True
    viewer.canvas.grid.enabled = True
    viewer.canvas.grid.shape = (1, 4)
    viewer.dims.set_current_step(0, 6)
    viewer.reset_view()
    save(viewer, "undersample.png")
    for layer in (mask, kspace):
        layer.visible = False
    viewer.canvas.grid.enabled = False

    reconstruct = dock(viewer, "Reconstruct")
    reconstruct.image.value = zero_filled
    spec = demo_model(args.model)
    reconstruct.model.value = spec
    reconstruct.controls["iterations"].value = args.cs_iterations
    reconstruct.run()
    wait_until(lambda: not reconstruct.running or (
        reconstruct.progress_bar.max > 0 and reconstruct.progress_bar.value >= reconstruct.progress_bar.max // 3))
    if reconstruct.running:
        save(viewer, "reconstruct-running.png", with_activity=True)
    wait_until(lambda: not reconstruct.running)
    recon = reconstruct.result_layer
    save(viewer, "reconstruct.png")

    compare = dock(viewer, "Compare")
    compare.reference.value = reference
    compare.results.value = [zero_filled, recon]
    compare.compare()  # in a worker
    wait_until(lambda: not compare.running)
    compare.side_by_side()
    viewer.dims.set_current_step(0, 6)
    save(viewer, "compare.png")
    compare.view.value = "|error|"
    compare.side_by_side()
    save(viewer, "compare-errors.png")
    compare.single_view()
    compare.panel_dock.hide()

    shapes = viewer.add_shapes([LINE_PIXELS], shape_type="line", name="x-t line", edge_color="yellow",
                               edge_width=2, scale=reference.scale[-2:], units=reference.units[-2:])
    profile = dock(viewer, "x-t profile")
    profile.shapes.value = shapes
    profile.images.value = [reference, zero_filled, recon]
    profile.show_profile()
    save(viewer, "xt-profile.png")
    profile.panel_dock.hide()

    export = dock(viewer, "Export")
    export.layers.value = [zero_filled, recon]
    export.folder.value = Path(tempfile.mkdtemp(prefix="dynmri-export-"))
    save(viewer, "export.png")
    viewer.close()


if __name__ == "__main__":
    main()
