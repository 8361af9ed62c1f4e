"""``dynmri recon``: reconstruct an undersampled cine with a network, compressed sensing or zero filling."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

from napari_dynmri.cli import UserError
from napari_dynmri.cli.simulate import acquisition_from_args, add_acquisition_options, simulate_from_args
from napari_dynmri.recon.methods import DEFAULT_METHOD
from napari_dynmri.recon.registry import declarations, option_names
from napari_dynmri.recon.settings import RECON_DEFAULTS, read_recon_settings

NPZ_SUFFIX = ".npz"
MAGNITUDE_SUFFIXES = (".nii", ".nii.gz", ".tif", ".tiff")


def load_acquisition(args: argparse.Namespace) -> dict:
    """The acquisition to reconstruct: ``kspace``, ``mask``, ``zero_filled``, ``target`` (or None), ``meta``
    and, for raw multi-coil k-space, ``maps``.

    A ``dynmri simulate`` npz is used as saved (the mask options are ignored), every array checked
    by :meth:`napari_dynmri.simulation.Simulation.load`; raw k-space (ISMRMRD, fastMRI / CMRxRecon,
    BART) is read with coil maps by :func:`napari_dynmri.data.samples.raw_acquisition` (undersampled
    on the fly with the mask options when fully sampled); any other input is read as a cine, scaled
    to max |x| = 1 and undersampled as ``dynmri simulate`` would.
    """
    from napari_dynmri.io.raw import is_raw_kspace
    from napari_dynmri.simulation import Simulation

    if not Simulation.is_simulation(args.input) and is_raw_kspace(args.input):
        from napari_dynmri.data.samples import raw_acquisition

        return raw_acquisition(args.input, acquisition_from_args(args))
    sim = Simulation.load(args.input) if Simulation.is_simulation(args.input) else simulate_from_args(args)
    return {
        "kspace": sim.kspace,
        "mask": sim.mask,
        "zero_filled": sim.zero_filled,
        "target": sim.target,
        "meta": sim.meta,
        "maps": None,
    }


def apply_settings(args: argparse.Namespace) -> None:
    """Fill the method options not given on the command line from ``--config``, then from the defaults."""
    settings = read_recon_settings(args.config) if args.config is not None else {}
    for key, default in RECON_DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, settings.get(key, default))


def flag(name: str) -> str:
    """The command-line flag of the method option ``name`` (``lam_lowrank`` -> ``--lam-lowrank``)."""
    return "--" + name.replace("_", "-")


def option_help(name: str) -> str:
    """The help of the method option ``name``, read from the registry: what it is, which methods take it and
    each method's default (an ``"auto"``-capable weight says it is cross-validated unless given)."""
    options = declarations(name)
    numbers = [option for option in options if option.kind in (int, float)]
    text = f"{', '.join(option.methods[0] for option in options)}: {options[0].help}"
    if any(option.auto for option in options):
        text += f"; {WEIGHT_HELP}"
    if len(numbers) == 1:
        text += f" (default: {numbers[0].default:g})"
    elif numbers:
        text += f". Defaults: {', '.join(f'{option.methods[0]} {name} {option.default:g}' for option in numbers)}"
    needs = {option.needs for option in options} - {None}
    if needs:
        text += f" (needs {', '.join(flag(other) for other in sorted(needs))})"
    return text


def add_method_options(parser: argparse.ArgumentParser, description: str) -> None:
    """One flag per option of the registry (:mod:`napari_dynmri.recon.options`), default None (not given):
    a switch for a boolean option, a value read by :meth:`~napari_dynmri.recon.options.Option.parse`
    otherwise (``get_method`` then checks it). ``description`` says how the command applies them."""
    group = parser.add_argument_group("method options", description)
    for name in option_names():
        option = declarations(name)[0]
        if option.kind is bool:
            group.add_argument(flag(name), action="store_true", default=None, help=option_help(name))
        else:
            group.add_argument(flag(name), type=option.parse, default=None, metavar=name.upper(),
                               help=option_help(name))


def given_options(args: argparse.Namespace) -> dict:
    """The method options given (on the command line or by ``--config``), by name; ``--needs`` checked."""
    given = {name: getattr(args, name) for name in option_names()
             if getattr(args, name) is not declarations(name)[0].unset}
    for name in given:
        needs = {option.needs for option in declarations(name)} - {None}
        for other in sorted(needs - set(given)):
            raise UserError(f"{flag(name)} needs {flag(other)}")
    return given


WEIGHT_HELP = ("'auto' (the default) chooses the weight per scan by cross-validation on the measured lines "
               "(see docs/benchmarks.md); a number fixes it")


def check_device(spec: str) -> str:
    """``spec`` when this machine has that device (auto, cpu, cuda[:N], mps); a one-line ``ValueError``
    otherwise, the same for every method (zero filling included, though it computes with numpy)."""
    from napari_dynmri.models.device import select_device

    select_device(spec)
    return spec


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "recon",
        help="reconstruct an undersampled cine (compressed sensing, view sharing, a network or zero filling)",
        description="Reconstruct a `dynmri simulate` npz, raw multi-coil k-space (ISMRMRD, fastMRI / CMRxRecon "
        ".h5 or .mat, BART .cfl, Siemens twix .dat: SENSE with ESPIRiT coil maps; undersampled scans as measured), "
        "or a fully sampled cine or raw scan undersampled on the fly with the mask options (scaled to max |x| = 1, exactly "
        "as `dynmri simulate`). An .npz output (napari_dynmri.Reconstruction.save; Reconstruction.load reads it) "
        "holds recon plus the kspace, mask, zero_filled, target (when known), coil_maps (raw scans), meta (JSON) "
        "it used and, with --uncertainty, the trust map (uncertainty, float32 (T, H, W)); "
        ".nii/.nii.gz/.tif/.tiff outputs hold the magnitude. The output's folder must exist. "
        f"Compressed sensing weights: {WEIGHT_HELP}. cs-auto also chooses the method that way, jointly with "
        "the weight, at the cost of many solves (every candidate on 10 folds); with --lam, a method runs once "
        "with that weight.",
    )
    parser.add_argument("input", help="simulate npz, raw k-space file, cine file, DICOM folder, or sample:pig / "
                        "sample:phantom")
    parser.add_argument("-o", "--output", required=True, type=Path,
                        help="output .npz, .nii, .nii.gz, .tif or .tiff, in an existing folder")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="SETTINGS",
        help='a settings JSON (as the napari Export widget writes) whose "recon" object gives the method '
        "and its options below (model, device and the method options); options given here win",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="cs-auto, cs-xf, cs-lps, cs-ttv, view-sharing, zero-filled, a shipped model name or a checkpoint path "
        f"(default: {DEFAULT_METHOD})",
    )
    parser.add_argument("--device", default=None, help="auto, cpu, cuda or mps (default: auto)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    parser.add_argument("--slice", type=int, default=None, help="slice of a multi-slice cine (default: middle)")
    add_method_options(parser, "each applies to the methods it names; a method given an option it does not "
                       "take refuses it")
    add_acquisition_options(parser)
    parser.set_defaults(func=run)


def _progress(label: str):
    """A progress callback printing ``label: done/total`` on one stderr line (only when interactive)."""
    if not sys.stderr.isatty():
        return None

    def report(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        print(f"\r{label}: {done}/{total}", end=end, file=sys.stderr, flush=True)

    return report


def run(args: argparse.Namespace) -> int:
    from napari_dynmri.io.atomic import check_not_an_input, check_output_path
    from napari_dynmri.io.readers import file_suffix
    from napari_dynmri.metrics import psnr, ssim
    from napari_dynmri.recon import get_method
    from napari_dynmri.validation import cast_finite

    suffix = file_suffix(args.output)
    if suffix != NPZ_SUFFIX and suffix not in MAGNITUDE_SUFFIXES:
        raise UserError(
            f"cannot write {args.output}: use an output ending in {', '.join((NPZ_SUFFIX,) + MAGNITUDE_SUFFIXES)}"
        )
    check_output_path(args.output, args.overwrite)
    check_not_an_input(args.output, args.input, *([args.config] if args.config else []))
    apply_settings(args)
    options = given_options(args)
    check_device(args.device)
    method = get_method(args.model, device=args.device, **options)
    acquisition = load_acquisition(args)
    result = method.reconstruct(acquisition["kspace"], acquisition["mask"], progress=_progress(method.name),
                                maps=acquisition["maps"])
    result = dataclasses.replace(
        result,
        image=cast_finite(result.image, np.complex64, method.name, "the reconstruction"),  # e.g. NaN network weights
        zero_filled=acquisition["zero_filled"],
        target=acquisition["target"],
        source=str(args.input),
        acquisition_meta=acquisition["meta"],
    )
    if suffix == NPZ_SUFFIX:
        result.save(args.output, args.overwrite)
    else:
        from napari_dynmri.io import write_cine

        write_cine(
            args.output,
            np.abs(result.image).astype(np.float32),
            acquisition["meta"].get("pixel_spacing_mm"),
            overwrite=args.overwrite,
        )

    t, h, w = result.image.shape
    line = f"{args.output}: {method.name} on {result.device}, {t} frames of {h} x {w} in {result.seconds:.1f} s"
    summary = method.settings_summary(result.settings)
    if summary:
        line += f" ({summary})"
    if result.target is not None:
        line += f"; PSNR {psnr(result.image, result.target):.2f} dB, SSIM {ssim(result.image, result.target):.3f}"
    print(line)
    return 0
