"""Raw multi-coil k-space: readers (ISMRMRD, MATLAB v5/v7.3, HDF5, BART), coil maps, compression, simulation."""

from __future__ import annotations

import json
import shutil
import subprocess

import h5py
import numpy as np
import pytest
import scipy.io

from conftest import SHARED
from napari_dynmri.cli import main
from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.io.raw import RawReadError, coil_combine, is_raw_kspace, read_raw
from napari_dynmri.io.raw.cfl import read_cfl_array, write_cfl
from napari_dynmri.io.raw.scan import infer_layout
from napari_dynmri.metrics import psnr
from napari_dynmri.physics import Acquisition
from napari_dynmri.physics.coils import (
    birdcage_maps,
    calibration_region,
    coil_compression,
    coil_kspace,
    compress_coils,
    espirit_maps,
    noise_covariance,
    rss,
    sense_combine,
    whitening_matrix,
)
from napari_dynmri.physics.fft import fft2c, ifft2c
from napari_dynmri.simulation_coils import simulate_multicoil

CMRX = SHARED / "data" / "cmrxrecon_format"
T, H, W = 4, 64, 64


@pytest.fixture(scope="module")
def cine():
    target = cardiac_phantom(T, H, W, seed=3).astype(np.complex64)
    return target / np.abs(target).max()


def _relative(a, b) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _one_line(err) -> str:
    text = str(err.value)
    assert "\n" not in text and text
    return text


# --- the real CMRxRecon files ------------------------------------------------------------------------


@pytest.mark.skipif(not CMRX.is_dir(), reason="../shared/data/cmrxrecon_format is not available")
def test_cmrxrecon_v5_kspace_and_v73_mask_are_read_right():
    path = CMRX / "cine_sax.mat"
    scan = read_raw(path)
    assert scan.kspace.shape == (1, 1, 246, 256) and scan.kspace.dtype == np.complex64
    assert scan.meta["layout"] == "kx,ky" and scan.meta["layout_inferred"]
    assert scan.meta["oversampling_removed"] == 2 and not scan.meta["sampling"]["undersampled"]
    # known answer: the central half of the readout field of view of the stored (kx, ky) k-space
    stored = scipy.io.loadmat(path)["kspace_full"]
    image = ifft2c(stored.T.astype(np.complex64))[:, 128:384]
    assert _relative(ifft2c(scan.kspace[0, 0]), image) < 1e-5

    masked = read_raw(path, mask=CMRX / "cine_sax_mask_Uniform8.mat")
    rows = masked.mask[0].any(axis=1)
    assert rows.sum() == 45 and masked.mask.shape == (1, 246, 256)
    assert set(np.flatnonzero(rows)) >= set(range(115, 131)) | set(range(0, 246, 8)) - {248}
    assert np.all(masked.kspace[0, 0, ~rows] == 0) and np.array_equal(masked.kspace[0, 0, rows], scan.kspace[0, 0, rows])
    assert masked.meta["sampling"]["undersampled"] and masked.meta["sampling"]["acceleration"] == pytest.approx(246 / 45)


@pytest.mark.skipif(not CMRX.is_dir(), reason="../shared/data/cmrxrecon_format is not available")
def test_cli_info_on_the_cmrxrecon_file(capsys):
    code = main(["info", str(CMRX / "cine_sax.mat"), "--mask", str(CMRX / "cine_sax_mask_Uniform8.mat")])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert "coils: 1" in out and "matrix: 246 x 256 (phase-encoding rows x readout columns)" in out
    assert "sampling: 45 of 246 lines per frame" in out and "already undersampled: yes" in out
    assert "acceleration: R = 5.47" in out and "readout oversampling: removed, factor 2" in out
    assert any(line.startswith("layout: kx,ky (inferred") for line in out)


# --- MATLAB v5 / v7.3 and HDF5 arrays ----------------------------------------------------------------


def _write_v73(path, name, matlab_array):
    """A MATLAB v7.3 file as MATLAB writes it: HDF5, the array's axes reversed, complex as real/imag."""
    stored = np.ascontiguousarray(matlab_array.T)
    compound = np.empty(stored.shape, dtype=[("real", "<f4"), ("imag", "<f4")])
    compound["real"], compound["imag"] = stored.real, stored.imag
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset(name, data=compound).attrs["MATLAB_class"] = np.bytes_(b"single")


def test_matlab_v5_and_v73_agree_and_give_t_c_h_w(tmp_path, cine):
    maps = birdcage_maps(4, (H, W))
    kspace = coil_kspace(cine, maps)  # (T, C, H, W)
    matlab = np.transpose(kspace, (3, 2, 1, 0))  # (kx, ky, coil, frame), as CMRxRecon stores it
    scipy.io.savemat(tmp_path / "v5.mat", {"kspace_full": matlab})
    _write_v73(tmp_path / "v73.mat", "kspace_full", matlab)
    with h5py.File(tmp_path / "v73.mat") as f:
        assert f["kspace_full"].shape == (T, 4, H, W)  # reversed in h5py
    for name in ("v5.mat", "v73.mat"):
        scan = read_raw(tmp_path / name)
        assert scan.meta["layout"] == "kx,ky,coil,frame", scan.meta
        assert np.array_equal(scan.kspace, kspace)
        given = read_raw(tmp_path / name, layout="kx,ky,coil,frame", variable="kspace_full")
        assert np.array_equal(given.kspace, kspace) and not given.meta["layout_inferred"]
    # a wrong layout given on purpose swaps coils and frames: the data say so
    swapped = read_raw(tmp_path / "v5.mat", layout="kx,ky,frame,coil")
    assert swapped.kspace.shape == (4, T, H, W)


def test_layout_inference_of_c_order_arrays(cine):
    kspace = coil_kspace(cine, birdcage_maps(8, (H, W)))  # (T, C, H, W)
    assert infer_layout(kspace, "c")[0] == ("frame", "coil", "ky", "kx")
    assert infer_layout(kspace.transpose(1, 0, 2, 3), "c")[0] == ("coil", "frame", "ky", "kx")
    assert infer_layout(kspace[0], "c")[0] == ("coil", "ky", "kx")
    assert infer_layout(kspace[:, 0], "c")[0] == ("frame", "ky", "kx")
    # undersampled lines name ky even against the convention (ky stored last, as fastMRI does)
    under = kspace.copy()
    under[:, :, 1::3] = 0
    names, reason = infer_layout(np.swapaxes(under, -1, -2), "c")
    assert names == ("frame", "coil", "kx", "ky") and "unmeasured" in reason
    # an oversampled readout is the longer axis
    assert infer_layout(np.zeros((2, 40, 96), np.complex64) + 1, "c")[0][1:] == ("ky", "kx")


def test_hdf5_kspace_with_variable_and_inferred_layout(tmp_path, cine):
    kspace = coil_kspace(cine, birdcage_maps(6, (H, W)))
    with h5py.File(tmp_path / "k.h5", "w") as f:
        f["kspace"] = kspace.transpose(1, 0, 2, 3)  # (coil, frame, ky, kx)
        f["reconstruction_rss"] = np.abs(cine)
    assert is_raw_kspace(tmp_path / "k.h5")
    scan = read_raw(tmp_path / "k.h5")
    assert scan.meta["layout"] == "coil,frame,ky,kx" and np.array_equal(scan.kspace, kspace)
    with pytest.raises(RawReadError) as err:
        read_raw(tmp_path / "k.h5", variable="reconstruction_rss")
    assert "real-valued" in _one_line(err)


# --- ISMRMRD -----------------------------------------------------------------------------------------


def test_ismrmrd_files_written_by_the_ismrmrd_package_round_trip(tmp_path, cine):
    import ismrmrd

    sim = simulate_multicoil(cine, 8, readout_oversampling=2, pixel_spacing_mm=(1.5, 1.25))
    assert sim.kspace.shape == (T, 8, H, 2 * W)
    sim.write_ismrmrd(tmp_path / "own.h5", one_by_one=True)  # ismrmrd.Dataset.append_acquisition
    sim.write_ismrmrd(tmp_path / "bulk.h5")
    with ismrmrd.Dataset(str(tmp_path / "own.h5"), "dataset", mode="r") as dataset:
        assert dataset.number_of_acquisitions() == T * H
        acq = dataset.read_acquisition(5)
        assert acq.data.shape == (8, 2 * W) and np.array_equal(acq.data, sim.kspace[0, :, 5])
    own, bulk = read_raw(tmp_path / "own.h5"), read_raw(tmp_path / "bulk.h5")
    assert np.array_equal(own.kspace, bulk.kspace)
    assert own.kspace.shape == (T, 8, H, W) and own.meta["oversampling_removed"] == 2
    assert own.meta["encoded_matrix"] == [2 * W, H, 1] and own.meta["recon_matrix"] == [W, H, 1]
    assert own.meta["pixel_spacing_mm"] == pytest.approx([1.5, 1.25])
    assert own.meta["frames"] == T and own.meta["frame_binning"] == "phase" and own.mask.all()
    # known answers: the k-space of the coil images, and the source cine from SENSE with the true maps
    assert _relative(own.kspace, coil_kspace(cine, sim.maps)) < 1e-5
    assert _relative(sense_combine(ifft2c(own.kspace), sim.maps), cine) < 1e-3


def test_ismrmrd_partial_fourier_and_undersampling_are_zero_padded(tmp_path, cine):
    acq = Acquisition("vd-random", 3, 8, 1, 0.0)
    sim = simulate_multicoil(cine, 4, acquisition=acq, partial_fourier=0.75)
    sim.write_ismrmrd(tmp_path / "pf.h5")
    scan = read_raw(tmp_path / "pf.h5")
    assert scan.kspace.shape == (T, 4, H, W)
    assert np.array_equal(scan.mask, sim.mask) and not scan.mask[:, : H // 4].any()
    low, high, centre = scan.meta["encoding_limits"]["kspace_encoding_step_1"]
    assert centre == H // 2 and low >= H // 4
    assert scan.meta["partial_fourier"]["rows_zero_padded"] == H - (high - low + 1) >= H // 4
    assert scan.meta["sampling"]["undersampled"] and not scan.meta["sampling"]["same_lines_every_frame"]
    assert _relative(scan.kspace, coil_kspace(cine, sim.maps) * sim.mask[:, None]) < 1e-5


def test_ismrmrd_asymmetric_echo_is_zero_padded(tmp_path, cine):
    from napari_dynmri.io.raw.ismrmrd_file import write_ismrmrd

    kspace = coil_kspace(cine, birdcage_maps(2, (H, W)))
    write_ismrmrd(tmp_path / "echo.h5", kspace, np.ones((T, H), bool), readout_start=10)
    scan = read_raw(tmp_path / "echo.h5")
    expected = kspace.copy()
    expected[..., :10] = 0
    assert np.array_equal(scan.kspace, expected)
    assert scan.meta["partial_fourier"]["readout_columns_zero_padded"] == 10


def test_noise_scans_and_correlated_noise(tmp_path, cine):
    sim = simulate_multicoil(cine, 6, noise_sigma=0.05, correlation=0.4, noise_samples=40_000, seed=2)
    sim.write_ismrmrd(tmp_path / "noisy.h5")
    scan = read_raw(tmp_path / "noisy.h5")
    assert scan.noise.shape == (6, 40_000) and scan.meta["noise_scans"] == 40_000 // 256 + 1
    estimated = noise_covariance(scan.noise)
    assert _relative(estimated, sim.noise_covariance) < 0.05
    assert abs(estimated[0, 1]) / estimated[0, 0].real == pytest.approx(0.4, abs=0.03)
    white = whitening_matrix(estimated) @ scan.noise
    assert np.allclose(noise_covariance(white), np.eye(6), atol=1e-6)
    # the noise in the image is there and at the asked level
    residual = scan.kspace - coil_kspace(cine, sim.maps)
    assert np.std(residual) == pytest.approx(0.05, rel=0.05)


# --- coil maps, compression, combination -------------------------------------------------------------


def _map_agreement(maps, true_maps, support):
    """Mean |<S_est, S_true>| over ``support`` of unit-norm maps: 1 when equal up to a phase per pixel."""
    true_maps = true_maps / np.sqrt(np.sum(np.abs(true_maps) ** 2, axis=0))
    return float(np.abs(np.sum(np.conj(maps) * true_maps, axis=0))[support].mean())


def test_espirit_finds_the_true_maps_up_to_a_phase(cine):
    true_maps = birdcage_maps(8, (H, W))
    kspace = coil_kspace(cine, true_maps)
    maps, info = espirit_maps(kspace, return_info=True)
    support = np.abs(cine).mean(axis=0) > 0.1
    assert info["source"] == "common to every frame" and info["rows"] == 24
    assert _map_agreement(maps, true_maps, support) > 0.995
    assert np.allclose(np.sum(np.abs(maps[:, support]) ** 2, axis=0), 1, atol=1e-4)
    combined = sense_combine(ifft2c(kspace), maps)
    assert _relative(np.abs(combined)[:, support], np.abs(cine)[:, support]) < 0.01
    # a wrong answer is told apart: the maps of the opposite coils do not agree
    assert _map_agreement(maps, np.roll(true_maps, 4, axis=0), support) < 0.8


def test_espirit_uses_the_time_average_when_no_frame_has_the_centre(cine):
    true_maps = birdcage_maps(8, (H, W))
    rows = np.zeros((T, H), bool)
    for t in range(T):
        rows[t, t::T] = True  # sheared lattice: every line in some frame, no frame with a full centre
    kspace = coil_kspace(cine, true_maps) * rows[:, None, :, None]
    calib, info = calibration_region(kspace, np.repeat(rows[:, :, None], W, 2))
    assert info["source"] == "time-averaged" and calib.shape == (8, 24, 24)
    maps = espirit_maps(kspace, np.repeat(rows[:, :, None], W, 2))
    support = np.abs(cine).mean(axis=0) > 0.1
    assert _map_agreement(maps, true_maps, support) > 0.98


def test_coil_compression_keeps_the_energy_with_fewer_coils(cine):
    kspace = coil_kspace(cine, birdcage_maps(32, (H, W)))
    compressed, kept = compress_coils(kspace, 8)
    assert compressed.shape == (T, 8, H, W) and kept >= 0.99
    # the energy kept is the share of the compressed data's energy (unitary rows)
    assert np.sum(np.abs(compressed) ** 2) / np.sum(np.abs(kspace) ** 2) == pytest.approx(kept, rel=1e-4)
    assert coil_compression(kspace, 32)[1] == pytest.approx(1.0)
    assert coil_compression(kspace, 2)[1] < kept
    # two independent maps mixed into 5 coils: 2 virtual coils hold everything
    two = birdcage_maps(2, (H, W))
    mixing = np.random.default_rng(0).standard_normal((5, 2)) + 1j * np.random.default_rng(1).standard_normal((5, 2))
    mixed = coil_kspace(cine, np.einsum("cd,dhw->chw", mixing, two))
    assert coil_compression(mixed, 2)[1] == pytest.approx(1.0, abs=1e-6)
    assert coil_compression(mixed, 1)[1] < 0.999


def test_coil_combine_gives_single_coil_kspace(tmp_path, cine):
    sim = simulate_multicoil(cine, 8)
    sim.write_ismrmrd(tmp_path / "full.h5")
    scan = read_raw(tmp_path / "full.h5")
    kspace, mask = coil_combine(scan, sim.maps)
    assert kspace.shape == (T, H, W) and mask.all()
    assert _relative(kspace, fft2c(cine)) < 1e-3
    espirit_k, _ = coil_combine(scan)
    support = np.abs(cine).mean(axis=0) > 0.1
    assert _relative(np.abs(ifft2c(espirit_k))[:, support], np.abs(cine)[:, support]) < 0.01

    undersampled = simulate_multicoil(cine, 8, acquisition=Acquisition("vd-random", 4, 8, 0, 0.0))
    undersampled.write_ismrmrd(tmp_path / "r4.h5")
    scan = read_raw(tmp_path / "r4.h5")
    with pytest.raises(RawReadError) as err:
        coil_combine(scan)
    assert "undersampled" in _one_line(err)
    kspace, mask = coil_combine(scan, sim.maps, allow_undersampled=True)
    assert np.array_equal(mask, undersampled.mask) and np.all(kspace[~mask] == 0)


# --- BART --------------------------------------------------------------------------------------------


def test_cfl_round_trip(tmp_path, cine):
    kspace = coil_kspace(cine, birdcage_maps(3, (H, W)))  # (T, C, H, W)
    bart = np.zeros((W, H, 1, 3) + (1,) * 6 + (T,), np.complex64)
    bart[:, :, 0, :, 0, 0, 0, 0, 0, 0, :] = kspace.transpose(3, 2, 1, 0)  # READ, PHS1, COIL, TIME
    write_cfl(tmp_path / "k", bart)
    stored = read_cfl_array(tmp_path / "k.cfl")
    assert stored.shape == bart.shape + (1,) * 5 and np.array_equal(stored.reshape(bart.shape), bart)
    scan = read_raw(tmp_path / "k.cfl")
    assert np.array_equal(scan.kspace, kspace) and scan.meta["format"] == "bart-cfl"
    (tmp_path / "k.cfl").write_bytes((tmp_path / "k.cfl").read_bytes()[:-8])
    with pytest.raises(RawReadError) as err:
        read_raw(tmp_path / "k.hdr")
    assert "truncated" in _one_line(err)


@pytest.mark.skipif(shutil.which("bart") is None, reason="BART is not installed (apt-get install bart)")
def test_bart_phantom_kspace_matches_barts_own_rss(tmp_path):
    run = dict(cwd=tmp_path, check=True, capture_output=True, timeout=60)
    subprocess.run(["bart", "phantom", "-x", "64", "-s", "4", "-k", "ksp"], **run)
    subprocess.run(["bart", "fft", "-i", "3", "ksp", "img"], **run)
    subprocess.run(["bart", "rss", "8", "img", "rss"], **run)
    scan = read_raw(tmp_path / "ksp.cfl")
    assert scan.kspace.shape == (1, 4, 64, 64)
    bart_rss = np.abs(read_cfl_array(tmp_path / "rss")).squeeze() / 64  # BART's inverse FFT is not normalised
    assert _relative(rss(ifft2c(scan.kspace[0])).T, bart_rss) < 1e-5  # ours is (ky, kx), BART's (x, y)


# --- bad inputs: one line each -----------------------------------------------------------------------


def test_bad_raw_inputs_are_refused_in_one_line(tmp_path, cine, monkeypatch):
    sim = simulate_multicoil(cine, 4)
    sim.write_ismrmrd(tmp_path / "good.h5")
    data = (tmp_path / "good.h5").read_bytes()
    (tmp_path / "truncated.h5").write_bytes(data[: len(data) // 2])
    scipy.io.savemat(tmp_path / "coils.mat", {"kspace": np.ones((1000, 16, 16), np.complex64)})
    scipy.io.savemat(tmp_path / "mask.mat", {"mask": np.ones((W + 6, H + 3))})  # another matrix
    cases = {
        "truncated.h5": (lambda: read_raw(tmp_path / "truncated.h5"), "truncated.h5"),
        "1000 coils": (lambda: read_raw(tmp_path / "coils.mat", layout="coil,kx,ky"), "1000 coils"),
        "bad layout": (lambda: read_raw(tmp_path / "coils.mat", layout="coil,kx,banana"), "unknown axis"),
        "short layout": (lambda: read_raw(tmp_path / "coils.mat", layout="kx,ky"), "names 2 axes"),
        "mismatched mask": (lambda: read_raw(tmp_path / "good.h5", mask=tmp_path / "mask.mat"), "does not match"),
        "layout on ismrmrd": (lambda: read_raw(tmp_path / "good.h5", layout="kx,ky"), "header gives the order"),
        "unknown type": (lambda: read_raw(tmp_path / "mask.mat.txt"), "does not exist"),
    }
    for name, (call, expected) in cases.items():
        with pytest.raises(RawReadError if name != "unknown type" else ValueError) as err:
            call()
        assert expected in _one_line(err), name
    monkeypatch.setenv("DYNMRI_MAX_DECODED_BYTES", "100K")
    with pytest.raises(ValueError) as err:
        read_raw(tmp_path / "good.h5")
    assert "over the limit" in _one_line(err)


def test_cli_info_bad_raw_file_exits_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "k.cfl"
    path.write_bytes(b"\0" * 16)
    (tmp_path / "k.hdr").write_text("# Dimensions\n64 64 1 8\n")
    assert main(["info", str(path)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1 and lines[0].startswith("dynmri info: error: ") and "k.cfl" in lines[0]


def test_cli_bad_raw_files_exit_2_with_one_line(tmp_path, capsys, cine):
    simulate_multicoil(cine, 4).write_ismrmrd(tmp_path / "good.h5")
    data = (tmp_path / "good.h5").read_bytes()
    (tmp_path / "truncated.h5").write_bytes(data[: len(data) // 2])
    kspace = fft2c(cine[:, None] * birdcage_maps(4, cine.shape[1:])[None])  # (T, C, H, W)
    scipy.io.savemat(tmp_path / "scan.mat", {"kspace": kspace.T.astype(np.complex64)})  # MATLAB (kx, ky, C, T)
    scipy.io.savemat(tmp_path / "wide.mat", {"kspace": np.ones((16, 16, 1000, 2), np.complex64)})
    np.save(tmp_path / "frames.npy", np.ones((T + 3, H)))  # a mask of another number of frames
    cases = [
        (["info", "truncated.h5"], "truncated"),
        (["recon", "truncated.h5", "-o", "out.npz"], "truncated"),
        (["info", "scan.mat", "--layout", "kx,ky,coil"], "names 3 axes"),
        (["info", "scan.mat", "--layout", "kx,ky,coil,coil"], "names coil twice"),
        (["info", "wide.mat", "--layout", "kx,ky,coil,frame"], "1000 coils"),
        (["info", "good.h5", "--mask", "frames.npy"], "does not match the k-space"),
    ]
    for args, expected in cases:
        paths = [str(tmp_path / arg) if (tmp_path / arg).exists() or arg.endswith(".npz") else arg for arg in args]
        assert main(paths) == 2, args
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert captured.out == "" and len(lines) == 1 and lines[0].startswith(f"dynmri {args[0]}: error: "), args
        assert expected in lines[0], (args, lines[0])
    assert not (tmp_path / "out.npz").exists()


# --- the CLI: simulate --coils, info ------------------------------------------------------------------


def test_cli_simulate_coils_writes_ismrmrd_that_info_describes(tmp_path, capsys, cine):
    source = tmp_path / "cine.npz"
    np.savez(source, cine=np.abs(cine), pixel_spacing_mm=np.array([1.5, 1.5]))
    out = tmp_path / "mc.h5"
    assert main(["simulate", str(source), "--coils", "6", "--acceleration", "1", "--noise", "0.01",
                 "--readout-oversampling", "2", "-o", str(out)]) == 0
    assert "ISMRMRD, 6 coils" in capsys.readouterr().out
    scan = read_raw(out)
    assert scan.kspace.shape == (T, 6, H, W) and scan.mask.all() and scan.noise is not None
    maps = birdcage_maps(6, (H, W))
    combined = sense_combine(ifft2c(scan.kspace), maps)
    assert _relative(np.abs(combined), np.abs(cine)) < 0.05  # noise sigma 0.01 against max 1
    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out.splitlines()
    assert "coils: 6" in info and "frames: 4 (binned by phase)" in info
    assert "already undersampled: no (fully sampled)" in info and "readout oversampling: removed, factor 2" in info
    assert any(line.startswith("noise scans: ") and "none" not in line for line in info)
    assert "pixel spacing: 1.5 x 1.5 mm (row x col)" in info
    # --coils needs an .h5 output; the npz output is unchanged otherwise
    assert main(["simulate", str(source), "--coils", "6", "-o", str(tmp_path / "x.npz")]) == 2
    assert ".h5" in capsys.readouterr().err and not (tmp_path / "x.npz").exists()
    assert main(["simulate", str(source), "--coils", "6", "-o", str(out)]) == 2  # exists, no --overwrite
    capsys.readouterr()


def test_cli_info_shows_the_pixel_spacing_of_simulate_and_recon_npz(tmp_path, capsys, cine):
    source = tmp_path / "cine.npz"
    np.savez(source, cine=np.abs(cine), pixel_spacing_mm=np.array([1.25, 0.75]))
    sim, recon = tmp_path / "sim.npz", tmp_path / "recon.npz"
    assert main(["simulate", str(source), "-o", str(sim), "--acceleration", "2", "--center-lines", "4"]) == 0
    assert main(["recon", str(sim), "-o", str(recon), "--model", "zero-filled", "--device", "cpu"]) == 0
    with np.load(sim) as stored:
        assert "pixel_spacing_mm" not in stored and json.loads(str(stored["meta"]))["pixel_spacing_mm"] == [1.25, 0.75]
    capsys.readouterr()
    for path in (sim, recon):
        assert main(["info", str(path)]) == 0
        assert "pixel spacing: 1.25 x 0.75 mm (row x col)" in capsys.readouterr().out.splitlines()


def test_recon_reconstructs_raw_scans_with_coil_maps(tmp_path, capsys):
    # a fully sampled 4-coil ISMRMRD scan is undersampled on the fly and reconstructed with SENSE
    # (target: its fully sampled combination); an undersampled one is reconstructed as measured
    import json

    from napari_dynmri.cli import main
    from napari_dynmri.data.phantom import cardiac_phantom
    from napari_dynmri.physics import Acquisition
    from napari_dynmri.simulation_coils import simulate_multicoil

    cine = cardiac_phantom(6, 48, 48, seed=4)
    full = tmp_path / "full.h5"
    simulate_multicoil(cine, 4).write_ismrmrd(full)
    out = tmp_path / "recon.npz"
    assert main(["recon", str(full), "-o", str(out), "--model", "cs-xf", "--lam", "0.003", "--iterations", "20",
                 "--acceleration", "4", "--center-lines", "6", "--device", "cpu"]) == 0
    assert "PSNR" in capsys.readouterr().out
    with np.load(out) as saved:
        target, recon, zero_filled = saved["target"], saved["recon"], saved["zero_filled"]
        kspace, maps = saved["kspace"], saved["coil_maps"]
        meta = json.loads(str(saved["meta"]))
    assert kspace.shape == (6, 4, 48, 48) and maps.shape == (4, 48, 48)
    assert meta["acquisition"]["actual_acceleration"] > 2 and meta["acquisition"]["coils"] == 4
    # in magnitude and up to the max-1 scaling, the fully sampled combination is the phantom (ESPIRiT's
    # maps carry a smooth phase of their own)
    scale = np.abs(cine).max()
    assert np.median(np.abs(np.abs(target) * scale - np.abs(cine))) < 0.02 * scale
    assert psnr(recon, target) > psnr(zero_filled, target) + 2.0
    under = tmp_path / "under.h5"
    simulate_multicoil(cine, 4, acquisition=Acquisition("vd-random", 4.0, 6, 0)).write_ismrmrd(under)
    assert main(["recon", str(under), "-o", str(tmp_path / "under.npz"), "--model", "zero-filled"]) == 0
    with np.load(tmp_path / "under.npz") as saved:
        assert "target" not in saved and saved["recon"].shape == cine.shape
    assert main(["recon", str(under), "-o", str(tmp_path / "net.npz"), "--model", "dynmri-default"]) == 2
    assert main(["simulate", str(under), "-o", str(tmp_path / "sim.npz")]) == 2  # not a cine
