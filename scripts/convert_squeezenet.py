"""Convert the Keras SqueezeNet 1.1 ImageNet trunk (.h5) into the safetensors file the package ships.

Usage (from the repository root)::

    PYTHONPATH=src python scripts/convert_squeezenet.py [H5_PATH] [--output PATH]

Reads each layer's kernel (kh, kw, in, out) and bias by the names listed in the layer's
``weight_names`` attribute, transposes kernels to PyTorch's (out, in, kh, kw), checks that the
result loads strictly into ``SqueezeNetTrunk`` (722,496 parameters) and writes it with
``safetensors.torch.save_file``. Values are copied unchanged (float32).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import h5py
import numpy as np
import torch
from safetensors.torch import save_file

from napari_dynmri.losses.backbones import SQUEEZENET_LAYERS, SQUEEZENET_WEIGHTS, SqueezeNetTrunk

REPO = Path(__file__).resolve().parents[1]
DEFAULT_H5 = REPO.parent / "shared" / "weights" / "squeezenet_weights_tf_dim_ordering_tf_kernels_notop.h5"
DEFAULT_OUTPUT = REPO / "src" / "napari_dynmri" / "losses" / "weights" / SQUEEZENET_WEIGHTS
EXPECTED_PARAMETERS = 722_496


def keras_to_torch_names() -> dict[str, str]:
    """Keras layer name (e.g. 'fire3/expand3x3') -> module prefix in SqueezeNetTrunk ('features.4.expand3x3')."""
    names = {"conv1": f"features.{SQUEEZENET_LAYERS['conv1']}"}
    for fire in range(2, 10):
        index = SQUEEZENET_LAYERS[f"fire{fire}"]
        for keras_part, torch_part in (
            ("squeeze1x1", "squeeze"),
            ("expand1x1", "expand1x1"),
            ("expand3x3", "expand3x3"),
        ):
            names[f"fire{fire}/{keras_part}"] = f"features.{index}.{torch_part}"
    return names


def convert(h5_path: Path) -> dict[str, torch.Tensor]:
    """Read the Keras weights and return a SqueezeNetTrunk state dict (checked by a strict load)."""
    tensors: dict[str, torch.Tensor] = {}
    with h5py.File(h5_path, "r") as h5:
        for keras_name, prefix in keras_to_torch_names().items():
            layer = h5[keras_name]
            kernel_name, bias_name = (name.decode() for name in layer.attrs["weight_names"])
            kernel = np.asarray(layer[kernel_name], dtype=np.float32)  # (kh, kw, in, out)
            bias = np.asarray(layer[bias_name], dtype=np.float32)
            tensors[f"{prefix}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
            tensors[f"{prefix}.bias"] = torch.from_numpy(np.ascontiguousarray(bias))
    SqueezeNetTrunk().load_state_dict(tensors)  # strict: every layer present with the right shape
    count = sum(tensor.numel() for tensor in tensors.values())
    if count != EXPECTED_PARAMETERS:
        raise ValueError(f"Converted {count} parameters, expected {EXPECTED_PARAMETERS}.")
    return tensors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("h5_path", nargs="?", type=Path, default=DEFAULT_H5, help="Keras .h5 weights")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="safetensors file to write")
    args = parser.parse_args(argv)
    tensors = convert(args.h5_path)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    save_file(
        tensors,
        args.output,
        metadata={
            "source": args.h5_path.name,
            "architecture": "SqueezeNet 1.1 trunk (conv1..fire9), Keras port: floor max pooling",
            "input": "BGR, 0..255, minus mean [103.939, 116.779, 123.68]",
            "license": "MIT (Keras port, Jesper Wohlert); see LICENSE.squeezenet",
        },
    )
    print(
        f"wrote {len(tensors)} tensors, {sum(t.numel() for t in tensors.values())} parameters, "
        f"{args.output.stat().st_size} bytes -> {args.output}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
