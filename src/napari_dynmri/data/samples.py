"""Sample cines shipped with the package (no network, no ../shared needed).

``pig``      short-axis bSSFP cine of a pig heart, 20 x 256 x 256, CC0 (see
             ``samples/LICENSE.pig-cine-CC0``); magnitude, stored as int16.
``phantom``  the procedural cardiac phantom, 20 x 128 x 128, seed 0.
"""

from __future__ import annotations

from importlib.resources import files

import numpy as np

from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.io.cine import Cine
from napari_dynmri.io.readers import read_cine

SAMPLE_NAMES = ("pig", "phantom")
# how a command-line input names a bundled sample: ``sample:pig``
SAMPLE_PREFIX = "sample:"


def load_sample(name: str) -> Cine:
    """Load a bundled sample by name (one of ``SAMPLE_NAMES``) as a single-slice :class:`Cine`."""
    if name == "pig":
        path = files("napari_dynmri.data").joinpath("samples/pig_sax_slice11.npz")
        with path.open("rb") as stream, np.load(stream) as stored:
            return Cine(
                data=stored["cine"].astype(np.float32),
                pixel_spacing_mm=tuple(float(s) for s in stored["pixel_spacing_mm"]),
                trigger_times_ms=stored["trigger_time_ms"].astype(np.float64),
                source="sample:pig",
                meta={
                    "format": "sample",
                    "description": "pig short-axis bSSFP cine, slice 11 (CC0 1.0)",
                    "slice_location_mm": float(stored["slice_location_mm"]),
                    "licence": "CC0-1.0",
                },
            )
    if name == "phantom":
        return Cine(
            data=cardiac_phantom(20, 128, 128, seed=0),
            pixel_spacing_mm=(1.5, 1.5),
            trigger_times_ms=np.arange(20, dtype=np.float64) * 40.0,
            source="sample:phantom",
            meta={"format": "sample", "description": "procedural cardiac phantom, seed 0"},
        )
    raise ValueError(f"unknown sample {name!r}; choose one of {', '.join(SAMPLE_NAMES)}")


def open_input(spec: str) -> Cine:
    """Open a command-line input: ``sample:NAME`` loads a bundled sample, anything else is a path.

    ``sample:NAME`` calls :func:`load_sample` (e.g. ``sample:pig``, ``sample:phantom``); raw k-space
    (:func:`napari_dynmri.io.raw.is_raw_kspace`: ISMRMRD, fastMRI / CMRxRecon-style files, BART) goes
    to :func:`raw_cine`; other strings go to :func:`napari_dynmri.io.read_cine` (a file or a DICOM folder).
    """
    from napari_dynmri.io.raw import is_raw_kspace

    spec = str(spec)
    if spec.startswith(SAMPLE_PREFIX):
        return load_sample(spec[len(SAMPLE_PREFIX) :])
    if is_raw_kspace(spec):
        return raw_cine(spec)
    return read_cine(spec)


def raw_cine(path) -> Cine:
    """The coil-combined complex cine ``(T, H, W)`` of a fully sampled raw k-space file.

    Coils are combined with SENSE-1 on ESPIRiT maps (:func:`napari_dynmri.io.raw.coil_combine`),
    exact for fully sampled data; the result is then undersampled on the fly like any cine.
    Undersampled raw data are refused with a clear error: reconstructing them needs the coil maps
    inside the solvers' data consistency, which this version does not have yet.
    """
    from napari_dynmri import validation
    from napari_dynmri.io.raw import coil_combine, read_raw
    from napari_dynmri.io.raw.scan import sampling_summary
    from napari_dynmri.physics.fft import ifft2c

    raw = read_raw(path)
    if not raw.mask.all():
        summary = sampling_summary(raw.mask)
        raise validation.InputError(
            f"{path}: holds undersampled raw k-space ({raw.kspace.shape[1]} coil(s), R = "
            f"{summary['acceleration']:.2f}); dynmri reconstructs raw data only when fully sampled (they are "
            "coil-combined, then undersampled with the mask options); multi-coil reconstruction of "
            "undersampled scans is not available yet")
    kspace, _ = coil_combine(raw)
    spacing = raw.meta.get("pixel_spacing_mm")
    return Cine(data=ifft2c(kspace).astype(np.complex64), pixel_spacing_mm=tuple(spacing) if spacing else None,
                source=str(path), meta={"format": "raw k-space", "kspace_input": True,
                                        "coils": int(raw.kspace.shape[1])})
