"""Dock napari-dynmri's widgets and panels as tabs, so opening all of them never grows the window.

napari docks a plugin widget opened from the menu beside the others in its area, and Qt then makes the
window tall enough for all of them (1210 px and more for the five widgets). Each widget asks to join the
tabs of the plugin's docks already in its area, once napari has docked it.
"""

from __future__ import annotations

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QDockWidget, QMainWindow, QWidget

DYNMRI_DOCK = "napari_dynmri_dock"  # Qt property marking the docks of this plugin


def dock_of(widget: QWidget) -> QDockWidget | None:
    """The dock widget holding ``widget``, or None when it is not docked."""
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QDockWidget):
        parent = parent.parentWidget()
    return parent


def join_dynmri_tabs(widget: QWidget) -> None:
    """Once ``widget`` is docked (after the current event), make its dock a tab beside the plugin's other
    docks in the same area, in front. Nothing happens to a widget that is not docked."""
    _after_this_event(widget, lambda: _tabify(widget))


def bring_to_front(widget: QWidget) -> None:
    """Show ``widget``'s tab in front, after the docking that :func:`join_dynmri_tabs` has scheduled."""
    _after_this_event(widget, lambda: (dock := dock_of(widget)) is not None and dock.raise_())


def _after_this_event(widget: QWidget, call) -> None:
    """Call ``call()`` once the event loop runs again, unless ``widget`` is deleted first (the timer is its child)."""
    timer = QTimer(widget)
    timer.setSingleShot(True)
    timer.timeout.connect(call)
    timer.timeout.connect(timer.deleteLater)
    timer.start(0)


def _tabify(widget: QWidget) -> None:
    dock = dock_of(widget)
    if dock is None or not isinstance(dock.parentWidget(), QMainWindow):
        return
    window = dock.parentWidget()
    area = window.dockWidgetArea(dock)
    siblings = [other for other in window.findChildren(QDockWidget)
                if other is not dock and other.property(DYNMRI_DOCK) and not other.isFloating()
                and window.dockWidgetArea(other) == area]
    dock.setProperty(DYNMRI_DOCK, True)
    if siblings:
        window.tabifyDockWidget(siblings[0], dock)
    dock.show()
    dock.raise_()
