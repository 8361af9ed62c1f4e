"""Tests of napari_dynmri.losses: MSE, edge/perceptual losses, backbones, config."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view
from safetensors.torch import save_file
from scipy import ndimage

from conftest import SHARED
from napari_dynmri.losses import (
    EdgeLoss,
    FeatureDistance,
    PerceptualLoss,
    build_loss,
    edge_distance,
    load_backbone,
    mse_loss,
)
from napari_dynmri.losses.backbones import SqueezeNetTrunk, VGGFeatures, vgg_layer_names

KERAS_H5 = SHARED / "weights" / "squeezenet_weights_tf_dim_ordering_tf_kernels_notop.h5"

torch.set_num_threads(1)


def _cine_pair(shape=(1, 2, 40, 40), noise=0.05, seed=0):
    """A complex target with edges (bright disc and bar on a dim background) and a noisy copy."""
    generator = torch.Generator().manual_seed(seed)
    _, _, height, width = shape
    y, x = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    disc = ((y - height / 2) ** 2 + (x - width / 2) ** 2 < (height / 4) ** 2).float()
    bar = ((x > width // 8) & (x < width // 4)).float()
    magnitude = 0.2 + 0.6 * disc + 0.2 * bar
    phase = torch.exp(1j * 0.3 * torch.randn(shape, generator=generator))
    target = (magnitude * phase).to(torch.complex64)
    perturbation = noise * torch.randn(shape, generator=generator, dtype=torch.complex64)
    return target + perturbation, target


# --- MSE -------------------------------------------------------------------------------------


def test_mse_matches_hand_computation():
    out = torch.tensor([[[[1 + 1j, 0j], [3 + 0j, 1j]]]], dtype=torch.complex64)
    target = torch.tensor([[[[0j, 2j], [1 + 0j, 1j]]]], dtype=torch.complex64)
    # |d|^2 = 2, 4, 4, 0 -> mean 2.5
    assert mse_loss(out, target).item() == pytest.approx(2.5)
    with pytest.raises(ValueError, match="same shape"):
        mse_loss(out, target[..., :1])


# --- edge loss -----------------------------------------------------------------------------------


def test_edge_loss_schedule():
    out, target = _cine_pair()
    loss = EdgeLoss(alpha=0.2, start_iteration=100)
    assert loss(target, target, 500).item() == 0.0
    mse = mse_loss(out, target)
    assert loss(out, target, 0).item() == mse.item()
    assert loss(out, target, 99).item() == mse.item()
    after = loss(out, target, 100).item()
    assert after != pytest.approx(mse.item(), rel=1e-3)

    # Independent reference: scipy Sobel per frame.
    def scipy_sobel(frame):
        magnitude = np.abs(frame.numpy()).astype(np.float64)
        return np.hypot(*(ndimage.sobel(magnitude, axis, mode="nearest") for axis in (0, 1)))

    edge_term = np.mean(
        [(scipy_sobel(o) - scipy_sobel(t)) ** 2 for o, t in zip(out[0], target[0], strict=True)]
    )
    assert edge_term > 0
    assert after == pytest.approx(0.8 * mse.item() + 0.2 * edge_term, rel=1e-4)
    assert EdgeLoss(alpha=0.0, start_iteration=0)(out, target, 1000).item() == mse.item()


def test_edge_loss_gradient_finite_on_flat_images():
    _, target = _cine_pair()
    out = torch.zeros_like(target, requires_grad=True)  # flat: Sobel magnitude 0 everywhere
    EdgeLoss(alpha=0.5, start_iteration=0)(out, target, 0).backward()
    assert torch.isfinite(torch.view_as_real(out.grad)).all()
    assert edge_distance(target, target).item() == 0.0


# --- SqueezeNet trunk against an independent numpy forward pass of the Keras weights --------------


def _keras_layer(h5, name):
    layer = h5[name]
    kernel_name, bias_name = (n.decode() for n in layer.attrs["weight_names"])
    return np.asarray(layer[kernel_name], np.float64), np.asarray(layer[bias_name], np.float64)


def _conv(x, kernel_and_bias, stride=1, padding=0):
    """x (C, H, W); Keras kernel (kh, kw, in, out): cross-correlation, as TensorFlow computes it."""
    kernel, bias = kernel_and_bias
    x = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    patches = sliding_window_view(x, kernel.shape[:2], axis=(1, 2))[:, ::stride, ::stride]
    return np.einsum("chwij,ijco->ohw", patches, kernel) + bias[:, None, None]


def _relu(x):
    return np.maximum(x, 0.0)


def _max_pool(x):  # Keras MaxPooling2D((3, 3), (2, 2)), padding 'valid'
    return sliding_window_view(x, (3, 3), axis=(1, 2))[:, ::2, ::2].max(axis=(3, 4))


def _fire(x, h5, fire):
    squeezed = _relu(_conv(x, _keras_layer(h5, f"fire{fire}/squeeze1x1")))
    left = _relu(_conv(squeezed, _keras_layer(h5, f"fire{fire}/expand1x1")))
    right = _relu(_conv(squeezed, _keras_layer(h5, f"fire{fire}/expand3x3"), padding=1))  # 'same'
    return np.concatenate([left, right])


@pytest.mark.skipif(not KERAS_H5.is_file(), reason="needs ../shared/weights (Keras SqueezeNet h5)")
def test_bundled_trunk_reproduces_keras_network():
    h5py = pytest.importorskip("h5py")
    x = np.random.default_rng(2).uniform(-120, 140, size=(3, 37, 37))  # Caffe-range BGR input
    taps = {}
    with h5py.File(KERAS_H5, "r") as h5:
        y = _max_pool(_relu(_conv(x, _keras_layer(h5, "conv1"), stride=2)))
        for fire in range(2, 10):
            y = _fire(y, h5, fire)
            taps[fire] = y
            if fire in (3, 5):
                y = _max_pool(y)
    assert taps[9].shape == (512, 1, 1)  # 37 -> 18 -> 8 -> 3 -> 1 (ceil-mode pooling would give 2)

    trunk = load_backbone("squeezenet")
    indices = {3: 4, 5: 7, 9: 12}
    with torch.no_grad():
        z = torch.from_numpy(x).float()[None]
        outputs = {}
        for index, layer in enumerate(trunk.features):
            z = layer(z)
            outputs[index] = z[0].double().numpy()
    for fire, index in indices.items():
        reference = taps[fire]
        assert outputs[index].shape == reference.shape
        assert np.abs(outputs[index] - reference).max() <= 1e-4 * np.abs(reference).max()
        assert np.abs(reference).max() > 0


def test_squeezenet_trunk_parameters_and_freezing():
    assert sum(p.numel() for p in SqueezeNetTrunk().parameters()) == 722_496
    trunk = load_backbone("squeezenet")
    assert not trunk.training and not any(p.requires_grad for p in trunk.parameters())


# --- perceptual loss -----------------------------------------------------------------------------


def test_perceptual_loss_values_and_gradients():
    out, target = _cine_pair()
    loss = PerceptualLoss("squeezenet", alpha=0.5)
    assert loss(target, target).item() == 0.0
    terms = loss.terms(out, target)
    assert terms["perceptual"].item() > 0
    assert terms["total"].item() == pytest.approx(
        0.5 * terms["mse"].item() + 0.5 * terms["perceptual"].item()
    )

    out = out.clone().requires_grad_(True)
    loss.train()  # the backbone must stay in eval mode
    loss(out, target).backward()
    assert out.grad is not None and torch.view_as_real(out.grad).abs().sum() > 0
    backbone = list(loss.parameters())
    assert len(backbone) == 50
    assert all(p.grad is None and not p.requires_grad for p in backbone)
    assert not any(module.training for module in loss.auxiliary["perceptual"].distance.network.modules())


def test_feature_distance_scale_invariant_and_size_check():
    out, target = _cine_pair(seed=3)
    distance = FeatureDistance("squeezenet", layers=("relu1", "fire3", "fire9"))
    assert distance.min_size == 31  # floor pooling: 31 -> 15 -> 7 -> 3 -> 1
    value = distance(out, target)
    assert distance(40 * out, 40 * target).item() == pytest.approx(value.item(), rel=1e-4)
    with pytest.raises(ValueError, match="at least 31"):
        distance(out[..., :30, :], target[..., :30, :])
    with pytest.raises(ValueError, match="not valid"):
        FeatureDistance("squeezenet", layers=("fire10",))
    with pytest.raises(ValueError, match=r"\(B, T, H, W\)"):
        distance(out[0], target[0])


def test_vgg_layout():
    assert sum(p.numel() for p in VGGFeatures("vgg16").parameters()) == 14_714_688
    assert sum(p.numel() for p in VGGFeatures("vgg19").parameters()) == 20_024_384
    assert vgg_layer_names("vgg16")["relu4_3"] == 22 and len(VGGFeatures("vgg16").features) == 31
    assert vgg_layer_names("vgg19")["relu5_4"] == 35 and len(VGGFeatures("vgg19").features) == 37


def test_vgg_without_weights_says_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    expected = tmp_path / "checkpoints" / "vgg19-dcbb9e9d.pth"
    with pytest.raises(FileNotFoundError) as info:
        PerceptualLoss("vgg19")
    assert str(expected) in str(info.value)
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        PerceptualLoss("vgg16", weights_path=missing)


def test_vgg_loads_state_dict_files(tmp_path, monkeypatch):
    torch.manual_seed(0)
    state = VGGFeatures("vgg16").state_dict()
    checkpoint = dict(state, **{"classifier.0.weight": torch.zeros(2, 2)})  # like a torchvision file
    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    torch.save(checkpoint, hub / "checkpoints" / "vgg16-397923af.pth")
    save_file(state, tmp_path / "vgg16.safetensors")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))

    out, target = _cine_pair(shape=(1, 1, 16, 16))
    for weights_path in (None, tmp_path / "vgg16.safetensors"):
        distance = FeatureDistance("vgg16", layers=("relu1_2", "relu3_3"), weights_path=weights_path)
        assert torch.equal(distance.network[0].weight, state["features.0.weight"])
        assert torch.equal(distance.network[14].bias, state["features.14.bias"])
        assert len(distance.network) == 16  # truncated after relu3_3
        assert distance(target, target).item() == 0.0 and distance(out, target).item() > 0

    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "wrong.pth")
    with pytest.raises(ValueError, match="do not match"):
        load_backbone("vgg16", tmp_path / "wrong.pth")


# --- configuration -------------------------------------------------------------------------------


def test_build_loss_reproduces_founding_losses():
    out, target = _cine_pair()
    edge = build_loss({"mse": 1.0, "edge": {"weight": 0.2, "start_iteration": 100}})
    reference = EdgeLoss(alpha=0.2, start_iteration=100)
    for iteration in (0, 99, 100, 250):
        assert edge(out, target, iteration).item() == reference(out, target, iteration).item()
    assert set(edge.terms(out, target, 50)) == {"mse", "total"}
    assert set(edge.terms(out, target, 150)) == {"mse", "edge", "total"}
    assert build_loss(None)(out, target).item() == mse_loss(out, target).item()

    combined = build_loss({"edge": {"weight": 0.2, "start_iteration": 100}, "perceptual": 0.1})
    assert combined.weights(0) == pytest.approx({"mse": 0.9, "perceptual": 0.1})
    assert combined.weights(100) == pytest.approx({"mse": 0.7, "edge": 0.2, "perceptual": 0.1})
    terms = combined.terms(out, target, 100)
    expected = 0.7 * terms["mse"] + 0.2 * terms["edge"] + 0.1 * terms["perceptual"]
    assert terms["total"].item() == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"perceptal": 0.1}, r"unknown loss key 'perceptal' \(known: mse, edge, perceptual\)"),
        ({"edge": {"weight": 0.1, "start": 5}}, r"unknown edge loss option 'start' \(known: weight, start_iteration\)"),
        ({"edge": {"start_iteration": 5}}, "'weight'"),
        ({"edge": "strong"}, "must be a weight"),
        ({"mse": 1.0, "edge": 0.7, "perceptual": 0.5}, "more than the mse weight"),
        ({"edge": -0.1}, "a loss weight must be a number >= 0, got -0.1"),
        ({"edge": {"weight": 0.1, "start_iteration": 2.5}}, "start_iteration must be an integer >= 0, got 2.5"),
        ({"perceptual": {"weight": 0.1, "backbone": "resnet"}}, "Unknown backbone"),
    ],
)
def test_build_loss_rejects_bad_configs(config, message):
    with pytest.raises(ValueError, match=message):
        build_loss(config)
