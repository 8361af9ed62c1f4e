"""Training variety (data/augment.py) and the samples that use it: known answers for each transform."""

import numpy as np
import pytest

from napari_dynmri.data.augment import (
    PHANTOM_TRAIN_SEEDS,
    Variety,
    contrast_change,
    gamma,
    quantise,
    random_phantom,
    resample_frames,
    smooth_phase,
)
from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.physics import Acquisition, fft2c
from napari_dynmri.training import config_from_dict
from napari_dynmri.training.datasets import CineSamples


def cine(frames=12, size=32, seed=0):
    return cardiac_phantom(frames, size, size, seed=seed)


def test_periodic_resampling_up_and_back_recovers_a_band_limited_cine():
    original = resample_frames(cine(12), 12)  # band-limited to 12 frames' frequencies
    back = resample_frames(resample_frames(original, 30), 12)
    assert resample_frames(original, 30).shape == (30, 32, 32)
    np.testing.assert_allclose(back, original, atol=1e-5)


def test_quantisation_keeps_at_most_the_levels_of_its_bit_depth_within_half_a_step():
    x = cine()
    for bits in (8, 12):
        q = quantise(x, bits)
        levels = 2**bits - 1
        top = np.abs(x).max()
        assert np.unique(np.round(np.abs(q) / top * levels)).size <= levels + 1
        assert np.abs(np.abs(q) - np.abs(x)).max() <= top / levels / 2 + 1e-6
        assert np.all(q.imag == 0)  # a magnitude export


def test_gamma_keeps_phase_zeros_and_is_the_identity_at_one():
    x = cine()
    x[:, :4] = 0
    np.testing.assert_allclose(gamma(x, 1.0), x, atol=1e-7)
    g = gamma(x, 0.7)
    assert np.all(np.isfinite(g)) and np.all(g[:, :4] == 0)
    on = np.abs(x) > 1e-3
    np.testing.assert_allclose(np.angle(g[on]), np.angle(x[on]), atol=1e-5)
    top = np.abs(x).max()
    np.testing.assert_allclose(np.abs(g[on]), top * (np.abs(x[on]) / top) ** 0.7, rtol=1e-4)


def test_smooth_phase_is_bounded_and_low_frequency():
    phase = smooth_phase((64, 64), np.random.default_rng(1), cutoff=3)
    assert np.abs(phase).max() == pytest.approx(np.pi)
    spectrum = np.abs(np.fft.fftshift(np.fft.fft2(phase))) ** 2
    centre = spectrum[32 - 3:32 + 4, 32 - 3:32 + 4].sum()
    assert centre / spectrum.sum() > 0.999


def test_contrast_change_only_brightens_is_seeded_and_not_periodic():
    x = np.abs(cine(20)).astype(np.complex64)
    a = contrast_change(x, np.random.default_rng(3))
    np.testing.assert_array_equal(a, contrast_change(x, np.random.default_rng(3)))
    assert np.all(np.abs(a) >= np.abs(x) - 1e-6)
    gain = (np.abs(a) / np.maximum(np.abs(x), 1e-6))[:, np.abs(x).mean(0) > 0.2]
    # a cardiac cine repeats; the uptake does not: the first and last frames differ in gain
    assert np.abs(gain[-1] - gain[0]).max() > 0.05 or np.abs(gain).max() > 1.05


def test_training_phantoms_never_are_the_benchmark_phantoms():
    fresh = random_phantom(np.random.default_rng(0), 20, 64, 64)
    for seed in range(3):
        assert not np.allclose(fresh, cardiac_phantom(20, 64, 64, seed=seed))
    assert PHANTOM_TRAIN_SEEDS >= 3


def test_an_empty_variety_changes_nothing_but_the_scale_and_bad_values_are_refused():
    x = cine() * 3
    np.testing.assert_allclose(Variety().transform(x, np.random.default_rng(0)), x / 3, atol=1e-6)
    assert Variety().noise_level(np.random.default_rng(0)) == 0
    levels = [Variety(noise=(0.01, 0.1)).noise_level(np.random.default_rng(i)) for i in range(50)]
    assert 0.01 <= min(levels) and max(levels) <= 0.1
    with pytest.raises(ValueError, match="variety.contrast must be a probability"):
        Variety(contrast=1.5)
    with pytest.raises(ValueError, match="variety.frames must be"):
        Variety(frames=(20, 8))


def test_varied_samples_draw_frames_crops_kinds_noise_and_a_classical_start():
    sequences = [cine(12, 48, seed=s) for s in range(2)]
    variety = Variety(smooth_phase=1.0, contrast=0.5, frames=(8, 16), quantise=0.5, gamma=(0.8, 1.2),
                      noise=(0.01, 0.02), phantoms=0.5)
    samples = CineSamples(sequences, crop=[(32, 16), (16, 32)], frames=6, kinds=["vd-random", "equispaced"],
                          acquisition=Acquisition(acceleration=4, center_lines=2), variety=variety, start="classical")
    shapes = set()
    for i in range(6):
        s = samples[i]
        shapes.add(tuple(s["target"].shape))
        kspace, mask, target = s["kspace"].numpy(), s["mask"].numpy(), s["target"].numpy()
        assert np.all(kspace[~mask] == 0)
        noise = (kspace - fft2c(target))[mask]
        assert 0.005 < np.std(noise) < 0.05  # the drawn k-space noise, relative to max |target| ~ 1
        assert s["start"].shape == s["target"].shape and np.all(np.isfinite(s["start"].numpy()))
    assert shapes == {(6, 32, 16), (6, 16, 32)}
    np.testing.assert_array_equal(samples[3]["start"].numpy(), samples[3]["start"].numpy())  # seeded
    assert "start" in samples.batch([0])


def test_the_training_config_reads_the_variety_table_and_names_bad_keys():
    def base(variety):
        return {"model": {"name": "cascade", "n_stages": 1, "block": "naive", "channels": 4, "depth": 2, "init": "given"},
                "data": {"train": "phantom:4:8x32x32", "start": "classical", "crop": [[24, 16], [16, 24]],
                         "variety": variety},
                "mask": {"kind": ["vd-random", "equispaced"]}}

    config = config_from_dict(base({"noise": [0.0, 0.01], "phantoms": 0.2}))
    assert config.data.variety == Variety(noise=(0.0, 0.01), phantoms=0.2)
    assert config.data.crop == [(24, 16), (16, 24)] and config.mask.kinds == ["vd-random", "equispaced"]
    with pytest.raises(ValueError, match="unknown configuration key 'data.variety.nois'"):
        config_from_dict(base({"nois": [0.0, 0.01]}))
