"""Choice of the torch device that runs a model."""

from __future__ import annotations

import torch

DEVICE_SPECS = ("auto", "cpu", "cuda", "mps")


def select_device(spec: str = "auto") -> torch.device:
    """``"auto"``: CUDA if available, else Apple MPS if available, else CPU; or one of those by name
    (``"cuda:1"`` selects a GPU). Asking for an unavailable device raises ``ValueError``."""
    kind = spec.split(":", 1)[0]
    if kind not in DEVICE_SPECS:
        raise ValueError(f"unknown device {spec!r}; choose one of {', '.join(DEVICE_SPECS)}")
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if kind == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if (kind == "cuda" and not cuda) or (kind == "mps" and not mps):
        raise ValueError(f"device {spec!r} was requested but is not available here; use 'cpu' or 'auto'")
    return torch.device(spec)
