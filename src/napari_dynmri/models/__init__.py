"""Reconstruction networks for cine MRI (torch): architectures, registry, checkpoints, shipped models.

Every model maps ``(zero_filled, kspace, mask)`` — complex64 ``(B, T, H, W)`` images and k-space,
bool ``(B|1, T, H, W)`` mask — to a complex64 ``(B, T, H, W)`` reconstruction, at any intensity scale
(see :mod:`napari_dynmri.models.base`).
"""

from napari_dynmri.models.base import ReconNet
from napari_dynmri.models.cascade import CascadeNet, DataConsistency
from napari_dynmri.models.checkpoint import ModelLoadError, load_model, read_card, save_model
from napari_dynmri.models.device import select_device
from napari_dynmri.models.down_up import DownUpNet
from napari_dynmri.models.fast import FastNet
from napari_dynmri.models.layers import channels_to_complex, complex_to_channels
from napari_dynmri.models.naive import NaiveNet
from napari_dynmri.models.pretrained import DEFAULT_MODEL, list_pretrained, resolve_model
from napari_dynmri.models.registry import MODEL_REGISTRY, build_model

__all__ = [
    "DEFAULT_MODEL",
    "MODEL_REGISTRY",
    "CascadeNet",
    "DataConsistency",
    "DownUpNet",
    "FastNet",
    "ModelLoadError",
    "NaiveNet",
    "ReconNet",
    "build_model",
    "channels_to_complex",
    "complex_to_channels",
    "list_pretrained",
    "load_model",
    "read_card",
    "resolve_model",
    "save_model",
    "select_device",
]
