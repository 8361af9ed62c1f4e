"""k-space physics of Cartesian cine MRI: centred FFTs, masks, undersampling, data consistency (single- and multi-coil), coil maps."""

from napari_dynmri.physics.acquisition import DEFAULT_ACQUISITION, Acquisition
from napari_dynmri.physics.fft import fft2c, ifft2c
from napari_dynmri.physics.masks import (
    MASK_KINDS,
    actual_acceleration,
    center_rows,
    equispaced_mask,
    make_mask,
    uniform_random_mask,
    vd_random_mask,
)
from napari_dynmri.physics.undersample import adjoint, data_consistency, forward, sense_data_consistency, undersample
from napari_dynmri.physics.view_sharing import view_share

__all__ = [
    "DEFAULT_ACQUISITION",
    "MASK_KINDS",
    "Acquisition",
    "actual_acceleration",
    "adjoint",
    "center_rows",
    "data_consistency",
    "equispaced_mask",
    "fft2c",
    "forward",
    "ifft2c",
    "make_mask",
    "sense_data_consistency",
    "undersample",
    "uniform_random_mask",
    "vd_random_mask",
    "view_share",
]
