"""Widget 1, Undersample: simulate a k-t undersampled acquisition of a fully sampled cine layer."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import ComboBox, Container, FloatSpinBox, Label, PushButton, SpinBox

from napari_dynmri._napari._docking import join_dynmri_tabs
from napari_dynmri._napari._layers import (
    DISPLAY_ROLES,
    KSPACE_KEY,
    MASK_KEY,
    REFERENCE_KEY,
    RESULT_ROLES,
    SETTINGS_KEY,
    SPACING_KEY,
    USER_ERRORS,
    add_cine_layer,
    check_image_role,
    displayed_slice,
    image_choices,
    layer_cine,
    report_error,
    slice_suffix,
)
from napari_dynmri.physics import DEFAULT_ACQUISITION, MASK_KINDS, Acquisition
from napari_dynmri.physics.acquisition import FAR_BELOW
from napari_dynmri.simulation import simulate

if TYPE_CHECKING:
    import napari.viewer


def simulate_layer(layer, z_index: int, acquisition: Acquisition) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Undersample the cine of ``layer`` (slice ``z_index`` if 4D) with :func:`napari_dynmri.simulation.simulate`.

    The cine keeps the layer's intensity units; ``acquisition.noise``, relative to max |x| = 1, is
    applied as that fraction of the cine's maximum magnitude. Returns ``mask`` bool ``(T, H, W)``,
    ``kspace`` and ``zero_filled`` complex64 ``(T, H, W)`` and the settings (the simulation's ``meta``
    plus the noise fraction, the input layer and the slice).
    """
    check_image_role(layer)
    target = layer_cine(layer, z_index)
    scaled = dataclasses.replace(acquisition, noise=acquisition.noise * float(np.abs(target).max()))
    sim = simulate(target, scaled, source=layer.name, pixel_spacing_mm=layer.metadata.get(SPACING_KEY))
    settings = {**sim.meta, "noise_fraction": acquisition.noise, "input_layer": layer.name,
                "slice": int(z_index) if layer.ndim == 4 else None}
    return sim.mask, sim.kspace, sim.zero_filled, settings


def add_undersampled_layers(viewer, layer, mask, kspace, zero_filled, settings) -> tuple:
    """Add ``mask``, ``k-space (log)`` (both hidden) and ``zero-filled`` layers placed like ``layer``; returns them.

    From a ``(Z, T, H, W)`` layer the names end with the slice (``zero-filled z1``) and the layers
    carry it. The mask and k-space displays of an earlier run on the same slice are reused rather than
    duplicated (each zero-filled layer keeps its own mask and k-space in its metadata). The
    zero-filled layer gets ``layer``'s contrast limits, so both show on one intensity scale.
    """
    z_index, suffix = settings["slice"], slice_suffix(settings["slice"])
    mask_layer = add_cine_layer(
        viewer, mask.astype(np.uint8), f"mask{suffix}", layer, role="mask", z_index=z_index, reuse=True,
        metadata={SETTINGS_KEY: settings}, contrast_limits=(0, 1), visible=False,
    )
    log_kspace = np.log1p(np.abs(kspace))
    kspace_layer = add_cine_layer(
        viewer, log_kspace, f"k-space (log){suffix}", layer, role="k-space", z_index=z_index, reuse=True,
        metadata={SETTINGS_KEY: settings}, contrast_limits=(0.0, float(log_kspace.max()) or 1.0), visible=False,
    )
    zero_filled_layer = add_cine_layer(
        viewer, zero_filled, f"zero-filled{suffix}", layer, role="zero-filled", z_index=z_index,
        metadata={KSPACE_KEY: kspace, MASK_KEY: mask, SETTINGS_KEY: settings, REFERENCE_KEY: layer.name},
        contrast_limits=tuple(layer.contrast_limits),
    )
    return mask_layer, kspace_layer, zero_filled_layer


def acceleration_note(settings: dict) -> str:
    """The reached acceleration, and when it falls far below the one asked for, why."""
    reached, asked = settings["actual_acceleration"], float(settings["acceleration"])
    note = f"actual acceleration: {reached:.2f}x"
    if reached * FAR_BELOW < asked:
        note += f" (asked {asked:g}x: not reachable with {settings['center_lines']} centre lines)"
    return note


class UndersampleWidget(Container):
    """Image layer + mask type, acceleration, centre lines, seed, noise -> mask, k-space and zero-filled layers."""

    def __init__(self, napari_viewer: "napari.viewer.Viewer"):
        super().__init__()
        self._viewer = napari_viewer
        self.image = ComboBox(label="image", choices=lambda _: image_choices(
            napari_viewer, exclude_roles=DISPLAY_ROLES + RESULT_ROLES))
        spec = DEFAULT_ACQUISITION
        self.kind = ComboBox(label="mask type", choices=MASK_KINDS, value=spec.kind)
        self.acceleration = FloatSpinBox(label="acceleration", value=spec.acceleration, min=1.0, max=64.0, step=0.5)
        self.center_lines = SpinBox(label="centre lines", value=spec.center_lines, min=0, max=1024)
        self.seed = SpinBox(label="seed", value=spec.seed, min=0, max=2**31 - 1)
        self.noise = FloatSpinBox(label="noise (x max)", value=spec.noise, min=0.0, max=1.0, step=0.005,
                                  tooltip="k-space noise standard deviation, a fraction of the image maximum")
        self.run_button = PushButton(text="Undersample")
        self.result = Label(value="")
        self.extend([self.image, self.kind, self.acceleration, self.center_lines, self.seed, self.noise,
                     self.run_button, self.result])
        self.run_button.changed.connect(self.run)
        napari_viewer.layers.events.inserted.connect(self.reset_choices)
        napari_viewer.layers.events.removed.connect(self.reset_choices)
        join_dynmri_tabs(self.native)

    def acquisition(self) -> Acquisition:
        """The acquisition the controls describe (noise as a fraction of the image maximum); a ``ValueError``
        when they give none."""
        return Acquisition(self.kind.value, self.acceleration.value, self.center_lines.value, self.seed.value,
                           self.noise.value)

    def run(self) -> tuple | None:
        """Undersample the chosen layer; returns the new (mask, k-space, zero-filled) layers, or None on error."""
        layer = self.image.value
        if layer is None:
            report_error(ValueError("There is no image layer to undersample; open a cine first."), "undersample")
            return None
        try:
            mask, kspace, zero_filled, settings = simulate_layer(layer, displayed_slice(self._viewer, layer),
                                                                 self.acquisition())
        except USER_ERRORS as err:
            report_error(err, f"undersample '{layer.name}'")
            return None
        self.result.value = acceleration_note(settings)
        return add_undersampled_layers(self._viewer, layer, mask, kspace, zero_filled, settings)
