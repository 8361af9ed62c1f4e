"""Reconstruction methods behind one interface: zero filling, temporal-TV compressed sensing, networks.

Use :func:`get_method` (``"zero-filled"``, ``"view-sharing"``, ``"cs-ttv"``, a shipped model name or a checkpoint path)
and call ``method.reconstruct(kspace, mask)``.
"""

from napari_dynmri.recon.methods import (
    BUILTIN_METHODS,
    CS_TTV,
    ZERO_FILLED,
    NetworkMethod,
    ReconCancelled,
    ReconMethod,
    TemporalTVMethod,
    VIEW_SHARING,
    ViewSharing,
    ZeroFilled,
    get_method,
)

__all__ = [
    "BUILTIN_METHODS",
    "CS_TTV",
    "NetworkMethod",
    "ReconCancelled",
    "ReconMethod",
    "TemporalTVMethod",
    "VIEW_SHARING",
    "ViewSharing",
    "ZERO_FILLED",
    "ZeroFilled",
    "get_method",
]
