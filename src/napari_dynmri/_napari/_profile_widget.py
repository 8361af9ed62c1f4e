"""x-t temporal profile: the intensity along a line drawn on a Shapes layer, for every frame, per image layer."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import ComboBox, Container, PushButton, Select
from matplotlib.ticker import MaxNLocator
from napari.layers import Shapes
from qtpy.QtWidgets import QVBoxLayout, QWidget

from napari_dynmri._napari._docking import join_dynmri_tabs
from napari_dynmri._napari._figure import style_axes, theme_text_colour, themed_canvas
from napari_dynmri._napari._layers import (
    DISPLAY_ROLES,
    USER_ERRORS,
    image_choices,
    layer_cine,
    layer_slice,
    report_error,
    time_index,
)
from napari_dynmri.profiles import line_profile

TITLE_WIDTH = 18  # characters per line of a panel title, so that the titles of neighbours never overlap

if TYPE_CHECKING:
    import napari.viewer


def line_in_layer(shapes: Shapes, image) -> tuple[np.ndarray, np.ndarray]:
    """End points ``(row, col)`` of the selected (else the last) line of ``shapes``, in ``image``'s pixels."""
    lines = [i for i, kind in enumerate(shapes.shape_type) if kind in ("line", "path")]
    if not lines:
        raise ValueError(f"Draw a line on the shapes layer '{shapes.name}' first (line tool).")
    selected = [i for i in shapes.selected_data if i in lines]
    vertices = shapes.data[(selected or lines)[-1]][:, -2:]
    world = vertices * shapes.scale[-2:] + shapes.translate[-2:]
    pixels = (world - image.translate[-2:]) / image.scale[-2:]
    return pixels[0], pixels[-1]


def match_units(viewer, layer) -> None:
    """Give a Shapes layer that has no units (pixels) the units of the viewer's image layers.

    Cines with a known pixel spacing are in mm; a line layer made in pixels beside them would make
    napari warn "Inconsistent units across layers". Only the unit names change (the coordinates, and
    so the line's place over the images, stay as they are); layers whose units are set are left alone.
    """
    if not isinstance(layer, Shapes) or any(str(unit) != "pixel" for unit in layer.units):
        return
    images = [other for other in viewer.layers if other is not layer and not isinstance(other, Shapes)]
    units = {tuple(str(unit) for unit in other.units[-layer.ndim:]) for other in images if other.ndim >= layer.ndim}
    if len(units) == 1:
        (wanted,) = units
        if wanted != tuple(str(unit) for unit in layer.units):
            layer.units = wanted


class ProfilePanel(QWidget):
    """One x-t image per layer, side by side, with a line at the frame the viewer shows."""

    def __init__(self, viewer, parent=None):
        super().__init__(parent)
        self._viewer = viewer
        self.canvas = themed_canvas(viewer)
        self.figure = self.canvas.figure
        QVBoxLayout(self).addWidget(self.canvas)
        self._markers = []

    def show_profiles(self, profiles: dict[str, np.ndarray], frame: int) -> None:
        """Show ``{name: (T, L) profile}``, each on its own axes with a shared intensity range."""
        self.figure.clear()
        vmax = max(float(p.max()) for p in profiles.values()) or 1.0
        axes_list = self.figure.subplots(1, len(profiles), squeeze=False)[0]
        self._markers = []
        for axes, (name, profile) in zip(axes_list, profiles.items()):
            axes.imshow(profile, cmap="gray", vmin=0.0, vmax=vmax, aspect="auto", interpolation="nearest")
            axes.set_title(textwrap.fill(name, TITLE_WIDTH), fontsize=7)
            axes.set_xlabel("along line (px)", fontsize=7)
            axes.yaxis.set_major_locator(MaxNLocator(integer=True))
            style_axes(axes, self._viewer)
            self._markers.append(axes.axhline(frame, color=theme_text_colour(self._viewer), linestyle="--",
                                              linewidth=0.8))
        axes_list[0].set_ylabel("frame t", fontsize=7)
        self.canvas.draw_idle()

    def set_frame(self, frame: int) -> None:
        """Move the frame markers to ``frame``."""
        for marker in self._markers:
            marker.set_ydata([frame, frame])
        self.canvas.draw_idle()


class ProfileWidget(Container):
    """A line on a Shapes layer -> its x-t profile in each chosen image layer, updated as the line moves."""

    def __init__(self, napari_viewer: "napari.viewer.Viewer"):
        super().__init__()
        self._viewer = napari_viewer
        self.shapes = ComboBox(label="line from", choices=lambda _: [
            (layer.name, layer) for layer in napari_viewer.layers if isinstance(layer, Shapes)])
        self.images = Select(label="images", choices=lambda _: image_choices(napari_viewer, exclude_roles=DISPLAY_ROLES))
        self.show_button = PushButton(text="Show x-t profile")
        self.extend([self.shapes, self.images, self.show_button])
        self.panel = None
        self.panel_dock = None
        self.profiles: dict[str, np.ndarray] = {}
        self._followed = None
        self.show_button.changed.connect(self.show_profile)
        napari_viewer.layers.events.inserted.connect(self._match_units)
        napari_viewer.layers.events.inserted.connect(self.reset_choices)
        napari_viewer.layers.events.removed.connect(self.reset_choices)
        napari_viewer.dims.events.current_step.connect(self._follow_time)
        join_dynmri_tabs(self.native)
        for layer in napari_viewer.layers:
            match_units(napari_viewer, layer)

    def _match_units(self, event) -> None:
        match_units(self._viewer, event.value)

    def show_profile(self, *_) -> None:
        """Compute the profiles of the chosen layers and show them docked; follows later edits of the line."""
        shapes, images = self.shapes.value, list(self.images.value)
        if shapes is None or not images:
            report_error(ValueError("Choose a shapes layer with a line and at least one image layer."), "profile")
            return
        try:
            profiles = {}
            for image in images:
                start, end = line_in_layer(shapes, image)
                profiles[image.name] = line_profile(
                    np.abs(layer_cine(image, layer_slice(self._viewer, image) or 0)), start, end)
        except USER_ERRORS as err:
            report_error(err, "draw the x-t profile")
            return
        self.profiles = profiles
        if self.panel is None:
            self.panel = ProfilePanel(self._viewer)
            self.panel_dock = self._viewer.window.add_dock_widget(self.panel, name="dynmri x-t profile", area="bottom")
            join_dynmri_tabs(self.panel)
        self.panel.show_profiles(profiles, time_index(self._viewer))
        if self._followed is not shapes:
            if self._followed is not None:
                self._followed.events.data.disconnect(self.show_profile)
            shapes.events.data.connect(self.show_profile)
            self._followed = shapes

    def _follow_time(self, *_) -> None:
        if self.panel is not None:
            self.panel.set_frame(time_index(self._viewer))
