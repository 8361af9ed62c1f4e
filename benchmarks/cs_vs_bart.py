"""Compare the ``cs-ttv`` baseline with BART's temporal-TV ``pics`` on the pig cine data.

Protocol (the reference figures of the CS issue): each sequence is scaled to magnitude max 1,
undersampled with a vd-random mask at R = 8 with 8 centre lines (mask seed = sequence index),
single coil; PSNR on magnitudes with data_range = target max, SSIM per frame, both from
``napari_dynmri.metrics``. BART runs ``bart pics -S -i 100 -R T:1024:0:LAM`` with all-ones
sensitivities (k-space as BART dims (H, W, 1, ..., T at dim 10)). Files go to a temporary folder;
nothing is written in the package. Timings are wall-clock seconds on whatever machine this runs on
(noisy on a shared one); BART gets OMP_NUM_THREADS = torch's thread count.

    python benchmarks/cs_vs_bart.py --set lax --sequences 0,3,6,9,12
    python benchmarks/cs_vs_bart.py --set sax --sequences 2,6,10,14,18 --lam 0.002,0.003 --rho 1 --no-bart
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_dynmri.metrics import psnr, ssim
from napari_dynmri.physics import Acquisition
from napari_dynmri.recon.cs import DEFAULT_ITERATIONS, DEFAULT_LAM, ttv_reconstruct
from napari_dynmri.simulation import simulate

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pig_cine" / "pig_cine_cc0.npz"
BART_TIME_AXIS = 10


def write_cfl(stem: Path, array: np.ndarray) -> None:
    """BART's .hdr/.cfl pair: dimensions, then complex64 in Fortran order."""
    stem.with_suffix(".hdr").write_text("# Dimensions\n" + " ".join(map(str, array.shape)) + "\n")
    array.astype(np.complex64).ravel(order="F").tofile(stem.with_suffix(".cfl"))


def read_cfl(stem: Path) -> np.ndarray:
    """Inverse of :func:`write_cfl`."""
    dims = [int(d) for d in stem.with_suffix(".hdr").read_text().splitlines()[1].split()]
    return np.fromfile(stem.with_suffix(".cfl"), dtype=np.complex64).reshape(dims, order="F")


def to_bart(cine: np.ndarray) -> np.ndarray:
    """(T, H, W) -> BART's (H, W, 1, ..., 1, T) with time on dimension 10."""
    bart = np.moveaxis(cine, 0, -1)  # (H, W, T)
    return bart.reshape(bart.shape[:2] + (1,) * (BART_TIME_AXIS - 2) + bart.shape[2:])


def bart_ttv(kspace: np.ndarray, mask: np.ndarray, lam: float, iterations: int, threads: int) -> tuple[np.ndarray, float]:
    """BART temporal-TV pics; returns the (T, H, W) image and the wall time of the pics call."""
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        write_cfl(folder / "k", to_bart(kspace))
        write_cfl(folder / "p", to_bart(mask.astype(np.complex64)))
        write_cfl(folder / "s", np.ones(kspace.shape[1:] + (1, 1), dtype=np.complex64))
        command = [
            "bart", "pics", "-S", "-i", str(iterations), "-R", f"T:{1 << BART_TIME_AXIS}:0:{lam}",
            "-p", str(folder / "p"), str(folder / "k"), str(folder / "s"), str(folder / "x"),
        ]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        seconds = time.perf_counter() - start
        image = read_cfl(folder / "x")
    image = image.reshape(image.shape[0], image.shape[1], -1)
    return np.moveaxis(image, -1, 0), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="pig_cine_cc0.npz")
    parser.add_argument("--set", choices=("lax", "sax"), default="lax", help="long- or short-axis stack")
    parser.add_argument("--sequences", default="0,3,6,9,12", help="comma-separated sequence indices")
    parser.add_argument("--lam", default=str(DEFAULT_LAM), help="cs-ttv weight(s), comma-separated")
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS, help="cs-ttv iterations")
    parser.add_argument("--rho", type=float, default=None, help="cs-ttv ADMM penalty (default: RHO_PER_LAM * lam)")
    parser.add_argument("--bart-lam", type=float, default=0.01, help="BART -R T weight")
    parser.add_argument("--bart-iterations", type=int, default=100)
    parser.add_argument("--no-bart", action="store_true", help="skip BART (e.g. to tune lam)")
    parser.add_argument("--threads", type=int, default=2, help="torch / OpenMP threads")
    parser.add_argument("--acceleration", type=float, default=8.0)
    parser.add_argument("--center-lines", type=int, default=8)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    lams = [float(v) for v in args.lam.split(",")]
    use_bart = not args.no_bart and shutil.which("bart") is not None
    if not args.no_bart and not use_bart:
        print("bart is not on PATH: BART columns skipped")
    stack = np.load(args.data)[args.set]
    columns = ["zero-filled"] + [f"cs-ttv {lam:g}" for lam in lams] + ([f"bart {args.bart_lam:g}"] if use_bart else [])
    results = {name: [] for name in columns}
    indices = [int(v) for v in args.sequences.split(",")]

    header = f"{'sequence':<10}" + "".join(f"{name:>26}" for name in columns)
    print(f"{args.set} R={args.acceleration:g} vd-random, {args.center_lines} centre lines; cells: PSNR dB / SSIM / s")
    print(header)
    for index in indices:
        target = stack[index].astype(np.float32)
        target = (target / target.max()).astype(np.complex64)
        sim = simulate(target, Acquisition("vd-random", args.acceleration, args.center_lines, index))
        runs = {"zero-filled": (sim.zero_filled, 0.0)}
        for lam in lams:
            start = time.perf_counter()
            image = ttv_reconstruct(sim.kspace, sim.mask, lam=lam, iterations=args.iterations, rho=args.rho)
            runs[f"cs-ttv {lam:g}"] = (image, time.perf_counter() - start)
        if use_bart:
            runs[f"bart {args.bart_lam:g}"] = bart_ttv(sim.kspace, sim.mask, args.bart_lam, args.bart_iterations, args.threads)
        cells = []
        for name in columns:
            image, seconds = runs[name]
            row = (psnr(image, target), ssim(image, target), seconds)
            results[name].append(row)
            cells.append(f"{row[0]:.2f} / {row[1]:.3f} / {row[2]:5.1f}")
        print(f"{f'{args.set} {index}':<10}" + "".join(f"{c:>26}" for c in cells), flush=True)
    medians = [np.median(np.array(results[name]), axis=0) for name in columns]
    print(f"{'median':<10}" + "".join(f"{f'{m[0]:.2f} / {m[1]:.3f} / {m[2]:5.1f}':>26}" for m in medians))


if __name__ == "__main__":
    main()
