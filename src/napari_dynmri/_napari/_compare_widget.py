"""Widget 3, Compare: error and edge layers, per-frame PSNR/SSIM docked plot, summary table, grid view."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import ComboBox, Container, PushButton, Select
from qtpy.QtWidgets import QHBoxLayout, QTableWidget, QTableWidgetItem, QWidget

from napari_dynmri._napari._figure import style_axes, themed_canvas
from napari_dynmri._napari._layers import (
    METRICS_KEY,
    REFERENCE_KEY,
    ROLE_KEY,
    USER_ERRORS,
    add_cine_layer,
    displayed_slice,
    image_choices,
    layer_cine,
    report_error,
    time_index,
)
from napari_dynmri.losses.edges import sobel_magnitude
from napari_dynmri.metrics import evaluate, summarize

if TYPE_CHECKING:
    import napari.viewer

VIEWS = ("images", "|error|", "edges")


class MetricsPanel(QWidget):
    """Per-frame PSNR and SSIM curves, a marker at the frame the viewer shows, and a mean ± std table."""

    def __init__(self, viewer, parent=None):
        super().__init__(parent)
        self._viewer = viewer
        self.canvas = themed_canvas(viewer)
        self.psnr_axes, self.ssim_axes = self.canvas.figure.subplots(1, 2)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["result", "PSNR (dB)", "SSIM"])
        self.table.verticalHeader().setVisible(False)
        layout = QHBoxLayout(self)
        layout.addWidget(self.canvas, stretch=3)
        layout.addWidget(self.table, stretch=2)
        self.frame = 0
        self._markers = []

    def show_metrics(self, per_result: dict[str, dict], frame: int) -> None:
        """Plot ``{name: metrics.evaluate(...)}`` and fill the table; mark ``frame``."""
        for axes, key, title in ((self.psnr_axes, "psnr_per_frame", "PSNR (dB)"),
                                 (self.ssim_axes, "ssim_per_frame", "SSIM")):
            axes.clear()
            for name, metrics in per_result.items():
                axes.plot(metrics[key], marker=".", label=name)
            axes.set_title(title, fontsize=9)
            axes.set_xlabel("frame t", fontsize=8)
            style_axes(axes, self._viewer)
        self.psnr_axes.legend(fontsize=7)
        self._markers = [axes.axvline(frame, color="tab:orange", linewidth=1)
                         for axes in (self.psnr_axes, self.ssim_axes)]
        self.table.setRowCount(len(per_result))
        for row, (name, metrics) in enumerate(per_result.items()):
            psnr_mean, psnr_std = summarize(metrics["psnr_per_frame"])
            ssim_mean, ssim_std = summarize(metrics["ssim_per_frame"])
            cells = (name, f"{psnr_mean:.2f} ± {psnr_std:.2f}", f"{ssim_mean:.4f} ± {ssim_std:.4f}")
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.set_frame(frame)

    def set_frame(self, frame: int) -> None:
        """Move the frame marker to ``frame``."""
        self.frame = int(frame)
        for marker in self._markers:
            marker.set_xdata([self.frame, self.frame])
        self.canvas.draw_idle()

    def table_text(self) -> list[list[str]]:
        """The table's cells, row by row."""
        return [[self.table.item(r, c).text() for c in range(self.table.columnCount())]
                for r in range(self.table.rowCount())]


class CompareWidget(Container):
    """A reference and one or more results -> |error| and edge layers, metrics plot and table, grid view."""

    def __init__(self, napari_viewer: "napari.viewer.Viewer"):
        super().__init__()
        self._viewer = napari_viewer
        self.reference = ComboBox(label="reference", choices=lambda _: image_choices(napari_viewer))
        self.results = Select(label="results", choices=lambda _: image_choices(napari_viewer))
        self.compare_button = PushButton(text="Compare")
        self.view = ComboBox(label="side by side", choices=VIEWS, value="images")
        self.grid_button = PushButton(text="Side by side")
        self.single_button = PushButton(text="Single view")
        self.extend([self.reference, self.results, self.compare_button, self.view, self.grid_button,
                     self.single_button])
        self.panel = None
        self.panel_dock = None
        self.metrics: dict[str, dict] = {}
        self._family: dict[str, list] = {view: [] for view in VIEWS}
        self._saved_visibility: dict = {}
        self.compare_button.changed.connect(self.compare)
        self.grid_button.changed.connect(self.side_by_side)
        self.single_button.changed.connect(self.single_view)
        napari_viewer.layers.events.inserted.connect(self.reset_choices)
        napari_viewer.layers.events.removed.connect(self.reset_choices)
        napari_viewer.dims.events.current_step.connect(self._follow_time)

    def compare(self) -> None:
        """Compute metrics, add |error| and edge layers, and show the docked plot and table."""
        reference = self.reference.value
        results = [layer for layer in self.results.value if layer is not reference]
        if reference is None or not results:
            report_error(ValueError("Choose a reference and at least one other layer to compare."), "compare")
            return
        try:
            target = np.abs(layer_cine(reference, displayed_slice(self._viewer, reference)))
            cines = {layer.name: np.abs(layer_cine(layer, displayed_slice(self._viewer, layer))) for layer in results}
            for name, cine in cines.items():
                if cine.shape != target.shape:
                    raise ValueError(f"'{name}' is {cine.shape} but the reference '{reference.name}' is "
                                     f"{target.shape}; compare cines of one size.")
            metrics = {name: evaluate(cine, target) for name, cine in cines.items()}
            errors = {name: np.abs(cine - target) for name, cine in cines.items()}
            edges = {name: sobel_magnitude(cine) for name, cine in {reference.name: target, **cines}.items()}
        except USER_ERRORS as err:
            report_error(err, f"compare with '{reference.name}'")
            return
        self.metrics = metrics
        self._add_layers(reference, results, metrics, errors, edges)
        self._show_panel()

    def _add_layers(self, reference, results, metrics, errors, edges) -> None:
        error_limit = max(float(e.max()) for e in errors.values()) or 1.0
        edge_limit = max(float(e.max()) for e in edges.values()) or 1.0
        self._family["images"] = [reference, *sorted(results, key=lambda l: l.metadata.get(ROLE_KEY) != "zero-filled")]
        self._family["|error|"] = [
            add_cine_layer(
                self._viewer, errors[layer.name], f"|error| {layer.name}", layer, role="error",
                metadata={REFERENCE_KEY: reference.name, METRICS_KEY: {
                    "reference": reference.name, "result": layer.name,
                    "psnr_per_frame": metrics[layer.name]["psnr_per_frame"].tolist(),
                    "ssim_per_frame": metrics[layer.name]["ssim_per_frame"].tolist()}},
                colormap="magma", contrast_limits=(0.0, error_limit), visible=False,
            )
            for layer in results
        ]
        self._family["edges"] = [
            add_cine_layer(self._viewer, edges[layer.name], f"edges {layer.name}", layer, role="edges",
                           colormap="gray", contrast_limits=(0.0, edge_limit), visible=False)
            for layer in (reference, *results)
        ]

    def _show_panel(self) -> None:
        if self.panel is None:
            self.panel = MetricsPanel(self._viewer)
            self.panel_dock = self._viewer.window.add_dock_widget(self.panel, name="dynmri metrics", area="bottom")
        self.panel.show_metrics(self.metrics, time_index(self._viewer))

    def _follow_time(self, *_) -> None:
        if self.panel is not None:
            self.panel.set_frame(time_index(self._viewer))

    def side_by_side(self) -> None:
        """Grid view of the chosen family (images: reference, zero-filled, recons) on one time slider."""
        layers = [layer for layer in self._family[self.view.value] if layer in self._viewer.layers]
        if not layers:
            report_error(ValueError("Press Compare first: there is nothing to show side by side."), "compare")
            return
        if not self._viewer.canvas.grid.enabled:
            self._saved_visibility = {layer: layer.visible for layer in self._viewer.layers}
        for layer in self._viewer.layers:
            layer.visible = layer in layers
        for layer in layers:  # napari fills the grid from the bottom of the layer list
            self._viewer.layers.move(self._viewer.layers.index(layer), len(self._viewer.layers))
        grid = self._viewer.canvas.grid
        grid.stride = 1
        grid.shape = (1, len(layers)) if len(layers) <= 4 else (-1, -1)
        grid.enabled = True
        self._viewer.reset_view()

    def single_view(self) -> None:
        """Leave grid view and restore the layer visibility from before."""
        self._viewer.canvas.grid.enabled = False
        self._viewer.reset_view()
        for layer, visible in self._saved_visibility.items():
            if layer in self._viewer.layers:
                layer.visible = visible
        self._saved_visibility = {}
