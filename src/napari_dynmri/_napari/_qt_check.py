"""Can this process open a napari window? Asked in a child process, because a Qt platform plugin that
fails to load (missing xcb libraries, no display) aborts the process that tries, with no exception."""

from __future__ import annotations

import os
import subprocess
import sys

SET_UP_HINT = ("scripts/install-system-packages.sh installs the system libraries napari's Qt window needs; "
               "on a machine without a display run under `xvfb-run -a`")

_PROBE = (
    "import sys\n"
    "from qtpy.QtWidgets import QApplication\n"
    "app = QApplication(sys.argv[:1])\n"
    "print(app.platformName())\n"
)


def qt_window_problem(timeout_s: float = 60.0, hint: bool = True) -> str | None:
    """None when Qt can start a GUI application here, else one sentence saying why it cannot.

    ``QT_QPA_PLATFORM=offscreen`` starts but gives napari no OpenGL context, so it counts as a problem.
    The sentence quotes Qt's own reason (e.g. a missing ``libxcb-cursor0`` or no display) and, with
    ``hint``, ends with :data:`SET_UP_HINT`.
    """
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        reason = "QT_QPA_PLATFORM=offscreen gives napari no OpenGL context, so layers cannot be drawn"
        return f"{reason}; unset it and use a display or a virtual one: {SET_UP_HINT}." if hint else reason
    try:
        probe = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        reason = f"starting a Qt application took more than {timeout_s:.0f} s"
    else:
        if probe.returncode == 0:
            return None
        reason = f"Qt cannot open a window ({_qt_reason(probe.stderr)})"
    return f"{reason}; {SET_UP_HINT}." if hint else reason


def _qt_reason(stderr: str) -> str:
    """The most telling line of a failed Qt start: no display, else a missing library, else what failed.

    Qt names ``xcb-cursor0`` whenever the xcb plugin fails to load, even when only the display is
    missing, so the display line comes first.
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for keyword in ("could not connect to display", "is needed", "Could not find", "Could not load", "rror"):
        for line in lines:
            if keyword in line:
                return line.removeprefix("qt.qpa.plugin: ").removeprefix("qt.qpa.xcb: ").rstrip(".")
    return lines[-1] if lines else "the process was aborted"
