"""The reconstruction-method interface: zero filling, networks (windowed), cancellation, progress."""

import numpy as np
import pytest
import torch
from torch import nn

from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.metrics import psnr
from napari_dynmri.models import build_model, save_model
from napari_dynmri.models.checkpoint import ModelLoadError
from napari_dynmri.physics import fft2c, ifft2c, make_mask, undersample, view_share
from napari_dynmri.recon import (
    NetworkMethod,
    ReconCancelled,
    Reconstruction,
    TemporalTVMethod,
    ZeroFilled,
    get_method,
)
from napari_dynmri.recon.weight import DEFAULT_FOLDS, planned_solves
from napari_dynmri.recon.windowed import window_starts, window_weights, windowed_apply

pytestmark = pytest.mark.usefixtures("one_thread")


def _acquisition(n_frames=8, size=32, acceleration=4, seed=0):
    target = cardiac_phantom(n_frames, size, size, seed=seed)
    mask = make_mask("vd-random", target.shape, acceleration, center_lines=4, seed=seed)
    kspace, _ = undersample(target, mask)
    return target, kspace, mask


class FrameConv(nn.Module):
    """Frame-local stand-in network: one 3x3 conv on (real, imag) of every frame, then data consistency."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, zero_filled, kspace, mask):
        b, t, h, w = zero_filled.shape
        frames = torch.view_as_real(zero_filled).permute(0, 1, 4, 2, 3).reshape(b * t, 2, h, w)
        out = self.conv(frames).reshape(b, t, 2, h, w).permute(0, 1, 3, 4, 2).contiguous()
        image = zero_filled + torch.view_as_complex(out)
        return ifft2c(torch.where(mask, kspace, fft2c(image)))


class TemporalMean(nn.Module):
    """Temporal stand-in network: each frame averaged with its two neighbours (zero padding in time)."""

    def forward(self, zero_filled, kspace, mask):
        padded = torch.nn.functional.pad(torch.view_as_real(zero_filled), (0, 0, 0, 0, 0, 0, 1, 1))
        mean = (padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]) / 3
        return torch.view_as_complex(mean.contiguous())


def test_zero_filled_is_the_inverse_fft():
    _, kspace, mask = _acquisition()
    method = get_method("zero-filled")
    assert method.name == "zero-filled" and method.device == "cpu"
    image = method.reconstruct(kspace, mask).image
    assert image.dtype == np.complex64 and image.shape == kspace.shape
    np.testing.assert_allclose(image, ifft2c(kspace), atol=1e-6)


@pytest.mark.parametrize("spec", ["zero-filled", "cs-xf"])
def test_reconstruct_returns_its_result_and_keeps_none_on_the_method(spec):
    _, kspace, mask = _acquisition()
    method = get_method(spec, device="cpu", **({"iterations": 5} if spec == "cs-xf" else {}))
    result = method.reconstruct(kspace, mask)
    assert isinstance(result, Reconstruction)
    assert (result.method, result.device, result.description) == (method.name, method.device, method.description)
    assert result.seconds > 0 and result.uncertainty is None and result.coil_maps is None
    assert result.kspace is kspace and result.mask is mask  # what it was made from, not a copy
    assert result.settings.get("weight") == (None if spec == "zero-filled" else "cross-validated")
    assert not hasattr(method, "settings") and not hasattr(method, "uncertainty")
    again = method.reconstruct(kspace, mask)
    assert again.settings == result.settings and again is not result


def test_view_sharing_method_fills_from_neighbours_and_beats_zero_filling():
    target, kspace, mask = _acquisition(n_frames=12, acceleration=6)
    method = get_method("view-sharing", half_window=1)
    assert method.name == "view-sharing" and "3 frames" in method.description
    image = method.reconstruct(kspace, mask).image
    assert image.dtype == np.complex64
    np.testing.assert_allclose(image, ifft2c(view_share(kspace, mask, 1)), atol=1e-6)
    assert psnr(image, target) > psnr(ifft2c(kspace), target) + 2


def test_network_method_returns_the_model_output():
    _, kspace, mask = _acquisition()
    model = FrameConv().eval()
    method = NetworkMethod(model, name="frame-conv", device="cpu")
    image = method.reconstruct(kspace, mask).image
    k = torch.from_numpy(kspace)[None]
    with torch.no_grad():
        expected = model(ifft2c(k), k, torch.from_numpy(mask)[None])[0].numpy()
    np.testing.assert_allclose(image, expected, atol=1e-5)
    # data consistency of the stand-in: sampled k-space is kept
    np.testing.assert_allclose(fft2c(image)[mask], kspace[mask], atol=1e-4)


def test_checkpoint_path_loads_through_get_method(tmp_path):
    _, kspace, mask = _acquisition()
    model = build_model("naive", {"channels": 4, "depth": 2}).eval()
    folder = save_model(model, tmp_path / "tiny-naive", card={"description": "tiny test model"})
    method = get_method(str(folder), device="cpu")
    assert method.name == "tiny-naive"
    assert method.description == "tiny test model"
    assert method.device == "cpu"
    k = torch.from_numpy(kspace)[None]
    with torch.no_grad():
        expected = model(ifft2c(k), k, torch.from_numpy(mask)[None])[0].numpy()
    np.testing.assert_allclose(method.reconstruct(kspace, mask).image, expected, atol=1e-5)


def test_get_method_rejects_unknown_models_and_options():
    with pytest.raises(ModelLoadError, match="no model"):
        get_method("no-such-model", device="cpu")
    with pytest.raises(ValueError, match="has no option"):
        get_method("zero-filled", lam=0.1)
    with pytest.raises(ValueError, match="has no option"):
        get_method("cs-ttv", device="cpu", window=4)
    with pytest.raises(ValueError, match="half_window must be an integer >= 0, got -1"):
        get_method("view-sharing", half_window=-1)
    method = get_method("cs-ttv", device="cpu", lam=0.02, iterations=7)
    assert isinstance(method, TemporalTVMethod) and (method.lam, method.iterations) == (0.02, 7)


def test_window_layout_covers_every_frame_with_unit_weight():
    assert window_starts(12, 20, 6) == [0]
    for n_frames in (13, 21, 30, 47, 100):
        starts = window_starts(n_frames, 12, 4)
        assert starts[0] == 0 and starts[-1] == n_frames - 12
        assert all(b - a <= 8 for a, b in zip(starts, starts[1:]))  # neighbours overlap by >= 4
        total = np.zeros(n_frames)
        for start, weight in zip(starts, window_weights(starts, 12, n_frames)):
            total[start : start + 12] += weight
        assert total.min() >= 1 - 1e-12


def test_windowed_equals_whole_cine_for_a_frame_local_model():
    _, kspace, mask = _acquisition(n_frames=30, size=24)
    model = FrameConv().eval()
    whole = NetworkMethod(model, name="m", window=30).reconstruct(kspace, mask).image
    windowed = NetworkMethod(model, name="m", window=12, overlap=4).reconstruct(kspace, mask).image
    np.testing.assert_allclose(windowed, whole, atol=1e-5)


def test_windowed_is_close_to_whole_cine_for_a_temporal_model():
    _, kspace, mask = _acquisition(n_frames=30, size=24)

    def error(window, overlap):
        windowed = NetworkMethod(TemporalMean(), name="m", window=window, overlap=overlap).reconstruct(kspace,
                                                                                                        mask).image
        return np.linalg.norm(windowed - whole) / np.linalg.norm(whole)

    whole = NetworkMethod(TemporalMean(), name="m", window=30).reconstruct(kspace, mask).image
    # The zero-padded 3-frame mean is wrong by a third at every window edge; the cross-fade
    # down-weights those frames: 2.2 % relative l2 error with overlap 4 against 3.1 % without.
    assert 0 < error(12, 4) < 0.025
    assert error(12, 4) < 0.8 * error(12, 0)


def test_short_cine_is_one_window():
    _, kspace, mask = _acquisition(n_frames=8)
    calls = []
    windowed_apply(lambda k, m: calls.append(k.shape) or ifft2c(k), kspace, mask, window=20, overlap=6)
    assert calls == [kspace.shape]


@pytest.mark.parametrize("spec", ["zero-filled", "cs-ttv", "cs-xf", "cs-lps", "network"])
def test_should_stop_cancels(spec):
    _, kspace, mask = _acquisition(n_frames=30, size=16)
    if spec == "network":
        method = NetworkMethod(FrameConv(), name="m", window=12, overlap=4)
    else:
        method = get_method(spec, device="cpu")
    with pytest.raises(ReconCancelled):
        method.reconstruct(kspace, mask, should_stop=lambda: True)
    if spec == "zero-filled":
        return  # a single step: nothing to stop after it
    # stopping after the first step also cancels
    seen = []
    with pytest.raises(ReconCancelled):
        method.reconstruct(kspace, mask, progress=lambda d, t: seen.append(d), should_stop=lambda: bool(seen))
    assert len(seen) <= 1


@pytest.mark.parametrize("spec", ["zero-filled", "cs-ttv", "cs-xf", "cs-lps", "cs-xf fixed", "network"])
def test_progress_counts_up_to_total(spec):
    _, kspace, mask = _acquisition(n_frames=30, size=32)
    if spec == "network":
        method = NetworkMethod(FrameConv(), name="m", window=12, overlap=4)
    elif spec.startswith("cs-"):
        name, _, fixed = spec.partition(" ")
        method = get_method(name, device="cpu", iterations=5, lam=0.01 if fixed else None)
    else:
        method = get_method(spec, device="cpu")
    calls = []
    method.reconstruct(kspace, mask, progress=lambda done, total: calls.append((done, total)))
    done = [d for d, _ in calls]
    total = calls[-1][1]
    assert done == sorted(done) and len(set(done)) == len(done)
    assert done[-1] == total and all(t == total for _, t in calls)
    # an automatic weight solves every candidate on every fold before the final reconstruction
    automatic = planned_solves(DEFAULT_FOLDS, [True]) + 5
    expected_total = {"zero-filled": 1, "cs-ttv": automatic, "cs-xf": automatic, "cs-lps": automatic,
                      "cs-xf fixed": 5, "network": len(window_starts(30, 12, 4))}[spec]
    assert total == expected_total


def test_bad_shapes_raise_value_error():
    _, kspace, mask = _acquisition()
    with pytest.raises(ValueError, match="does not match"):
        ZeroFilled().reconstruct(kspace, mask[:-1])
    with pytest.raises(ValueError, match=r"\(T, H, W\)"):
        ZeroFilled().reconstruct(kspace[0], mask[0])
    with pytest.raises(ValueError, match="overlap"):
        NetworkMethod(FrameConv(), name="m", window=4, overlap=4)
