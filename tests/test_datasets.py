"""Training data pipeline: sources, the 5:1:2 split, and undersampled samples."""

import zipfile

import numpy as np
import pytest

from conftest import SHARED
from napari_dynmri.data.sequences import load_sequences, split_counts, split_sequences
from napari_dynmri.physics import Acquisition, actual_acceleration, fft2c, ifft2c, make_mask
from napari_dynmri.training.datasets import CineSamples

PIG = SHARED / "data" / "pig_cine" / "pig_cine_cc0.npz"


def test_split_counts_follow_5_1_2():
    assert split_counts(20) == (12, 3, 5)
    assert split_counts(8) == (5, 1, 2)
    assert split_counts(14) == (8, 2, 4)
    assert split_counts(3) == (1, 1, 1)


def test_split_is_reproducible_disjoint_and_seeded():
    names = [f"sax-{i:02d}" for i in range(20)]
    split = split_sequences(names, seed=0)
    assert [len(split[k]) for k in ("train", "val", "test")] == [12, 3, 5]
    assert sorted(split["train"] + split["val"] + split["test"]) == names
    assert split_sequences(list(reversed(names)), seed=0) == split  # input order does not matter
    assert split_sequences(names, seed=1) != split
    # the documented split of the pig short-axis slices (docs/training.md)
    assert split["val"] == ["sax-05", "sax-07", "sax-18"]
    assert split["test"] == ["sax-01", "sax-09", "sax-14", "sax-15", "sax-17"]


@pytest.fixture
def fake_pig(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "pig.npz"
    np.savez(
        path,
        sax=rng.integers(0, 1000, (3, 4, 16, 16)).astype(np.int16),
        lax=rng.integers(0, 1000, (2, 4, 16, 12)).astype(np.int16),
        pixel_spacing_mm=np.array([0.8, 0.8]),
    )
    return path


def test_pig_npz_keys_and_scaling(fake_pig):
    sax = load_sequences(f"{fake_pig}:sax")
    assert [name for name, _ in sax] == ["sax-00", "sax-01", "sax-02"]
    assert [name for name, _ in load_sequences(fake_pig)] == ["sax-00", "sax-01", "sax-02"]  # default: sax
    raw = np.load(fake_pig)["sax"][1].astype(np.float64)
    name, cine = sax[1]
    assert cine.dtype == np.complex64 and cine.shape == (4, 16, 16)
    assert np.abs(cine).max() == pytest.approx(1.0)
    np.testing.assert_allclose(cine.real, raw / raw.max(), rtol=1e-6)
    lax = load_sequences(f"{fake_pig}:lax")
    assert [name for name, _ in lax] == ["lax-00", "lax-01"] and lax[0][1].shape == (4, 16, 12)
    with pytest.raises(ValueError, match="no array 'cor'"):
        load_sequences(f"{fake_pig}:cor")


@pytest.mark.skipif(not PIG.is_file(), reason="../shared pig cine archive not present")
def test_real_pig_archive_header():
    """Shapes of the real archive from the .npy headers only (no decompression of the images)."""
    shapes = {}
    with zipfile.ZipFile(PIG) as archive:
        for key in ("sax", "lax"):
            with archive.open(f"{key}.npy") as f:
                version = np.lib.format.read_magic(f)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0}.get(
                    version, np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read_header(f)
                shapes[key] = (shape, dtype)
    assert shapes["sax"] == ((20, 20, 256, 256), np.dtype(np.int16))
    assert shapes["lax"] == ((14, 20, 256, 256), np.dtype(np.int16))
    assert split_counts(shapes["sax"][0][0]) == (12, 3, 5)


def test_phantom_and_folder_sources(tmp_path):
    phantoms = load_sequences("phantom:3:4x16x20")
    assert [n for n, _ in phantoms] == ["phantom-00", "phantom-01", "phantom-02"]
    assert phantoms[2][1].shape == (4, 16, 20) and not np.allclose(phantoms[0][1], phantoms[1][1])
    with pytest.raises(ValueError, match="phantom:N"):
        load_sequences("phantom:x")

    folder = tmp_path / "cines"
    folder.mkdir()
    np.save(folder / "a.npy", np.ones((4, 16, 16), np.float32))
    np.save(folder / "b.npy", np.arange(2 * 4 * 16 * 16, dtype=np.float32).reshape(2, 4, 16, 16) + 1)
    (folder / "README.txt").write_text("not a cine")
    sequences = load_sequences(folder)
    assert [n for n, _ in sequences] == ["a", "b-00", "b-01"]
    assert all(c.shape == (4, 16, 16) and c.dtype == np.complex64 for _, c in sequences)
    with pytest.raises(ValueError, match="duplicate"):
        load_sequences([folder, folder])
    with pytest.raises(ValueError, match="no such file"):
        load_sequences(tmp_path / "missing.npy")


def _sequences(n=3, shape=(8, 16, 16)):
    return [cine for _, cine in load_sequences(f"phantom:{n}:{shape[0]}x{shape[1]}x{shape[2]}")]


def test_sample_shapes_and_the_mask_used_for_kspace():
    samples = CineSamples(_sequences(), crop=(12, 10), frames=5, acquisition=Acquisition(acceleration=4, center_lines=2),
                          intensity=(0.5, 2.0), random_phase=True, seed=3)
    for index in range(4):
        s = samples[index]
        assert s["target"].shape == s["kspace"].shape == s["zero_filled"].shape == s["mask"].shape == (5, 12, 10)
        assert s["target"].dtype.is_complex and s["mask"].dtype.is_floating_point is False
        target, mask, kspace = s["target"].numpy(), s["mask"].numpy(), s["kspace"].numpy()
        np.testing.assert_allclose(kspace, fft2c(target) * mask, atol=1e-6)
        np.testing.assert_allclose(s["zero_filled"].numpy(), ifft2c(kspace), atol=1e-6)
        assert np.all(mask == mask[:, :, :1])  # whole rows
        assert actual_acceleration(mask) == pytest.approx(4, rel=0.25)


def test_crop_is_a_window_of_a_sequence_and_pads_small_images():
    sequences = _sequences(2)
    low = Acquisition(acceleration=2, center_lines=2)  # reachable on 6 rows
    samples = CineSamples(sequences, crop=(6, 7), frames=3, acquisition=low, flips=False, time_reversal=False, seed=1)
    target = samples[5]["target"].numpy()
    found = False
    for cine in sequences:
        for start in range(cine.shape[0]):
            window = cine[(start + np.arange(3)) % cine.shape[0]]
            for y in range(16 - 6 + 1):
                for x in range(16 - 7 + 1):
                    found |= np.array_equal(window[:, y : y + 6, x : x + 7], target)
    assert found
    padded = CineSamples(sequences, crop=(20, 18), frames=0, acquisition=low, flips=False,
                         time_reversal=False)[0]["target"].numpy()
    assert padded.shape == (8, 20, 18)
    assert any(np.array_equal(padded[:, 2:18, 1:17], cine) for cine in sequences)  # centred zero padding
    inner = np.zeros(padded.shape, bool)
    inner[:, 2:18, 1:17] = True
    assert not padded[~inner].any()


def test_transpose_swaps_the_image_axes_of_about_half_the_samples():
    rng = np.random.default_rng(3)
    cine = (rng.standard_normal((4, 10, 14)) + 1j * rng.standard_normal((4, 10, 14))).astype(np.complex64)
    low = Acquisition(acceleration=2, center_lines=2)  # reachable on 10 rows
    samples = CineSamples([cine], crop=None, frames=0, acquisition=low, flips=False, time_reversal=False,
                          transpose=True)
    targets = [samples[i]["target"].numpy() for i in range(40)]
    swapped = [t for t in targets if t.shape == (4, 14, 10)]
    kept = [t for t in targets if t.shape == (4, 10, 14)]
    assert len(swapped) + len(kept) == 40 and 10 <= len(swapped) <= 30
    np.testing.assert_array_equal(swapped[0], cine.transpose(0, 2, 1))
    np.testing.assert_array_equal(kept[0], cine)
    plain = CineSamples([cine], crop=None, frames=0, acquisition=low, flips=False, time_reversal=False)
    assert all(plain[i]["target"].shape == (4, 10, 14) for i in range(10))


def test_samples_are_deterministic_and_masks_fresh_or_fixed():
    sequences = _sequences()
    options = dict(crop=(16, 16), frames=8, acquisition=Acquisition(acceleration=4, center_lines=2))
    fresh = CineSamples(sequences, seed=0, **options)
    again = CineSamples(sequences, seed=0, **options)
    for key in ("target", "kspace", "mask"):
        assert np.array_equal(fresh[7][key].numpy(), again[7][key].numpy())
    masks = [fresh[i]["mask"].numpy() for i in range(4)]
    assert not all(np.array_equal(masks[0], m) for m in masks[1:])
    other_seed = CineSamples(sequences, seed=1, **options)
    assert not np.array_equal(other_seed[7]["mask"].numpy(), fresh[7]["mask"].numpy())

    fixed = CineSamples(sequences, crop=(16, 16), frames=8, fixed_masks=True,
                        acquisition=Acquisition(acceleration=4, center_lines=4, seed=5))
    expected = make_mask("vd-random", (8, 16, 16), 4, 4, 5)
    for i in range(4):
        assert np.array_equal(fixed[i]["mask"].numpy(), expected)


def test_accelerations_are_drawn_from_the_list_and_batches_stack():
    samples = CineSamples(_sequences(), crop=(16, 16), frames=4, accelerations=[2, 4, 8],
                          acquisition=Acquisition(center_lines=0))
    drawn = [samples[i]["acceleration"] for i in range(40)]
    assert set(drawn) == {2.0, 4.0, 8.0}
    for i in range(6):
        s = samples[i]
        assert actual_acceleration(s["mask"].numpy()) == pytest.approx(s["acceleration"], rel=0.15)
    batch = samples.batch([0, 1, 2])
    assert batch["target"].shape == (3, 4, 16, 16) and batch["mask"].shape == (3, 4, 16, 16)
    assert batch["acceleration"].tolist() == drawn[:3]
    mixed = CineSamples(_sequences(1, (8, 16, 16)) + _sequences(1, (8, 16, 12)), crop=None, frames=0,
                        acquisition=Acquisition(acceleration=2))
    with pytest.raises(ValueError, match="different shapes"):
        mixed.batch(range(8))
    with pytest.raises(ValueError, match="temporal window"):
        CineSamples(_sequences(), frames=30)
    with pytest.raises(ValueError, match="training samples of 6 rows: 8 centre lines leave none"):
        CineSamples(_sequences(), crop=(6, 6), frames=4)
    with pytest.raises(ValueError, match="unknown mask type 'spiral'"):
        CineSamples(_sequences(), crop=(16, 16), frames=4, acquisition=Acquisition(acceleration=2),
                    kinds=["vd-random", "spiral"])
