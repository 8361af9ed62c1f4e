"""``dynmri demo``: napari with the pig sample, 8x undersampling, a reconstruction and the comparison."""

from __future__ import annotations

import argparse
import sys
import time

from napari_dynmri.physics import DEFAULT_ACQUISITION


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="open napari: pig cine, 8x undersampling, reconstruction, comparison",
        description="Open napari with the bundled pig cine, simulate 8x k-t undersampling, reconstruct "
        "with the default method (see `dynmri recon --help`) and show reference, zero-filled "
        "and reconstruction side by side with per-frame PSNR/SSIM.",
    )
    parser.add_argument("--sample", choices=("pig", "phantom"), default="pig", help="sample cine (default: pig)")
    parser.add_argument("--acceleration", type=float, default=DEFAULT_ACQUISITION.acceleration,
                        help=f"acceleration R (default: {DEFAULT_ACQUISITION.acceleration:g})")
    parser.add_argument("--model", default=None,
                        help="a method (cs-auto, cs-xf, cs-lps, cs-ttv, view-sharing), shipped model name or "
                        "checkpoint path (default: the default method)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")
    parser.add_argument("--no-show", action="store_true",
                        help="work in a hidden window, print the metrics and exit (for tests and scripts)")
    parser.add_argument("--screenshot", metavar="PATH",
                        help="save a screenshot of the window to PATH (.png) when done, then exit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; 2 (with a one-line message) when Qt cannot open a window here."""
    from napari_dynmri._napari._qt_check import qt_window_problem

    problem = qt_window_problem()
    if problem is not None:
        print(f"dynmri demo: {problem}", file=sys.stderr)
        return 2
    import napari

    from napari_dynmri._napari._demo import start_demo

    leave = args.no_show or args.screenshot is not None
    viewer = napari.Viewer(title="napari-dynmri demo", show=not args.no_show)
    viewer.window.resize(1500, 950)
    finished = []
    widgets = start_demo(viewer, sample=args.sample, acceleration=args.acceleration, model=args.model,
                         device=args.device, on_done=lambda: finished.append(True))
    if not leave:
        napari.run()
        return 0
    from qtpy.QtWidgets import QApplication

    while not finished:
        QApplication.processEvents()
        time.sleep(0.02)
    compare = widgets["compare"]
    for name, metrics in compare.metrics.items():
        print(f"{name}: PSNR {metrics['psnr']:.2f} dB, SSIM {metrics['ssim']:.4f}")
    if args.screenshot is not None:
        QApplication.processEvents()
        viewer.screenshot(args.screenshot, canvas_only=False)
        print(f"screenshot saved to {args.screenshot}")
    viewer.close()
    return 0 if compare.metrics else 1
