"""``dynmri simulate``: undersample a fully sampled cine and save target, mask, k-space, zero-filled."""

from __future__ import annotations

import argparse
from pathlib import Path

from napari_dynmri.physics import DEFAULT_ACQUISITION, MASK_KINDS, Acquisition


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


def acquisition_from_args(args: argparse.Namespace) -> Acquisition:
    """The :class:`~napari_dynmri.physics.Acquisition` of the options of :func:`add_acquisition_options`
    (checked as it is made; the row count is checked where the image is known, by ``simulate``)."""
    return Acquisition(args.mask, args.acceleration, args.center_lines, args.seed,
                       getattr(args, "noise", DEFAULT_ACQUISITION.noise))


def simulate_from_args(args: argparse.Namespace):
    """Read ``args.input`` and undersample it as the mask options say; returns a ``Simulation``."""
    from napari_dynmri.data.samples import open_input
    from napari_dynmri.simulation import cine_target, simulate

    cine = open_input(args.input)
    target = cine_target(cine, args.slice)
    return simulate(target, acquisition_from_args(args), source=cine.source, pixel_spacing_mm=cine.pixel_spacing_mm)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="undersample a cine in k-space and save an npz",
        description="Take a fully sampled cine to k-space (centred orthonormal FFT), apply a seeded "
        "k-t mask and save target, mask, kspace, zero_filled and meta to an npz.",
    )
    parser.add_argument("input", help="cine file, DICOM folder, or sample:pig / sample:phantom")
    parser.add_argument("-o", "--output", required=True, type=Path,
                        help="output .npz, or .h5 for multi-coil raw k-space in ISMRMRD (with --coils)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    parser.add_argument("--slice", type=int, default=None, help="slice of a multi-slice cine (default: middle)")
    add_acquisition_options(parser)
    coils = parser.add_argument_group("multi-coil raw k-space (an ISMRMRD .h5 output)")
    coils.add_argument("--coils", type=int, default=None, metavar="N",
                       help="simulate N receive coils (birdcage maps, correlated noise) and write ISMRMRD; needs an "
                       ".h5 output (default there: 8)")
    coils.add_argument("--noise-correlation", type=float, default=None,
                       help="noise correlation of neighbouring coils, 0 to <1 (default: 0.3)")
    coils.add_argument("--readout-oversampling", type=int, default=None,
                       help="store the readout this many times oversampled, as scanners do (default: 1)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from napari_dynmri.io.atomic import check_not_an_input, check_output_path

    coil_options = [name for name in ("coils", "noise_correlation", "readout_oversampling")
                    if getattr(args, name, None) is not None]
    if args.output.suffix.lower() in (".h5", ".hdf5"):
        return run_multicoil(args)
    if coil_options:
        option = "--" + coil_options[0].replace("_", "-")
        raise ValueError(f"{option} writes multi-coil ISMRMRD k-space: give an output ending in .h5, got {args.output}")
    if args.output.suffix != ".npz":
        raise ValueError(f"output must be an .npz file (or .h5 with --coils), got {args.output}")
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


def run_multicoil(args: argparse.Namespace) -> int:
    """``--coils N -o OUT.h5``: multi-coil k-space of the cine, written as ISMRMRD (the mask options choose
    the lines written; ``--acceleration 1`` writes every line)."""
    from napari_dynmri.data.samples import open_input
    from napari_dynmri.io.atomic import check_not_an_input, check_output_path
    from napari_dynmri.simulation import cine_target
    from napari_dynmri.simulation_coils import NOISE_CORRELATION, simulate_multicoil
    from napari_dynmri.validation import check_value, integer, number

    n_coils = check_value(8 if args.coils is None else args.coils, integer(1, 128), "--coils")
    correlation = NOISE_CORRELATION if args.noise_correlation is None else args.noise_correlation
    check_value(correlation, number(0, 1, high_open=True), "--noise-correlation")
    oversampling = 1 if args.readout_oversampling is None else args.readout_oversampling
    check_value(oversampling, integer(1, 8), "--readout-oversampling")
    check_output_path(args.output, args.overwrite)
    check_not_an_input(args.output, args.input)
    cine = open_input(args.input)
    target = cine_target(cine, args.slice)
    acquisition = acquisition_from_args(args)
    sim = simulate_multicoil(target, n_coils, acquisition=acquisition, noise_sigma=acquisition.noise,
                             correlation=correlation, seed=acquisition.seed, readout_oversampling=oversampling,
                             pixel_spacing_mm=cine.pixel_spacing_mm, source=cine.source)
    sim.write_ismrmrd(args.output, overwrite=args.overwrite)
    t, h, w = target.shape
    noise = f", noise sigma {acquisition.noise:g} (correlation {correlation:g})" if acquisition.noise > 0 else ""
    print(f"{args.output}: ISMRMRD, {n_coils} coils, {t} frames of {h} x {w}, {sim.meta['actual_acceleration']:.2f}x "
          f"fewer lines ({acquisition.kind} mask, seed {acquisition.seed}){noise}")
    return 0
