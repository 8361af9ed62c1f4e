"""Multi-coil SENSE compressed sensing against BART ``pics`` with temporal TV, on one pig cine.

Protocol: a pig short-axis cine (``pig_cine_cc0.npz``, DATA.md), scaled to magnitude max 1, is seen by
8 birdcage coils (:func:`napari_dynmri.simulation_coils.simulate_multicoil`, per-coil complex noise
``--noise``, neighbouring-coil correlation 0.3), fully sampled, then undersampled with the project's
default mask (:data:`napari_dynmri.physics.DEFAULT_ACQUISITION`: vd-random, R = 8, 8 centre lines).
Coil maps: ESPIRiT from the undersampled data (time-averaged centre), as ``dynmri recon`` estimates
them; the same maps go to every method. The reference is the fully sampled SENSE-1 combination with
those maps; PSNR / SSIM on magnitudes with data_range = reference max (``napari_dynmri.metrics``).

Methods, all timed in one go on the same data (wall seconds, 2 threads; BART gets OMP_NUM_THREADS=2):

- ``cs-auto``: the default (method and weight cross-validated on the measured lines, then the shipped
  refining network weighed on held-out lines);
- ``cs-ttv``: temporal TV at its default weight (proximal gradient on coil data, see
  :mod:`napari_dynmri.solvers.algorithms`);
- ``bart pics -i 100 -R T:1024:0:LAM`` (temporal TV on BART's time dimension 10), sensitivities as
  BART dims (H, W, 1, C), over ``--bart-lams``; its best PSNR (chosen with the reference: an oracle)
  and that run's time.

Then coil compression: one acquisition with 32 birdcage coils (same noise per coil, same mask),
reconstructed from all 32 coils and from 8 virtual coils (SVD over the measured samples, as
``dynmri recon`` does for scans of more than 8 coils), by cs-xf at its default weight on each; PSNR
against the noise-free cine and against the 32 coils' fully sampled SENSE combination.

    python benchmarks/multicoil_vs_bart.py                 # 20 x 256 x 256, writes docs/benchmarks.md
    python benchmarks/multicoil_vs_bart.py --quick         # 8 frames, prints only
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_dynmri.io.raw.cfl import read_cfl_array, write_cfl
from napari_dynmri.metrics import psnr, ssim
from napari_dynmri.physics import DEFAULT_ACQUISITION, ifft2c
from napari_dynmri.physics.coils import coil_compression, espirit_maps, sense_combine
from napari_dynmri.recon import get_method
from napari_dynmri.recon.cs import DEFAULT_LAM
from napari_dynmri.recon.sparse import XF_DEFAULT_LAM
from napari_dynmri.simulation_coils import simulate_multicoil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.report.page import replace_section  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "pig_cine" / "pig_cine_cc0.npz"
SECTION = "## Multi-coil: against BART pics"
BART_TIME_AXIS, BART_COIL_AXIS = 10, 3
COILS, MANY_COILS = 8, 32


def to_bart(array: np.ndarray) -> np.ndarray:
    """``(T, C, H, W)`` k-space or ``(C, H, W)`` maps as BART dims: H, W on 0, 1, coils on 3, time on 10."""
    if array.ndim == 3:
        array = array[None]
    frames, coils, height, width = array.shape
    spare = (1,) * (BART_TIME_AXIS - BART_COIL_AXIS - 1)  # BART dims 4 to 9
    return np.transpose(array, (2, 3, 1, 0)).reshape(height, width, 1, coils, *spare, frames)


def bart_ttv(kspace, mask, maps, lam: float, iterations: int, threads: int) -> tuple[np.ndarray, float]:
    """BART temporal-TV SENSE ``pics`` of ``(T, C, H, W)`` k-space; returns the ``(T, H, W)`` image and its seconds."""
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        write_cfl(folder / "k", to_bart(kspace))
        write_cfl(folder / "p", to_bart(mask[:, None].astype(np.complex64)))
        write_cfl(folder / "s", to_bart(maps))
        command = [
            "bart",
            "pics",
            "-S",
            "-i",
            str(iterations),
            "-R",
            f"T:{1 << BART_TIME_AXIS}:0:{lam}",
            "-p",
            str(folder / "p"),
            str(folder / "k"),
            str(folder / "s"),
            str(folder / "x"),
        ]
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
        seconds = time.perf_counter() - start
        image = read_cfl_array(folder / "x")
    image = image.reshape(image.shape[0], image.shape[1], -1)  # (H, W, T)
    return np.moveaxis(image, -1, 0), seconds


def acquire(target: np.ndarray, coils: int, noise: float, mask: np.ndarray, seed: int,
            virtual: int | None = None) -> dict:
    """Fully sampled ``coils``-coil k-space of ``target``, its masked copy, ESPIRiT maps and the SENSE reference.

    ``virtual``: compress the coils to that many virtual coils first (as ``dynmri recon``: SVD of the
    measured samples); the reference then stays the one of all the coils (``"energy_kept"`` says how much
    of the measured energy the virtual coils hold).
    """
    full = simulate_multicoil(target, coils, noise_sigma=noise, seed=seed).kspace
    measured = (full * mask[:, None]).astype(np.complex64)
    maps = espirit_maps(measured, mask).astype(np.complex64)
    reference = sense_combine(ifft2c(full), maps)
    meta = {}
    if virtual is not None:
        matrix, meta["energy_kept"] = coil_compression(measured, virtual, mask[:, None])
        measured = np.einsum("vc,tchw->tvhw", matrix, measured).astype(np.complex64)
        maps = espirit_maps(measured, mask).astype(np.complex64)
    return {"measured": measured, "maps": maps, "reference": reference, **meta}


def timed(run) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    image = run()
    return image, time.perf_counter() - start


def main() -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="pig_cine_cc0.npz")
    parser.add_argument("--slice", type=int, default=10, help="short-axis slice (sequence) index")
    parser.add_argument("--frames", type=int, default=None, help="first frames only (default: all 20)")
    parser.add_argument("--quick", action="store_true", help="8 frames, 2 BART weights, nothing written")
    parser.add_argument("--noise", type=float, default=0.01, help="per-coil k-space noise sigma (image max 1)")
    parser.add_argument("--bart-lams", default="0.001,0.003,0.01", help="BART -R T weights, comma-separated")
    parser.add_argument("--bart-iterations", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if shutil.which("bart") is None:
        print("bart is not on PATH", file=sys.stderr)
        return 2
    frames = 8 if args.quick and args.frames is None else args.frames
    bart_lams = [float(v) for v in args.bart_lams.split(",")]
    target = np.load(args.data)["sax"][args.slice, :frames].astype(np.float32)
    target = (target / target.max()).astype(np.complex64)
    mask = DEFAULT_ACQUISITION.mask(target.shape)
    print(
        f"pig sax {args.slice}: {target.shape}, {COILS} coils, noise {args.noise:g}, "
        f"{DEFAULT_ACQUISITION.kind} R {DEFAULT_ACQUISITION.acceleration:g}",
        flush=True,
    )

    data = acquire(target, COILS, args.noise, mask, seed=args.slice)
    measured, maps, reference = data["measured"], data["maps"], data["reference"]
    rows = []  # (label, image, seconds)

    def record(label, image, seconds):
        rows.append((label, image, seconds))
        print(f"{label:<28} {psnr(image, reference):6.2f} dB {ssim(image, reference):.3f} {seconds:7.1f} s "
              f"({psnr(image, target):.2f} dB against the noise-free source)", flush=True)

    record("SENSE-1 zero-filled", sense_combine(ifft2c(measured), maps), 0.0)
    auto = get_method("cs-auto", device="cpu")
    result = auto.reconstruct(measured, mask, maps=maps)
    check = result.settings.get("network")
    refiner = "" if check is None else f"; refiner {'taken' if check['chosen'] else 'weighed, not taken'}"
    record(f"cs-auto ({auto.settings_summary(result.settings)}{refiner})", result.image, result.seconds)
    image, seconds = timed(
        lambda: get_method("cs-ttv", device="cpu", lam=DEFAULT_LAM).reconstruct(measured, mask, maps=maps).image
    )
    record(f"cs-ttv lam {DEFAULT_LAM:g}", image, seconds)
    bart_runs = []
    for lam in bart_lams:
        image, seconds = bart_ttv(measured, mask, maps, lam, args.bart_iterations, args.threads)
        record(f"bart pics -R T lam {lam:g}", image, seconds)
        bart_runs.append(rows[-1])

    coil_rows = []
    for label, virtual in ((f"all {MANY_COILS} coils", None), (f"{MANY_COILS} coils -> {COILS} virtual", COILS)):
        many = acquire(target, MANY_COILS, args.noise, mask, seed=args.slice, virtual=virtual)
        result = get_method("cs-xf", device="cpu", lam=XF_DEFAULT_LAM).reconstruct(
            many["measured"], mask, maps=many["maps"])
        coil_rows.append((label, psnr(result.image, target), psnr(result.image, many["reference"]), result.seconds))
        print(f"{label:<28} {coil_rows[-1][1]:6.2f} dB vs source, {coil_rows[-1][2]:6.2f} dB vs the SENSE "
              f"reference, {result.seconds:.1f} s", flush=True)

    section = report(args, target, rows, bart_runs, coil_rows, reference, many["energy_kept"])
    print(section)
    if not args.quick:
        replace_section(args.output, section, SECTION)
        print(f"wrote {args.output}")
    return 0


def report(args, target, rows, bart_runs, coil_rows, reference, energy_kept) -> str:
    """The docs section: every run, the time ratios to BART's best and the compression loss."""
    shape = target.shape
    best_bart = max(bart_runs, key=lambda run: psnr(run[1], reference))
    auto = next(run for run in rows if run[0].startswith("cs-auto"))
    ttv = next(run for run in rows if run[0].startswith("cs-ttv"))
    command = "python benchmarks/multicoil_vs_bart.py" + (f" --slice {args.slice}" if args.slice != 10 else "")
    lines = [
        SECTION,
        "",
        f"`{command}`: pig short-axis slice {args.slice}, {' x '.join(map(str, shape))}, {COILS} birdcage coils, "
        f"per-coil noise sigma {args.noise:g} (image max 1, correlation 0.3), the default mask "
        f"({DEFAULT_ACQUISITION.kind}, R = {DEFAULT_ACQUISITION.acceleration:g}, {DEFAULT_ACQUISITION.center_lines} "
        "centre lines); ESPIRiT maps from the undersampled data given to every method; PSNR / SSIM against the "
        "fully sampled SENSE-1 combination with those maps (which holds the coils' noise: "
        f"{psnr(reference, target):.2f} dB against the noise-free source; PSNR against the source is given beside "
        "it). BART 0.8 `pics -S -i "
        f"{args.bart_iterations} -R T:1024:0:LAM` (temporal TV on the time dimension). Wall seconds on this "
        f"project's 2-core machine, {args.threads} threads each (BART: OMP_NUM_THREADS), all in one go.",
        "",
        "| method | PSNR dB | SSIM | PSNR vs source dB | s |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {label} | {psnr(image, reference):.2f} | {ssim(image, reference):.3f} | {psnr(image, target):.2f} "
        f"| {seconds:.1f} |"
        for label, image, seconds in rows
    ]
    lines += [
        "",
        f"BART's best weight (chosen by PSNR against the reference, an oracle): {best_bart[0].split('lam ')[1]}, "
        f"{psnr(best_bart[1], reference):.2f} dB in {best_bart[2]:.1f} s. Time ratios to that BART run: "
        f"cs-ttv at its default weight {ttv[2] / best_bart[2]:.2f}x "
        f"({psnr(ttv[1], reference) - psnr(best_bart[1], reference):+.2f} dB), cs-auto "
        f"{auto[2] / best_bart[2]:.2f}x ({psnr(auto[1], reference) - psnr(best_bart[1], reference):+.2f} dB, weight "
        "and method chosen without the reference). Against the noise-free source: BART's best "
        f"{max(psnr(run[1], target) for run in bart_runs):.2f} dB, cs-auto {psnr(auto[1], target):.2f} dB. The "
        "SENSE reference holds the noise of the measured lines, which a reconstruction keeps the more the "
        "weaker its weight: PSNR against it favours weak weights, PSNR against the source does not.",
        "",
        f"Coil compression: one acquisition of {MANY_COILS} birdcage coils (the same per-coil noise and mask), "
        f"reconstructed from all its coils and SVD-compressed to {COILS} virtual coils ({100 * energy_kept:.2f} % "
        f"of the measured energy kept), cs-xf lam {XF_DEFAULT_LAM:g}; PSNR against the noise-free cine and "
        f"against the fully sampled SENSE combination of the {MANY_COILS} coils:",
        "",
        "| coils | PSNR vs source dB | PSNR vs SENSE reference dB | s |",
        "|---|---|---|---|",
    ]
    lines += [f"| {label} | {source:.2f} | {own:.2f} | {seconds:.1f} |" for label, source, own, seconds in coil_rows]
    loss = coil_rows[0][1] - coil_rows[1][1]
    lines += [
        "",
        f"Compressing {MANY_COILS} coils to {COILS} changes the PSNR by {-loss:+.2f} dB against the source "
        f"({coil_rows[1][2] - coil_rows[0][2]:+.2f} dB against the SENSE reference), in "
        f"{coil_rows[1][3] / coil_rows[0][3]:.2f}x the time.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
