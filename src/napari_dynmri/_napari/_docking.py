"""Dock napari-dynmri's widgets and panels as tabs, so opening all of them never grows the window.

napari docks a plugin widget opened from the menu beside the others in its area, and Qt then makes the
window tall enough for all of them (1210 px and more for the five widgets). Each widget asks to join the
tabs of the plugin's docks already in its area, once napari has docked it. The tabs are titled with the
widget's own name ("Undersample"), without napari's " (napari-dynmri)" suffix, and are never cut short:
when they do not fit the dock's width, the tab bar scrolls instead.
"""

from __future__ import annotations

from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import QDockWidget, QMainWindow, QTabBar, QWidget

DYNMRI_DOCK = "napari_dynmri_dock"  # Qt property marking the docks of this plugin
PLUGIN_SUFFIX = " (napari-dynmri)"  # napari's suffix of a plugin widget's dock title


def tab_title(title: str) -> str:
    """The tab title of a dock: ``"Undersample (napari-dynmri)"`` -> ``"Undersample"``."""
    return title.removesuffix(PLUGIN_SUFFIX)


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
    dock.setWindowTitle(tab_title(dock.windowTitle()))
    area = window.dockWidgetArea(dock)
    siblings = [other for other in window.findChildren(QDockWidget)
                if other is not dock and other.property(DYNMRI_DOCK) and not other.isFloating()
                and window.dockWidgetArea(other) == area]
    dock.setProperty(DYNMRI_DOCK, True)
    if siblings:
        window.tabifyDockWidget(siblings[0], dock)
    dock.show()
    dock.raise_()
    _after_this_event(widget, lambda: _uncut_tabs_of(widget))


def _uncut_tabs_of(widget: QWidget) -> None:
    """:func:`uncut_tabs` of the window ``widget`` is docked in (the window is looked up when the
    timer fires: a timer holding the window itself would keep a closed viewer alive)."""
    dock = dock_of(widget)
    if dock is not None and isinstance(dock.parentWidget(), QMainWindow):
        uncut_tabs(dock.parentWidget())


def uncut_tabs(window: QMainWindow) -> None:
    """Tab bars of ``window`` holding a dock of this plugin show whole titles (scroll buttons, no "...")."""
    titles = {dock.windowTitle() for dock in window.findChildren(QDockWidget) if dock.property(DYNMRI_DOCK)}
    for bar in window.findChildren(QTabBar):
        if any(bar.tabText(i) in titles for i in range(bar.count())):
            bar.setElideMode(Qt.TextElideMode.ElideNone)
            bar.setUsesScrollButtons(True)
