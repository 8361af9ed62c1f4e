import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from napari_dynmri import metrics

RNG = np.random.default_rng(1)


def pair(shape=(4, 40, 36)):
    target = RNG.random(shape) * np.exp(1j * RNG.random(shape))
    recon = target + 0.05 * (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape))
    return recon, target


def test_psnr_matches_scikit_image_on_magnitudes():
    recon, target = pair()
    expected = peak_signal_noise_ratio(np.abs(target), np.abs(recon), data_range=np.abs(target).max())
    assert metrics.psnr(recon, target) == pytest.approx(expected, rel=1e-10)


def test_psnr_known_value():
    target = np.ones((2, 4, 4))
    recon = target + 0.1
    assert metrics.psnr(recon, target) == pytest.approx(20.0)
    np.testing.assert_allclose(metrics.psnr_per_frame(recon, target), [20.0, 20.0])


def test_ssim_per_frame_matches_scikit_image():
    recon, target = pair()
    data_range = np.abs(target).max()
    expected = [structural_similarity(np.abs(t), np.abs(r), data_range=data_range) for r, t in zip(recon, target)]
    np.testing.assert_allclose(metrics.ssim_per_frame(recon, target), expected, rtol=1e-10)
    assert metrics.ssim(recon, target) == pytest.approx(np.mean(expected))
    assert metrics.ssim(target, target) == pytest.approx(1.0)


def test_nmse_and_evaluate():
    target = np.full((2, 8, 8), 2.0)
    recon = np.full((2, 8, 8), 1.0)
    assert metrics.nmse(recon, target) == pytest.approx(0.25)
    result = metrics.evaluate(recon, target)
    assert set(result) == {"psnr", "ssim", "nmse", "psnr_per_frame", "ssim_per_frame"}
    assert result["psnr_per_frame"].shape == (2,)


def test_summarize():
    assert metrics.summarize([1.0, 3.0]) == (2.0, 1.0)
    with pytest.raises(ValueError):
        metrics.summarize([])


def test_bad_shapes_and_zero_target():
    with pytest.raises(ValueError, match="one shape"):
        metrics.psnr(np.ones((2, 4, 4)), np.ones((2, 4, 5)))
    with pytest.raises(ValueError, match="zeros"):
        metrics.psnr(np.ones((2, 4, 4)), np.zeros((2, 4, 4)))
