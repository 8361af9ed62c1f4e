"""Cine MRI readers and writers (DICOM, NIfTI, NumPy, MATLAB, HDF5, TIFF); no napari, Qt or torch.

Format libraries (pydicom, nibabel, scipy, h5py, tifffile) are imported only when a file of their
format is read or written, so importing this package is fast.
"""

from __future__ import annotations

from napari_dynmri.io.cine import Cine, CineReadError
from napari_dynmri.io.kspace import combine_coils, looks_like_kspace
from napari_dynmri.io.readers import can_read, read_cine
from napari_dynmri.io.writers import write_cine

SAMPLE_PREFIX = "sample:"


def open_input(spec: str) -> Cine:
    """Open a command-line input: ``sample:NAME`` loads a bundled sample, anything else is a path.

    ``sample:NAME`` calls :func:`napari_dynmri.data.samples.load_sample` (e.g. ``sample:pig``,
    ``sample:phantom``); other strings go to :func:`read_cine` (a file or a DICOM folder).
    """
    spec = str(spec)
    if spec.startswith(SAMPLE_PREFIX):
        from napari_dynmri.data.samples import load_sample

        return load_sample(spec[len(SAMPLE_PREFIX) :])
    return read_cine(spec)


__all__ = [
    "Cine",
    "CineReadError",
    "can_read",
    "combine_coils",
    "looks_like_kspace",
    "open_input",
    "read_cine",
    "write_cine",
]
