"""Raw multi-coil k-space in the viewer: the reader's layers, and Undersample / Reconstruct / Compare on them."""

import numpy as np
import pytest

from napari_dynmri._napari._compare_widget import CompareWidget
from napari_dynmri._napari._layers import KSPACE_KEY, MAPS_KEY, MASK_KEY, ROLE_KEY
from napari_dynmri._napari._reader import napari_get_reader, read_cine_layers, read_raw_layers
from napari_dynmri._napari._reconstruct_widget import ReconstructWidget
from napari_dynmri._napari._undersample_widget import UndersampleWidget
from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.io.raw.cfl import write_cfl
from napari_dynmri.metrics import psnr
from napari_dynmri.physics import Acquisition
from napari_dynmri.simulation_coils import simulate_multicoil

pytestmark = pytest.mark.usefixtures("one_thread")

COILS = 4


@pytest.fixture(scope="module")
def phantom():
    """The complex ``(6, 48, 48)`` phantom the raw files are simulated from, max magnitude 1."""
    cine = cardiac_phantom(6, 48, 48, seed=2)
    return cine / np.abs(cine).max()


@pytest.fixture(scope="module")
def raw_files(phantom, tmp_path_factory):
    """ISMRMRD files of the phantom seen by 4 birdcage coils: ``(fully sampled, undersampled R = 3)``."""
    folder = tmp_path_factory.mktemp("raw")
    full = simulate_multicoil(phantom, COILS).write_ismrmrd(folder / "full.h5")
    under = simulate_multicoil(phantom, COILS, acquisition=Acquisition("vd-random", 3.0, 6, 0)).write_ismrmrd(
        folder / "under.h5"
    )
    return full, under


def reconstruct(qtbot, viewer, layer, spec="cs-xf", iterations=15):
    widget = ReconstructWidget(viewer)
    widget.image.value = layer
    widget.model.value = spec
    widget.automatic_weight.value = False
    widget.iterations.value = iterations
    widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=60_000)
    return widget


def test_reader_claims_raw_files_only(raw_files, phantom, tmp_path):
    full, _ = raw_files
    assert napari_get_reader(str(full)) is read_raw_layers
    write_cfl(tmp_path / "scan", np.ones((8, 8), dtype=np.complex64))
    assert napari_get_reader(str(tmp_path / "scan.cfl")) is read_raw_layers
    np.savez(tmp_path / "cine.npz", image=np.abs(phantom))
    assert napari_get_reader(str(tmp_path / "cine.npz")) is read_cine_layers


def test_fully_sampled_raw_opens_as_the_combined_cine_and_the_widgets_run_on_it(
    make_napari_viewer, qtbot, raw_files, phantom
):
    viewer = make_napari_viewer()
    cine, maps = viewer.open(raw_files[0], plugin="napari-dynmri")
    assert cine.name == "full" and cine.metadata[ROLE_KEY] == "cine" and cine.data.shape == phantom.shape
    # ESPIRiT + SENSE-1 gives the source back up to a phase per pixel, scaled to max 1
    np.testing.assert_allclose(cine.data, np.abs(phantom), atol=0.02)
    assert maps.metadata[ROLE_KEY] == "coil maps" and not maps.visible and maps.data.shape == (COILS, 48, 48)
    assert tuple(maps.axis_labels) == ("coil", "y", "x")

    undersample = UndersampleWidget(viewer)
    assert list(undersample.image.choices) == [cine]  # not the coil maps
    undersample.image.value = cine
    undersample.acceleration.value = 4.0
    _, _, zero_filled = undersample.run()
    recon = reconstruct(qtbot, viewer, zero_filled).result_layer
    assert recon is not None and recon.data.shape == phantom.shape

    compare = CompareWidget(viewer)
    compare.reference.value = cine
    compare.results.value = [zero_filled, recon]
    compare.compare()
    qtbot.waitUntil(lambda: not compare.running, timeout=30_000)
    scores = {name: metrics["psnr"] for name, metrics in compare.metrics.items()}
    assert scores[recon.name] > scores[zero_filled.name] + 1.0


def test_undersampled_raw_is_reconstructed_with_its_coil_maps(
    make_napari_viewer, qtbot, raw_files, phantom, napari_notifications
):
    viewer = make_napari_viewer()
    zero_filled, maps = viewer.open(raw_files[1], plugin="napari-dynmri")
    assert zero_filled.metadata[ROLE_KEY] == "zero-filled" and zero_filled.name == "zero-filled under"
    assert zero_filled.metadata[KSPACE_KEY].shape == (6, COILS, 48, 48)
    assert zero_filled.metadata[MASK_KEY].shape == (6, 48, 48) and not zero_filled.metadata[MASK_KEY].all()
    assert zero_filled.metadata[MAPS_KEY].shape == (COILS, 48, 48) and maps.metadata[ROLE_KEY] == "coil maps"

    widget = reconstruct(qtbot, viewer, zero_filled)
    assert "4 coils" in widget.input_note.value
    recon = widget.result_layer
    scale = np.abs(recon.data).max() / np.abs(phantom).max()  # the scan is in its own units
    assert psnr(recon.data / scale, np.abs(phantom)) > psnr(zero_filled.data / scale, np.abs(phantom)) + 2.0

    assert reconstruct(qtbot, viewer, zero_filled, spec="dynmri-default").result_layer is None
    assert len(napari_notifications) == 1 and "single-coil" in napari_notifications[0][1]


def test_a_damaged_raw_file_gives_one_notification(make_napari_viewer, raw_files, tmp_path, napari_notifications):
    damaged = tmp_path / "damaged.h5"
    damaged.write_bytes(raw_files[0].read_bytes()[:5000])
    viewer = make_napari_viewer()
    assert viewer.open(damaged, plugin="napari-dynmri") == []
    assert read_raw_layers(str(damaged)) == [(None,)]
    assert len(viewer.layers) == 0
    assert [severity for severity, _ in napari_notifications] == ["error", "error"]
    assert all("damaged.h5" in message and "\n" not in message for _, message in napari_notifications)
