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
        help="reconstruct an undersampled cine (network, cs-ttv, view-sharing or zero-filled)",
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
        help="shipped model name, checkpoint path, cs-ttv, view-sharing or zero-filled (default: the default shipped model)",
    )
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
        from napari_dynmri.models.pretrained import DEFAULT_MODEL

        args.model = DEFAULT_MODEL

    acquisition = load_acquisition(args)
    method = get_method(args.model, device=args.device)
    start = time.perf_counter()
    recon = method.reconstruct(acquisition["kspace"], acquisition["mask"], progress=_progress(method.name))
    seconds = time.perf_counter() - start

    meta = {
        "method": method.name,
        "description": method.description,
        "device": method.device,
        "seconds": round(seconds, 3),
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
    if acquisition["target"] is not None:
        target = acquisition["target"]
        line += f"; PSNR {psnr(recon, target):.2f} dB, SSIM {ssim(recon, target):.3f}"
    print(line)
    return 0
