"""Readers and writers: every format, axis order, metadata, k-space input and bad-input errors."""

from __future__ import annotations

from pathlib import Path

import h5py
import nibabel
import numpy as np
import pytest
import scipy.io
import tifffile
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from conftest import SHARED
from napari_dynmri.io import (
    Cine,
    CineReadError,
    can_read,
    combine_coils,
    looks_like_kspace,
    read_cine,
    write_cine,
)
from napari_dynmri.physics.fft import fft2c, ifft2c

PIG_DICOM = SHARED / "data" / "pig_cine" / "dicom_sax_2slices"
PIG_NPZ = SHARED / "data" / "pig_cine" / "pig_cine_cc0.npz"


def _ramp(shape) -> np.ndarray:
    """Distinct values, so any axis mix-up shows."""
    return np.arange(np.prod(shape), dtype=np.float32).reshape(shape)


def _complex_image(shape, seed=0) -> np.ndarray:
    """A smooth positive object with a smooth phase: (..., H, W) complex64."""
    h, w = shape[-2:]
    y, x = np.mgrid[-1 : 1 : h * 1j, -1 : 1 : w * 1j]
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(int(np.prod(shape[:-2]))):
        cy, cx = rng.uniform(-0.2, 0.2, 2)
        obj = 0.2 + np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 0.2)
        frames.append(obj * np.exp(1j * 0.5 * (x + y)))
    return np.asarray(frames, dtype=np.complex64).reshape(shape)


# --- NumPy ---------------------------------------------------------------------------------------


def test_npy_reads_array_as_stored(tmp_path):
    data = _ramp((4, 6, 5))
    np.save(tmp_path / "c.npy", data.astype(np.int16))
    cine = read_cine(tmp_path / "c.npy")
    assert isinstance(cine, Cine)
    assert cine.data.dtype == np.float32 and cine.data.shape == (4, 6, 5)
    np.testing.assert_array_equal(cine.data, data)
    assert cine.n_frames == 4 and not cine.is_complex
    assert cine.meta["format"] == "npy" and cine.meta["original_dtype"] == "int16"
    assert cine.meta["kspace_input"] is False
    assert cine.pixel_spacing_mm is None and cine.trigger_times_ms is None
    assert cine.source == str(tmp_path / "c.npy")


def test_npz_key_order_and_metadata(tmp_path):
    image, cine_arr = _ramp((3, 4, 5)), -_ramp((3, 4, 5))
    np.savez(tmp_path / "a.npz", cine=cine_arr, image=image, pixel_spacing_mm=[1.5, 0.75], trigger_times_ms=[0, 30, 60])
    cine = read_cine(tmp_path / "a.npz")
    np.testing.assert_array_equal(cine.data, image)  # 'image' comes before 'cine'
    assert cine.meta["key"] == "image"
    assert cine.pixel_spacing_mm == (1.5, 0.75)
    np.testing.assert_array_equal(cine.trigger_times_ms, [0, 30, 60])

    np.savez(tmp_path / "b.npz", whatever=image)  # the only array in the file
    np.testing.assert_array_equal(read_cine(tmp_path / "b.npz").data, image)


def test_npz_kspace_key_is_brought_to_image_space(tmp_path):
    image = _complex_image((2, 3, 16, 16))
    np.savez(tmp_path / "k.npz", kspace=fft2c(image))
    cine = read_cine(tmp_path / "k.npz")
    assert cine.is_complex and cine.data.dtype == np.complex64 and cine.data.shape == (2, 3, 16, 16)
    assert cine.meta["kspace_input"] is True
    np.testing.assert_allclose(cine.data, image, atol=1e-5)


def test_looks_like_kspace_tells_domains_apart():
    image = _complex_image((3, 32, 32))
    assert not looks_like_kspace(image)
    assert looks_like_kspace(fft2c(image))
    assert not looks_like_kspace(np.abs(fft2c(image)))  # real arrays are never k-space
    noise = np.random.default_rng(1).standard_normal((2, 32, 32)) * (1 + 1j)
    assert not looks_like_kspace(noise)
    assert not looks_like_kspace(fft2c(noise))


def test_complex_npy_kspace_is_detected_and_images_are_kept(tmp_path):
    image = _complex_image((3, 32, 32))
    np.save(tmp_path / "k.npy", fft2c(image))
    np.save(tmp_path / "x.npy", image)
    from_k, from_x = read_cine(tmp_path / "k.npy"), read_cine(tmp_path / "x.npy")
    assert from_k.meta["kspace_input"] and not from_x.meta["kspace_input"]
    np.testing.assert_allclose(from_k.data, image, atol=1e-5)
    np.testing.assert_array_equal(from_x.data, image)


# --- NIfTI ---------------------------------------------------------------------------------------


def test_nifti_4d_axes_spacing_and_time(tmp_path):
    xyzt = _ramp((5, 4, 2, 3))  # (x, y, z, t)
    image = nibabel.Nifti1Image(xyzt, np.diag([0.7, 1.3, 8.0, 1.0]))
    image.header.set_zooms((0.7, 1.3, 8.0, 0.03))
    image.header.set_xyzt_units("mm", "sec")
    nibabel.save(image, tmp_path / "c.nii.gz")
    cine = read_cine(tmp_path / "c.nii.gz")
    assert cine.data.shape == (2, 3, 4, 5)  # (z, t, y, x)
    assert cine.data[1, 2, 3, 0] == xyzt[0, 3, 1, 2]
    np.testing.assert_array_equal(cine.data, xyzt.transpose(2, 3, 1, 0))
    assert cine.pixel_spacing_mm == pytest.approx((1.3, 0.7))
    np.testing.assert_allclose(cine.trigger_times_ms, [0, 30, 60], rtol=1e-5)
    assert cine.meta["format"] == "nifti"


def test_nifti_3d_is_single_slice_xyt(tmp_path):
    xyt = _ramp((5, 4, 3))
    nibabel.save(nibabel.Nifti1Image(xyt, np.eye(4)), tmp_path / "c.nii")
    cine = read_cine(tmp_path / "c.nii")
    np.testing.assert_array_equal(cine.data, xyt.transpose(2, 1, 0))
    assert cine.trigger_times_ms is None  # time unit not set


@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 4, 5)])
@pytest.mark.parametrize("name", ["c.nii.gz", "c.tif"])
def test_magnitude_writers_round_trip(tmp_path, shape, name):
    data = _ramp(shape) * np.exp(1j * 0.3).astype(np.complex64)
    write_cine(tmp_path / name, data, pixel_spacing_mm=(1.25, 0.5))
    cine = read_cine(tmp_path / name)
    assert cine.data.dtype == np.float32
    np.testing.assert_allclose(cine.data, np.abs(data), rtol=1e-6)
    assert cine.pixel_spacing_mm == pytest.approx((1.25, 0.5))


@pytest.mark.parametrize("name", ["c.npy", "c.npz"])
def test_numpy_writers_round_trip_complex(tmp_path, name):
    data = _complex_image((2, 3, 8, 8))
    write_cine(tmp_path / name, data, pixel_spacing_mm=(1.25, 0.5), key="image")
    cine = read_cine(tmp_path / name)
    np.testing.assert_array_equal(cine.data, data)
    assert cine.pixel_spacing_mm == ((1.25, 0.5) if name.endswith("npz") else None)


def test_writers_keep_slice_thickness_and_frame_times(tmp_path):
    data = _ramp((2, 3, 4, 5))
    times = np.array([[0.0, 40.0, 80.0], [5.0, 45.0, 85.0]])
    for name in ("c.nii.gz", "c.npz", "c.tif"):
        write_cine(tmp_path / name, data, pixel_spacing_mm=(1.25, 0.5), slice_thickness_mm=6.0,
                   trigger_times_ms=times)
    header = nibabel.load(tmp_path / "c.nii.gz").header
    assert header.get_zooms() == pytest.approx((0.5, 1.25, 6.0, 40.0))
    assert header.get_xyzt_units() == ("mm", "msec")
    np.testing.assert_allclose(read_cine(tmp_path / "c.nii.gz").trigger_times_ms, [0.0, 40.0, 80.0])
    with np.load(tmp_path / "c.npz") as archive:
        assert float(archive["slice_thickness_mm"]) == 6.0
    np.testing.assert_array_equal(read_cine(tmp_path / "c.npz").trigger_times_ms, times)
    with tifffile.TiffFile(tmp_path / "c.tif") as tif:
        assert tif.imagej_metadata["spacing"] == 6.0
        assert tif.imagej_metadata["finterval"] == pytest.approx(0.04)
    with pytest.raises(ValueError, match="trigger times"):
        write_cine(tmp_path / "d.npz", data, trigger_times_ms=times[:, :2])
    with pytest.raises(ValueError, match="thickness"):
        write_cine(tmp_path / "d.npz", data, slice_thickness_mm=0.0)


def test_writer_refuses_to_overwrite(tmp_path):
    path = tmp_path / "c.npy"
    write_cine(path, np.zeros((2, 4, 4)))
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_cine(path, np.ones((2, 4, 4)))
    write_cine(path, np.ones((2, 4, 4)), overwrite=True)
    np.testing.assert_array_equal(read_cine(path).data, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npy"]  # no temporary files left


def test_writer_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="extension"):
        write_cine(tmp_path / "c.png", np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match=r"\(T, H, W\)"):
        write_cine(tmp_path / "c.npy", np.zeros((4, 4)))
    with pytest.raises(ValueError, match="reserved"):
        write_cine(tmp_path / "c.npz", np.zeros((2, 4, 4)), key="pixel_spacing_mm")


# --- MATLAB --------------------------------------------------------------------------------------


def test_mat_v5_axes(tmp_path):
    """Arrays below are in MATLAB index order (H, W, [Z,] T)."""
    hwt = _ramp((6, 7, 5))
    scipy.io.savemat(tmp_path / "c.mat", {"cine": hwt, "mask": np.ones((6, 7))})
    cine = read_cine(tmp_path / "c.mat")
    assert cine.data.shape == (5, 6, 7)
    for t in range(5):
        np.testing.assert_array_equal(cine.data[t], hwt[:, :, t])

    hwzt = _ramp((4, 5, 2, 3))
    scipy.io.savemat(tmp_path / "d.mat", {"recon": hwzt, "pixel_spacing_mm": [1.5, 2.0], "trigger_times_ms": [0, 40, 80]})
    cine = read_cine(tmp_path / "d.mat")  # 'recon' is the only array with >= 3 dims
    assert cine.data.shape == (2, 3, 4, 5) and cine.pixel_spacing_mm == (1.5, 2.0)
    np.testing.assert_array_equal(cine.trigger_times_ms, [0, 40, 80])
    np.testing.assert_array_equal(cine.data[1, 2], hwzt[:, :, 1, 2])


def test_mat_rgb_image_is_refused(tmp_path):
    scipy.io.savemat(tmp_path / "rgb.mat", {"image": np.zeros((16, 16, 3), np.uint8)})
    with pytest.raises(CineReadError, match="rgb.mat: looks like an RGB"):
        read_cine(tmp_path / "rgb.mat")


def test_mat_v73_matches_v5_including_complex(tmp_path):
    hwzt = _ramp((4, 5, 2, 3)) * (1 - 2j)
    scipy.io.savemat(tmp_path / "v5.mat", {"image": hwzt})
    compound = np.dtype([("real", "<f8"), ("imag", "<f8")])
    stored = np.empty(hwzt.T.shape, dtype=compound)  # h5py sees MATLAB arrays with reversed axes
    stored["real"], stored["imag"] = hwzt.T.real, hwzt.T.imag
    with h5py.File(tmp_path / "v73.mat", "w") as f:
        f.create_dataset("image", data=stored).attrs["MATLAB_class"] = np.bytes_("double")
        f.create_dataset("name", data=np.frombuffer(b"a\0b\0", dtype="<u2")).attrs["MATLAB_class"] = np.bytes_("char")
    v5, v73 = read_cine(tmp_path / "v5.mat"), read_cine(tmp_path / "v73.mat")
    assert v5.meta["format"] == "mat-v5" and v73.meta["format"] == "mat-v7.3"
    assert v73.data.shape == (2, 3, 4, 5) and v73.data.dtype == np.complex64
    np.testing.assert_array_equal(v73.data, v5.data)
    np.testing.assert_array_equal(v73.data[1, 2], hwzt[:, :, 1, 2])
    assert not v73.meta["kspace_input"]


# --- HDF5 ----------------------------------------------------------------------------------------


def test_hdf5_image_dataset_and_attrs(tmp_path):
    image = _ramp((3, 4, 5))
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f.create_dataset("reconstruction_rss", data=image)
        f.create_dataset("other", data=np.zeros((3, 4, 5)))
        f.attrs["pixel_spacing_mm"] = [0.9, 0.8]
    cine = read_cine(tmp_path / "c.h5")
    np.testing.assert_array_equal(cine.data, image)
    assert cine.pixel_spacing_mm == pytest.approx((0.9, 0.8)) and cine.meta["dataset"] == "reconstruction_rss"


def test_hdf5_single_coil_kspace(tmp_path):
    image = _complex_image((3, 16, 16))
    with h5py.File(tmp_path / "k.hdf5", "w") as f:
        f.create_dataset("kspace", data=fft2c(image))
        f.create_dataset("reconstruction_rss", data=np.abs(image))
    cine = read_cine(tmp_path / "k.hdf5")
    assert cine.meta["kspace_input"] and cine.meta["dataset"] == "kspace"
    np.testing.assert_allclose(cine.data, image, atol=1e-5)


def _coil_maps(n_coils: int, h: int, w: int) -> np.ndarray:
    """Smooth complex sensitivities normalised so that sum_c |S_c|^2 = 1."""
    y, x = np.mgrid[-1 : 1 : h * 1j, -1 : 1 : w * 1j]
    maps = []
    for c in range(n_coils):
        angle = 2 * np.pi * c / n_coils
        cy, cx = 1.2 * np.sin(angle), 1.2 * np.cos(angle)
        maps.append(np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 1.5) * np.exp(1j * (angle + 0.4 * y)))
    maps = np.asarray(maps)
    return maps / np.sqrt(np.sum(np.abs(maps) ** 2, axis=0))


def _relative_error_up_to_phase(estimate: np.ndarray, truth: np.ndarray) -> float:
    phase = np.vdot(estimate, truth)
    phase /= abs(phase)
    return float(np.linalg.norm(estimate * phase - truth) / np.linalg.norm(truth))


@pytest.mark.parametrize("leading", [(4,), (2, 3)])
def test_hdf5_multicoil_kspace_recovers_image_up_to_global_phase(tmp_path, leading):
    h = w = 64
    # The object fades out towards the border of the field of view, as in a real scan (a bright
    # border would wrap around in the low-resolution sensitivity estimate, the maps not being periodic).
    image = (np.abs(_complex_image((*leading, h, w))) - 0.2).astype(np.complex64) * np.exp(0.7j)
    maps = _coil_maps(4, h, w)
    kspace = fft2c(image[..., None, :, :] * maps).astype(np.complex64)  # (..., T, C, H, W)
    with h5py.File(tmp_path / "mc.h5", "w") as f:
        f.create_dataset("kspace", data=kspace)
    cine = read_cine(tmp_path / "mc.h5")
    assert cine.data.shape == (*leading, h, w) and cine.data.dtype == np.complex64
    assert cine.meta["kspace_input"] and cine.meta["n_coils"] == 4
    assert _relative_error_up_to_phase(cine.data, image) < 0.03
    # Root-sum-of-squares of the coil images is |image| here; the SENSE-1 image must keep the phase,
    # i.e. be close to image itself, not to a phase-scrambled one.
    coil_sum = ifft2c(kspace).sum(axis=-3)
    assert _relative_error_up_to_phase(coil_sum, image) > 0.1


def test_combine_coils_rejects_single_coil_shapes():
    with pytest.raises(ValueError, match="T, C, H, W"):
        combine_coils(np.zeros((3, 8, 8), np.complex64))


# --- TIFF ----------------------------------------------------------------------------------------


def test_tiff_pages_are_frames(tmp_path):
    frames = _ramp((4, 6, 5)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "c.tiff", frames, photometric="minisblack")
    cine = read_cine(tmp_path / "c.tiff")
    assert cine.data.shape == (4, 6, 5) and cine.meta["format"] == "tiff"
    np.testing.assert_array_equal(cine.data, frames)


@pytest.mark.parametrize("planar", ["contig", "separate"])
def test_tiff_rgb_is_refused(tmp_path, planar):
    shape = (3, 16, 16) if planar == "separate" else (16, 16, 3)
    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros(shape, np.uint8), photometric="rgb", planarconfig=planar)
    with pytest.raises(CineReadError, match="rgb.tif: looks like an RGB"):
        read_cine(tmp_path / "rgb.tif")


# --- DICOM ---------------------------------------------------------------------------------------


def _write_dicom(path: Path, pixels: np.ndarray, *, location: float, time: float, number: int, series: str) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.SeriesInstanceUID, ds.SeriesDescription = series, "cine test"
    ds.SliceLocation, ds.TriggerTime, ds.InstanceNumber = location, time, number
    ds.PixelSpacing = [1.25, 0.5]
    ds.RescaleSlope, ds.RescaleIntercept = 2, -1
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = pixels.astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)


def _dicom_series(folder: Path, n_slices=2, n_frames=3, series=None, start=0) -> np.ndarray:
    """Write a shuffled-on-disk series; returns the expected (Z, T, H, W) stored pixel values."""
    folder.mkdir(exist_ok=True)
    series = series or generate_uid()
    rng = np.random.default_rng(start)
    expected = rng.integers(0, 1000, (n_slices, n_frames, 6, 5))
    order = rng.permutation(n_slices * n_frames)
    for file_index, k in enumerate(order):
        z, t = divmod(int(k), n_frames)
        # Slice locations descend with z on purpose: the reader sorts them ascending. Instance
        # numbers run against time, so only TriggerTime can give the right frame order.
        _write_dicom(
            folder / f"IM{start + file_index:04d}.dcm",
            expected[n_slices - 1 - z, t],
            location=10.0 * (n_slices - 1 - z),
            time=25.0 + 40.0 * t,
            number=100 - (z * n_frames + t),
            series=series,
        )
    return expected


def test_dicom_folder_orders_slices_and_frames(tmp_path):
    expected = _dicom_series(tmp_path / "dcm")
    (tmp_path / "dcm" / "README.txt").write_text("not a DICOM file")
    cine = read_cine(tmp_path / "dcm")
    assert cine.data.shape == (2, 3, 6, 5) and cine.data.dtype == np.float32
    np.testing.assert_array_equal(cine.data, 2.0 * expected - 1)  # RescaleSlope / Intercept applied
    np.testing.assert_array_equal(cine.trigger_times_ms, [[25, 65, 105]] * 2)
    assert cine.pixel_spacing_mm == (1.25, 0.5)
    assert cine.meta["slice_locations_mm"] == [0.0, 10.0] and cine.meta["format"] == "dicom"
    assert can_read(tmp_path / "dcm")

    files = sorted((tmp_path / "dcm").glob("*.dcm"))
    np.testing.assert_array_equal(read_cine(files).data, cine.data)


def test_dicom_single_slice_is_3d(tmp_path):
    expected = _dicom_series(tmp_path / "dcm", n_slices=1, n_frames=4)
    cine = read_cine(tmp_path / "dcm")
    assert cine.data.shape == (4, 6, 5)
    np.testing.assert_array_equal(cine.data, 2.0 * expected[0] - 1)
    np.testing.assert_array_equal(cine.trigger_times_ms, [25, 65, 105, 145])


def test_dicom_several_series_are_named(tmp_path):
    _dicom_series(tmp_path / "dcm", series="1.2.3.111")
    _dicom_series(tmp_path / "dcm", series="1.2.3.222", start=50)
    with pytest.raises(CineReadError, match=r"2 DICOM series.*1\.2\.3\.111.*1\.2\.3\.222") as info:
        read_cine(tmp_path / "dcm")
    assert "dcm" in str(info.value)


def test_dicom_slices_with_different_frame_counts(tmp_path):
    _dicom_series(tmp_path / "dcm")
    next(iter(sorted((tmp_path / "dcm").glob("*.dcm")))).unlink()
    with pytest.raises(CineReadError, match="different numbers of frames"):
        read_cine(tmp_path / "dcm")


def test_shared_pig_dicom_folder():
    if not PIG_DICOM.is_dir():
        pytest.skip("../shared/data/pig_cine/dicom_sax_2slices is not available")
    cine = read_cine(PIG_DICOM)
    assert cine.data.shape == (2, 20, 256, 256)
    assert cine.trigger_times_ms.shape == (2, 20)
    np.testing.assert_array_equal(cine.trigger_times_ms[:, 0], 10)
    np.testing.assert_array_equal(cine.trigger_times_ms[:, -1], 610)
    assert np.all(np.diff(cine.trigger_times_ms, axis=1) > 0)
    assert cine.pixel_spacing_mm == pytest.approx((0.8203, 0.8203))
    if PIG_NPZ.is_file():  # the same acquisition, slices 9 and 10 of the converted npz
        with np.load(PIG_NPZ) as z:
            np.testing.assert_array_equal(cine.data, z["sax"][9:11])


# --- bad input -----------------------------------------------------------------------------------


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    paths = {}

    def save(name, array):
        np.save(tmp_path / name, array)
        paths[name] = tmp_path / name

    save("nan.npy", np.array([[[1.0, np.nan]]] * 2))
    save("flat.npy", np.zeros((8, 8)))
    save("rgb.npy", np.zeros((4, 16, 16, 3)))
    save("empty.npy", np.zeros((0, 8, 8)))
    save("five.npy", np.zeros((2, 2, 2, 8, 8)))
    np.savez(tmp_path / "ambiguous.npz", a=np.zeros((2, 4, 4)), b=np.ones((2, 4, 4)))
    paths["ambiguous.npz"] = tmp_path / "ambiguous.npz"
    for name in ("corrupt.npz", "corrupt.nii.gz", "corrupt.h5", "corrupt.mat", "corrupt.tif", "corrupt.npy"):
        (tmp_path / name).write_bytes(b"this is not what the extension promises")
        paths[name] = tmp_path / name
    (tmp_path / "notes.xyz").write_text("hello")
    paths["notes.xyz"] = tmp_path / "notes.xyz"
    (tmp_path / "nodicom").mkdir()
    (tmp_path / "nodicom" / "readme.txt").write_text("hello")
    paths["nodicom"] = tmp_path / "nodicom"
    with h5py.File(tmp_path / "realk.h5", "w") as f:
        f.create_dataset("kspace", data=np.zeros((2, 3, 4, 4)))
    paths["realk.h5"] = tmp_path / "realk.h5"
    paths["missing.npy"] = tmp_path / "missing.npy"
    return paths


@pytest.mark.parametrize(
    "name, reason",
    [
        ("nan.npy", "NaN"),
        ("flat.npy", "at least 3"),
        ("rgb.npy", "RGB"),
        ("empty.npy", "empty"),
        ("five.npy", "5 dimensions"),
        ("ambiguous.npz", "ambiguous.*a \\(2, 4, 4\\), b \\(2, 4, 4\\)"),
        ("corrupt.npz", "cannot read as NumPy .npz"),
        ("corrupt.npy", "cannot read as NumPy .npy"),
        ("corrupt.nii.gz", "cannot read as NIfTI"),
        ("corrupt.h5", "cannot read as HDF5"),
        ("corrupt.mat", "cannot read as MATLAB"),
        ("corrupt.tif", "cannot read as TIFF"),
        ("notes.xyz", "unknown file type"),
        ("nodicom", "no DICOM"),
        ("realk.h5", "real-valued"),
        ("missing.npy", "does not exist"),
    ],
)
def test_bad_input_raises_one_line_error_naming_the_file(tmp_path, name, reason):
    path = _bad_files(tmp_path)[name]
    with pytest.raises(CineReadError, match=reason) as info:
        read_cine(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert isinstance(info.value, ValueError)


def test_can_read_is_a_cheap_extension_check(tmp_path):
    for name in ("a.npy", "a.npz", "a.nii", "a.NII.GZ", "a.mat", "a.h5", "a.hdf5", "a.tif", "a.tiff", "a.dcm"):
        assert can_read(tmp_path / name), name
    assert not can_read(tmp_path / "a.txt")
    assert not can_read(tmp_path)  # empty folder
    assert not can_read([])
