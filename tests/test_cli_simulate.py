import json

import numpy as np
import pytest

from napari_dynmri.cli import main
from napari_dynmri.physics import fft2c, ifft2c


def test_simulate_sample_writes_the_npz_contract(tmp_path, capsys):
    out = tmp_path / "pig.npz"
    code = main(["simulate", "sample:pig", "-o", str(out), "--acceleration", "8", "--seed", "3"])
    assert code == 0
    assert "R = " in capsys.readouterr().out
    with np.load(out) as f:
        assert set(f.files) == {"target", "mask", "kspace", "zero_filled", "meta"}
        target, mask, kspace, zero_filled = f["target"], f["mask"], f["kspace"], f["zero_filled"]
        meta = json.loads(str(f["meta"]))
    assert target.dtype == kspace.dtype == zero_filled.dtype == np.complex64
    assert mask.dtype == bool and mask.shape == target.shape == (20, 256, 256)
    assert np.abs(target).max() == pytest.approx(1.0)
    np.testing.assert_allclose(kspace, fft2c(target) * mask, atol=1e-5)
    np.testing.assert_allclose(zero_filled, ifft2c(kspace), atol=1e-5)
    np.testing.assert_array_equal(mask[..., 0].sum(axis=1), 32)  # round(256 / 8) rows per frame
    assert meta["mask"] == "vd-random" and meta["seed"] == 3 and meta["center_lines"] == 8
    assert meta["actual_acceleration"] == pytest.approx(8.0)
    assert meta["source"] == "sample:pig"


def test_simulate_multislice_file_with_noise(tmp_path):
    data = np.random.default_rng(0).random((3, 5, 32, 24)).astype(np.float32) * 100
    src = tmp_path / "cine.npy"
    np.save(src, data)
    out = tmp_path / "sim.npz"
    argv = ["simulate", str(src), "-o", str(out), "--slice", "2", "--mask", "equispaced",
            "--acceleration", "4", "--center-lines", "4", "--noise", "0.01"]
    assert main(argv) == 0
    with np.load(out) as f:
        np.testing.assert_allclose(np.abs(f["target"]), data[2] / data[2].max(), rtol=1e-6)
        residual = f["kspace"] - fft2c(f["target"]) * f["mask"]
        assert 0.005 < residual[f["mask"]].std() < 0.02


@pytest.mark.parametrize(
    "argv_tail, message",
    [
        (["--slice", "7"], "slice 7 does not exist"),
        (["--acceleration", "0.5"], "acceleration"),
    ],
)
def test_simulate_bad_options_exit_2_with_one_line(tmp_path, capsys, argv_tail, message):
    src = tmp_path / "cine.npy"
    np.save(src, np.ones((2, 4, 16, 16), np.float32))
    code = main(["simulate", str(src), "-o", str(tmp_path / "o.npz"), *argv_tail])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_simulate_bad_inputs(tmp_path, capsys):
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full((4, 16, 16), np.nan, np.float32))
    empty = tmp_path / "empty"
    empty.mkdir()
    for bad in (str(nan), str(empty), str(tmp_path / "missing.nii.gz"), "sample:dog"):
        code = main(["simulate", bad, "-o", str(tmp_path / "o.npz")])
        err = capsys.readouterr().err
        assert code == 2, bad
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "o.npz").exists()


def test_simulate_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "o.npz"
    out.write_bytes(b"keep me")
    assert main(["simulate", "sample:phantom", "-o", str(out)]) == 2
    assert out.read_bytes() == b"keep me"
    assert main(["simulate", "sample:phantom", "-o", str(out), "--overwrite"]) == 0


def test_simulation_save_load_round_trip_and_acquisition_spec(tmp_path):
    from napari_dynmri.data.phantom import cardiac_phantom
    from napari_dynmri.physics import Acquisition
    from napari_dynmri.simulation import Simulation, simulate

    target = cardiac_phantom(6, 32, 24, seed=0)
    spec = Acquisition("uniform-random", 4, center_lines=4, seed=2, noise=0.01)
    sim = simulate(target, spec)
    plain = simulate(target, kind="uniform-random", acceleration=4, center_lines=4, seed=2, noise=0.01)
    np.testing.assert_array_equal(sim.mask, spec.mask(target.shape))
    np.testing.assert_array_equal(sim.kspace, plain.kspace)
    assert sim.meta == plain.meta
    path = sim.save(tmp_path / "sim.npz")
    assert Simulation.is_simulation(path) and not Simulation.is_simulation(tmp_path / "missing.npz")
    loaded = Simulation.load(path)
    for key in ("target", "mask", "kspace", "zero_filled"):
        np.testing.assert_array_equal(getattr(loaded, key), getattr(sim, key))
    assert loaded.meta == sim.meta
    with pytest.raises(FileExistsError):
        sim.save(path)
