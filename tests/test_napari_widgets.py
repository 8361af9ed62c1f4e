"""Each napari-dynmri widget end to end on a small phantom, and its error paths (headless, under Xvfb)."""

import csv
import json
import time

import numpy as np
import pytest

from napari_dynmri._napari import _reconstruct_widget
from napari_dynmri._napari._compare_widget import CompareWidget
from napari_dynmri._napari._export_widget import ExportWidget
from napari_dynmri._napari._layers import COMPLEX_KEY, MASK_KEY, METRICS_KEY, SETTINGS_KEY
from napari_dynmri._napari._profile_widget import TITLE_WIDTH, ProfileWidget
from napari_dynmri._napari._reconstruct_widget import ReconstructWidget
from napari_dynmri._napari._undersample_widget import UndersampleWidget
from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.edges import sobel_magnitude
from napari_dynmri.io import read_cine
from napari_dynmri.metrics import evaluate, psnr_per_frame, ssim_per_frame
from napari_dynmri.physics import make_mask, undersample
from napari_dynmri.profiles import line_profile
from napari_dynmri.recon import ReconCancelled, ReconMethod
from napari_dynmri.recon.settings import RECON_DEFAULTS
from napari_dynmri.recon.sparse import LPS_DEFAULT_LAM_LOWRANK
from napari_dynmri.recon.windowed import DEFAULT_OVERLAP, DEFAULT_WINDOW

SHAPE = (8, 64, 64)


@pytest.fixture
def phantom():
    return cardiac_phantom(*SHAPE, seed=1)


@pytest.fixture
def viewer(make_napari_viewer, phantom):
    """A viewer holding the complex phantom as layer 'phantom' (magnitude shown, complex in metadata)."""
    viewer = make_napari_viewer()
    viewer.add_image(np.abs(phantom), name="phantom", metadata={COMPLEX_KEY: phantom})
    return viewer


def undersampled(viewer, acceleration=4.0, seed=3, layer_name="phantom"):
    widget = UndersampleWidget(viewer)
    widget.image.value = viewer.layers[layer_name]
    widget.acceleration.value = acceleration
    widget.seed.value = seed
    return widget, widget.run()


def reconstruct(qtbot, widget, timeout=60_000):
    widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=timeout)


class StandInMethod(ReconMethod):
    """A reconstruction method doing nothing useful, slowly, or failing on purpose."""

    device = "cpu"
    description = "stand-in"

    def __init__(self, error=None, steps=1, delay=0.0):
        self.error, self.steps, self.delay = error, steps, delay

    def compute(self, kspace, mask, progress=None, should_stop=None, maps=None):
        for step in range(self.steps):
            if should_stop():
                raise ReconCancelled("stopped")
            time.sleep(self.delay)
            progress(step + 1, self.steps)
        if self.error is not None:
            raise self.error
        return np.fft.ifft2(kspace).astype(np.complex64), {}, None


def shown(widget) -> bool:
    """Whether ``widget`` is set to show (``visible`` is False for every widget of a hidden container)."""
    return not widget.native.isHidden()


def use_method(monkeypatch, method):
    monkeypatch.setattr(_reconstruct_widget, "get_method", lambda spec, device, **options: method)


def test_undersample_adds_mask_kspace_and_zero_filled(viewer, phantom):
    widget, (mask_layer, kspace_layer, zero_filled) = undersampled(viewer)
    expected_mask = make_mask("vd-random", SHAPE, 4.0, center_lines=8, seed=3)
    expected_kspace, expected_zero_filled = undersample(phantom, expected_mask, seed=3)
    assert [layer.name for layer in viewer.layers] == ["phantom", "mask", "k-space (log)", "zero-filled"]
    np.testing.assert_array_equal(mask_layer.data, expected_mask.astype(np.uint8))
    assert tuple(mask_layer.axis_labels) == ("t", "y", "x")
    np.testing.assert_allclose(kspace_layer.data, np.log1p(np.abs(expected_kspace)), rtol=1e-5)
    np.testing.assert_allclose(zero_filled.metadata[COMPLEX_KEY], expected_zero_filled, atol=1e-6)
    np.testing.assert_allclose(zero_filled.data, np.abs(expected_zero_filled), atol=1e-6)
    np.testing.assert_array_equal(zero_filled.metadata[MASK_KEY], expected_mask)
    settings = zero_filled.metadata[SETTINGS_KEY]
    assert (settings["mask"], settings["seed"], settings["acceleration"]) == ("vd-random", 3, 4.0)
    assert widget.result.value == f"actual acceleration: {settings['actual_acceleration']:.2f}x"
    np.testing.assert_array_equal(viewer.layers["phantom"].data, np.abs(phantom))  # input untouched


def test_undersample_uses_the_displayed_slice_of_a_multislice_cine(make_napari_viewer, phantom):
    viewer = make_napari_viewer()
    stack = np.stack([np.abs(phantom), 2 * np.abs(phantom)])
    viewer.add_image(stack, name="phantom")
    viewer.dims.set_current_step(0, 1)
    _, layers = undersampled(viewer, acceleration=1.0)  # R = 1: zero-filled equals the slice
    np.testing.assert_allclose(layers[-1].data, stack[1], atol=1e-5)
    assert layers[-1].metadata[SETTINGS_KEY]["slice"] == 1


def test_reconstruct_adds_the_trust_map_when_asked(viewer, qtbot, phantom):
    _, (_, _, zero_filled) = undersampled(viewer)
    widget = ReconstructWidget(viewer)
    widget.image.value = zero_filled
    widget.model.value = "cs-xf"
    assert shown(widget.uncertainty) and not widget.uncertainty.value
    widget.automatic_weight.value = False
    widget.iterations.value = 10
    widget.uncertainty.value = True
    widget.device.value = "cpu"
    widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=60_000)
    trust = viewer.layers["trust map of recon (cs-xf)"]
    assert trust.data.shape == phantom.shape and trust.data.min() >= 0 and trust.data.max() > 0
    assert widget.result_layer.metadata[SETTINGS_KEY]["recon"]["uncertainty"] is True
    widget.model.value = "view-sharing"
    assert not shown(widget.uncertainty)


@pytest.mark.parametrize("spec", ["cs-ttv", "cs-xf"])
def test_reconstruct_runs_cs_in_a_worker_with_progress(viewer, qtbot, phantom, spec):
    _, (_, _, zero_filled) = undersampled(viewer)
    widget = ReconstructWidget(viewer)
    widget.image.value = zero_filled
    widget.model.value = spec
    assert shown(widget.automatic_weight) and widget.automatic_weight.value and not shown(widget.lam)
    widget.iterations.value = 15
    widget.device.value = "cpu"
    widget.run()
    assert widget.running and widget.cancel_button.enabled and not widget.run_button.enabled
    bar = widget.progress_bar
    assert any(child is bar for child in widget) and shown(bar)  # the progress is in the widget itself
    qtbot.waitUntil(lambda: not widget.running, timeout=60_000)
    assert bar.value == bar.max > 15  # candidate weights, then the final solve
    recon = viewer.layers[f"recon ({spec})"]
    assert recon is widget.result_layer
    assert widget.status.value.startswith("done in ") and "cross-validated" in widget.status.value
    settings = recon.metadata[SETTINGS_KEY]
    assert (settings["model"], settings["device"], settings["mask"], settings["reference"]) == (
        spec, "cpu", "vd-random", "phantom")
    assert settings["method_settings"]["weight"] == "cross-validated" and settings["method_settings"]["lam"] > 0
    assert psnr_per_frame(recon.metadata[COMPLEX_KEY], phantom).mean() > psnr_per_frame(
        zero_filled.metadata[COMPLEX_KEY], phantom).mean() + 3


def test_reconstruct_takes_a_fixed_cs_weight(viewer, qtbot, monkeypatch):
    seen = []
    monkeypatch.setattr(_reconstruct_widget, "get_method",
                        lambda spec, device, **options: seen.append((spec, options)) or StandInMethod())
    _, (_, _, zero_filled) = undersampled(viewer)
    widget = ReconstructWidget(viewer)
    widget.image.value = zero_filled
    widget.model.value = "cs-lps"
    widget.automatic_weight.value = False
    assert shown(widget.lam) and shown(widget.iterations)
    widget.lam.value = 0.004
    reconstruct(qtbot, widget)
    assert seen == [("cs-lps", {"lam": 0.004, "lam_lowrank": LPS_DEFAULT_LAM_LOWRANK, "iterations": 100})]
    assert not shown(widget.adapt)  # adaptation is for networks


def test_reconstruct_offers_adaptation_for_networks(viewer, qtbot, monkeypatch):
    seen = []
    monkeypatch.setattr(_reconstruct_widget, "get_method",
                        lambda spec, device, **options: seen.append((spec, options)) or StandInMethod())
    _, (_, _, zero_filled) = undersampled(viewer)
    widget = ReconstructWidget(viewer)
    widget.image.value = zero_filled
    widget.model.value = _reconstruct_widget.CHECKPOINT
    widget.checkpoint.value = __file__  # any existing file: the stand-in method ignores it
    assert shown(widget.adapt) and not shown(widget.adapt_iterations)
    widget.adapt.value = True
    assert shown(widget.adapt_iterations)
    widget.adapt_iterations.value = 7
    reconstruct(qtbot, widget)
    assert seen == [(__file__, {"window": DEFAULT_WINDOW, "overlap": DEFAULT_OVERLAP, "adapt": True, "adapt_iterations": 7})]


def test_reconstruct_offers_view_sharing_and_hides_the_cs_options(viewer, qtbot, phantom):
    _, (_, _, zero_filled) = undersampled(viewer)
    widget = ReconstructWidget(viewer)
    widget.image.value = zero_filled
    assert "view-sharing" in widget.model.choices
    widget.model.value = "view-sharing"
    assert not shown(widget.lam) and not shown(widget.iterations) and not shown(widget.automatic_weight)
    widget.device.value = "cpu"
    widget.run()
    qtbot.waitUntil(lambda: not widget.running, timeout=60_000)
    recon = viewer.layers["recon (view-sharing)"]
    assert recon.metadata[SETTINGS_KEY]["model"] == "view-sharing"
    assert psnr_per_frame(recon.metadata[COMPLEX_KEY], phantom).mean() > psnr_per_frame(
        zero_filled.metadata[COMPLEX_KEY], phantom).mean() + 2


def test_reconstruct_undersamples_a_fully_sampled_layer_on_the_fly(viewer, qtbot, monkeypatch):
    use_method(monkeypatch, StandInMethod())
    widget = ReconstructWidget(viewer)
    widget.image.value = viewer.layers["phantom"]
    widget.model.value = "cs-ttv"
    assert widget.input_note.value.startswith("fully sampled")
    reconstruct(qtbot, widget)
    names = [layer.name for layer in viewer.layers]
    assert names == ["phantom", "mask", "k-space (log)", "zero-filled", "recon (cs-ttv)"]
    assert viewer.layers["zero-filled"].metadata[SETTINGS_KEY]["acceleration"] == 8.0


def test_cancel_stops_a_running_reconstruction_and_changes_nothing(viewer, qtbot, napari_notifications):
    _, (_, _, zero_filled) = undersampled(viewer)
    widget = ReconstructWidget(viewer)
    widget.image.value = zero_filled
    widget.model.value = "cs-ttv"
    widget.automatic_weight.value = False
    widget.iterations.value = 100_000  # minutes of work unless cancelled
    widget.device.value = "cpu"
    names = [layer.name for layer in viewer.layers]
    widget.run()
    qtbot.waitUntil(lambda: widget.progress_bar.value > 2, timeout=30_000)
    started = time.perf_counter()
    widget.cancel_button.clicked.emit()
    qtbot.waitUntil(lambda: not widget.running, timeout=10_000)
    assert time.perf_counter() - started < 10
    assert [layer.name for layer in viewer.layers] == names
    assert widget.result_layer is None and widget.run_button.enabled and not widget.cancel_button.enabled
    assert ("info", "Reconstruction cancelled; the viewer is unchanged.") in napari_notifications


def test_reconstruct_errors_become_notifications(viewer, qtbot, monkeypatch, napari_notifications):
    _, (_, _, zero_filled) = undersampled(viewer)
    widget = ReconstructWidget(viewer)
    widget.image.value = zero_filled
    widget.model.value = "cs-ttv"
    cases = [
        (RuntimeError("size mismatch for conv1.weight\nmore torch detail"),
         "Could not reconstruct with 'cs-ttv': size mismatch for conv1.weight"),
        (MemoryError(), "Not enough memory to reconstruct with 'cs-ttv'"),
        (ValueError("the model needs at least 10 frames, got 8"), "the model needs at least 10 frames, got 8"),
    ]
    for error, expected in cases:
        use_method(monkeypatch, StandInMethod(error=error))
        reconstruct(qtbot, widget)
        assert napari_notifications[-1][0] == "error" and napari_notifications[-1][1].startswith(expected)
    assert len(napari_notifications) == 3
    assert len(viewer.layers) == 4


def test_reconstruct_with_a_missing_checkpoint_is_refused(viewer, napari_notifications, tmp_path):
    widget = ReconstructWidget(viewer)
    widget.image.value = viewer.layers["phantom"]
    widget.model.value = _reconstruct_widget.CHECKPOINT
    assert not widget.checkpoint.native.isHidden() and widget.iterations.native.isHidden()
    widget.checkpoint.value = tmp_path / "missing.safetensors"
    widget.run()
    assert not widget.running
    assert napari_notifications == [
        ("error", "Choose a checkpoint file (a model.json or weights file) before reconstructing.")]


def test_input_errors_become_notifications(make_napari_viewer, napari_notifications):
    viewer = make_napari_viewer()
    cases = [
        (np.zeros((64, 64), np.float32), False, "'2d' is a single 2D image"),
        (np.zeros((8, 64, 64, 3), np.uint8), True, "'rgb' is an RGB colour image"),
        (np.zeros((2, 2, 8, 16, 16), np.float32), False, "'5d' has 5 axes"),
    ]
    undersample_widget, recon_widget = UndersampleWidget(viewer), ReconstructWidget(viewer)
    for data, rgb, expected in cases:
        layer = viewer.add_image(data, name=expected.split("'")[1], rgb=rgb)
        undersample_widget.image.value = layer
        assert undersample_widget.run() is None
        recon_widget.image.value = layer
        recon_widget.run()
        assert not recon_widget.running
        assert [severity for severity, _ in napari_notifications[-2:]] == ["error", "error"]
        assert all(message.startswith(expected) for _, message in napari_notifications[-2:])
    assert len(napari_notifications) == 6
    assert [layer.name for layer in viewer.layers] == ["2d", "rgb", "5d"]


def compared(viewer, qtbot):
    """Undersample the phantom, add a slightly noisy copy as a second result, compare both (in the worker)."""
    _, (_, _, zero_filled) = undersampled(viewer)
    reference = viewer.layers["phantom"]
    noisy = viewer.add_image(reference.data + 0.01 * np.random.default_rng(0).random(SHAPE, np.float32),
                             name="noisy")
    widget = CompareWidget(viewer)
    widget.reference.value = reference
    widget.results.value = [zero_filled, noisy]
    widget.compare()
    assert widget.running  # off the GUI thread
    qtbot.waitUntil(lambda: not widget.running, timeout=30_000)
    return widget, reference, zero_filled, noisy


def test_compare_shows_sequence_psnr_plot_table_and_a_labelled_grid(viewer, qtbot):
    widget, reference, zero_filled, noisy = compared(viewer, qtbot)
    assert not any(layer.metadata.get("dynmri_role") in ("error", "edges") for layer in viewer.layers)

    expected = evaluate(zero_filled.data, reference.data)
    metrics = zero_filled.metadata[METRICS_KEY]
    assert metrics["psnr"] == pytest.approx(expected["psnr"])  # the sequence PSNR, as dynmri eval prints it
    np.testing.assert_allclose(metrics["psnr_per_frame"], expected["psnr_per_frame"])
    np.testing.assert_allclose(metrics["ssim_per_frame"], ssim_per_frame(zero_filled.data, reference.data))
    table = widget.panel.table_text()
    frames = expected["psnr_per_frame"]
    assert [row[0] for row in table] == ["zero-filled", "noisy"]
    assert table[0][1:3] == [f"{expected['psnr']:.2f}", f"{frames.min():.2f}-{frames.max():.2f}"]
    assert "whole sequence" in widget.panel.caption.text()
    lines = widget.panel.psnr_axes.get_lines()
    np.testing.assert_allclose(lines[0].get_ydata(), frames)
    assert all(float(tick) == int(tick) for tick in widget.panel.psnr_axes.get_xticks())

    viewer.dims.set_current_step(0, 5)
    assert widget.panel.frame == 5
    assert {dock for dock in viewer.window.dock_widgets} >= {"dynmri metrics"}

    # one click: reference, zero-filled and results side by side on the one time slider, each labelled
    widget.side_by_side()
    grid = viewer.canvas.grid
    assert grid.enabled
    visible = [layer for layer in viewer.layers if layer.visible]
    assert visible == [reference, zero_filled, noisy]
    assert [grid.position(viewer.layers.index(layer), viewer.layers) for layer in visible] == [(0, 0), (0, 1), (0, 2)]
    assert all(layer.name_overlay.visible for layer in visible)
    assert viewer.layers.selection.active is reference


def test_error_maps_are_made_when_shown_reused_and_scaled_to_the_reconstructions(viewer, qtbot):
    widget, reference, zero_filled, noisy = compared(viewer, qtbot)
    widget.view.value = "|error|"
    widget.side_by_side()
    error_layers = [viewer.layers["|error| zero-filled"], viewer.layers["|error| noisy"]]
    assert [layer.name for layer in viewer.layers if layer.visible] == [layer.name for layer in error_layers]
    np.testing.assert_allclose(error_layers[0].data, np.abs(zero_filled.data - reference.data), atol=1e-6)
    noisy_error = float(error_layers[1].data.max())  # the reconstructions' largest error, not zero filling's
    assert noisy_error < float(error_layers[0].data.max()) / 2
    assert all(tuple(layer.contrast_limits) == pytest.approx((0.0, noisy_error)) for layer in error_layers)
    assert widget.error_limit == pytest.approx(noisy_error)
    assert [layer.colorbar.visible for layer in error_layers] == [False, True]  # one legend for the shared scale
    widget.error_scale.value = "all results"
    widget.side_by_side()
    assert tuple(error_layers[1].contrast_limits) == pytest.approx((0.0, float(error_layers[0].data.max())))

    widget.view.value = "edges"
    widget.side_by_side()
    np.testing.assert_allclose(viewer.layers["edges phantom"].data, sobel_magnitude(reference.data), rtol=1e-5)
    count = len(viewer.layers)
    widget.compare()
    qtbot.waitUntil(lambda: not widget.running, timeout=30_000)
    widget.side_by_side()
    assert len(viewer.layers) == count  # a second comparison reuses the maps
    widget.single_view()
    assert not viewer.canvas.grid.enabled
    assert viewer.layers["noisy"].visible and not viewer.layers["|error| noisy"].visible
    assert not any(layer.name_overlay.visible for layer in viewer.layers)


def test_selection_lists_offer_only_layers_that_fit(viewer, qtbot):
    widget, reference, zero_filled, noisy = compared(viewer, qtbot)
    widget.view.value = "|error|"
    widget.side_by_side()
    widget.reset_choices()
    references = [layer.name for layer in widget.reference.choices]
    results = [layer.name for layer in widget.results.choices]
    assert references == ["phantom", "noisy"]
    assert results == ["phantom", "zero-filled", "noisy"]
    recon_inputs = [layer.name for layer in ReconstructWidget(viewer).image.choices]
    assert recon_inputs == ["phantom", "zero-filled", "noisy"]


def test_compare_refuses_cines_of_different_sizes(viewer, napari_notifications):
    viewer.add_image(np.zeros((8, 32, 32), np.float32), name="small")
    widget = CompareWidget(viewer)
    widget.reference.value = viewer.layers["phantom"]
    widget.results.value = [viewer.layers["small"]]
    widget.compare()
    assert len(viewer.layers) == 2 and widget.panel is None
    assert napari_notifications == [("error", "'small' is (8, 32, 32) but the reference 'phantom' is (8, 64, 64); "
                                              "compare cines of one size.")]


def test_export_writes_layers_metrics_and_settings_and_never_overwrites_unasked(
        viewer, qtbot, monkeypatch, tmp_path, napari_notifications):
    use_method(monkeypatch, StandInMethod())
    _, (_, _, zero_filled) = undersampled(viewer)
    recon_widget = ReconstructWidget(viewer)
    recon_widget.image.value = zero_filled
    recon_widget.model.value = "cs-ttv"
    reconstruct(qtbot, recon_widget)
    compare = CompareWidget(viewer)
    compare.reference.value = viewer.layers["phantom"]
    compare.results.value = [zero_filled, recon_widget.result_layer]
    compare.compare()
    qtbot.waitUntil(lambda: not compare.running, timeout=30_000)

    widget = ExportWidget(viewer)
    widget.layers.value = [zero_filled, recon_widget.result_layer]
    widget.folder.value = tmp_path / "out"
    written = widget.export()
    names = sorted(path.name for path in written)
    assert names == ["metrics.csv", "metrics_summary.csv", "recon_cs-ttv.npz", "settings.json", "zero-filled.npz"]
    saved = read_cine(tmp_path / "out" / "zero-filled.npz").data
    np.testing.assert_array_equal(saved, zero_filled.metadata[COMPLEX_KEY])
    with open(tmp_path / "out" / "metrics.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 2 * SHAPE[0]
    first_psnr = psnr_per_frame(zero_filled.data, viewer.layers["phantom"].data)[0]
    assert float(rows[0]["psnr_db"]) == pytest.approx(first_psnr)
    with open(tmp_path / "out" / "metrics_summary.csv") as stream:
        summary = list(csv.DictReader(stream))
    assert float(summary[0]["psnr_db"]) == pytest.approx(evaluate(zero_filled.data, viewer.layers["phantom"].data)["psnr"])
    settings = json.loads((tmp_path / "out" / "settings.json").read_text())
    recon_settings = settings["layers"]["recon (cs-ttv)"]
    assert (recon_settings["mask"], recon_settings["seed"], recon_settings["model"], recon_settings["device"]) == (
        "vd-random", 3, "cs-ttv", "cpu")
    assert settings["versions"]["napari-dynmri"] and settings["versions"]["numpy"] == np.__version__
    assert settings["recon"] == {**RECON_DEFAULTS, "model": "cs-ttv", "iterations": 100}

    before = {path: path.stat().st_mtime_ns for path in written}
    assert widget.export() == []
    assert napari_notifications[-1][0] == "error" and "already exist" in napari_notifications[-1][1]
    assert {path: path.stat().st_mtime_ns for path in written} == before
    widget.overwrite.value = True
    assert len(widget.export()) == 5


@pytest.mark.parametrize("model, values, options", [
    ("cs-lps", {"automatic_weight": False, "lam": 0.004, "iterations": 30},
     {"lam": 0.004, "lam_lowrank": LPS_DEFAULT_LAM_LOWRANK, "iterations": 30}),
    ("cs-xf", {"iterations": 12}, {"lam": "auto", "iterations": 12}),
    (_reconstruct_widget.CHECKPOINT, {"checkpoint": __file__, "adapt": True, "adapt_iterations": 9},
     {"window": DEFAULT_WINDOW, "overlap": DEFAULT_OVERLAP, "adapt": True, "adapt_iterations": 9}),
    ("view-sharing", {"half_window": 1}, {"half_window": 1}),
    ("cs-auto", {"network": "refiner"}, {"iterations": 100, "network": "refiner"}),
])
def test_settings_recon_section_remakes_the_same_reconstruction(
        viewer, qtbot, monkeypatch, tmp_path, model, values, options):
    """settings.json's "recon" section (what `dynmri recon --config` reads) holds exactly what the widget ran."""
    seen = []
    monkeypatch.setattr(_reconstruct_widget, "get_method",
                        lambda spec, device, **kwargs: seen.append((spec, device, kwargs)) or StandInMethod())
    _, (_, _, zero_filled) = undersampled(viewer)
    recon_widget = ReconstructWidget(viewer)
    recon_widget.image.value = zero_filled
    recon_widget.model.value = model
    for name, value in values.items():
        getattr(recon_widget, name).value = value
    recon_widget.device.value = "cpu"
    reconstruct(qtbot, recon_widget)
    widget = ExportWidget(viewer)
    widget.layers.value = [recon_widget.result_layer]
    widget.folder.value = tmp_path
    widget.export()
    recon = json.loads((tmp_path / "settings.json").read_text())["recon"]
    assert set(recon) == set(RECON_DEFAULTS)
    assert isinstance(recon["adapt"], bool) and recon["device"] == "cpu"
    assert recon["model"] == (__file__ if model == _reconstruct_widget.CHECKPOINT else model)
    assert seen == [(recon["model"], recon["device"], options)]
    assert _reconstruct_widget.method_options(recon) == options


def test_export_keeps_spacing_thickness_trigger_times_and_units(make_napari_viewer, tmp_path):
    from napari_dynmri._napari._layers import cine_layer_data
    from napari_dynmri.io.cine import Cine

    times = np.array([[10.0, 50.0, 90.0, 130.0]] * 2)
    cine = Cine(np.abs(cardiac_phantom(4, 32, 32, seed=2))[None].repeat(2, axis=0), pixel_spacing_mm=(1.25, 1.5),
                trigger_times_ms=times, source="test", meta={"slice_thickness_mm": 6.0})
    viewer = make_napari_viewer()
    data, kwargs, _ = cine_layer_data(cine, "stack")
    stack = viewer.add_image(data, **kwargs)
    assert [str(unit) for unit in stack.units[-2:]] == ["millimeter", "millimeter"]  # the scale bar reads mm
    viewer.dims.set_current_step(0, 1)
    _, (_, _, zero_filled) = undersampled(viewer, layer_name="stack")
    assert zero_filled.metadata[SETTINGS_KEY]["pixel_spacing_mm"] == [1.25, 1.5]
    assert tuple(zero_filled.units) == tuple(stack.units[-3:])
    widget = ExportWidget(viewer)
    widget.layers.value = [stack, zero_filled]
    widget.folder.value = tmp_path
    widget.file_format.value = ".nii.gz"
    widget.export()
    back = read_cine(tmp_path / "stack.nii.gz")
    assert back.pixel_spacing_mm == pytest.approx((1.25, 1.5))
    np.testing.assert_allclose(back.trigger_times_ms, times[0] - times[0, 0])  # NIfTI keeps the frame step
    import nibabel

    header = nibabel.load(tmp_path / "stack.nii.gz").header
    assert header.get_zooms()[2:] == pytest.approx((6.0, 40.0)) and header.get_xyzt_units() == ("mm", "msec")
    files = json.loads((tmp_path / "settings.json").read_text())["files"]
    assert files["zero-filled_z1.nii.gz"] == {
        "layer": "zero-filled z1", "axes": ["t", "y", "x"], "units": ["pixel", "millimeter", "millimeter"],
        "pixel_spacing_mm": [1.25, 1.5], "slice_thickness_mm": 6.0, "trigger_times_ms": times[1].tolist(),
        "slice": 1}
    assert files["stack.nii.gz"]["trigger_times_ms"] == times.tolist()


def test_export_magnitude_formats_read_back(viewer, tmp_path):
    widget = ExportWidget(viewer)
    widget.layers.value = [viewer.layers["phantom"]]
    widget.folder.value = tmp_path
    for suffix in (".nii.gz", ".tif"):
        widget.file_format.value = suffix
        widget.overwrite.value = True  # settings.json is written each time
        assert (tmp_path / f"phantom{suffix}") in widget.export()
        np.testing.assert_allclose(read_cine(tmp_path / f"phantom{suffix}").data, viewer.layers["phantom"].data,
                                   rtol=1e-6)


def test_xt_profile_follows_the_line(viewer):
    _, (_, _, zero_filled) = undersampled(viewer)
    zero_filled.name = "zero-filled, a name longer than a panel title line"
    shapes = viewer.add_shapes([np.array([[32.0, 10.0], [32.0, 40.0]])], shape_type="line", name="line")
    widget = ProfileWidget(viewer)
    widget.shapes.value = shapes
    widget.images.value = [viewer.layers["phantom"], zero_filled]
    widget.show_profile()
    np.testing.assert_allclose(widget.profiles["phantom"], viewer.layers["phantom"].data[:, 32, 10:41], rtol=1e-6)
    assert widget.profiles[zero_filled.name].shape == (SHAPE[0], 31)
    axes = widget.panel.figure.axes
    assert all(float(tick) == int(tick) for tick in axes[0].get_yticks())  # whole frames
    assert all(max(len(line) for line in a.get_title().splitlines()) <= TITLE_WIDTH for a in axes)  # no overlap
    shapes.data = [np.array([[5.0, 20.0], [25.0, 20.0]])]  # moving the line updates the profile
    np.testing.assert_allclose(widget.profiles["phantom"], viewer.layers["phantom"].data[:, 5:26, 20].T.T, rtol=1e-6)


def test_line_profile_interpolates_between_pixels():
    cine = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)
    profile = line_profile(cine, (0.5, 0.0), (0.5, 3.0))
    np.testing.assert_allclose(profile, (cine[:, 0, :] + cine[:, 1, :]) / 2)


def test_profile_without_a_line_is_a_notification(viewer, napari_notifications):
    shapes = viewer.add_shapes([np.array([[1, 1], [1, 9], [9, 9], [9, 1]])], shape_type="rectangle", name="box")
    widget = ProfileWidget(viewer)
    widget.shapes.value = shapes
    widget.images.value = [viewer.layers["phantom"]]
    widget.show_profile()
    assert widget.panel is None
    assert napari_notifications == [("error", "Draw a line on the shapes layer 'box' first (line tool).")]


def test_phase_of_complex_layers_is_offered_beside_the_magnitude(viewer, qtbot, napari_notifications):
    widget, reference, zero_filled, noisy = compared(viewer, qtbot)
    widget.view.value = "phase"
    widget.side_by_side()
    assert [layer.name for layer in viewer.layers if layer.visible] == ["phase phantom", "phase zero-filled"]
    np.testing.assert_allclose(viewer.layers["phase zero-filled"].data, np.angle(zero_filled.metadata[COMPLEX_KEY]),
                               atol=1e-6)
    np.testing.assert_allclose(zero_filled.data, np.abs(zero_filled.metadata[COMPLEX_KEY]), atol=1e-6)  # magnitude
    copy = viewer.add_image(0.9 * noisy.data, name="copy")
    widget.reference.value = noisy
    widget.results.value = [copy]
    widget.compare()
    qtbot.waitUntil(lambda: not widget.running, timeout=30_000)  # the grid on show is redrawn for the new pair
    assert napari_notifications == [("error", "'noisy' and its results hold magnitudes only (no phase was measured or "
                                              "kept): there is no phase to show.")]


def test_compare_can_be_cancelled_and_changes_nothing(viewer, qtbot, monkeypatch, napari_notifications):
    from napari_dynmri._napari import _compare_widget

    def slow_job(target, cines):
        while True:  # a comparison that would never end
            time.sleep(0.01)
            yield

    monkeypatch.setattr(_compare_widget, "comparison_job", slow_job)
    _, (_, _, zero_filled) = undersampled(viewer)
    widget = CompareWidget(viewer)
    widget.reference.value = viewer.layers["phantom"]
    widget.results.value = [zero_filled]
    names = [layer.name for layer in viewer.layers]
    widget.compare()
    assert widget.running and widget.compare_button.text == "Cancel"
    widget.compare_button.clicked.emit()
    qtbot.waitUntil(lambda: not widget.running, timeout=10_000)
    assert widget.compare_button.text == "Compare" and widget.panel is None and widget.metrics == {}
    assert [layer.name for layer in viewer.layers] == names
    assert ("info", "Comparison cancelled; the viewer is unchanged.") in napari_notifications


# ----------------------------------------------------------------------------- issue 23: a viewer that explains itself


class HeldMethod(StandInMethod):
    """Reports step 1 of 4, then waits for ``release`` (or a cancel) before finishing."""

    def __init__(self, release):
        super().__init__(steps=4)
        self.release = release

    def reconstruct(self, kspace, mask, progress=None, should_stop=None):
        progress(1, 4)
        while not self.release.wait(0.02):
            if should_stop():
                raise ReconCancelled("stopped")
        return super().reconstruct(kspace, mask, progress=progress, should_stop=should_stop)


def test_reconstruct_shows_progress_and_elapsed_time_in_the_widget(viewer, qtbot, monkeypatch):
    import threading

    _, (_, _, zero_filled) = undersampled(viewer)
    release = threading.Event()
    use_method(monkeypatch, HeldMethod(release))
    widget = ReconstructWidget(viewer)
    widget.image.value = zero_filled
    assert not shown(widget.progress_bar)  # nothing to show before a run
    widget.run()
    bar = widget.progress_bar
    try:
        assert any(child is bar for child in widget) and shown(bar)
        qtbot.waitUntil(lambda: bar.value == 1, timeout=30_000)
        assert bar.max == 4
        widget.show_elapsed()  # what the one-second timer calls
        assert widget.status.value.startswith("running for ")
        assert widget.status.value.endswith(" s on cpu, step 1 of 4")
    finally:
        release.set()
    qtbot.waitUntil(lambda: not widget.running, timeout=30_000)
    assert bar.value == bar.max == 4 and widget.status.value.startswith("done in ")


def test_widgets_build_without_warnings(viewer):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for widget in (UndersampleWidget, ReconstructWidget, CompareWidget, ExportWidget, ProfileWidget):
            widget(viewer)
    messages = [str(w.message) for w in caught if "magicgui" in w.filename or "synonymous" in str(w.message)]
    assert messages == []


def test_error_colour_bar_stays_clear_of_the_panel_titles(viewer, qtbot):
    widget, reference, zero_filled, noisy = compared(viewer, qtbot)
    widget.view.value = "|error|"
    widget.side_by_side()
    shown_maps = [layer for layer in viewer.layers if layer.visible]
    assert [layer.name for layer in shown_maps] == ["|error| zero-filled", "|error| noisy"]
    bars = [layer.colorbar for layer in shown_maps if layer.colorbar.visible]
    assert len(bars) == 1
    titles = {str(layer.name_overlay.position).split("_")[0] for layer in shown_maps}
    assert titles == {"top"} and str(bars[0].position).startswith("bottom")  # titles on top, the bar below
    assert str(bars[0].position) != str(viewer.scale_bar.position)  # nor over the scale bar


def test_phase_view_of_a_magnitude_only_reference_says_so(viewer, qtbot, napari_notifications):
    _, (_, _, zero_filled) = undersampled(viewer)
    magnitude = viewer.add_image(viewer.layers["phantom"].data.copy(), name="magnitude")  # no complex data kept
    widget = CompareWidget(viewer)
    widget.reference.value = magnitude
    widget.results.value = [zero_filled]
    widget.compare()
    qtbot.waitUntil(lambda: not widget.running, timeout=30_000)
    widget.view.value = "phase"
    widget.side_by_side()
    assert not any(layer.metadata.get("dynmri_role") == "phase" for layer in viewer.layers)  # no noise image
    assert napari_notifications[-1][0] == "error"
    assert napari_notifications[-1][1].startswith("'magnitude' is magnitude-only (no phase was measured)")


def test_phase_view_has_one_colour_bar_below(viewer, qtbot):
    widget, *_ = compared(viewer, qtbot)
    widget.view.value = "phase"
    widget.side_by_side()
    bars = [layer.colorbar for layer in viewer.layers if layer.visible and layer.colorbar.visible]
    assert len(bars) == 1 and str(bars[0].position).startswith("bottom")


def test_a_line_layer_beside_mm_cines_gets_their_units(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((4, 32, 32), np.float32), name="cine", scale=(1, 0.8, 0.8),
                     units=("pixel", "mm", "mm"))
    widget = ProfileWidget(viewer)  # as docked in the viewer: alive while the line is drawn
    shapes = viewer.add_shapes([np.array([[10.0, 2.0], [10.0, 20.0]])], shape_type="line", name="line")
    assert viewer.layers.extent.units is not None  # None is what makes napari toast "Inconsistent units"
    assert [str(unit) for unit in shapes.units] == ["millimeter", "millimeter"]
    np.testing.assert_allclose(shapes.data[0], [[10.0, 2.0], [10.0, 20.0]])  # the line stays where it was drawn
    assert widget.shapes.choices == (shapes,)


def test_dock_tabs_carry_the_widget_names_uncut(make_napari_viewer, qtbot):
    from qtpy.QtWidgets import QTabBar

    viewer = make_napari_viewer(show=True)
    names = ("Undersample", "Reconstruct", "Compare", "Export", "x-t profile")
    for name in names:
        viewer.window.add_plugin_dock_widget("napari-dynmri", name, tabify=True)

    def tabs():
        return [[bar.tabText(i) for i in range(bar.count())] for bar in viewer.window._qt_window.findChildren(QTabBar)
                if bar.isVisible() and bar.count() > 1]

    qtbot.waitUntil(lambda: any(sorted(texts) == sorted(names) for texts in tabs()), timeout=10_000)
    bar = next(bar for bar in viewer.window._qt_window.findChildren(QTabBar) if bar.isVisible() and bar.count() > 1)

    def uncut():  # every title fits its tab (napari's narrow dock would cut them: "Undersample (...")
        return all(bar.tabRect(i).width() >= bar.fontMetrics().horizontalAdvance(bar.tabText(i))
                   for i in range(bar.count()))

    qtbot.waitUntil(uncut, timeout=10_000)


def test_undersample_says_when_the_acceleration_cannot_be_reached(viewer):
    widget, layers = undersampled(viewer, acceleration=64.0)  # 64 rows, 8 centre lines: R = 8 at most
    assert layers is not None
    assert widget.result.value == "actual acceleration: 8.00x (asked 64x: not reachable with 8 centre lines)"
