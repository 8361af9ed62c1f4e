"""``dynmri simulate``: undersample a fully sampled cine and save target, mask, k-space, zero-filled."""

from __future__ import annotations

import argparse
from pathlib import Path

from napari_dynmri.physics import DEFAULT_ACQUISITION, MASK_KINDS, Acquisition, check_acquisition


def add_acquisition_options(parser: argparse.ArgumentParser, noise: bool = True,
                            seed_help: str = "mask and noise seed") -> None:
    """The mask options (``--mask``, ``--acceleration``, ``--center-lines``, ``--seed`` and, with
    ``noise``, ``--noise``), declared once for every command that undersamples a cine; defaults from
    :data:`napari_dynmri.physics.DEFAULT_ACQUISITION`. :func:`acquisition_from_args` reads them back."""
    spec = DEFAULT_ACQUISITION
    parser.add_argument("--mask", choices=MASK_KINDS, default=spec.kind, help=f"mask type (default: {spec.kind})")
    parser.add_argument("--acceleration", type=float, default=spec.acceleration,
                        help=f"acceleration R (default: {spec.acceleration:g})")
    parser.add_argument("--center-lines", type=int, default=spec.center_lines,
                        help=f"always-sampled centre rows (default: {spec.center_lines})")
    parser.add_argument("--seed", type=int, default=spec.seed, help=f"{seed_help} (default: {spec.seed})")
    if noise:
        parser.add_argument("--noise", type=float, default=spec.noise,
                            help=f"complex k-space noise sigma, max|target| = 1 (default: {spec.noise:g})")


def acquisition_from_args(args: argparse.Namespace, n_rows: int | None = None, source="the mask options"):
    """The :class:`~napari_dynmri.physics.Acquisition` of the options of :func:`add_acquisition_options`.

    Checked first against ``n_rows`` (H, when known) with errors naming ``source``.
    """
    options = (args.mask, args.acceleration, args.center_lines, args.seed, getattr(args, "noise", DEFAULT_ACQUISITION.noise))
    check_acquisition(*options, n_rows, source)
    return Acquisition(*options)


def simulate_from_args(args: argparse.Namespace):
    """Read ``args.input`` and undersample it as the mask options say; returns a ``Simulation``."""
    from napari_dynmri.data.samples import open_input
    from napari_dynmri.simulation import cine_target, simulate

    cine = open_input(args.input)
    target = cine_target(cine, args.slice)
    return simulate(
        target,
        acquisition=acquisition_from_args(args, target.shape[1], cine.source or "the target"),
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
    parser.add_argument("--slice", type=int, default=None, help="slice of a multi-slice cine (default: middle)")
    add_acquisition_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from napari_dynmri.io.atomic import check_not_an_input, check_output_path

    if args.output.suffix != ".npz":
        raise ValueError(f"output must be an .npz file, got {args.output}")
    check_output_path(args.output, args.overwrite)
    check_not_an_input(args.output, args.input)
    sim = simulate_from_args(args)
    sim.save(args.output, args.overwrite)
    t, h, w = sim.target.shape
    print(
        f"{args.output}: {t} frames of {h} x {w}, {sim.meta['mask']} mask, "
        f"R = {sim.meta['actual_acceleration']:.2f} (asked {sim.meta['acceleration']:g}), seed {sim.meta['seed']}"
    )
    return 0
