"""The plugin's docks at a laptop's window size: tabs, never a window taller than the screen."""

import pytest
from qtpy.QtWidgets import QDockWidget

from napari_dynmri._napari._docking import DYNMRI_DOCK

WIDGETS = ("Undersample", "Reconstruct", "Compare", "Export", "x-t profile")


def plugin_docks(window) -> list[QDockWidget]:
    return [dock for dock in window.findChildren(QDockWidget) if dock.property(DYNMRI_DOCK)]


@pytest.mark.parametrize("size", [(1280, 800)])
def test_all_five_widgets_open_as_tabs_within_the_window(make_napari_viewer, qtbot, size):
    viewer = make_napari_viewer(show=True)
    window = viewer.window._qt_window
    window.resize(*size)
    qtbot.wait(50)
    for name in WIDGETS:  # as the Plugins menu opens them (no tabify): napari docks each below the last one
        viewer.window.add_plugin_dock_widget("napari-dynmri", name)
        opened = WIDGETS.index(name) + 1
        qtbot.waitUntil(lambda opened=opened: len(plugin_docks(window)) == opened, timeout=5_000)
    qtbot.wait(100)
    docks = plugin_docks(window)
    assert all(set(window.tabifiedDockWidgets(dock)) == set(docks) - {dock} for dock in docks)
    assert window.height() <= size[1] and window.width() <= size[0]
    assert not docks[-1].visibleRegion().isEmpty()  # the widget opened last is the tab in front
