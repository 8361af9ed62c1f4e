"""``dynmri simulate``: undersample a fully sampled cine and save target, mask, k-space, zero-filled."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from napari_dynmri.physics import MASK_KINDS


def add_mask_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by every command that undersamples a cine."""
    parser.add_argument("--slice", type=int, default=None, help="slice of a multi-slice cine (default: middle)")
    parser.add_argument("--mask", choices=MASK_KINDS, default="vd-random", help="mask type (default: vd-random)")
    parser.add_argument("--acceleration", type=float, default=8.0, help="acceleration R (default: 8)")
    parser.add_argument("--center-lines", type=int, default=8, help="always-sampled centre rows (default: 8)")
    parser.add_argument("--seed", type=int, default=0, help="mask and noise seed (default: 0)")
    parser.add_argument("--noise", type=float, default=0.0, help="complex k-space noise sigma, max|target| = 1 (default: 0)")


def simulate_from_args(args: argparse.Namespace):
    """Read ``args.input`` and undersample it as the mask options say; returns a ``Simulation``."""
    from napari_dynmri.data.samples import open_input
    from napari_dynmri.simulation import cine_target, simulate

    cine = open_input(args.input)
    return simulate(
        cine_target(cine, args.slice),
        mask_kind=args.mask,
        acceleration=args.acceleration,
        center_lines=args.center_lines,
        seed=args.seed,
        noise_sigma=args.noise,
        source=cine.source,
        pixel_spacing_mm=cine.pixel_spacing_mm,
    )


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="undersample a cine in k-space and save an npz",
        description="Take a fully sampled cine to k-space (centred orthonormal FFT), apply a seeded "
        "k-t mask and save target, mask, kspace, zero_filled and meta to an npz.",
    )
    parser.add_argument("input", help="cine file, DICOM folder, or sample:pig / sample:phantom")
    parser.add_argument("-o", "--output", required=True, type=Path, help="output .npz")
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    add_mask_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from napari_dynmri.io.atomic import (
        atomic_output,
        check_not_an_input,
        check_output_path,
    )

    if args.output.suffix != ".npz":
        raise ValueError(f"output must be an .npz file, got {args.output}")
    check_output_path(args.output, args.overwrite)
    check_not_an_input(args.output, args.input)
    sim = simulate_from_args(args)
    with atomic_output(args.output, args.overwrite) as partial, open(partial, "wb") as f:
        np.savez_compressed(f, **sim.to_npz_dict())
    t, h, w = sim.target.shape
    print(
        f"{args.output}: {t} frames of {h} x {w}, {sim.meta['mask']} mask, "
        f"R = {sim.meta['actual_acceleration']:.2f} (asked {sim.meta['acceleration']:g}), seed {sim.meta['seed']}"
    )
    return 0
