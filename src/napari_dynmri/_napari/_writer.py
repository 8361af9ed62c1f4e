"""File > Save Layers for a cine layer: an ``.npz`` of the image with the settings JSON it was made with.

The npe2 writer ``napari-dynmri.write_reconstruction`` (``napari.yaml``) saves one image layer as an
``.npz`` that ``dynmri``, the reader and :func:`napari_dynmri.io.read_cine` open again: the complex cine
when the layer carries one (a reconstruction or zero-filled result), else the displayed data, with its
pixel spacing, slice thickness and frame times, and under ``"settings"`` the settings JSON of
:mod:`napari_dynmri.recon.settings` (how the layer was made; its ``"recon"`` object is what
``dynmri recon --config`` reads).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_dynmri._napari._layers import COMPLEX_KEY, SETTINGS_KEY, SPACING_KEY, THICKNESS_KEY, TIMES_KEY
from napari_dynmri.io import write_cine
from napari_dynmri.io.readers import file_suffix
from napari_dynmri.recon.settings import settings_json

SETTINGS_NOTE = "settings"  # the npz entry holding the settings JSON


def write_layer(path, data, metadata: dict, *, overwrite: bool, settings: str | None = None) -> Path:
    """Write an image layer's cine to ``path`` (format from its extension) with its spacing and frame times.

    ``data``: the layer's (real, displayed) data; an ``.npz`` gets the complex cine of ``metadata`` instead
    when it has one of the same shape. ``settings``: a settings JSON stored in an ``.npz`` under
    ``"settings"``. Raises what :func:`napari_dynmri.io.write_cine` raises.
    """
    array = metadata.get(COMPLEX_KEY) if file_suffix(path) == ".npz" else None
    if array is None or np.shape(array) != np.shape(data):
        array = np.asarray(data)
    return write_cine(
        path,
        array,
        pixel_spacing_mm=metadata.get(SPACING_KEY),
        overwrite=overwrite,
        slice_thickness_mm=metadata.get(THICKNESS_KEY),
        trigger_times_ms=metadata.get(TIMES_KEY),
        notes=None if settings is None else {SETTINGS_NOTE: settings},
    )


def write_reconstruction(path: str, data, attributes: dict) -> list[str]:
    """The npe2 single-layer writer: ``data`` and the layer ``attributes`` (name, metadata, ...) to ``path``.

    napari's save dialog has already asked before replacing a file, so an existing file is replaced.
    Returns the path written, as npe2 expects.
    """
    metadata = attributes.get("metadata") or {}
    name = attributes.get("name") or Path(path).stem
    made = metadata.get(SETTINGS_KEY)
    settings = settings_json(
        layers={name: made} if made else {}, files={Path(path).name: {"layer": name}}, recon=(made or {}).get("recon")
    )
    write_layer(path, data, metadata, overwrite=True, settings=settings)
    return [str(path)]
