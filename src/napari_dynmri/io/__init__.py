"""Cine MRI readers and writers (DICOM, NIfTI, NumPy, MATLAB, HDF5, TIFF); no napari, Qt or torch.

Format libraries (pydicom, nibabel, scipy, h5py, tifffile) are imported only when a file of their
format is read or written, so importing this package is fast.
"""

from __future__ import annotations

from napari_dynmri.io.cine import Cine, CineReadError
from napari_dynmri.io.kspace import combine_coils, looks_like_kspace
from napari_dynmri.io.readers import can_read, read_cine
from napari_dynmri.io.writers import write_cine

__all__ = [
    "Cine",
    "CineReadError",
    "can_read",
    "combine_coils",
    "looks_like_kspace",
    "read_cine",
    "write_cine",
]
