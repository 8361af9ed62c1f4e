"""Widget 3, Compare: metrics in a worker, a docked per-frame PSNR/SSIM plot and table, and a labelled grid
of the images, their |error| maps or their edges (those layers made when first shown, then reused)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import ComboBox, Container, Label, PushButton, Select
from matplotlib.ticker import MaxNLocator
from napari.qt.threading import create_worker
from napari.utils.notifications import show_info
from qtpy.QtWidgets import QHBoxLayout, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from napari_dynmri._napari._docking import join_dynmri_tabs
from napari_dynmri._napari._figure import style_axes, theme_text_colour, themed_canvas
from napari_dynmri._napari._layers import (
    DISPLAY_ROLES,
    METRICS_KEY,
    REFERENCE_KEY,
    RESULT_ROLES,
    ROLE_KEY,
    SLICE_KEY,
    USER_ERRORS,
    add_cine_layer,
    image_choices,
    layer_cine,
    layer_slice,
    report_error,
    time_index,
)
from napari_dynmri.edges import sobel_magnitude
from napari_dynmri.metrics import evaluate, summarize

if TYPE_CHECKING:
    import napari.viewer

VIEWS = ("images", "|error|", "edges", "phase")
# |error| colour limit shared by the error maps: the largest error of the reconstructions (zero-filled
# errors, several times larger, would make theirs look black), or the largest of every result.
ERROR_SCALES = ("reconstructions", "all results")
# Where the shared colour bar of the |error| and phase maps goes: the bottom left, never over the layer
# names (napari draws them at the top left of each grid panel) nor over the scale bar (bottom right).
COLORBAR_POSITION = "bottom_left"
METRICS_NOTE = ("PSNR: whole sequence (as metrics.evaluate and dynmri eval); per frame: lowest-highest "
                "frame; SSIM: mean ± std over frames")


def compared_slice(viewer, reference, results) -> int | None:
    """The slice ``z`` of ``reference`` the ``results`` are compared with (None for single-slice cines).

    Results made from slice ``z`` of a ``(Z, T, H, W)`` cine carry it (``SLICE_KEY``); a ``(Z, T, H, W)``
    reference is compared on that slice, else on the slice the viewer shows. Raises ValueError when
    the results come from different slices, or from another slice than a single-slice reference.
    """
    slices = {layer.name: layer_slice(viewer, layer) for layer in results}
    known = sorted({z for z in slices.values() if z is not None})
    if len(known) > 1:
        listing = ", ".join(f"'{name}' is slice {z}" for name, z in slices.items() if z is not None)
        raise ValueError(f"The results come from different slices ({listing}); compare results of one slice.")
    if reference.ndim == 4:
        z_index = known[0] if known else layer_slice(viewer, reference)
        if z_index >= reference.data.shape[0]:
            raise ValueError(f"The results are of slice {z_index} but '{reference.name}' has "
                             f"{reference.data.shape[0]} slice(s); choose their reference.")
        return z_index
    own = reference.metadata.get(SLICE_KEY)
    if known and own is not None and own != known[0]:
        raise ValueError(f"'{reference.name}' is slice {own} but the results are of slice {known[0]}; compare "
                         "the results with the reference of their slice.")
    return own if own is not None else (known[0] if known else None)


def comparison_job(target: np.ndarray, cines: dict[str, np.ndarray]):
    """Metrics, |error| and edge maps of each cine against ``target`` (magnitudes ``(T, H, W)``).

    A generator for a napari worker: yields once per cine (and once for the reference's edges), then
    returns ``{"metrics": {name: metrics.evaluate(...)}, "errors": {name: |cine - target|},
    "edges": {name: Sobel magnitude}}``, the reference's edges under ``None``.
    """
    computed = {"metrics": {}, "errors": {}, "edges": {None: sobel_magnitude(target)}}
    yield
    for name, cine in cines.items():
        computed["metrics"][name] = evaluate(cine, target)
        computed["errors"][name] = np.abs(cine - target)
        computed["edges"][name] = sobel_magnitude(cine)
        yield
    return computed


def magnitude_only_message(reference: str, results_complex: bool) -> str:
    """Why the phase view shows nothing for a magnitude-only reference."""
    if not results_complex:
        return (f"'{reference}' and its results hold magnitudes only (no phase was measured or kept): there is no "
                "phase to show.")
    return (f"'{reference}' is magnitude-only (no phase was measured), so the phase of its reconstructions carries "
            "no information (it would show as noise); the phase view needs a complex reference.")


def show_one_colorbar(maps: list) -> None:
    """One colour bar for maps that share their limits: on the last map, at :data:`COLORBAR_POSITION`."""
    for layer in maps:
        layer.colorbar.visible = layer is maps[-1]
        layer.colorbar.position = COLORBAR_POSITION


class MetricsPanel(QWidget):
    """Per-frame PSNR and SSIM curves, a marker at the frame the viewer shows, and a table of sequence PSNR
    with the per-frame range beside it, and SSIM."""

    def __init__(self, viewer, parent=None):
        super().__init__(parent)
        self._viewer = viewer
        self.canvas = themed_canvas(viewer)
        self.psnr_axes, self.ssim_axes = self.canvas.figure.subplots(1, 2)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["result", "PSNR (dB)", "per frame (dB)", "SSIM"])
        self.table.verticalHeader().setVisible(False)
        side = QVBoxLayout()
        side.addWidget(self.caption)
        side.addWidget(self.table)
        layout = QHBoxLayout(self)
        layout.addWidget(self.canvas, stretch=3)
        layout.addLayout(side, stretch=2)
        self.frame = 0
        self._markers = []

    def show_metrics(self, per_result: dict[str, dict], frame: int, z_index: int | None) -> None:
        """Plot ``{name: metrics.evaluate(...)}`` and fill the table; mark ``frame``; say the slice."""
        for axes, key, title in ((self.psnr_axes, "psnr_per_frame", "PSNR per frame (dB)"),
                                 (self.ssim_axes, "ssim_per_frame", "SSIM per frame")):
            axes.clear()
            for name, metrics in per_result.items():
                axes.plot(metrics[key], marker=".", label=name)
            axes.set_title(title, fontsize=9)
            axes.set_xlabel("frame t", fontsize=8)
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
            style_axes(axes, self._viewer)
        self.psnr_axes.legend(fontsize=7)
        self._markers = [axes.axvline(frame, color=theme_text_colour(self._viewer), linestyle="--", linewidth=0.8)
                         for axes in (self.psnr_axes, self.ssim_axes)]
        self.caption.setText(METRICS_NOTE + ("" if z_index is None else f"; slice z{z_index}"))
        self.table.setRowCount(len(per_result))
        for row, (name, metrics) in enumerate(per_result.items()):
            frames = metrics["psnr_per_frame"]
            ssim_mean, ssim_std = summarize(metrics["ssim_per_frame"])
            cells = (name, f"{metrics['psnr']:.2f}", f"{frames.min():.2f}-{frames.max():.2f}",
                     f"{ssim_mean:.4f} ± {ssim_std:.4f}")
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
    """A reference and one or more results of one slice -> metrics (in a worker), plot and table, labelled grid."""

    def __init__(self, napari_viewer: "napari.viewer.Viewer"):
        super().__init__()
        self._viewer = napari_viewer
        self.reference = ComboBox(label="reference", choices=lambda _: image_choices(
            napari_viewer, exclude_roles=DISPLAY_ROLES + RESULT_ROLES))
        self.results = Select(label="results", choices=lambda _: image_choices(
            napari_viewer, exclude_roles=DISPLAY_ROLES))
        self.compare_button = PushButton(text="Compare")
        self.view = ComboBox(label="side by side", choices=VIEWS, value="images")
        self.error_scale = ComboBox(label="|error| scale", choices=ERROR_SCALES, value=ERROR_SCALES[0],
                                    tooltip="one colour limit for every |error| map: the largest error of the "
                                            "reconstructions, or of every result (zero-filled included)")
        self.grid_button = PushButton(text="Side by side")
        self.single_button = PushButton(text="Single view")
        self.status = Label(value="")
        self.extend([self.reference, self.results, self.compare_button, self.view, self.error_scale,
                     self.grid_button, self.single_button, self.status])
        self.panel = None
        self.panel_dock = None
        self.worker = None
        self.metrics: dict[str, dict] = {}
        self.error_limit = None
        self._compared = None  # {"reference", "results", "slice", "errors", "edges"} of the last comparison
        self._saved_visibility: dict = {}
        self.compare_button.changed.connect(lambda: self.cancel() if self.running else self.compare())
        self.grid_button.changed.connect(self.side_by_side)
        self.single_button.changed.connect(self.single_view)
        napari_viewer.layers.events.inserted.connect(self.reset_choices)
        napari_viewer.layers.events.removed.connect(self.reset_choices)
        napari_viewer.dims.events.current_step.connect(self._follow_time)
        join_dynmri_tabs(self.native)

    @property
    def running(self) -> bool:
        """True while a comparison is being computed."""
        return self.worker is not None

    def compare(self, then=None) -> None:
        """Check the choice, then compute the metrics and maps in a worker (progress in napari's activity
        panel); when done, store the metrics on each result layer, show the plot and table, and call
        ``then()`` (on the GUI thread). A bad choice gives an error notification and changes nothing."""
        if self.running:
            return
        reference = self.reference.value
        results = [layer for layer in self.results.value if layer is not reference]
        if reference is None or not results:
            report_error(ValueError("Choose a reference and at least one other layer to compare."), "compare")
            return
        try:
            z_index = compared_slice(self._viewer, reference, results)
            target = np.abs(layer_cine(reference, z_index or 0))
            cines = {layer.name: np.abs(layer_cine(layer, layer_slice(self._viewer, layer) or 0)) for layer in results}
            for name, cine in cines.items():
                if cine.shape != target.shape:
                    raise ValueError(f"'{name}' is {cine.shape} but the reference '{reference.name}' is "
                                     f"{target.shape}; compare cines of one size.")
        except USER_ERRORS as err:
            report_error(err, f"compare with '{reference.name}'")
            return
        self.status.value = f"comparing {len(results)} result(s)..."
        self.worker = create_worker(comparison_job, target, cines, _start_thread=False,
                                    _progress={"total": len(cines) + 1, "desc": "compare"})
        self.worker.returned.connect(lambda computed: self._finish(computed, reference, results, z_index, then))
        self.worker.errored.connect(lambda err: report_error(err, f"compare with '{reference.name}'"))
        self.worker.aborted.connect(lambda: show_info("Comparison cancelled; the viewer is unchanged."))
        self.worker.finished.connect(self._cleanup)
        self.compare_button.text = "Cancel"
        self.worker.start()

    def cancel(self) -> None:
        """Stop a running comparison (after the result it is on); nothing is added or changed."""
        if self.worker is not None:
            self.worker.quit()

    def _finish(self, computed: dict, reference, results: list, z_index: int | None, then) -> None:
        self.metrics = computed["metrics"]
        for layer in results:
            metrics = self.metrics[layer.name]
            layer.metadata[METRICS_KEY] = {
                "reference": reference.name, "result": layer.name, "slice": z_index,
                "psnr": metrics["psnr"], "ssim": metrics["ssim"],
                "psnr_per_frame": metrics["psnr_per_frame"].tolist(),
                "ssim_per_frame": metrics["ssim_per_frame"].tolist(),
            }
        self._compared = {"reference": reference, "results": results, "slice": z_index,
                          "errors": computed["errors"], "edges": computed["edges"]}
        self.status.value = "" if z_index is None else f"compared on slice z{z_index}"
        self._show_panel()
        if self._viewer.canvas.grid.enabled:  # the grid on show is brought up to date
            self.side_by_side()
        if then is not None:
            then()

    def _cleanup(self) -> None:
        self.worker = None
        self.compare_button.text = "Compare"
        if self.status.value.startswith("comparing"):
            self.status.value = ""

    def _family(self, view: str) -> list:
        """The layers shown side by side for ``view``: reference, zero-filled, then the other results (or
        their |error| / edge maps, made now or reused)."""
        compared = self._compared
        reference = compared["reference"]
        results = sorted(compared["results"], key=lambda layer: layer.metadata.get(ROLE_KEY) != "zero-filled")
        if view == "images":
            return [reference, *results]
        if view == "phase":  # napari shows magnitudes only; the phase of complex cines is offered beside them
            cines = {layer: layer_cine(layer, compared["slice"] or 0) for layer in (reference, *results)}
            if not np.iscomplexobj(cines[reference]):
                raise ValueError(magnitude_only_message(reference.name, any(map(np.iscomplexobj, cines.values()))))
            phases = {layer: np.angle(cine).astype(np.float32) for layer, cine in cines.items() if np.iscomplexobj(cine)}
            maps = [add_cine_layer(self._viewer, phase, f"phase {layer.name}", results[0] if layer is reference else layer,
                                   role="phase", reuse=True, colormap="twilight", contrast_limits=(-np.pi, np.pi),
                                   visible=False)
                    for layer, phase in phases.items()]
            show_one_colorbar(maps)
            return maps
        if view == "edges":
            edges = compared["edges"]
            limit = max(float(e.max()) for e in edges.values()) or 1.0
            return [add_cine_layer(self._viewer, edges[None if layer is reference else layer.name],
                                   f"edges {layer.name}", results[0] if layer is reference else layer,
                                   role="edges", reuse=True, colormap="gray", contrast_limits=(0.0, limit),
                                   visible=False)
                    for layer in (reference, *results)]
        errors = compared["errors"]
        recons = [layer for layer in results if layer.metadata.get(ROLE_KEY) != "zero-filled"]
        scaled = recons if self.error_scale.value == ERROR_SCALES[0] and recons else results
        self.error_limit = max(float(errors[layer.name].max()) for layer in scaled) or 1.0
        maps = [add_cine_layer(self._viewer, errors[layer.name], f"|error| {layer.name}", layer, role="error",
                               reuse=True, metadata={REFERENCE_KEY: reference.name}, colormap="magma",
                               contrast_limits=(0.0, self.error_limit), visible=False)
                for layer in results]
        show_one_colorbar(maps)
        return maps

    def _show_panel(self) -> None:
        if self.panel is None:
            self.panel = MetricsPanel(self._viewer)
            self.panel_dock = self._viewer.window.add_dock_widget(self.panel, name="dynmri metrics", area="bottom")
            join_dynmri_tabs(self.panel)
        self.panel.show_metrics(self.metrics, time_index(self._viewer), self._compared["slice"])

    def _follow_time(self, *_) -> None:
        if self.panel is not None:
            self.panel.set_frame(time_index(self._viewer))

    def side_by_side(self) -> None:
        """Grid view of the chosen family on one time slider, each panel labelled with its layer name,
        in the order reference, zero-filled, results; a multi-slice reference shows the compared slice."""
        if self._compared is None or self._compared["reference"] not in self._viewer.layers:
            report_error(ValueError("Press Compare first: there is nothing to show side by side."), "compare")
            return
        try:
            layers = [layer for layer in self._family(self.view.value) if layer in self._viewer.layers]
        except USER_ERRORS as err:
            report_error(err, "show the comparison side by side")
            return
        if not self._viewer.canvas.grid.enabled:
            self._saved_visibility = {layer: layer.visible for layer in self._viewer.layers}
        for layer in layers:  # maps made while in grid view stay hidden after it
            self._saved_visibility.setdefault(layer, False)
        for layer in self._viewer.layers:
            layer.visible = layer in layers
            layer.name_overlay.visible = layer in layers
        for layer in layers:  # napari fills the grid from the bottom of the layer list
            self._viewer.layers.move(self._viewer.layers.index(layer), len(self._viewer.layers))
        if self._compared["slice"] is not None and self._compared["reference"].ndim == 4:
            self._viewer.dims.set_current_step(0, self._compared["slice"])
        grid = self._viewer.canvas.grid
        grid.stride = 1
        grid.shape = (1, len(layers)) if len(layers) <= 4 else (-1, -1)
        grid.enabled = True
        self._viewer.layers.selection.active = layers[0]
        self._viewer.reset_view()

    def single_view(self) -> None:
        """Leave grid view and restore the layer visibility from before."""
        self._viewer.canvas.grid.enabled = False
        self._viewer.reset_view()
        for layer, visible in self._saved_visibility.items():
            if layer in self._viewer.layers:
                layer.visible = visible
        for layer in self._viewer.layers:
            layer.name_overlay.visible = False
        self._saved_visibility = {}
