"""Feature (perceptual) distance between magnitude cines on a frozen ImageNet CNN.

Each magnitude frame (H, W) is scaled so that the target's maximum over its cine is 1 (the project's
convention; the scale is taken from the target and not differentiated), replicated to 3 channels and
mapped to the backbone's input convention (``backbones.BackboneInfo``): for the Keras SqueezeNet
``frame * 255 - [103.939, 116.779, 123.68]`` (Caffe BGR), for VGG ``(frame - ImageNet mean) / std``.
The distance is the mean over the chosen layers of ``mean((F_l(|out|) - F_l(|target|))^2)``, each
layer normalised by its element count so that layers of different sizes weigh alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from napari_dynmri.losses.backbones import BACKBONES, Fire, load_backbone
from napari_dynmri.validation import check_axes, check_same_shape


def _output_size(layers: nn.Sequential, size: int) -> int:
    """Spatial size after ``layers`` for an input of ``size`` pixels (fire modules keep the size)."""
    for layer in layers:
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
            kernel, stride, padding = (
                value if isinstance(value, int) else value[0]
                for value in (layer.kernel_size, layer.stride, layer.padding)
            )
            span = size + 2 * padding - kernel
            ceil = isinstance(layer, nn.MaxPool2d) and layer.ceil_mode
            size = (-(-span // stride) if ceil else span // stride) + 1
        elif not isinstance(layer, (nn.ReLU, Fire)):
            raise TypeError(f"Unexpected layer {type(layer).__name__} in a backbone.")
    return size


class FeatureDistance(nn.Module):
    """Perceptual distance on a frozen pretrained backbone.

    backbone: "squeezenet" (bundled weights), "vgg16" or "vgg19" (torchvision files in the torch hub
    cache, or ``weights_path``); layers: names from ``BACKBONES[backbone].layers`` (default
    ``BACKBONES[backbone].default_layers``: fire3, fire5, fire9 for SqueezeNet).
    Called as ``distance(out, target)`` on complex (B, T, H, W) tensors; returns a real scalar.
    The backbone is truncated after the deepest chosen layer, stays in eval mode with no gradients,
    and follows the input's device.
    """

    def __init__(
        self,
        backbone: str = "squeezenet",
        layers: Sequence[str] | None = None,
        weights_path: str | Path | None = None,
    ):
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"Unknown backbone {backbone!r}; choose one of {sorted(BACKBONES)}.")
        info = BACKBONES[backbone]
        layers = tuple(info.default_layers if layers is None else layers)
        unknown = [name for name in layers if name not in info.layers]
        if unknown or not layers:
            raise ValueError(
                f"Layers {list(unknown or layers)} are not valid for {backbone}; choose from {list(info.layers)}."
            )
        self.layer_names = layers
        self.tap_indices = frozenset(info.layers[name] for name in layers)
        network = load_backbone(backbone, weights_path)
        self.network = network.features[: max(self.tap_indices) + 1]
        self.min_size = next(size for size in range(1, 4096) if _output_size(self.network, size) >= 1)
        self.input_scale = info.input_scale
        self.register_buffer("input_mean", torch.tensor(info.input_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("input_std", torch.tensor(info.input_std).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> FeatureDistance:
        """Keep the backbone in eval mode whatever the surrounding module's mode."""
        super().train(mode)
        self.network.eval()
        return self

    def _network_input(self, cine: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """Complex (B, T, H, W) -> backbone input (B*T, 3, H, W) in the backbone's dtype (float32)."""
        frames = (cine.abs() * scale).reshape(-1, 1, *cine.shape[-2:]).to(self.input_mean.dtype)
        return (frames.expand(-1, 3, -1, -1) * self.input_scale - self.input_mean) / self.input_std

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        taps = []
        for index, layer in enumerate(self.network):
            x = layer(x)
            if index in self.tap_indices:
                taps.append(x)
        return taps

    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_same_shape(out, target, "out and target")
        check_axes(out.shape, "(B, T, H, W)", "out and target")
        if min(out.shape[-2:]) < self.min_size:
            raise ValueError(
                f"Frames of {tuple(out.shape[-2:])} pixels are too small for layers {list(self.layer_names)}: "
                f"they need at least {self.min_size} x {self.min_size}."
            )
        if self.input_mean.device != out.device:
            self.to(out.device)
        with torch.no_grad():
            peak = target.abs().amax(dim=(1, 2, 3), keepdim=True)
            scale = torch.where(peak > 0, 1.0 / peak, torch.ones_like(peak))
            target_features = self._features(self._network_input(target, scale))
        out_features = self._features(self._network_input(out, scale))
        return torch.stack(
            [(a - b).square().mean() for a, b in zip(out_features, target_features, strict=True)]
        ).mean()
