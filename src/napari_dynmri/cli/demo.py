"""``dynmri demo``: the bundled pig cine, 8x undersampling, a reconstruction and the comparison.

With a display it opens napari and runs the workflow in its widgets. Without one (no X display,
missing Qt libraries, ``QT_QPA_PLATFORM=offscreen``, or napari not installed) it runs the same pipeline headless (or with
``--headless``): it writes the comparison figure (reference, zero-filled and reconstruction side by
side, their |error| maps on one colour scale, the per-frame PSNR) and a metrics CSV, prints the
metrics and where the files are, and exits 0.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import sys
import time
from pathlib import Path

from napari_dynmri.physics import DEFAULT_ACQUISITION

DEFAULT_FIGURE = Path("out") / "dynmri-demo.png"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="pig cine, 8x undersampling, reconstruction, comparison (napari, or a figure without a display)",
        description="Take the bundled pig cine, simulate 8x k-t undersampling, reconstruct with the default "
        "method (see `dynmri recon --help`) and compare reference, zero-filled and reconstruction side by side "
        "with per-frame PSNR/SSIM. With a display this happens in napari; without one (or with --headless) "
        f"the comparison figure and a metrics CSV are written ({DEFAULT_FIGURE} and the same name with "
        ".csv, replaced at each run) and the metrics printed.",
    )
    parser.add_argument("--sample", choices=("pig", "phantom"), default="pig", help="sample cine (default: pig)")
    parser.add_argument("--acceleration", type=float, default=DEFAULT_ACQUISITION.acceleration,
                        help=f"acceleration R (default: {DEFAULT_ACQUISITION.acceleration:g})")
    parser.add_argument("--model", default=None,
                        help="a method (cs-auto, cs-xf, cs-lps, cs-ttv, view-sharing), shipped model name or "
                        "checkpoint path (default: the default method)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")
    parser.add_argument("--headless", action="store_true",
                        help="no window: write the comparison figure and metrics CSV (what happens anyway when "
                        "no window can open here)")
    parser.add_argument("--figure", type=Path, default=None, metavar="PATH",
                        help=f"where the headless run writes its figure (.png; default: {DEFAULT_FIGURE}, its folder "
                        "made if missing); the metrics go beside it with .csv")
    parser.add_argument("--no-show", action="store_true",
                        help="napari in a hidden window: print the metrics and exit (for tests and scripts; needs "
                        "a display)")
    parser.add_argument("--screenshot", metavar="PATH",
                        help="save a screenshot of the napari window to PATH (.png) when done, then exit (needs "
                        "a display)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo in napari, or headless when no window can open (see the module docstring).

    ``--no-show`` and ``--screenshot`` ask for the napari window itself: without a usable display they
    end with 2 and a line saying why.
    """
    from napari_dynmri.cli.recon import check_device

    check_device(args.device)
    if args.figure is not None and args.figure.suffix.lower() != ".png":
        raise ValueError(f"--figure must name a .png file, got {args.figure}")
    if args.headless:
        return run_headless(args)
    from napari_dynmri._napari._qt_check import qt_window_problem

    wants_window = args.no_show or args.screenshot is not None
    problem = napari_missing() or qt_window_problem(hint=wants_window)
    if problem is not None and wants_window:
        print(f"dynmri demo: {problem.rstrip('.')} (without --no-show and --screenshot, dynmri demo runs headless "
              "and writes a figure)", file=sys.stderr)
        return 2
    if problem is not None:
        print(f"dynmri demo: no window can open here ({problem}), so the demo runs headless", file=sys.stderr)
        return run_headless(args)
    return run_in_napari(args)


def napari_missing() -> str | None:
    """A sentence when napari (the ``napari`` extra) is not installed, else None."""
    if importlib.util.find_spec("napari") is None:
        return "napari is not installed (pip install 'napari-dynmri[napari]' adds it)"
    return None


def run_in_napari(args: argparse.Namespace) -> int:
    """The demo in a napari viewer (shown, or hidden with ``--no-show``)."""
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
        print(metrics_line(name, metrics))
    if args.screenshot is not None:
        QApplication.processEvents()
        viewer.screenshot(args.screenshot, canvas_only=False)
        print(f"screenshot saved to {args.screenshot}")
    viewer.close()
    return 0 if compare.metrics else 1


def metrics_line(name: str, metrics: dict) -> str:
    """``name: PSNR 31.20 dB, SSIM 0.8912`` (the demo's line per result, with a window or without)."""
    return f"{name}: PSNR {metrics['psnr']:.2f} dB, SSIM {metrics['ssim']:.4f}"


def headless_paths(figure: Path | None) -> tuple[Path, Path]:
    """The figure and metrics CSV paths of a headless run; the default folder is made, a given one must exist."""
    from napari_dynmri.io.atomic import check_output_path

    if figure is None:
        DEFAULT_FIGURE.parent.mkdir(parents=True, exist_ok=True)
        figure = DEFAULT_FIGURE
    table = figure.with_suffix(".csv")
    for path in (figure, table):
        check_output_path(path, overwrite=True)
    return figure, table


def run_headless(args: argparse.Namespace) -> int:
    """Sample -> undersampling -> reconstruction -> metrics, figure and CSV; no Qt, no window."""
    from napari_dynmri.cli.recon import _progress
    from napari_dynmri.data.samples import load_sample
    from napari_dynmri.metrics import evaluate
    from napari_dynmri.recon import DEFAULT_METHOD, get_method
    from napari_dynmri.simulation import cine_target, simulate

    figure_path, table_path = headless_paths(args.figure)
    spec = args.model or DEFAULT_METHOD
    cine = load_sample(args.sample)
    sim = simulate(cine_target(cine), acceleration=args.acceleration, source=cine.source,
                   pixel_spacing_mm=cine.pixel_spacing_mm)
    method = get_method(spec, device=args.device)
    t, h, w = sim.target.shape
    print(f"{args.sample} cine, {t} frames of {h} x {w}, {sim.meta['mask']} mask, R = "
          f"{sim.meta['actual_acceleration']:.2f}; reconstructing with {method.name} on {method.device}...",
          flush=True)
    result = method.reconstruct(sim.kspace, sim.mask, progress=_progress(method.name) or _log_progress(method.name))
    results = {"zero-filled": sim.zero_filled, f"recon ({method.name})": result.image}
    metrics = {name: evaluate(image, sim.target) for name, image in results.items()}
    for name, values in metrics.items():
        print(metrics_line(name, values))
    summary = method.settings_summary(result.settings)
    title = (f"{args.sample} cine, R = {sim.meta['actual_acceleration']:.2f}: {method.name}"
             f"{f' ({summary})' if summary else ''}, {result.seconds:.1f} s on {result.device}")
    write_figure(figure_path, sim.target, results, metrics, title)
    write_metrics(table_path, metrics)
    print(f"figure saved to {figure_path}")
    print(f"metrics saved to {table_path}")
    return 0


def _log_progress(label: str, step_percent: int = 10, quiet_s: float = 5.0):
    """Progress for a log (stderr not a terminal): one line per ``step_percent`` % done, with the time;
    nothing during the first ``quiet_s`` seconds, so quick methods print no progress at all."""
    start, reported = time.perf_counter(), [0]

    def report(done: int, total: int) -> None:
        percent = int(100 * done / total) if total > 0 else 0
        seconds = time.perf_counter() - start
        if percent >= reported[0] + step_percent:
            reported[0] = percent - percent % step_percent
            if seconds >= quiet_s:
                print(f"{label}: {reported[0]}% after {seconds:.0f} s", file=sys.stderr, flush=True)

    return report


def write_figure(path: Path, target, results: dict, metrics: dict, title: str) -> None:
    """The comparison figure: images in the top row, |error| maps below (one colour scale, the largest
    error of the reconstructions), per-frame PSNR on the right; frame ``T // 2`` shown."""
    import numpy as np
    from matplotlib.figure import Figure

    from napari_dynmri.io.atomic import atomic_output

    frame = target.shape[0] // 2
    names = list(results)
    reference = np.abs(target[frame])
    errors = {name: np.abs(np.abs(image) - np.abs(target))[frame] for name, image in results.items()}
    error_limit = max(float(errors[name].max()) for name in names[1:] or names) or 1.0
    figure = Figure(figsize=(4 * (len(names) + 2), 8), layout="constrained")
    grid = figure.subplots(2, len(names) + 2, squeeze=False)
    panels = [("reference", reference), *((name, np.abs(results[name][frame])) for name in names)]
    for axes, (name, image) in zip(grid[0], panels):
        axes.imshow(image, cmap="gray", vmin=0.0, vmax=float(reference.max()) or 1.0)
        psnr = f"\nPSNR {metrics[name]['psnr']:.2f} dB, SSIM {metrics[name]['ssim']:.3f}" if name in metrics else ""
        axes.set_title(f"{name}{psnr}", fontsize=10)
    grid[1][0].axis("off")
    grid[1][0].text(0.0, 0.5, f"frame {frame} (of 0-{target.shape[0] - 1})\n|error| maps share one scale:\n"
                    "the largest error of the\nreconstruction(s)", fontsize=10, va="center")
    image = None
    for axes, name in zip(grid[1][1:], names):
        image = axes.imshow(errors[name], cmap="magma", vmin=0.0, vmax=error_limit)
        axes.set_title(f"|error| {name}", fontsize=10)
    for axes in grid[:, : len(names) + 1].ravel():
        axes.set_xticks([])
        axes.set_yticks([])
    if image is not None:
        figure.colorbar(image, ax=list(grid[1][1 : len(names) + 1]), shrink=0.8, label="|error| (max |target| = 1)")
    curves = grid[0][-1]
    for name in names:
        curves.plot(metrics[name]["psnr_per_frame"], marker=".", label=name)
    curves.set_title("PSNR per frame (dB)", fontsize=10)
    curves.set_xlabel("frame t")
    curves.legend(fontsize=8)
    ssim_curves = grid[1][-1]
    for name in names:
        ssim_curves.plot(metrics[name]["ssim_per_frame"], marker=".", label=name)
    ssim_curves.set_title("SSIM per frame", fontsize=10)
    ssim_curves.set_xlabel("frame t")
    figure.suptitle(title, fontsize=12)
    with atomic_output(path, overwrite=True) as partial:
        figure.savefig(partial, format="png", dpi=80)


def write_metrics(path: Path, metrics: dict) -> None:
    """A CSV of the scores: one row per result and frame, then the sequence scores (frame ``all``)."""
    from napari_dynmri.io.atomic import write_text

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["result", "frame", "psnr_db", "ssim"])
    for name, values in metrics.items():
        for frame, (p, s) in enumerate(zip(values["psnr_per_frame"], values["ssim_per_frame"])):
            writer.writerow([name, frame, f"{p:.4f}", f"{s:.5f}"])
        writer.writerow([name, "all", f"{values['psnr']:.4f}", f"{values['ssim']:.5f}"])
    write_text(path, buffer.getvalue(), overwrite=True)
