"""File > Save Layers: the npe2 writer saves a reconstruction as an .npz with its settings JSON."""

import json
from pathlib import Path

import numpy as np
import pytest

from napari_dynmri._napari._layers import COMPLEX_KEY, SETTINGS_KEY, SPACING_KEY, TIMES_KEY
from napari_dynmri._napari._writer import write_reconstruction
from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.io import read_cine
from napari_dynmri.recon.settings import RECON_DEFAULTS

MANIFEST = Path(__file__).resolve().parents[1] / "src" / "napari_dynmri" / "napari.yaml"
RECON = {**RECON_DEFAULTS, "model": "cs-xf", "lam": 0.004, "iterations": 30, "device": "cpu"}


def _reconstruction():
    cine = cardiac_phantom(4, 16, 16, seed=1).astype(np.complex64)
    metadata = {
        COMPLEX_KEY: cine,
        SPACING_KEY: (1.25, 1.5),
        TIMES_KEY: np.array([0.0, 40.0, 80.0, 120.0]),
        SETTINGS_KEY: {"mask": "vd-random", "seed": 3, "recon": RECON},
    }
    return np.abs(cine), {"name": "recon (cs-xf)", "metadata": metadata}


def test_the_writer_saves_the_complex_cine_and_its_settings(tmp_path):
    data, attributes = _reconstruction()
    path = tmp_path / "recon.npz"

    assert write_reconstruction(str(path), data, attributes) == [str(path)]

    back = read_cine(path)
    np.testing.assert_array_equal(back.data, attributes["metadata"][COMPLEX_KEY])
    assert back.pixel_spacing_mm == pytest.approx((1.25, 1.5))
    with np.load(path) as archive:
        settings = json.loads(str(archive["settings"]))
    assert settings["recon"] == RECON
    assert settings["layers"]["recon (cs-xf)"]["seed"] == 3
    assert settings["files"] == {"recon.npz": {"layer": "recon (cs-xf)"}}


def test_a_plain_image_is_saved_as_displayed_without_recon_options(tmp_path):
    data = np.abs(cardiac_phantom(4, 16, 16, seed=2)).astype(np.float32)
    path = tmp_path / "phantom.npz"
    write_reconstruction(str(path), data, {"name": "phantom", "metadata": {}})
    np.testing.assert_array_equal(read_cine(path).data, data)
    with np.load(path) as archive:
        assert "recon" not in json.loads(str(archive["settings"]))


def test_manifest_declares_the_writer_and_raw_reader_patterns():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_file(MANIFEST)
    (writer,) = manifest.contributions.writers
    assert writer.command == "napari-dynmri.write_reconstruction"
    assert [str(t) for t in writer.layer_types] == ["image"] and writer.filename_extensions == [".npz"]
    (reader,) = manifest.contributions.readers
    assert reader.command == "napari-dynmri.get_reader"
    assert {"*.cfl", "*.hdr"} <= set(reader.filename_patterns)


def test_save_layers_goes_through_the_plugin(tmp_path):
    from napari._app_model import get_app_model
    from napari.components import ViewerModel
    from napari.plugins import _initialize_plugins

    if "napari-dynmri.get_reader" not in get_app_model().commands:  # once a process: another test may have
        _initialize_plugins()  # a ViewerModel without a window does not load the plugins itself
    data, attributes = _reconstruction()
    viewer = ViewerModel()
    viewer.add_image(data, name=attributes["name"], metadata=attributes["metadata"])
    path = tmp_path / "saved.npz"
    written = viewer.layers.save(str(path), selected=False, plugin="napari-dynmri")
    assert written == [str(path)]
    with np.load(path) as archive:
        assert json.loads(str(archive["settings"]))["recon"] == RECON
