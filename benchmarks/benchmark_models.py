"""Quality and speed of every reconstruction method on the pig long-axis cines; writes docs/benchmarks.md.

Protocol (../shared/DATA.md): sequences scaled to max |x| = 1, vd-random masks with 8 centre lines
(sequence i of the list with seed i), PSNR on magnitudes with data_range = max |target|, SSIM per
frame, mean ± std over sequences. The long-axis cines never enter training: they are unseen views.

    .venv/bin/python benchmarks/benchmark_models.py --data ../shared/data/pig_cine/pig_cine_cc0.npz

Quality: zero filling, view sharing, the temporal-TV compressed-sensing baseline and each shipped model at
R = 4, 8, 12 on LAX sequences 0, 3, 6, 9, 12 (the subset on which BART was measured), and the
every method on all 14 LAX sequences at R = 8. Speed: whole ``dynmri recon`` processes (start-up
included) on one 20 x 256 x 256 cine, median of ``--repeats`` runs, with peak resident memory;
a 100-frame cine through the windowed network path, with the PSNR of frames at window borders
against their neighbours.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.report.page import markdown_table, replace_section  # noqa: E402

ACCELERATIONS = (4, 8, 12)
BART_SUBSET = (0, 3, 6, 9, 12)


def quality(data: str, methods: list[str], threads: int) -> dict:
    import torch

    from napari_dynmri.data.sequences import load_sequences
    from napari_dynmri.evaluation import evaluate_methods, summarize_scores
    from napari_dynmri.physics import Acquisition
    from napari_dynmri.recon import get_method

    torch.set_num_threads(threads)
    lax = load_sequences(f"{data}:lax")
    subset = [lax[i] for i in BART_SUBSET]
    recon_methods = [(method.name, method) for method in (get_method(spec, device="cpu") for spec in methods)]
    tables = {}
    for acceleration in ACCELERATIONS:
        scores = evaluate_methods(recon_methods, subset, Acquisition("vd-random", acceleration, 8, 0),
                                  log=lambda line: print(line, file=sys.stderr, flush=True))
        tables[f"R{acceleration} LAX {','.join(map(str, BART_SUBSET))}"] = summarize_scores(scores)
    scores = evaluate_methods(recon_methods, lax, Acquisition("vd-random", 8, 8, 0),
                              log=lambda line: print(line, file=sys.stderr, flush=True))
    tables["R8 LAX all 14"] = summarize_scores(scores)
    return tables


def speed(workdir: Path, methods: list[str], repeats: int, threads: int) -> dict:
    dynmri = [sys.executable, "-m", "napari_dynmri.cli"]
    sim = workdir / "pig_r8.npz"
    if not sim.exists():
        subprocess.run([*dynmri, "simulate", "sample:pig", "-o", str(sim)], check=True, stdout=subprocess.DEVNULL)
    results = {}
    for spec in methods:
        runs = []
        for repeat in range(repeats):
            out = workdir / f"recon_{spec}_{repeat}.npz"
            out.unlink(missing_ok=True)
            # a fresh interpreter per method keeps ru_maxrss per method honest
            code = (
                "import resource, subprocess, sys, time; start = time.perf_counter(); "
                f"subprocess.run({[*dynmri, 'recon', str(sim), '-o', str(out), '--model', spec, '--device', 'cpu']!r}, check=True, stdout=subprocess.DEVNULL); "
                "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)"
            )
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            line = subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True, text=True).stdout
            seconds, peak_mb = map(float, line.split())
            runs.append((seconds, peak_mb))
            print(f"{spec}: {seconds:.2f} s, {peak_mb:.0f} MB", file=sys.stderr, flush=True)
        results[spec] = {
            "seconds_median": float(np.median([r[0] for r in runs])),
            "seconds": [r[0] for r in runs],
            "peak_mb": float(max(r[1] for r in runs)),
        }
    return results


def long_cine(model: str, threads: int) -> dict:
    """A 100-frame cine (the pig sample repeated 5 times) through the windowed network path.

    Seams are measured two ways at every window-border frame: the PSNR change against the same
    frame reconstructed with the whole cine in one window (what windowing costs), and the
    deviation from the median of its four nearest frames (what the issue's target names; it also
    contains the frame-to-frame variation of the cine itself).
    """
    import torch

    from napari_dynmri.data.samples import load_sample
    from napari_dynmri.metrics import psnr_per_frame
    from napari_dynmri.recon import get_method
    from napari_dynmri.recon.windowed import window_starts
    from napari_dynmri.simulation import cine_target, simulate

    torch.set_num_threads(threads)
    target = np.concatenate([cine_target(load_sample("pig"))] * 5)
    sim = simulate(target, acceleration=8, seed=0)
    method = get_method(model, device="cpu")
    result = method.reconstruct(sim.kspace, sim.mask)
    recon, seconds = result.image, result.seconds
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    whole = get_method(model, device="cpu", window=len(target), overlap=0).reconstruct(sim.kspace, sim.mask).image
    per_frame, per_frame_whole = psnr_per_frame(recon, sim.target), psnr_per_frame(whole, sim.target)
    starts = window_starts(len(target), method.window, method.overlap)
    borders = sorted({s for s in starts[1:]} | {s + method.window - 1 for s in starts[:-1]})

    def neighbour_deviation(values, b):
        neighbours = [values[i] for i in (b - 2, b - 1, b + 1, b + 2) if 0 <= i < len(values)]
        return abs(values[b] - float(np.median(neighbours)))

    return {
        "frames": len(target), "window": method.window, "overlap": method.overlap, "seconds": seconds,
        "peak_mb": peak_mb, "psnr": float(per_frame.mean()), "psnr_whole": float(per_frame_whole.mean()),
        "max_border_change_db": float(max(abs(per_frame[b] - per_frame_whole[b]) for b in borders)),
        "max_border_deviation_db": float(max(neighbour_deviation(per_frame, b) for b in borders)),
        "max_border_deviation_whole_db": float(max(neighbour_deviation(per_frame_whole, b) for b in borders)),
    }


def plot(quality_tables: dict, speeds: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = quality_tables[f"R8 LAX {','.join(map(str, BART_SUBSET))}"]
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=100)
    for index, (name, row) in enumerate(table.items()):
        if name in speeds:
            ax.scatter(speeds[name]["seconds_median"], row["psnr"][0], s=40)
            # labels alternate above and below their points, so neighbours do not overlap
            ax.annotate(name, (speeds[name]["seconds_median"], row["psnr"][0]), textcoords="offset points",
                        xytext=(5, 5 if index % 2 else -14))
    ax.margins(x=0.2, y=0.1)
    ax.set_xlabel("whole dynmri recon process, s (20 x 256 x 256)")
    ax.set_ylabel("PSNR, dB (pig LAX, R = 8)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def markdown(quality_tables: dict, speeds: dict, long: dict | None, args) -> str:
    """The page's sections this script writes: ``## Quality``, ``## Speed and memory``, ``## Long cines``."""
    lines = [
        "## Quality",
        "",
        "Made by `.venv/bin/python benchmarks/benchmark_models.py "
        f"--data ../shared/data/pig_cine/pig_cine_cc0.npz --threads {args.threads}` on "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch CPU, "
        f"{args.threads} threads, no GPU. The machine was shared with other jobs: timings are indicative.",
        "",
        "Protocol: pig long-axis cines (never used in training), scaled to max |x| = 1; vd-random masks, "
        "8 centre lines, sequence i with seed i; PSNR on magnitudes with data_range = max |target|; "
        "SSIM per frame (scikit-image), averaged; mean ± std over sequences.",
        "",
    ]
    lines += [
        "Reference points from the project's issue tracker, measured on this machine type with the same "
        "protocol but not re-run by this script: a plain D5-C5 DC-CNN (32 channels, 3x3x3 convolutions, "
        "20 x 96 x 96 crops, batch 1, Adam 1e-3) reaches 36.5 dB / 0.90 at R = 8 after 20 minutes of CPU "
        "training and 37.5 dB / 0.91 after 80, and takes about 10 s per 20 x 256 x 256 cine; BART 0.8 "
        "`pics -R T:1024:0:0.01 -i 100` gets 37.75 dB / 0.900 in about 13 s "
        "(`benchmarks/cs_vs_bart.py` runs BART on our exact masks).",
        "",
    ]
    for title, table in quality_tables.items():
        rows = [[name, f"{row['psnr'][0]:.2f} ± {row['psnr'][1]:.2f}", f"{row['ssim'][0]:.4f} ± {row['ssim'][1]:.4f}",
                 f"{row['nmse'][0]:.5f}", f"{row['seconds']:.1f}"] for name, row in table.items()]
        lines += [f"### {title}", "", markdown_table(["method", "PSNR (dB)", "SSIM", "NMSE", "s / sequence"], rows), ""]
    if speeds:
        lines += ["## Speed and memory", "",
                  f"Whole `dynmri recon` process on a 20 x 256 x 256 cine (R = 8), median of {args.repeats} runs.", "",
                  markdown_table(["method", "seconds (median)", "runs", "peak RSS (MB)"],
                                 [[name, f"{row['seconds_median']:.1f}", ", ".join(f"{s:.1f}" for s in row["seconds"]),
                                   f"{row['peak_mb']:.0f}"] for name, row in speeds.items()]),
                  "", "![PSNR versus seconds](images/psnr_vs_seconds.png)", ""]
    if long:
        lines += ["## Long cines", "",
                  f"{long['frames']} x 256 x 256 (the pig sample repeated), windows of {long['window']} frames overlapping by "
                  f"{long['overlap']}: {long['seconds']:.1f} s, peak RSS {long['peak_mb']:.0f} MB, mean PSNR {long['psnr']:.2f} dB; "
                  f"the whole cine in one window scores {long['psnr_whole']:.2f} dB. At window-border frames the "
                  f"PSNR changes by at most {long['max_border_change_db']:.2f} dB against the one-window "
                  f"reconstruction. The largest deviation of a border frame from the median of its four nearest "
                  f"frames is {long['max_border_deviation_db']:.2f} dB windowed and "
                  f"{long['max_border_deviation_whole_db']:.2f} dB in one window (the cine's own frame-to-frame "
                  "variation).", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="pig_cine_cc0.npz")
    parser.add_argument("--models", nargs="+", default=["dynmri-default"], help="shipped models or checkpoints")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "benchmarks")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    methods = ["zero-filled", "view-sharing", "cs-ttv", "cs-xf", "cs-lps", "cs-auto", *args.models]
    tables = quality(args.data, methods, args.threads)
    (args.work / "quality.json").write_text(json.dumps(tables, indent=2))
    speeds, long = {}, None
    if not args.skip_speed:
        speeds = speed(args.work, methods, args.repeats, args.threads)
        long = long_cine(args.models[0], args.threads)
        (args.work / "speed.json").write_text(json.dumps({"speed": speeds, "long": long}, indent=2))
        plot(tables, speeds, args.output.parent / "images" / "psnr_vs_seconds.png")
    text = markdown(tables, speeds, long, args)
    # section by section, so the sections other benchmarks write into the same page stay
    for section in re.split(r"(?m)^(?=## )", text):
        if section.strip():
            replace_section(args.output, section, section.splitlines()[0])
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
