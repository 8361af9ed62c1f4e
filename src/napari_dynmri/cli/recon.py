"""``dynmri recon``: reconstruct an undersampled cine with a network, compressed sensing or zero filling."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from napari_dynmri.cli import UserError
from napari_dynmri.cli.simulate import add_mask_arguments, simulate_from_args
from napari_dynmri.recon.methods import DEFAULT_METHOD

NPZ_SUFFIX = ".npz"
MAGNITUDE_SUFFIXES = (".nii", ".nii.gz", ".tif", ".tiff")
SIMULATION_KEYS = ("kspace", "mask")


def _suffix(path: Path) -> str:
    return ".nii.gz" if path.name.lower().endswith(".nii.gz") else path.suffix.lower()


def _is_simulation(path: str) -> bool:
    """True when ``path`` is an npz written by ``dynmri simulate`` (it holds kspace and mask)."""
    if not str(path).lower().endswith(NPZ_SUFFIX) or not Path(path).is_file():
        return False
    with np.load(path) as archive:
        return all(key in archive.files for key in SIMULATION_KEYS)


def load_acquisition(args: argparse.Namespace) -> dict:
    """The acquisition to reconstruct: ``kspace``, ``mask``, ``zero_filled``, ``target`` (or None), ``meta``.

    A ``dynmri simulate`` npz is used as saved (the mask options are ignored); any other input is
    read as a cine, scaled to max |x| = 1 and undersampled as ``dynmri simulate`` would.
    """
    if _is_simulation(args.input):
        with np.load(args.input) as archive:
            kspace = archive["kspace"]
            mask = archive["mask"].astype(bool)
            if kspace.ndim != 3 or mask.shape != kspace.shape:
                raise UserError(
                    f"{args.input}: kspace {kspace.shape} and mask {mask.shape} must be one (T, H, W) shape"
                )
            meta = json.loads(str(archive["meta"])) if "meta" in archive.files else {}
            return {
                "kspace": kspace.astype(np.complex64),
                "mask": mask,
                "zero_filled": archive["zero_filled"] if "zero_filled" in archive.files else None,
                "target": archive["target"] if "target" in archive.files else None,
                "meta": meta,
            }
    sim = simulate_from_args(args)
    return {
        "kspace": sim.kspace,
        "mask": sim.mask,
        "zero_filled": sim.zero_filled,
        "target": sim.target,
        "meta": sim.meta,
    }


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "recon",
        help="reconstruct an undersampled cine (compressed sensing, view sharing, a network or zero filling)",
        description="Reconstruct a `dynmri simulate` npz, or a fully sampled cine undersampled on the fly "
        "with the mask options (scaled to max |x| = 1, exactly as `dynmri simulate`). An .npz output holds "
        "recon plus the kspace, mask, zero_filled, target (when known) and meta (JSON) it used; "
        ".nii/.nii.gz/.tif/.tiff outputs hold the magnitude.",
    )
    parser.add_argument("input", help="simulate npz, cine file, DICOM folder, or sample:pig / sample:phantom")
    parser.add_argument("-o", "--output", required=True, type=Path, help="output .npz, .nii, .nii.gz, .tif or .tiff")
    parser.add_argument(
        "--model",
        default=None,
        help="cs-auto, cs-xf, cs-lps, cs-ttv, view-sharing, zero-filled, a shipped model name or a checkpoint path "
        f"(default: {DEFAULT_METHOD})",
    )
    parser.add_argument(
        "--lam",
        default=None,
        help="regularisation weight of a compressed-sensing method, relative to max |zero-filled|, "
        "or 'auto' (default: auto, chosen per scan on held-out lines)",
    )
    parser.add_argument("--iterations", type=int, default=None, help="iterations of a compressed-sensing method")
    parser.add_argument("--adapt", action="store_true",
                        help="network only: fine-tune it on this scan's own k-space first (self-supervised, "
                        "held-out lines stop it; see docs/benchmarks.md for what it brings and costs)")
    parser.add_argument("--adapt-iterations", type=int, default=None,
                        help="network only: at most this many adaptation steps (default: 20)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    add_mask_arguments(parser)
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
    from napari_dynmri.metrics import psnr, ssim
    from napari_dynmri.physics import ifft2c
    from napari_dynmri.recon import get_method

    suffix = _suffix(args.output)
    if suffix != NPZ_SUFFIX and suffix not in MAGNITUDE_SUFFIXES:
        raise UserError(
            f"cannot write {args.output}: use an output ending in {', '.join((NPZ_SUFFIX,) + MAGNITUDE_SUFFIXES)}"
        )
    if args.output.exists() and not args.overwrite:
        raise FileExistsError(f"{args.output} exists; pass --overwrite to replace it")
    if args.model is None:
        args.model = DEFAULT_METHOD

    if args.adapt_iterations is not None and not args.adapt:
        raise UserError("--adapt-iterations needs --adapt")
    method = get_method(args.model, device=args.device, lam=args.lam, iterations=args.iterations,
                        adapt=args.adapt or None, adapt_iterations=args.adapt_iterations)
    acquisition = load_acquisition(args)
    start = time.perf_counter()
    recon = method.reconstruct(acquisition["kspace"], acquisition["mask"], progress=_progress(method.name))
    seconds = time.perf_counter() - start

    meta = {
        "method": method.name,
        "description": method.description,
        "device": method.device,
        "seconds": round(seconds, 3),
        "settings": method.settings,
        "input": str(args.input),
        "acquisition": acquisition["meta"],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if suffix == NPZ_SUFFIX:
        arrays = {
            "recon": recon.astype(np.complex64),
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
        partial = args.output.with_name(f".partial-{args.output.name}")
        with open(partial, "wb") as f:
            np.savez_compressed(f, **arrays)
        partial.replace(args.output)
    else:
        from napari_dynmri.io import write_cine

        spacing = acquisition["meta"].get("pixel_spacing_mm")
        write_cine(
            args.output,
            np.abs(recon).astype(np.float32),
            tuple(spacing) if spacing else None,
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
