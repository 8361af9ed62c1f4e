"""A multi-slice cine (Z, T, H, W): results carry their slice and are compared with the matching slice."""

import numpy as np
import pytest

from napari_dynmri._napari._compare_widget import CompareWidget
from napari_dynmri._napari._layers import METRICS_KEY, SETTINGS_KEY, SLICE_KEY, cine_layer_data
from napari_dynmri._napari._undersample_widget import UndersampleWidget
from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.io.cine import Cine
from napari_dynmri.metrics import evaluate

SHAPE = (6, 48, 48)


@pytest.fixture
def stack_viewer(make_napari_viewer):
    """A viewer with a two-slice magnitude cine 'stack' (slice 1 is a different phantom) at 1.5 mm."""
    stack = np.stack([np.abs(cardiac_phantom(*SHAPE, seed=seed)) for seed in (1, 2)])
    viewer = make_napari_viewer()
    data, kwargs, _ = cine_layer_data(Cine(stack, pixel_spacing_mm=(1.5, 1.5), source="test"), "stack")
    viewer.add_image(data, **kwargs)
    return viewer


def undersample_slice(viewer, z_index, seed=0):
    viewer.dims.set_current_step(0, z_index)
    widget = UndersampleWidget(viewer)
    widget.image.value = viewer.layers["stack"]
    widget.acceleration.value = 4.0
    widget.seed.value = seed
    return widget.run()[-1]


def compare(viewer, qtbot, results, notifications=None):
    widget = CompareWidget(viewer)
    widget.reference.value = viewer.layers["stack"]
    widget.results.value = results
    widget.compare()
    qtbot.waitUntil(lambda: not widget.running, timeout=30_000)
    return widget


def test_results_carry_their_slice_in_name_and_metadata(stack_viewer):
    zero_filled = undersample_slice(stack_viewer, 1)
    assert zero_filled.name == "zero-filled z1"
    assert zero_filled.metadata[SLICE_KEY] == 1 and zero_filled.metadata[SETTINGS_KEY]["slice"] == 1
    assert "mask z1" in stack_viewer.layers and "k-space (log) z1" in stack_viewer.layers
    undersample_slice(stack_viewer, 1, seed=5)  # the mask and k-space displays are reused, not duplicated
    assert [layer.name for layer in stack_viewer.layers].count("mask z1") == 1
    assert "mask z1 [1]" not in stack_viewer.layers


def test_a_result_is_compared_with_the_reference_of_its_slice(stack_viewer, qtbot):
    zero_filled = undersample_slice(stack_viewer, 1)
    stack_viewer.dims.set_current_step(0, 0)  # the viewer now shows slice 0: the comparison must not follow it
    widget = compare(stack_viewer, qtbot, [zero_filled])
    expected = evaluate(zero_filled.data, stack_viewer.layers["stack"].data[1])
    assert widget.metrics["zero-filled z1"]["psnr"] == pytest.approx(expected["psnr"])
    assert zero_filled.metadata[METRICS_KEY]["slice"] == 1
    assert widget.status.value == "compared on slice z1" and "slice z1" in widget.panel.caption.text()
    widget.side_by_side()  # the reference panel shows slice 1 beside the result of slice 1
    assert stack_viewer.dims.current_step[0] == 1


def test_results_of_different_slices_are_refused(stack_viewer, qtbot, napari_notifications):
    first, second = undersample_slice(stack_viewer, 0), undersample_slice(stack_viewer, 1)
    count = len(stack_viewer.layers)
    widget = compare(stack_viewer, qtbot, [first, second])
    assert widget.panel is None and widget.metrics == {} and len(stack_viewer.layers) == count
    assert napari_notifications == [("error", "The results come from different slices ('zero-filled z0' is slice 0, "
                                              "'zero-filled z1' is slice 1); compare results of one slice.")]


def test_a_single_slice_reference_of_another_slice_is_refused(stack_viewer, qtbot, napari_notifications):
    zero_filled = undersample_slice(stack_viewer, 1)
    stack = stack_viewer.layers["stack"]
    other = stack_viewer.add_image(stack.data[0], name="slice 0", metadata={SLICE_KEY: 0}, scale=stack.scale[1:],
                                   units=stack.units[1:])
    widget = CompareWidget(stack_viewer)
    widget.reference.value = other
    widget.results.value = [zero_filled]
    widget.compare()
    assert not widget.running
    assert napari_notifications == [("error", "'slice 0' is slice 0 but the results are of slice 1; compare the "
                                              "results with the reference of their slice.")]


def test_layers_carry_mm_units_so_the_scale_bar_reads_mm(stack_viewer):
    zero_filled = undersample_slice(stack_viewer, 0)
    assert [str(unit) for unit in stack_viewer.layers["stack"].units] == ["pixel", "pixel", "millimeter", "millimeter"]
    assert [str(unit) for unit in zero_filled.units] == ["pixel", "millimeter", "millimeter"]
    assert [str(unit) for unit in stack_viewer.layers.units[-2:]] == ["millimeter", "millimeter"]  # one unit for all
