import numpy as np
import pytest

from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.data.samples import SAMPLE_NAMES, load_sample


def test_phantom_shape_scale_and_seed():
    a = cardiac_phantom(7, 90, 117, seed=3)
    assert a.shape == (7, 90, 117) and a.dtype == np.complex64
    assert np.abs(a).max() == pytest.approx(1.0)
    np.testing.assert_array_equal(a, cardiac_phantom(7, 90, 117, seed=3))
    assert not np.allclose(a, cardiac_phantom(7, 90, 117, seed=4))
    assert np.abs(np.angle(a[np.abs(a) > 0.1])).std() > 0.05, "the phantom carries a smooth phase"


def test_phantom_heart_beats_and_breathing_moves():
    cine = np.abs(cardiac_phantom(20, 128, 128, seed=0))
    bright = (cine > 0.7).sum(axis=(1, 2))  # blood-pool area
    assert bright[10] < 0.8 * bright[0], "end-systole has a smaller blood pool than end-diastole"
    assert bright[19] > bright[10]
    still = np.abs(cardiac_phantom(20, 64, 64, seed=0))
    breathing = np.abs(cardiac_phantom(20, 64, 64, seed=0, breathing=True))
    assert not np.allclose(still, breathing)


def test_phantom_rejects_tiny_sizes():
    with pytest.raises(ValueError, match="phantom size"):
        cardiac_phantom(0, 64, 64)


def test_samples():
    assert SAMPLE_NAMES == ("pig", "phantom")
    pig = load_sample("pig")
    assert pig.data.shape == (20, 256, 256) and pig.data.dtype == np.float32
    assert pig.pixel_spacing_mm == pytest.approx((0.8203, 0.8203))
    np.testing.assert_allclose(pig.trigger_times_ms[[0, -1]], [10, 610], atol=1)
    assert load_sample("phantom").data.shape == (20, 128, 128)
    with pytest.raises(ValueError, match="unknown sample"):
        load_sample("dog")
