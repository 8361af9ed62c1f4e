"""The napari manifest, reader and sample data of napari-dynmri (headless, under Xvfb)."""

from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED
from napari_dynmri._napari._layers import COMPLEX_KEY, SPACING_KEY
from napari_dynmri._napari._reader import napari_get_reader
from napari_dynmri.io import write_cine

ROOT = Path(__file__).resolve().parents[1]
DICOM_FOLDER = SHARED / "data" / "pig_cine" / "dicom_sax_2slices"


def test_manifest_is_valid_and_every_command_imports():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_file(ROOT / "src" / "napari_dynmri" / "napari.yaml")
    manifest.validate_imports()
    assert manifest.display_name == "Dynamic MRI Reconstruction"
    assert {"Image Processing", "IO"} <= {str(c) for c in manifest.categories}
    widgets = {w.display_name for w in manifest.contributions.widgets}
    assert widgets == {"Undersample", "Reconstruct", "Compare", "Export", "x-t profile"}
    assert {s.key for s in manifest.contributions.sample_data} == {"pig", "phantom"}


def test_plugin_menu_lists_every_widget(make_napari_viewer):
    viewer = make_napari_viewer()
    for name in ("Undersample", "Reconstruct", "Compare", "Export", "x-t profile"):
        _, widget = viewer.window.add_plugin_dock_widget("napari-dynmri", name)
        assert type(widget).__module__.startswith("napari_dynmri._napari.")


@pytest.mark.skipif(not DICOM_FOLDER.is_dir(), reason="../shared/data is not next to the repository")
def test_dicom_folder_opens_as_one_labelled_layer(make_napari_viewer):
    viewer = make_napari_viewer()
    layers = viewer.open(DICOM_FOLDER, plugin="napari-dynmri")
    assert len(layers) == 1
    layer = layers[0]
    assert layer.data.shape == (2, 20, 256, 256)
    assert layer.name == "dicom_sax_2slices"
    assert tuple(layer.axis_labels) == ("z", "t", "y", "x")
    assert tuple(viewer.dims.axis_labels) == ("z", "t", "y", "x")
    spacing = layer.metadata[SPACING_KEY]
    assert spacing == pytest.approx((0.8203, 0.8203), abs=1e-3)
    np.testing.assert_allclose(layer.scale[-2:], spacing)
    assert layer.metadata["dynmri_meta"]["format"].lower().startswith("dicom")
    assert layer.metadata["trigger_times_ms"].shape == (2, 20)


def test_complex_npz_opens_as_magnitude_keeping_the_complex_cine(make_napari_viewer, tmp_path):
    rng = np.random.default_rng(0)
    cine = (rng.standard_normal((4, 16, 16)) + 1j * rng.standard_normal((4, 16, 16))).astype(np.complex64)
    path = write_cine(tmp_path / "cine.npz", cine, pixel_spacing_mm=(1.5, 2.0))
    layer = make_napari_viewer().open(path, plugin="napari-dynmri")[0]
    assert layer.name == "cine"
    np.testing.assert_allclose(layer.data, np.abs(cine), rtol=1e-6)
    np.testing.assert_array_equal(layer.metadata[COMPLEX_KEY], cine)
    assert tuple(layer.scale) == (1.0, 1.5, 2.0)
    assert tuple(layer.axis_labels) == ("t", "y", "x")


def test_nifti_file_name_loses_both_suffixes(make_napari_viewer, tmp_path):
    cine = np.arange(3 * 8 * 8, dtype=np.float32).reshape(3, 8, 8)
    path = write_cine(tmp_path / "short axis.nii.gz", cine)
    layer = make_napari_viewer().open(path, plugin="napari-dynmri")[0]
    assert layer.name == "short axis"
    np.testing.assert_allclose(layer.data, cine)


def test_reader_declines_what_the_core_cannot_read(tmp_path):
    (tmp_path / "notes.txt").write_text("not a cine")
    assert napari_get_reader(str(tmp_path / "notes.txt")) is None
    assert napari_get_reader(str(tmp_path)) is None  # a folder without DICOM files


def test_invalid_cine_file_gives_a_notification_not_a_traceback(make_napari_viewer, tmp_path,
                                                                 napari_notifications):
    np.savez(tmp_path / "flat.npz", image=np.zeros((4, 4)))
    viewer = make_napari_viewer()
    assert viewer.open(tmp_path / "flat.npz", plugin="napari-dynmri") == []
    assert len(viewer.layers) == 0
    assert [s for s, _ in napari_notifications] == ["error"]
    assert "flat.npz" in napari_notifications[0][1] and "(T, H, W)" in napari_notifications[0][1]


@pytest.mark.parametrize(("key", "shape", "name"), [("pig", (20, 256, 256), "pig cine"),
                                                    ("phantom", (20, 128, 128), "cardiac phantom")])
def test_sample_data(make_napari_viewer, key, shape, name):
    viewer = make_napari_viewer()
    layer = viewer.open_sample("napari-dynmri", key)[0]
    assert layer.name == name
    assert layer.data.shape == shape and layer.data.dtype == np.float32
    assert tuple(layer.axis_labels) == ("t", "y", "x")
    assert layer.metadata["dynmri_source"] == f"sample:{key}"
    assert layer.data.max() > 0
    if key == "phantom":  # complex phantom: the magnitude is shown, the complex cine kept
        np.testing.assert_allclose(layer.data, np.abs(layer.metadata[COMPLEX_KEY]), rtol=1e-6)
    else:
        assert layer.scale[-1] == pytest.approx(layer.metadata[SPACING_KEY][1])
