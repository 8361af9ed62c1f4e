"""Reconstruction methods behind one interface: zero filling, view sharing, compressed sensing, networks.

Use :func:`get_method` (``"zero-filled"``, ``"view-sharing"``, ``"cs-ttv"``, ``"cs-xf"``, ``"cs-lps"``, ``"cs-auto"``, a
shipped model name or a checkpoint path)
and call ``method.reconstruct(kspace, mask)``: it returns a :class:`Reconstruction`.
"""

from napari_dynmri.recon.methods import (
    BUILTIN_METHODS,
    CS_AUTO,
    CS_LPS,
    CS_METHODS,
    CS_TTV,
    CS_XF,
    DEFAULT_METHOD,
    VIEW_SHARING,
    ZERO_FILLED,
    AutoCompressedSensing,
    CompressedSensingMethod,
    LowRankSparseMethod,
    NetworkMethod,
    ReconCancelled,
    ReconMethod,
    TemporalTVMethod,
    ViewSharing,
    XFSparsityMethod,
    ZeroFilled,
    get_method,
)
from napari_dynmri.recon.result import Reconstruction

__all__ = [
    "AutoCompressedSensing",
    "BUILTIN_METHODS",
    "CS_AUTO",
    "CS_LPS",
    "CS_METHODS",
    "CS_TTV",
    "CS_XF",
    "CompressedSensingMethod",
    "DEFAULT_METHOD",
    "LowRankSparseMethod",
    "NetworkMethod",
    "ReconCancelled",
    "ReconMethod",
    "Reconstruction",
    "TemporalTVMethod",
    "VIEW_SHARING",
    "ViewSharing",
    "XFSparsityMethod",
    "ZERO_FILLED",
    "ZeroFilled",
    "get_method",
]
