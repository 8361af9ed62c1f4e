"""``dynmri recon``: reconstruct an undersampled cine with a network, compressed sensing or zero filling."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from napari_dynmri.cli import UserError
from napari_dynmri.cli.simulate import acquisition_from_args, add_acquisition_options, simulate_from_args
from napari_dynmri.recon.methods import CS_METHODS, DEFAULT_METHOD
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


def fixed_defaults() -> str:
    """The fixed default weights and iterations of each compressed-sensing method, read from the methods."""
    parts = []
    for name, method in CS_METHODS.items():
        weights = ", ".join(f"{key} {value:g}" for key, value in getattr(method, "default_weights", {}).items())
        parts.append(f"{name} {weights}, {getattr(method, 'default_iterations', '?')} iterations")
    return "; ".join(parts)


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
        ".h5 or .mat, BART .cfl: SENSE with ESPIRiT coil maps; undersampled scans as measured), or a fully "
        "sampled cine or raw scan undersampled on the fly with the mask options (scaled to max |x| = 1, exactly "
        "as `dynmri simulate`). An .npz output holds "
        "recon plus the kspace, mask, zero_filled, target (when known), coil_maps (raw scans) and meta (JSON) "
        "it used; "
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
        "options below (model, lam, iterations, network, adapt, adapt_iterations, device, uncertainty); options given "
        "here win",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="cs-auto, cs-xf, cs-lps, cs-ttv, view-sharing, zero-filled, a shipped model name or a checkpoint path "
        f"(default: {DEFAULT_METHOD})",
    )
    parser.add_argument(
        "--lam",
        default=None,
        help="regularisation weight of a compressed-sensing method, relative to max |zero-filled|, or "
        f"{WEIGHT_HELP}. The methods' own default weights and iterations: {fixed_defaults()}",
    )
    parser.add_argument("--iterations", type=int, default=None,
                        help="iterations of a compressed-sensing method (default: the method's own, above)")
    parser.add_argument("--uncertainty", action="store_true", default=None,
                        help="compressed sensing and cs-auto: also save the trust map, the per-pixel spread of the "
                        "reconstructions of the cross-validation folds (npz key 'uncertainty', float32 (T, H, W); "
                        "one extra solve per fold)")
    parser.add_argument("--network", default=None,
                        help="cs-auto only: the refining network it weighs against its classical choice on the "
                        "held-out lines, used only where they prefer it (a shipped name or a checkpoint path; "
                        "'none' for none; default: the shipped refiner when there is one, see 'dynmri models')")
    parser.add_argument("--adapt", action="store_true", default=None,
                        help="network only: fine-tune it on this scan's own k-space first (self-supervised, "
                        "held-out lines stop it; see docs/benchmarks.md for what it brings and costs)")
    parser.add_argument("--adapt-iterations", type=int, default=None,
                        help="network only: at most this many adaptation steps (default: 20)")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda or mps (default: auto)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    parser.add_argument("--slice", type=int, default=None, help="slice of a multi-slice cine (default: middle)")
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
    from napari_dynmri.io.atomic import (
        atomic_output,
        check_not_an_input,
        check_output_path,
    )
    from napari_dynmri.io.readers import file_suffix
    from napari_dynmri.metrics import psnr, ssim
    from napari_dynmri.physics import ifft2c
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

    if args.adapt_iterations is not None and not args.adapt:
        raise UserError("--adapt-iterations needs --adapt")
    check_device(args.device)
    from napari_dynmri.recon import CS_AUTO, CS_METHODS

    if args.uncertainty and args.model not in (CS_AUTO, *CS_METHODS):
        raise UserError(f"--uncertainty needs a compressed-sensing method ({CS_AUTO}, {', '.join(CS_METHODS)}), "
                        f"not {args.model}")
    if args.network is not None and args.model != CS_AUTO:
        raise UserError(f"--network is an option of {CS_AUTO}, not of {args.model}")
    method = get_method(args.model, device=args.device, lam=args.lam, iterations=args.iterations,
                        adapt=args.adapt or None, adapt_iterations=args.adapt_iterations,
                        uncertainty=args.uncertainty or None, network=args.network)
    acquisition = load_acquisition(args)
    start = time.perf_counter()
    recon = method.reconstruct(acquisition["kspace"], acquisition["mask"], progress=_progress(method.name),
                               maps=acquisition["maps"])
    seconds = time.perf_counter() - start
    recon = cast_finite(recon, np.complex64, method.name, "the reconstruction")  # e.g. NaN network weights

    meta = {
        "method": method.name,
        "description": method.description,
        "device": method.device,
        "seconds": round(seconds, 3),
        "settings": method.settings,
        "input": str(args.input),
        "acquisition": acquisition["meta"],
    }
    if suffix == NPZ_SUFFIX:
        arrays = {
            "recon": recon,
            "kspace": acquisition["kspace"],
            "mask": acquisition["mask"],
            "zero_filled": (
                acquisition["zero_filled"]
                if acquisition["zero_filled"] is not None
                else ifft2c(acquisition["kspace"]).astype(np.complex64)
            ),
            "meta": np.array(json.dumps(meta)),
        }
        if acquisition["target"] is not None:
            arrays["target"] = acquisition["target"]
        if getattr(method, "uncertainty", None) is not None:
            arrays["uncertainty"] = method.uncertainty
        if acquisition["maps"] is not None:
            arrays["coil_maps"] = acquisition["maps"]
        with atomic_output(args.output, args.overwrite) as partial, open(partial, "wb") as f:
            np.savez_compressed(f, **arrays)
    else:
        from napari_dynmri.io import write_cine

        write_cine(
            args.output,
            np.abs(recon).astype(np.float32),
            acquisition["meta"].get("pixel_spacing_mm"),
            overwrite=args.overwrite,
        )

    t, h, w = recon.shape
    line = f"{args.output}: {method.name} on {method.device}, {t} frames of {h} x {w} in {seconds:.1f} s"
    if method.settings_summary():
        line += f" ({method.settings_summary()})"
    if acquisition["target"] is not None:
        target = acquisition["target"]
        line += f"; PSNR {psnr(recon, target):.2f} dB, SSIM {ssim(recon, target):.3f}"
    print(line)
    return 0
