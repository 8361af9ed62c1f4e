"""How long the napari event loop stalls while the Reconstruct widget works.

A 20 ms Qt timer runs on the GUI thread while the widget reconstructs the pig sample (R = 8, seed 0)
in its thread worker; the gaps between the timer's ticks are the stalls a user feels. Prints the
median, 99th percentile and largest gap, and where the largest ones fell (seconds after the start;
the end of the run is when the result layer is added on the GUI thread)::

    xvfb-run -a .venv/bin/python benchmarks/gui_responsiveness.py --model cs-ttv --model dynmri-default
"""

from __future__ import annotations

import argparse
import time

import numpy as np

TICK_MS = 20


def measure(model: str) -> dict:
    """Timer gaps (ms) while the Reconstruct widget runs ``model`` on the pig sample."""
    import napari
    from qtpy.QtCore import QTimer

    from napari_dynmri._napari._layers import KSPACE_KEY, MASK_KEY
    from napari_dynmri._napari._reconstruct_widget import ReconstructWidget
    from napari_dynmri.data.samples import load_sample
    from napari_dynmri.simulation import simulate

    cine = load_sample("pig").data.astype(np.complex64)
    acquisition = simulate(cine / np.abs(cine).max(), acceleration=8, seed=0)
    viewer = napari.Viewer(show=True)
    layer = viewer.add_image(np.abs(acquisition.zero_filled), name="zero-filled")
    layer.metadata.update({KSPACE_KEY: acquisition.kspace, MASK_KEY: acquisition.mask})
    widget = ReconstructWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.model.value = model
    widget.automatic_weight.value = False  # one solve: the same work on every machine

    app = napari.qt.get_qapp()
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    status = {}

    def quit_when_done():
        if not widget.running:
            status["text"] = widget.status.value
            app.quit()

    poll = QTimer()
    poll.setInterval(50)
    poll.timeout.connect(quit_when_done)
    timer.start()
    start = time.perf_counter()
    widget.run()
    poll.start()
    app.exec_()
    seconds = time.perf_counter() - start
    timer.stop()
    poll.stop()
    gaps = np.diff(ticks) * 1000
    largest = np.argsort(gaps)[-3:][::-1]
    return {"model": model, "seconds": seconds, "status": status.get("text", ""), "gaps": gaps,
            "largest": [(float(gaps[i]), ticks[i] - start) for i in largest]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", help="method to run (repeatable; default cs-ttv)")
    args = parser.parse_args(argv)
    for model in args.model or ["cs-ttv"]:
        result = measure(model)
        gaps = result["gaps"]
        where = ", ".join(f"{gap:.0f} ms at {at:.1f} s" for gap, at in result["largest"])
        print(f"{model}: {result['seconds']:.1f} s ({result['status']}); {TICK_MS} ms timer gaps: median "
              f"{np.median(gaps):.0f} ms, p99 {np.percentile(gaps, 99):.0f} ms, max {gaps.max():.0f} ms; "
              f"largest: {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
