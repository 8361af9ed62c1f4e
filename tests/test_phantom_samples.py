import numpy as np
import pytest

from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.data.samples import SAMPLE_NAMES, SAMPLE_PREFIX, load_sample, open_input
from napari_dynmri.io import Cine, write_cine


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


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_every_sample_name_loads_as_a_cine_naming_its_source(name):
    sample = load_sample(name)
    assert isinstance(sample, Cine) and sample.data.ndim == 3 and sample.data.shape[0] > 1
    assert sample.source == f"{SAMPLE_PREFIX}{name}"


def test_samples():
    pig = load_sample("pig")
    assert pig.data.shape == (20, 256, 256) and pig.data.dtype == np.float32
    assert pig.pixel_spacing_mm == pytest.approx((0.8203, 0.8203))
    np.testing.assert_allclose(pig.trigger_times_ms[[0, -1]], [10, 610], atol=1)
    assert load_sample("phantom").data.shape == (20, 128, 128)
    with pytest.raises(ValueError, match="unknown sample"):
        load_sample("dog")


def test_open_input_loads_samples_and_reads_paths(tmp_path):
    np.testing.assert_array_equal(open_input("sample:phantom").data, load_sample("phantom").data)
    write_cine(tmp_path / "c.npy", np.full((2, 8, 8), 3, np.float32))
    cine = open_input(tmp_path / "c.npy")
    assert cine.data.shape == (2, 8, 8)
    np.testing.assert_array_equal(cine.data, 3)
    with pytest.raises(ValueError, match="unknown sample"):
        open_input("sample:dog")
