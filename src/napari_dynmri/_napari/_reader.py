"""napari reader hook: cine files and DICOM folders through :func:`napari_dynmri.io.read_cine`, raw
multi-coil k-space (ISMRMRD, fastMRI / CMRxRecon-style, BART) through
:func:`napari_dynmri.data.samples.raw_acquisition`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from napari_dynmri._napari._layers import (
    AXIS_LABELS,
    COMPLEX_KEY,
    KSPACE_KEY,
    MAPS_KEY,
    MASK_KEY,
    ROLE_KEY,
    SETTINGS_KEY,
    cine_layer_data,
    report_error,
)
from napari_dynmri.io import CineReadError, can_read, read_cine
from napari_dynmri.io.cine import Cine
from napari_dynmri.io.raw import is_raw_kspace
from napari_dynmri.io.readers import file_stem


def napari_get_reader(path):
    """The reader for ``path`` (a path or list of paths): :func:`read_raw_layers` for one raw k-space
    file, :func:`read_cine_layers` when the core can read it as a cine, else None."""
    if isinstance(path, (str, os.PathLike)) and is_raw_kspace(path):
        return read_raw_layers
    return read_cine_layers if can_read(path) else None


def read_cine_layers(path) -> list[tuple]:
    """Read one cine (a file, a DICOM folder or a list of DICOM files) as one image layer.

    The layer is the magnitude ``(T, H, W)`` or ``(Z, T, H, W)`` with axes labelled ``t`` (``z``),
    in-plane scale in mm and the source metadata (see :func:`~napari_dynmri._napari._layers.cine_layer_data`).
    A file that is not a valid cine (or too large for the memory) gives an error notification naming
    the reason and napari's "nothing read" value ``[(None,)]``, so no traceback dialog opens and the
    viewer is unchanged.
    """
    try:
        cine = read_cine(path)
    except (CineReadError, MemoryError) as err:
        report_error(err, "read the cine")
        return [(None,)]
    return [cine_layer_data(cine, name=_layer_name(path))]


def read_raw_layers(path) -> list[tuple]:
    """Read a raw multi-coil k-space file as a coil-combined cine layer and a hidden coil-maps layer.

    The scan goes through :func:`~napari_dynmri.data.samples.raw_acquisition`, as in ``dynmri recon``:
    more than 8 coils compressed to 8, ESPIRiT maps ``(C, H, W)``, SENSE-1 combination.

    - Fully sampled: the layer is the combined cine (``dynmri recon``'s ``target``, max magnitude 1), a
      plain cine that Undersample, Reconstruct and Compare take like any other.
    - Undersampled: the layer is the zero-filled SENSE-1 combination with role ``zero-filled``; it carries
      the measured k-space ``(T, C, H, W)``, the mask and the maps, so Reconstruct reconstructs the scan
      as measured with the maps in its data consistency. There is no fully sampled reference to compare with.

    The maps layer shows ``|S|`` with axes ``coil, y, x``. A file that cannot be read gives one error
    notification and ``[(None,)]``, as for cines.
    """
    from napari_dynmri.data.samples import raw_acquisition

    try:
        acquisition = raw_acquisition(path)
    except (ValueError, OSError, MemoryError) as err:
        report_error(err, "read the raw k-space")
        return [(None,)]
    meta = acquisition["meta"]
    spacing = meta.get("pixel_spacing_mm")
    name = file_stem(path)
    undersampled = acquisition["target"] is None
    cine = Cine(
        data=acquisition["zero_filled"] if undersampled else acquisition["target"],
        pixel_spacing_mm=tuple(spacing) if spacing else None,
        source=str(path),
        meta={**meta, "kspace_input": True},
    )
    data, kwargs, kind = cine_layer_data(cine, name=f"zero-filled {name}" if undersampled else name)
    if undersampled:
        kwargs["metadata"].update(
            {
                ROLE_KEY: "zero-filled",
                KSPACE_KEY: acquisition["kspace"],
                MASK_KEY: acquisition["mask"],
                MAPS_KEY: acquisition["maps"],
                SETTINGS_KEY: {**meta, "slice": None},
            }
        )
    maps = acquisition["maps"]
    maps_kwargs = {
        "name": f"coil maps {name}",
        "visible": False,
        "colormap": "magma",
        "metadata": {ROLE_KEY: "coil maps", COMPLEX_KEY: maps, SETTINGS_KEY: meta},
        "axis_labels": ("coil", *AXIS_LABELS[3][1:]),
    }
    for key in ("scale", "units"):
        if key in kwargs:
            maps_kwargs[key] = kwargs[key]
    return [(data, kwargs, kind), (np.abs(maps).astype(np.float32), maps_kwargs, "image")]


def _layer_name(path) -> str:
    """A DICOM folder or list of files is named after its folder, a file after its stem."""
    if not isinstance(path, (str, os.PathLike)):
        return Path(path[0]).parent.name if len(path) > 1 else _layer_name(path[0])
    path = Path(path)
    return path.name if path.is_dir() else file_stem(path)
