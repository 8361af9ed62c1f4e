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
    Undersampled raw data are refused with a clear error: a cine is an image, and those need the coil
    maps inside the reconstruction (:func:`raw_acquisition`, which ``dynmri recon`` uses).
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
            f"{summary['acceleration']:.2f}), not a cine; reconstruct it with `dynmri recon` (SENSE with "
            "ESPIRiT coil maps)")
    kspace, _ = coil_combine(raw)
    spacing = raw.meta.get("pixel_spacing_mm")
    return Cine(data=ifft2c(kspace).astype(np.complex64), pixel_spacing_mm=tuple(spacing) if spacing else None,
                source=str(path), meta={"format": "raw k-space", "kspace_input": True,
                                        "coils": int(raw.kspace.shape[1])})


# raw scans with more coils are compressed (SVD) to this many virtual coils before reconstruction:
# every coil multiplies the cost of each solve
VIRTUAL_COILS = 8


def raw_acquisition(path, acquisition=None) -> dict:
    """A raw k-space file as an acquisition to reconstruct with coil maps (SENSE).

    Scans of more than ``VIRTUAL_COILS`` coils are compressed to that many virtual coils (SVD over
    the measured samples; ``meta`` records the energy kept).
    Returns ``kspace`` complex64 ``(T, C, H, W)``, ``mask`` bool ``(T, H, W)``, ``maps`` complex64
    ``(C, H, W)`` (ESPIRiT, from the calibrated centre, time-averaged when no frame is fully sampled
    there), ``zero_filled`` (the SENSE-1 combination), ``target`` and ``meta``. An undersampled scan is
    reconstructed as measured (``target`` None; ``acquisition`` ignored). A fully sampled one is
    undersampled with ``acquisition`` (an :class:`~napari_dynmri.physics.Acquisition`); ``target`` is
    then its fully sampled SENSE combination, everything scaled to ``max |target| = 1`` as simulations are.
    """
    from napari_dynmri.io.raw import read_raw
    from napari_dynmri.io.raw.scan import sampling_summary
    from napari_dynmri.physics import DEFAULT_ACQUISITION, actual_acceleration
    from napari_dynmri.physics.coils import compress_coils, espirit_maps, sense_combine
    from napari_dynmri.physics.fft import ifft2c

    raw = read_raw(path)
    kspace, mask = raw.kspace, raw.mask
    target, meta = None, {"source": str(path), "coils": int(kspace.shape[1]), "format": raw.meta.get("format"),
                          "pixel_spacing_mm": raw.meta.get("pixel_spacing_mm")}
    if kspace.shape[1] > VIRTUAL_COILS:
        kspace, kept = compress_coils(kspace, VIRTUAL_COILS, mask[:, None])
        meta.update(virtual_coils=VIRTUAL_COILS, compression_energy_kept=round(kept, 6))
    maps = espirit_maps(kspace, mask).astype(np.complex64)
    if mask.all():
        acquisition = acquisition or DEFAULT_ACQUISITION
        acquisition.check_rows(mask.shape[1], path)
        target = sense_combine(ifft2c(kspace), maps)
        scale = float(np.abs(target).max()) or 1.0
        target, kspace = (target / scale).astype(np.complex64), (kspace / scale).astype(np.complex64)
        mask = acquisition.mask(mask.shape)
        kspace = kspace * mask[:, None]
        meta.update(mask=acquisition.kind, acceleration=acquisition.acceleration,
                    center_lines=acquisition.center_lines, seed=acquisition.seed)
    meta.update(actual_acceleration=float(actual_acceleration(mask)),
                measured_acceleration=float(sampling_summary(raw.mask)["acceleration"]), shape=list(mask.shape))
    zero_filled = sense_combine(ifft2c(kspace * mask[:, None]), maps).astype(np.complex64)
    return {"kspace": kspace.astype(np.complex64), "mask": mask, "maps": maps, "zero_filled": zero_filled,
            "target": target, "meta": meta}
