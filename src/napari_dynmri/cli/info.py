"""``dynmri info INPUT``: print what the cine reader sees in a file, a DICOM folder or a sample."""

from __future__ import annotations

import argparse

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
        help="a .npy/.npz/.nii(.gz)/.mat/.h5/.tif file, a DICOM folder, or sample:pig / sample:phantom",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the description of ``args.input``; returns 0."""
    from napari_dynmri.data.samples import open_input

    print(describe(open_input(args.input)))
    return 0


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
