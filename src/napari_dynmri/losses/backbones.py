"""Frozen ImageNet feature networks for the perceptual loss, defined in-project (no torchvision).

- ``SqueezeNetTrunk``: SqueezeNet 1.1 up to fire9 (722,496 parameters), the layers of torchvision's
  ``squeezenet1_1().features`` (same ``features.N`` state-dict keys). It reproduces the Keras port
  (rcmalli/keras-squeezenet) whose ImageNet weights ship with the package: ``conv1`` without padding,
  max pooling without ``ceil_mode`` (Keras 'valid'; torchvision uses ``ceil_mode=True``), and inputs
  in Caffe convention (BGR channel order, 0..255 scale, per-channel mean subtracted, no std).
- ``VGGFeatures("vgg16" | "vgg19")``: torchvision's ``vgg16().features`` / ``vgg19().features`` with
  identical indexing, so torchvision checkpoints load (``features.N.weight`` / ``.bias``; other keys,
  such as the classifier, are ignored). Inputs in torchvision convention (RGB, 0..1, ImageNet mean/std).

``load_backbone`` returns a network in eval mode with ``requires_grad`` False. Nothing is downloaded:
the SqueezeNet trunk comes from the package (safetensors, no pickle); VGG weights must exist locally.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import load_file as load_safetensors_file
from torch import nn

SQUEEZENET_WEIGHTS = "squeezenet1_1_trunk.safetensors"
VGG_CHECKPOINTS = {"vgg16": "vgg16-397923af.pth", "vgg19": "vgg19-dcbb9e9d.pth"}

_VGG_CONVS_PER_BLOCK = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
_VGG_WIDTHS = (64, 128, 256, 512, 512)


class Fire(nn.Module):
    """SqueezeNet fire module: 1x1 squeeze, then 1x1 and 3x3 ('same') expands, concatenated.

    (N, in_channels, H, W) -> (N, expand1x1 + expand3x3, H, W); attribute names follow torchvision.
    """

    def __init__(self, in_channels: int, squeeze: int, expand1x1: int, expand3x3: int):
        super().__init__()
        self.squeeze = nn.Conv2d(in_channels, squeeze, kernel_size=1)
        self.squeeze_activation = nn.ReLU()
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, kernel_size=1)
        self.expand1x1_activation = nn.ReLU()
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat(
            [
                self.expand1x1_activation(self.expand1x1(x)),
                self.expand3x3_activation(self.expand3x3(x)),
            ],
            dim=1,
        )


class SqueezeNetTrunk(nn.Module):
    """SqueezeNet 1.1 convolutional trunk as in the Keras port (conv1 .. fire9).

    Input (N, 3, H, W) float32 in Caffe convention (BGR, 0..255 minus the channel mean), H, W >= 31
    to reach fire9; output (N, 512, H', W') with H' = 1 for H = 31..46 (floor pooling).
    """

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=3, stride=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            Fire(64, 16, 64, 64),
            Fire(128, 16, 64, 64),
            nn.MaxPool2d(kernel_size=3, stride=2),
            Fire(128, 32, 128, 128),
            Fire(256, 32, 128, 128),
            nn.MaxPool2d(kernel_size=3, stride=2),
            Fire(256, 48, 192, 192),
            Fire(384, 48, 192, 192),
            Fire(384, 64, 256, 256),
            Fire(512, 64, 256, 256),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


SQUEEZENET_LAYERS = {
    "conv1": 0, "relu1": 1, "pool1": 2, "fire2": 3, "fire3": 4, "pool3": 5, "fire4": 6, "fire5": 7,
    "pool5": 8, "fire6": 9, "fire7": 10, "fire8": 11, "fire9": 12,
}  # fmt: skip


def vgg_layer_names(name: str) -> dict[str, int]:
    """Index in ``VGGFeatures(name).features`` of each layer: ``conv{block}_{k}``, ``relu{block}_{k}``,
    ``pool{block}`` (blocks and convolutions counted from 1, as in the VGG paper)."""
    names: dict[str, int] = {}
    for block, convs in enumerate(_VGG_CONVS_PER_BLOCK[name], start=1):
        for k in range(1, convs + 1):
            names[f"conv{block}_{k}"] = len(names)
            names[f"relu{block}_{k}"] = len(names)
        names[f"pool{block}"] = len(names)
    return names


class VGGFeatures(nn.Module):
    """torchvision's VGG16/VGG19 ``features`` (no batch norm): (N, 3, H, W) -> (N, 512, H/32, W/32)."""

    def __init__(self, name: str):
        super().__init__()
        if name not in _VGG_CONVS_PER_BLOCK:
            raise ValueError(f"Unknown VGG {name!r}; choose one of {sorted(_VGG_CONVS_PER_BLOCK)}.")
        layers: list[nn.Module] = []
        in_channels = 3
        for convs, width in zip(_VGG_CONVS_PER_BLOCK[name], _VGG_WIDTHS, strict=True):
            for _ in range(convs):
                layers += [nn.Conv2d(in_channels, width, kernel_size=3, padding=1), nn.ReLU()]
                in_channels = width
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        self.features = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


@dataclass(frozen=True)
class BackboneInfo:
    """Layer names and input convention of a backbone.

    A magnitude frame on a 0..1 scale becomes the network input ``(frame * input_scale - mean) / std``
    per channel (channel order as the network was trained: BGR for SqueezeNet, RGB for VGG).
    """

    layers: Mapping[str, int]
    default_layers: tuple[str, ...]
    input_scale: float
    input_mean: tuple[float, float, float]
    input_std: tuple[float, float, float]


_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)

BACKBONES: dict[str, BackboneInfo] = {
    # fire3 (1/4 resolution, fine texture), fire5 (1/8), fire9 (1/16, deepest, most semantic).
    "squeezenet": BackboneInfo(
        SQUEEZENET_LAYERS, ("fire3", "fire5", "fire9"), 255.0, (103.939, 116.779, 123.68), (1.0, 1.0, 1.0)
    ),
    # The classic perceptual-loss taps (Johnson et al. 2016): last ReLU of blocks 1-4.
    "vgg16": BackboneInfo(
        vgg_layer_names("vgg16"),
        ("relu1_2", "relu2_2", "relu3_3", "relu4_3"),
        1.0,
        _IMAGENET_MEAN,
        _IMAGENET_STD,
    ),
    "vgg19": BackboneInfo(
        vgg_layer_names("vgg19"),
        ("relu1_2", "relu2_2", "relu3_4", "relu4_4"),
        1.0,
        _IMAGENET_MEAN,
        _IMAGENET_STD,
    ),
}


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a plain state dict from ``.safetensors`` or a ``.pth`` file (``torch.load(weights_only=True)``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Weights file not found: {path}")
    if path.suffix == ".safetensors":
        return load_safetensors_file(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping):
        raise ValueError(f"{path} does not hold a plain state dict (name -> tensor).")
    return dict(state)


def vgg_weights_path(name: str, weights_path: str | Path | None = None) -> Path:
    """Where the ImageNet weights of ``name`` are read from: ``weights_path`` if given, else
    torchvision's file in the torch hub cache. Raises FileNotFoundError saying where to put it."""
    if weights_path is not None:
        return Path(weights_path)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / VGG_CHECKPOINTS[name]
    if not cached.is_file():
        raise FileNotFoundError(
            f"{name.upper()} ImageNet weights are not available offline: put torchvision's "
            f"{VGG_CHECKPOINTS[name]} at {cached}, or pass weights_path= a .pth state dict or "
            ".safetensors file (nothing is downloaded)."
        )
    return cached


def load_backbone(name: str, weights_path: str | Path | None = None) -> nn.Module:
    """Build backbone ``name`` ("squeezenet", "vgg16", "vgg19") with ImageNet weights, frozen.

    ``weights_path``: optional state dict (.pth or .safetensors) with ``features.N.*`` keys; without it
    SqueezeNet uses the bundled trunk and VGG the torch hub cache (see ``vgg_weights_path``).
    Returns the module in eval mode with ``requires_grad`` False on every parameter.
    """
    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}; choose one of {sorted(BACKBONES)}.")
    if name == "squeezenet":
        network: nn.Module = SqueezeNetTrunk()
        if weights_path is None:
            bundled = resources.files(__package__) / "weights" / SQUEEZENET_WEIGHTS
            state = load_safetensors_bytes(bundled.read_bytes())
        else:
            state = read_state_dict(weights_path)
    else:
        network = VGGFeatures(name)
        weights_path = vgg_weights_path(name, weights_path)
        state = read_state_dict(weights_path)
    features = {key: value for key, value in state.items() if key.startswith("features.")}
    try:
        network.load_state_dict(features)
    except RuntimeError as error:
        raise ValueError(
            f"Weights {weights_path or SQUEEZENET_WEIGHTS} do not match the {name} layout: {error}"
        ) from None
    network.eval()
    network.requires_grad_(False)
    return network
