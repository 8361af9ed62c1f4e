"""``dynmri info INPUT``: print what the cine reader sees in a file, a DICOM folder or a sample, or, for
raw k-space (ISMRMRD, BART, fastMRI / CMRxRecon ``.h5`` / ``.mat``, Siemens twix ``.dat``), what the raw reader sees: coils,
matrix, frames, sampling (lines measured, already undersampled or not, acceleration) and noise scans."""

from __future__ import annotations

import argparse
import json

import numpy as np

_AXES = {3: "t, y, x", 4: "z, t, y, x"}


def register(subparsers) -> None:
    """Add the ``info`` sub-command."""
    parser = subparsers.add_parser(
        "info",
        help="show shape, axes, spacing and timing of a cine file",
        description="Read a cine (file, DICOM folder or sample:NAME) and print what the reader sees.",
    )
    parser.add_argument(
        "input",
        metavar="INPUT",
        help="a .npy/.npz/.nii(.gz)/.mat/.h5/.tif file, a DICOM folder, sample:pig / sample:phantom, or raw "
        "k-space (ISMRMRD .h5, BART .cfl/.hdr, fastMRI / CMRxRecon .h5 / .mat, Siemens twix .dat)",
    )
    raw = parser.add_argument_group("raw k-space (any of these reads INPUT as raw k-space)")
    raw.add_argument("--layout", default=None,
                     help="axis order of the k-space array, e.g. kx,ky,coil,slice,frame (MATLAB order for .mat, "
                     "numpy order for .h5; default: inferred and printed)")
    raw.add_argument("--variable", default=None, help="the k-space variable (default: the largest complex array)")
    raw.add_argument("--mask", default=None, metavar="FILE", help="a mask file (.mat/.h5/.npy) to apply to the k-space")
    raw.add_argument("--mask-variable", default=None, help="the mask's variable (default: mask, or the only real array)")
    parser.set_defaults(func=run)


def _wants_raw(args: argparse.Namespace) -> bool:
    from napari_dynmri.io.raw import is_raw_kspace

    given = any(getattr(args, name, None) is not None for name in ("layout", "variable", "mask", "mask_variable"))
    return given or (not str(args.input).startswith("sample:") and is_raw_kspace(args.input))


def run(args: argparse.Namespace) -> int:
    """Print the description of ``args.input``; returns 0."""
    from napari_dynmri.data.samples import open_input

    if _wants_raw(args):
        from napari_dynmri.io.raw import read_raw

        print(describe_raw(read_raw(args.input, getattr(args, "layout", None), getattr(args, "variable", None),
                                    mask=getattr(args, "mask", None), mask_variable=getattr(args, "mask_variable", None))))
        return 0
    cine = open_input(args.input)
    if cine.pixel_spacing_mm is None and cine.meta.get("format") == "npz":
        spacing = npz_meta_spacing(args.input)
        if spacing is not None:
            cine.pixel_spacing_mm = spacing
            cine.meta["pixel_spacing_from"] = "meta"
    print(describe(cine))
    return 0


def npz_meta_spacing(path) -> tuple[float, float] | None:
    """The pixel spacing recorded in the ``meta`` JSON of a ``dynmri simulate`` / ``dynmri recon`` npz
    (``meta['pixel_spacing_mm']``, or ``meta['acquisition']['pixel_spacing_mm']`` for a recon), or None."""
    from napari_dynmri.io.npz import load_npz, npz_arrays
    from napari_dynmri.validation import InputError, check_spacing

    if "meta" not in npz_arrays(path):
        return None
    value = load_npz(path, ["meta"])["meta"]
    if value.shape != () or value.dtype.kind != "U":
        return None
    try:
        meta = json.loads(str(value))
    except ValueError:
        return None
    if not isinstance(meta, dict):
        return None
    acquisition = meta.get("acquisition") if isinstance(meta.get("acquisition"), dict) else {}
    spacing = meta.get("pixel_spacing_mm", acquisition.get("pixel_spacing_mm"))
    try:
        return check_spacing(spacing, path)
    except InputError:
        return None


def describe_raw(scan) -> str:
    """Human-readable, one-fact-per-line summary of a :class:`~napari_dynmri.io.raw.RawScan`."""
    meta = scan.meta
    sampling = meta.get("sampling") or {}
    h, w = scan.matrix
    layout = meta.get("layout", "?")
    if meta.get("layout_inferred"):
        layout += f" (inferred: {meta.get('layout_reason', '')}; give --layout to change it)"
    lines = [
        f"source: {scan.source}",
        f"format: {meta.get('format', 'unknown')} (raw k-space)",
        f"layout: {layout}",
    ]
    if "variable" in meta:
        lines.append(f"variable: {meta['variable']} {tuple(meta.get('stored_shape', ()))}")
    lines += [
        f"k-space: {tuple(scan.kspace.shape)}  axes: t, coil, ky, kx",
        f"coils: {scan.n_coils}",
        f"frames: {scan.n_frames}" + (f" (binned by {meta['frame_binning']})" if "frame_binning" in meta else ""),
        f"matrix: {h} x {w} (phase-encoding rows x readout columns)",
        f"slices: {meta.get('slices', 1)} (reading slice {meta.get('slice', 0)})",
    ]
    factor = meta.get("oversampling_removed", 1)
    lines.append(f"readout oversampling: {'removed, factor ' + format(factor, 'g') if factor != 1 else 'none removed'}")
    partial = meta.get("partial_fourier") or {}
    padded = [f"{partial[key]} {what}" for key, what in (("rows_zero_padded", "rows"),
                                                          ("readout_columns_zero_padded", "readout columns"))
              if partial.get(key)]
    lines.append("partial Fourier: " + (", ".join(padded) + " zero-padded" if padded else "none"))
    spacing = meta.get("pixel_spacing_mm")
    lines.append("pixel spacing: unknown" if not spacing else f"pixel spacing: {spacing[0]:g} x {spacing[1]:g} mm (row x col)")
    if sampling:
        low, high = sampling["lines_per_frame"]
        per_frame = f"{low}" if low == high else f"{low} .. {high}"
        lines += [
            f"sampling: {per_frame} of {sampling['rows']} lines per frame"
            + ("" if sampling["same_lines_every_frame"] else " (lines change from frame to frame)"),
            f"measured lines (frame 0): {sampling['lines_first_frame']}",
            f"already undersampled: {'yes' if sampling['undersampled'] else 'no (fully sampled)'}",
            f"acceleration: R = {sampling['acceleration']:.2f}",
            f"central lines in every frame: {sampling['central_lines']}",
        ]
    if scan.noise is not None:
        lines.append(f"noise scans: {meta.get('noise_scans', '?')} ({scan.noise.shape[1]} samples per coil)")
    else:
        lines.append("noise scans: none")
    if scan.calibration is not None:
        lines.append(f"calibration lines: {meta.get('calibration_lines', '?')} (separate reference scan)")
    if "mask_source" in meta:
        lines.append(f"mask: {meta['mask_source']}")
    return "\n".join(lines)


def describe(cine) -> str:
    """Human-readable, one-fact-per-line summary of a :class:`~napari_dynmri.io.Cine`."""
    data = cine.data
    values = np.abs(data) if cine.is_complex else data
    meta = cine.meta
    lines = [
        f"source: {cine.source}",
        f"format: {meta.get('format', 'unknown')}",
        f"shape: {tuple(data.shape)}  axes: {_AXES.get(data.ndim, '?')}",
        f"dtype: {data.dtype}" + (f" (stored as {meta['original_dtype']})" if "original_dtype" in meta else ""),
        f"complex: {'yes' if cine.is_complex else 'no'}",
        f"k-space input: {'yes' if meta.get('kspace_input') else 'no'}",
        f"frames: {cine.n_frames}",
        f"slices: {data.shape[0] if data.ndim == 4 else 1}",
    ]
    if cine.pixel_spacing_mm is None:
        lines.append("pixel spacing: unknown")
    else:
        row, col = cine.pixel_spacing_mm
        lines.append(f"pixel spacing: {row:g} x {col:g} mm (row x col)")
    times = cine.trigger_times_ms
    if times is None:
        lines.append("trigger times: unknown")
    else:
        lines.append(f"trigger times: {np.min(times):g} .. {np.max(times):g} ms")
    label = "value range (magnitude)" if cine.is_complex else "value range"
    lines.append(f"{label}: {float(values.min()):g} .. {float(values.max()):g}")
    return "\n".join(lines)
