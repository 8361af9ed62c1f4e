"""What a reconstruction returns (``napari_dynmri.Reconstruction``) and its npz: the one writer of ``dynmri recon``."""

import dataclasses
import json

import numpy as np
import pytest

import napari_dynmri as dm
from napari_dynmri.cli import main
from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.physics import Acquisition, ifft2c
from napari_dynmri.recon import Reconstruction, get_method
from napari_dynmri.simulation import simulate

pytestmark = pytest.mark.usefixtures("one_thread")
CLI_KEYS = {"recon", "kspace", "mask", "zero_filled", "meta", "target"}


@pytest.fixture(scope="module")
def sim():
    return simulate(cardiac_phantom(6, 32, 32, seed=2), Acquisition("vd-random", 4, 4, 1), source="phantom")


@pytest.fixture(scope="module")
def result(sim):
    """A cs-xf reconstruction with its trust map, told what the caller knows (as ``dynmri recon`` does)."""
    made = get_method("cs-xf", device="cpu", lam=0.003, iterations=5, uncertainty=True).reconstruct(sim.kspace, sim.mask)
    return dataclasses.replace(made, zero_filled=sim.zero_filled, target=sim.target, source="phantom",
                               acquisition_meta=sim.meta)


def test_the_top_level_reconstruction_is_the_one_methods_return(sim):
    assert dm.Reconstruction is Reconstruction
    assert isinstance(dm.reconstruct(sim.kspace, sim.mask, "zero-filled", device="cpu"), Reconstruction)


def test_save_and_load_round_trip_every_field(result, tmp_path):
    path = result.save(tmp_path / "recon.npz")
    loaded = Reconstruction.load(path)
    for key in ("image", "kspace", "mask", "zero_filled", "target", "uncertainty"):
        np.testing.assert_array_equal(getattr(loaded, key), getattr(result, key))
        assert getattr(loaded, key).dtype == getattr(result, key).dtype, key
    assert loaded.uncertainty.dtype == np.float32 and loaded.image.dtype == np.complex64 and loaded.mask.dtype == bool
    assert loaded.settings == result.settings and loaded.settings["weight"] == "fixed"
    assert (loaded.method, loaded.device, loaded.description, loaded.source) == (
        "cs-xf", "cpu", result.description, "phantom")
    assert loaded.seconds == round(result.seconds, 3) and loaded.acquisition_meta == result.acquisition_meta
    assert loaded.coil_maps is None
    with pytest.raises(FileExistsError):
        result.save(path)
    result.save(path, overwrite=True)


def test_dynmri_recon_writes_what_save_writes(sim, tmp_path, capsys):
    source = sim.save(tmp_path / "sim.npz")
    out = tmp_path / "out.npz"
    assert main(["recon", str(source), "-o", str(out), "--model", "zero-filled", "--device", "cpu"]) == 0
    with np.load(out) as saved:
        assert set(saved.files) == CLI_KEYS
        dtypes = {key: saved[key].dtype for key in saved.files}
        meta = json.loads(str(saved["meta"]))
    assert dtypes == {"recon": np.complex64, "kspace": np.complex64, "mask": bool, "zero_filled": np.complex64,
                      "target": np.complex64, "meta": dtypes["meta"]} and dtypes["meta"].kind == "U"
    assert set(meta) == {"method", "description", "device", "seconds", "settings", "input", "acquisition"}
    loaded = Reconstruction.load(out)
    assert (loaded.method, loaded.source, loaded.settings) == ("zero-filled", str(source), {})
    assert loaded.acquisition_meta == sim.meta
    np.testing.assert_allclose(loaded.image, ifft2c(sim.kspace), atol=1e-6)
    again = tmp_path / "again.npz"
    dataclasses.replace(loaded, seconds=meta["seconds"]).save(again)
    with np.load(out) as first, np.load(again) as second:  # the same writer: the same arrays and meta
        for key in CLI_KEYS:
            np.testing.assert_array_equal(first[key], second[key])


def test_a_multicoil_result_keeps_its_coils_and_combines_its_zero_filled(tmp_path):
    from napari_dynmri.physics.coils import sense_combine
    from napari_dynmri.simulation_coils import simulate_multicoil

    coils = simulate_multicoil(cardiac_phantom(4, 24, 24, seed=0), 3, acquisition=Acquisition("vd-random", 3, 4, 0))
    result = get_method("zero-filled").reconstruct(coils.kspace, coils.mask, maps=coils.maps)
    assert result.kspace.shape == (4, 3, 24, 24) and result.coil_maps is coils.maps
    loaded = Reconstruction.load(result.save(tmp_path / "coils.npz"))
    np.testing.assert_array_equal(loaded.coil_maps, coils.maps)
    np.testing.assert_array_equal(loaded.kspace, coils.kspace)
    np.testing.assert_allclose(loaded.zero_filled, sense_combine(ifft2c(coils.kspace), coils.maps), atol=1e-6)


@pytest.mark.parametrize("spoil, message", [
    (lambda a: a.pop("meta"), "has no array 'meta'"),
    (lambda a: a.pop("mask"), "has no array 'mask'"),
    (lambda a: a.update(recon=np.array([{"pickled": True}], dtype=object)), "pickled data"),
    (lambda a: a.update(uncertainty=a["uncertainty"][:-1]), "uncertainty has shape"),
    (lambda a: a.update(kspace=np.abs(a["kspace"])), "kspace must be complex"),
    (lambda a: a.update(meta=np.array(json.dumps({**json.loads(str(a["meta"])), "seconds": -1}))),
     "meta.seconds must be a number >= 0"),
    (lambda a: a.update(meta=np.array(json.dumps({"method": "cs-xf"}))), "meta.description is missing"),
])
def test_load_refuses_a_file_it_did_not_write_with_one_line(result, tmp_path, spoil, message):
    arrays = result.to_npz_dict()
    spoil(arrays)
    path = tmp_path / "spoilt.npz"
    np.savez(path, **arrays)  # numpy pickles an object array unasked
    with pytest.raises(ValueError, match=message) as info:
        Reconstruction.load(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_save_needs_the_kspace_it_was_made_from(result):
    with pytest.raises(ValueError, match="no k-space and mask"):
        dataclasses.replace(result, kspace=None).to_npz_dict()
