"""Training losses for complex cine reconstructions (B, T, H, W).

- ``mse_loss``: mean |out - target|^2.
- ``EdgeLoss``: MSE, plus a Sobel edge term after a start iteration (``edges``, on the package's
  one Sobel, ``napari_dynmri.edges``).
- ``PerceptualLoss``: MSE plus a feature distance on a frozen ImageNet CNN (``perceptual``,
  ``backbones``: bundled SqueezeNet 1.1 trunk, or VGG16/VGG19 from local torchvision files).
- ``build_loss``: any weighted combination from a config dict (scheme in ``combined``).
"""

from napari_dynmri.losses.backbones import BACKBONES, load_backbone
from napari_dynmri.losses.combined import (
    CombinedLoss,
    EdgeLoss,
    PerceptualLoss,
    Term,
    build_loss,
    mse_loss,
)
from napari_dynmri.losses.edges import edge_distance
from napari_dynmri.losses.perceptual import FeatureDistance

__all__ = [
    "BACKBONES",
    "CombinedLoss",
    "EdgeLoss",
    "FeatureDistance",
    "PerceptualLoss",
    "Term",
    "build_loss",
    "edge_distance",
    "load_backbone",
    "mse_loss",
]
