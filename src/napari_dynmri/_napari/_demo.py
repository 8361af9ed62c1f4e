"""The demo workflow in a viewer: sample -> Undersample -> Reconstruct -> Compare (side by side)."""

from __future__ import annotations

from pathlib import Path

from napari_dynmri._napari._docking import bring_to_front
from napari_dynmri._napari._reconstruct_widget import CHECKPOINT
from napari_dynmri.physics import DEFAULT_ACQUISITION
from napari_dynmri.recon import DEFAULT_METHOD

PLUGIN = "napari-dynmri"


def demo_model(model: str | None) -> str:
    """``model`` when given, else the default method (``napari_dynmri.recon.DEFAULT_METHOD``)."""
    return model or DEFAULT_METHOD


def start_demo(viewer, sample: str = "pig", acceleration: float = DEFAULT_ACQUISITION.acceleration, model: str | None = None,
               device: str = "auto", on_done=None) -> dict:
    """Open ``sample``, undersample it, start the reconstruction; compare when it has finished.

    The widgets are docked in ``viewer`` as tabs and returned by name (``"undersample"``, ``"reconstruct"``,
    ``"compare"``); the Reconstruct tab is in front while it works (progress, Cancel). When it ends,
    the Compare widget compares the sample with the zero-filled and reconstructed layers (in its
    worker) and shows them side by side, then ``on_done()`` is called (also after a failed or
    cancelled reconstruction or comparison).
    """
    done = on_done if on_done is not None else (lambda: None)
    reference = viewer.open_sample(PLUGIN, sample)[0]
    viewer.canvas.overlays.scale_bar.visible = True
    widgets = {name: viewer.window.add_plugin_dock_widget(PLUGIN, title, tabify=True)[1]
               for name, title in (("undersample", "Undersample"), ("reconstruct", "Reconstruct"),
                                   ("compare", "Compare"))}
    undersample, reconstruct, compare = widgets["undersample"], widgets["reconstruct"], widgets["compare"]
    undersample.image.value = reference
    undersample.acceleration.value = acceleration
    undersampled = undersample.run()
    if undersampled is None:
        done()
        return widgets
    zero_filled = undersampled[-1]
    spec = demo_model(model)
    if spec in reconstruct.model.choices:
        reconstruct.model.value = spec
    else:
        reconstruct.model.value = CHECKPOINT
        reconstruct.checkpoint.value = Path(spec)
    reconstruct.device.value = device
    reconstruct.image.value = zero_filled

    def compare_result():
        if reconstruct.result_layer is None:
            done()
            return
        compare.reference.value = reference
        compare.results.value = [zero_filled, reconstruct.result_layer]
        compare.compare(then=lambda: (compare.side_by_side(), bring_to_front(compare.native)))
        if compare.worker is None:
            done()
        else:
            compare.worker.finished.connect(done)

    reconstruct.run()
    if reconstruct.worker is None:
        compare_result()
    else:
        bring_to_front(reconstruct.native)
        reconstruct.worker.finished.connect(compare_result)
    return widgets
