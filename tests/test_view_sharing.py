import numpy as np
import pytest
import torch

from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.metrics import psnr
from napari_dynmri.physics import fft2c, ifft2c, make_mask, undersample, view_share


def _rows(n_frames, height, width, sampled):
    """A (T, H, W) row mask; ``sampled[t]`` lists the rows frame t measures."""
    mask = np.zeros((n_frames, height, width), dtype=bool)
    for t, rows in enumerate(sampled):
        mask[t, rows] = True
    return mask


def test_measured_values_are_kept_exactly():
    target = cardiac_phantom(6, 24, 20, seed=1)
    mask = make_mask("vd-random", target.shape, 4, center_lines=4, seed=1)
    kspace, _ = undersample(target, mask)
    shared = view_share(kspace, mask)
    np.testing.assert_array_equal(shared[mask], kspace[mask])
    assert shared.shape == kspace.shape and shared.dtype == kspace.dtype


def test_missing_lines_take_the_mean_of_the_window_else_of_all_frames():
    rng = np.random.default_rng(0)
    kspace = (rng.standard_normal((5, 5, 3)) + 1j * rng.standard_normal((5, 5, 3))).astype(np.complex64)
    # row 0 everywhere; row 1 in frames 1 and 2; row 2 only in frame 4; row 3 in frames 0 and 2;
    # row 4 never
    mask = _rows(5, 5, 3, [[0, 3], [0, 1], [0, 1, 3], [0], [0, 2]])
    shared = view_share(kspace, mask, half_window=1)
    # frame 0 sees frames 0..1: row 1 from frame 1 alone
    np.testing.assert_allclose(shared[0, 1], kspace[1, 1])
    # frame 3 sees frames 2..4: row 1 from frame 2, row 2 from frame 4, row 3 from frame 2
    np.testing.assert_allclose(shared[3, 1], kspace[2, 1])
    np.testing.assert_allclose(shared[3, 2], kspace[4, 2])
    np.testing.assert_allclose(shared[3, 3], kspace[2, 3])
    # frame 0 has no row 2 within its window: the mean over all frames that have it (frame 4 only)
    np.testing.assert_allclose(shared[0, 2], kspace[4, 2])
    # the window is not wrapped: frame 4 (window 3..4) does not take row 3 from frame 0 alone but
    # the mean over all frames that have it
    np.testing.assert_allclose(shared[4, 3], (kspace[0, 3] + kspace[2, 3]) / 2, rtol=1e-6)
    assert not shared[:, 4].any()


def test_a_static_object_is_recovered_when_the_window_covers_k_space():
    still = cardiac_phantom(1, 16, 16, seed=2)[0]
    target = np.repeat(still[None], 4, axis=0)
    mask = _rows(4, 16, 16, [list(range(t, 16, 4)) for t in range(4)])
    kspace, zero_filled = undersample(target, mask)
    image = ifft2c(view_share(kspace, mask, half_window=3))
    np.testing.assert_allclose(image, target, atol=1e-5)
    assert psnr(zero_filled, target) < 30


def test_torch_and_numpy_agree_and_batches_broadcast_the_mask():
    target = cardiac_phantom(7, 20, 18, seed=3)
    mask = make_mask("vd-random", target.shape, 6, center_lines=4, seed=3)
    kspace, _ = undersample(target, mask)
    expected = view_share(kspace, mask, half_window=2)
    batch = torch.from_numpy(np.stack([kspace, 2 * kspace]))
    got = view_share(batch, torch.from_numpy(mask)[None], half_window=2).numpy()
    np.testing.assert_allclose(got[0], expected, atol=1e-6)
    np.testing.assert_allclose(got[1], 2 * expected, atol=1e-6)


def test_view_sharing_beats_zero_filling_on_a_beating_phantom():
    target = cardiac_phantom(16, 48, 48, seed=4)
    mask = make_mask("vd-random", target.shape, 8, center_lines=4, seed=4)
    kspace, zero_filled = undersample(target, mask)
    assert psnr(ifft2c(view_share(kspace, mask)), target) > psnr(zero_filled, target) + 3


def test_bad_arguments_raise():
    kspace = fft2c(np.ones((3, 4, 4), dtype=np.complex64))
    with pytest.raises(ValueError, match="half_window"):
        view_share(kspace, np.ones((3, 4, 4), bool), half_window=-1)
    with pytest.raises(ValueError, match="disagree"):
        view_share(kspace, np.ones((2, 4, 4), bool))
