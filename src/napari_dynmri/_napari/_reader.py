"""napari reader hook: cine files and DICOM folders through :func:`napari_dynmri.io.read_cine`."""

from __future__ import annotations

import os
from pathlib import Path

from napari_dynmri._napari._layers import cine_layer_data, report_error
from napari_dynmri.io import CineReadError, can_read, read_cine
from napari_dynmri.io.readers import file_stem


def napari_get_reader(path):
    """Return :func:`read_cine_layers` when the core can read ``path`` (a path or list of paths), else None."""
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


def _layer_name(path) -> str:
    """A DICOM folder or list of files is named after its folder, a file after its stem."""
    if not isinstance(path, (str, os.PathLike)):
        return Path(path[0]).parent.name if len(path) > 1 else _layer_name(path[0])
    path = Path(path)
    return path.name if path.is_dir() else file_stem(path)
