"""Reconstruction networks: shapes, data consistency, scale invariance, checkpoints, registry, CLI."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from napari_dynmri.cli import main as cli_main
from napari_dynmri.cli import models as models_cli
from napari_dynmri.models import (
    MODEL_REGISTRY,
    ModelLoadError,
    build_model,
    channels_to_complex,
    complex_to_channels,
    list_pretrained,
    load_model,
    resolve_model,
    save_model,
    select_device,
)
from napari_dynmri.models.cascade import CascadeNet
from napari_dynmri.models.checkpoint import WEIGHTS_FILE
from napari_dynmri.models.layers import FramewiseConv3d, FramewiseConvTranspose3d, TemporalConv3d
from napari_dynmri.physics import fft2c, ifft2c, make_mask, view_share
from napari_dynmri.recon import DEFAULT_METHOD

SHAPE = (1, 7, 90, 117)  # (B, T, H, W): W odd, to exercise padding
SMALL = (1, 5, 33, 45)  # H and W odd, for the option sweep


def _acquisition(shape=SHAPE, seed=0, scale=1.0):
    """A random complex cine (max |x| about ``scale``), its row mask, k-space and zero-filled image."""
    gen = torch.Generator().manual_seed(seed)
    image = torch.complex(torch.randn(shape, generator=gen), torch.randn(shape, generator=gen)) * 0.3
    mask = torch.from_numpy(make_mask("vd-random", shape[1:], 4, center_lines=4, seed=seed))[None]
    kspace = fft2c(image * scale) * mask
    return ifft2c(kspace), kspace, mask


def _model(name, **config):
    torch.manual_seed(0)
    return build_model(name, {"channels": 8, **config}).eval()


def test_channel_view_round_trip():
    x = torch.complex(torch.arange(6.0).reshape(1, 1, 2, 3), -torch.ones(1, 1, 2, 3))
    y = complex_to_channels(x)
    assert y.shape == (1, 2, 1, 2, 3)
    assert torch.equal(y[:, 0], x.real) and torch.equal(y[:, 1], x.imag)
    assert torch.equal(channels_to_complex(y), x)


def test_temporal_conv_equals_conv3d():
    torch.manual_seed(0)
    fast = TemporalConv3d(3, 4, 3)
    reference = torch.nn.Conv3d(3, 4, (3, 1, 1), padding=(1, 0, 0))
    reference.load_state_dict(fast.state_dict())
    x = torch.randn(2, 3, 5, 6, 7)
    torch.testing.assert_close(fast(x), reference(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("stride, padding", [(1, 1), (2, 1)])
def test_framewise_convs_equal_their_3d_counterparts(stride, padding):
    x = torch.randn(2, 3, 5, 8, 10)
    fast = FramewiseConv3d(3, 4, (4, 4) if stride == 2 else (3, 3), stride=stride, padding=padding)
    reference = torch.nn.Conv3d(3, 4, fast.kernel_size, stride=fast.stride, padding=fast.padding)
    reference.load_state_dict(fast.state_dict())
    torch.testing.assert_close(fast(x), reference(x), rtol=1e-5, atol=1e-6)
    up = FramewiseConvTranspose3d(3, 2, (4, 4), stride=2, padding=1)
    reference_up = torch.nn.ConvTranspose3d(3, 2, up.kernel_size, stride=up.stride, padding=up.padding)
    reference_up.load_state_dict(up.state_dict())
    torch.testing.assert_close(up(x), reference_up(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["naive", "complex", "fast", "cascade"])
def test_every_architecture_keeps_shape_and_dtype(name):
    zero_filled, kspace, mask = _acquisition()
    config = {"n_stages": 2} if name == "cascade" else {}
    with torch.no_grad():
        out = _model(name, **config)(zero_filled, kspace, mask)
    assert out.shape == SHAPE and out.dtype == torch.complex64
    assert torch.isfinite(torch.view_as_real(out)).all()


@pytest.mark.parametrize(
    "name, config",
    [
        ("naive", {"batchnorm": True}),
        ("naive", {"dropout": 0.2}),
        ("naive", {"kernel": "2+1d", "depth": 3}),
        ("naive", {"activation": "leaky_relu"}),
        ("naive", {"activation": "gelu"}),
        ("naive", {"activation": "silu"}),
        ("complex", {"kernel": "2+1d", "batchnorm": True, "dropout": 0.1, "depth": 2}),
        ("complex", {"kernel": "2+1d", "depth": 2, "fuse_channels": 3}),
        ("fast", {"kernel": "3d", "depth": 2}),
        ("fast", {"batchnorm": True, "dropout": 0.1, "activation": "gelu"}),
        ("cascade", {"n_stages": 1, "block": "naive", "kernel": "2+1d"}),
        ("cascade", {"n_stages": 3, "block": "complex", "depth": 1, "dc": "soft", "dc_learnable": False}),
    ],
)
def test_options_keep_shape_and_dtype(name, config):
    zero_filled, kspace, mask = _acquisition(SMALL)
    model = _model(name, **config).train("batchnorm" in config or "dropout" in config)
    with torch.no_grad():
        out = model(zero_filled, kspace, mask)
    assert out.shape == SMALL and out.dtype == torch.complex64


@pytest.mark.parametrize("block", ["naive", "complex", "fast"])
def test_hard_dc_keeps_measured_kspace(block):
    zero_filled, kspace, mask = _acquisition(SMALL, seed=1)
    with torch.no_grad():
        out = _model("cascade", n_stages=2, block=block, depth=2, dc="hard")(zero_filled, kspace, mask)
    sampled = mask.expand_as(kspace)
    torch.testing.assert_close(fft2c(out)[sampled], kspace[sampled], rtol=0, atol=1e-5)
    # unsampled k-space is the network's, not zero
    assert fft2c(out)[~sampled].abs().mean() > 1e-3



class _MagnitudeGain(torch.nn.Module):
    """A regulariser of no registered architecture, on complex images: ``x + g_t x |x|``, a learnt
    complex ``g_t`` per frame (non-linear, so it fills unsampled k-space)."""

    def __init__(self, frames):
        super().__init__()
        self.gain = torch.nn.Parameter(torch.full((frames, 1, 1), 0.5 + 0.1j, dtype=torch.complex64))

    def forward(self, x):
        return x + self.gain * x * x.abs()


def test_a_cascade_of_any_module_trains_and_keeps_measured_kspace():
    zero_filled, kspace, mask = _acquisition(SMALL, seed=7)
    target = ifft2c(fft2c(zero_filled) + 0.1 * (~mask) * kspace.abs().mean())
    model = CascadeNet([_MagnitudeGain(SMALL[1]) for _ in range(2)])
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    loss = (model(zero_filled, kspace, mask) - target).abs().square().mean()
    loss.backward()
    optimizer.step()
    assert all(not torch.equal(p, q) for p, q in zip(model.parameters(), before))
    assert set(model.state_dict()) == {"stages.0.block.gain", "stages.1.block.gain"}
    with torch.no_grad():
        out = model(zero_filled, kspace, mask)
    sampled = mask.expand_as(kspace)
    torch.testing.assert_close(fft2c(out)[sampled], kspace[sampled], rtol=0, atol=1e-5)
    assert fft2c(out)[~sampled].abs().mean() > 1e-3  # the modules fill the unsampled lines
    with pytest.raises(ValueError, match="at least one regulariser"):
        CascadeNet([])


# Outputs of the shipped models on ``_acquisition(SMALL, seed=6)`` (one thread), recorded with the
# code that trained them: sum |x|, sum Re x, sum Im x and the value at [0, 2, 10, 20].
SHIPPED_OUTPUTS = {
    "dynmri-default": (1826.5183372913568, 17.914311205351623, -1.4202543564788357,
                       -0.12977899610996246 - 0.4411967396736145j),
    "dynmri-refine": (1385.8361809975386, 17.91431115490559, -1.420255843590894,
                      -0.07058878242969513 - 0.2425905168056488j),
}


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("name", [entry["name"] for entry in list_pretrained()])
def test_shipped_models_give_their_recorded_outputs(name):
    model, _ = resolve_model(name)
    with torch.no_grad():
        out = model(*_acquisition(SMALL, seed=6)).to(torch.complex128)
    found = (out.abs().sum().item(), out.real.sum().item(), out.imag.sum().item(), out[0, 2, 10, 20].item())
    np.testing.assert_allclose(found, SHIPPED_OUTPUTS[name], rtol=1e-5, atol=1e-6)

def test_soft_dc_averages_network_and_measurement():
    zero_filled, kspace, mask = _acquisition(SMALL, seed=2, scale=5.0)
    model = _model("cascade", n_stages=1, block="naive", dc="soft", dc_learnable=False, dc_noise_level=3.0)
    with torch.no_grad():
        out = model(zero_filled, kspace, mask)
        scale = zero_filled.abs().max()
        block_out = channels_to_complex(model.stages[0].block(complex_to_channels(zero_filled / scale)))
    k_net = fft2c(block_out) * scale
    sampled = mask.expand_as(kspace)
    expected = torch.where(sampled, (k_net + 3.0 * kspace) / 4.0, k_net)
    torch.testing.assert_close(fft2c(out), expected, rtol=1e-4, atol=1e-4)
    # strictly between the network's and the measured values on sampled lines
    k_out = fft2c(out)[sampled]
    assert (k_out - kspace[sampled]).abs().mean() < (k_net[sampled] - kspace[sampled]).abs().mean()


def test_gradients_reach_learnable_soft_dc_and_weights():
    zero_filled, kspace, mask = _acquisition(SMALL)
    model = _model("cascade", n_stages=2, dc="soft", dc_learnable=True, dc_noise_level=0.5).train()
    levels = [stage.dc.noise_level().item() for stage in model.stages]
    np.testing.assert_allclose(levels, [0.5, 0.5], rtol=1e-6)
    model(zero_filled, kspace, mask).abs().square().mean().backward()
    for stage in model.stages:
        grad = stage.dc.raw_level.grad
        assert grad is not None and torch.isfinite(grad) and grad != 0
    first_conv = model.stages[0].block.coarse[0].weight
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0


@pytest.mark.parametrize("kernel", ["3d", "2+1d"])
def test_naive_with_zero_last_layer_returns_its_input(kernel):
    zero_filled, kspace, mask = _acquisition(SMALL, scale=7.0)
    model = _model("naive", kernel=kernel)
    last = [m for m in model.modules() if isinstance(m, torch.nn.Conv3d)][-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    with torch.no_grad():
        out = model(zero_filled, kspace, mask)
    torch.testing.assert_close(out, zero_filled, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("share_frames", [0, 2])
def test_view_sharing_cascade_with_identity_blocks_returns_the_view_shared_image(share_frames):
    zero_filled, kspace, mask = _acquisition(SMALL, scale=3.0)
    model = _model("cascade", n_stages=2, block="complex", depth=2, init="view-sharing",
                   share_frames=share_frames)
    for stage in model.stages:
        for parameter in stage.block.fuse.parameters():
            torch.nn.init.zeros_(parameter)
    with torch.no_grad():
        out = model(zero_filled, kspace, mask)
    expected = ifft2c(view_share(kspace, mask, share_frames))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(out, zero_filled, atol=1e-3)


def test_cs_xf_cascade_with_identity_blocks_returns_the_cs_xf_image():
    from napari_dynmri.recon.sparse import xf_reconstruct

    zero_filled, kspace, mask = _acquisition(SMALL, scale=3.0)
    model = _model("cascade", n_stages=2, block="complex", depth=2, init="cs-xf", init_lam=0.002,
                   init_iterations=20)
    for stage in model.stages:
        for parameter in stage.block.fuse.parameters():
            torch.nn.init.zeros_(parameter)
    with torch.no_grad():
        out = model(zero_filled, kspace, mask)
    full_mask = mask.expand_as(kspace)[0].numpy()
    start = xf_reconstruct(kspace[0].numpy(), full_mask, lam=0.002, iterations=20)
    # identity blocks, then hard data consistency: the measured lines of the start are restored
    expected = ifft2c(np.where(full_mask, kspace[0].numpy(), fft2c(start)))
    np.testing.assert_allclose(out[0].numpy(), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    with pytest.raises(ValueError, match="init_lam"):
        build_model("cascade", {"init": "cs-xf", "init_lam": -1.0})


@pytest.mark.parametrize(
    "name, config",
    [("naive", {}), ("complex", {"depth": 2}), ("fast", {}), ("cascade", {"n_stages": 2, "dc": "soft"})],
)
def test_output_scales_with_input(name, config):
    zero_filled, kspace, mask = _acquisition(SMALL, seed=3)
    model = _model(name, **config)
    c = 123.4
    with torch.no_grad():
        out = model(zero_filled, kspace, mask)
        out_scaled = model(c * zero_filled, c * kspace, mask)
    torch.testing.assert_close(out_scaled, c * out, rtol=1e-4, atol=1e-4 * c * out.abs().max().item())


def test_save_load_round_trip_is_bit_identical(tmp_path):
    zero_filled, kspace, mask = _acquisition(SMALL)
    model = _model("cascade", n_stages=2, block="complex", depth=2, batchnorm=True, dc="soft")
    with torch.no_grad():
        model.stages[1].dc.raw_level.fill_(0.25)  # a "trained" value that the file must carry
    card = {"description": "test", "metrics": {"test": {"psnr": 30.0}}}
    folder = save_model(model, tmp_path / "ckpt", card=card)
    card = json.loads((folder / "model.json").read_text())
    assert card["format"] == "napari-dynmri-model" and card["format_version"] == 1
    assert card["architecture"] == "cascade" and card["description"] == "test"
    with torch.no_grad():
        expected = model(zero_filled, kspace, mask)
    for path in (folder, folder / "model.json", folder / WEIGHTS_FILE):
        loaded, loaded_card = load_model(path)
        assert not loaded.training
        assert loaded.config == model.config and loaded_card["metrics"]["test"]["psnr"] == 30.0
    with torch.no_grad():
        assert torch.equal(loaded(zero_filled, kspace, mask), expected)


def test_card_may_not_overwrite_reserved_keys(tmp_path):
    with pytest.raises(ValueError, match="architecture"):
        save_model(_model("naive"), tmp_path, card={"architecture": "other"})


def test_weights_of_another_architecture_are_refused(tmp_path):
    folder = save_model(_model("naive"), tmp_path / "ckpt")
    card = json.loads((folder / "model.json").read_text())
    card["architecture"], card["config"] = "fast", {"channels": 8}
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match="do not fit architecture 'fast'.*missing: "):
        load_model(folder)


def test_weights_of_another_width_are_refused(tmp_path):
    folder = save_model(_model("naive"), tmp_path / "ckpt")
    card = json.loads((folder / "model.json").read_text())
    card["config"]["channels"] = 4
    (folder / "model.json").write_text(json.dumps(card))
    expected = r"shape mismatch: block.layers.0.0.weight file \(8, 2, 3, 3, 3\) vs model \(4, 2"
    with pytest.raises(ModelLoadError, match=expected):
        load_model(folder)


def test_corrupt_or_missing_files_are_refused(tmp_path):
    folder = save_model(_model("naive"), tmp_path / "ckpt")
    weights = folder / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ModelLoadError, match="safetensors"):
        load_model(folder)
    weights.unlink()
    with pytest.raises(ModelLoadError, match="weights.safetensors is missing"):
        load_model(folder)
    (folder / "model.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        load_model(folder)
    with pytest.raises(ModelLoadError, match="no such file"):
        load_model(tmp_path / "nowhere")
    card = {"format": "napari-dynmri-model", "format_version": 1, "architecture": "vit", "config": {}}
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match="unknown model architecture 'vit'"):
        load_model(folder)


def test_unknown_names_and_options_are_refused():
    with pytest.raises(ValueError, match="'vit'.*naive, complex, fast, cascade"):
        build_model("vit", {})
    with pytest.raises(ValueError, match="'width'.*allowed options are channels"):
        build_model("naive", {"width": 3})
    with pytest.raises(ValueError, match="'n_stage'.*allowed options are n_stages"):
        build_model("cascade", {"block": "naive", "n_stage": 3})
    with pytest.raises(ValueError, match="unknown block 'unet'"):
        build_model("cascade", {"block": "unet"})
    with pytest.raises(ValueError, match="activation"):
        build_model("naive", {"activation": "tanh"})
    with pytest.raises(ValueError, match="kernel"):
        build_model("fast", {"kernel": "2d"})
    with pytest.raises(ValueError, match="dc_noise_level"):
        build_model("cascade", {"dc": "soft", "dc_noise_level": 0})
    with pytest.raises(ValueError, match="init.*zero-filled, view-sharing, cs-xf"):
        build_model("cascade", {"init": "sense"})
    with pytest.raises(ValueError, match="share_frames"):
        build_model("cascade", {"init": "view-sharing", "share_frames": -1})


def test_fuse_channels_sets_the_width_of_the_full_resolution_layer():
    wide = _model("complex", kernel="2+1d", depth=1)
    narrow = _model("complex", kernel="2+1d", depth=1, fuse_channels=4)
    assert wide.block.fuse[0].weight.shape == (10, 10, 1, 3, 3)
    assert narrow.block.fuse[0].weight.shape == (4, 10, 1, 3, 3)
    assert narrow.block.fuse[2].weight.shape == (2, 4, 3, 1, 1)
    with pytest.raises(ValueError, match="fuse_channels"):
        _model("complex", fuse_channels=-2)


def test_registry_rebuilds_from_config():
    for name in MODEL_REGISTRY:
        model = _model(name)
        assert model.architecture == name
        json.dumps(model.config)
        rebuilt = build_model(name, model.config)
        assert rebuilt.config == model.config
        assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in model.parameters()]


def test_unknown_model_name_lists_shipped_ones(tmp_path):
    names = [entry["name"] for entry in list_pretrained()]
    with pytest.raises(ModelLoadError, match="neither a shipped model"):
        resolve_model("no-such-model")
    folder = save_model(_model("naive"), tmp_path / "mine")
    model, _ = resolve_model(str(folder))
    assert model.architecture == "naive"
    assert all(isinstance(name, str) for name in names)


def test_select_device():
    assert select_device("cpu") == torch.device("cpu")
    assert select_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="unknown device"):
        select_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            select_device("cuda")


def test_models_command_without_shipped_models(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr("napari_dynmri.models.pretrained.pretrained_root", lambda: tmp_path / "absent")
    assert cli_main(["models"]) == 0
    assert "No shipped models" in capsys.readouterr().out


def test_models_command_lists_a_shipped_model(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr("napari_dynmri.models.pretrained.pretrained_root", lambda: tmp_path)
    monkeypatch.setattr("napari_dynmri.models.pretrained.DEFAULT_MODEL", "tiny")
    card = {
        "description": "a tiny test model",
        "accelerations": [4, 8],
        "metrics": {"test": {"psnr": 31.234, "ssim": 0.91}},
    }
    save_model(_model("naive"), tmp_path / "tiny", card=card)
    parser = argparse.ArgumentParser()
    models_cli.register(parser.add_subparsers())
    args = parser.parse_args(["models"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert f"the demo and the Reconstruct widget: {DEFAULT_METHOD} (chosen by" in out
    assert "tiny (default network)" in out and "naive" in out and "4,8" in out and "31.23" in out and "0.9100" in out


def test_batch_samples_are_normalised_separately():
    first, second = _acquisition(SMALL, seed=4, scale=1.0), _acquisition(SMALL, seed=5, scale=50.0)
    model = _model("cascade", n_stages=1, block="naive", depth=2)
    with torch.no_grad():
        batch = model(*(torch.cat(pair) for pair in zip(first, second)))
        alone = torch.cat((model(*first), model(*second)))
    torch.testing.assert_close(batch, alone, rtol=1e-5, atol=1e-4)
