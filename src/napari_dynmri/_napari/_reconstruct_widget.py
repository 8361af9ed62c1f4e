"""Widget 2, Reconstruct: run a reconstruction method in a napari thread worker, with progress and Cancel.

The option controls are built from the registry of method options (:mod:`napari_dynmri.recon.options`):
one per option name (a spin box within the declared bounds for a number, a checkbox for a switch, a
text field for a name), shown for the methods that take it and reset to the selected method's default
when the method changes; one "automatic" checkbox stands for the weights that may be cross-validated.

The progress shows in the widget itself: a progress bar (steps done of the method's total; busy until
the method first reports) and a line with the elapsed time, updated every second.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Label,
    LineEdit,
    ProgressBar,
    PushButton,
    SpinBox,
)
from napari.qt.threading import create_worker
from napari.utils.notifications import show_info
from qtpy.QtCore import QObject, QTimer, Signal

from napari_dynmri._napari._docking import join_dynmri_tabs
from napari_dynmri._napari._layers import (
    DISPLAY_ROLES,
    KSPACE_KEY,
    MAPS_KEY,
    MASK_KEY,
    REFERENCE_KEY,
    SETTINGS_KEY,
    USER_ERRORS,
    add_cine_layer,
    check_image_role,
    displayed_slice,
    image_choices,
    report_error,
    slice_suffix,
)
from napari_dynmri._napari._undersample_widget import add_undersampled_layers, simulate_layer
from napari_dynmri.models.device import DEVICE_SPECS
from napari_dynmri.models.pretrained import DEFAULT_MODEL, list_pretrained
from napari_dynmri.physics import DEFAULT_ACQUISITION
from napari_dynmri.recon import BUILTIN_METHODS, DEFAULT_METHOD, ReconCancelled, get_method
from napari_dynmri.recon.options import AUTO, Option
from napari_dynmri.recon.registry import declarations, option_names, options_of
from napari_dynmri.recon.settings import RECON_DEFAULTS

if TYPE_CHECKING:
    import napari.viewer

CHECKPOINT = "checkpoint file..."
TICK_MS = 1000  # how often the elapsed time is redrawn while a reconstruction runs
# the spin-box limit of a number option declared without one (Qt spin boxes need both ends)
UNBOUNDED = 1_000_000
WEIGHT_STEP = 0.0001  # weights are relative to max |zero-filled|: around 1e-3


def model_choices() -> list[str]:
    """The default method first, then the other built-in methods, the shipped models (the default
    network first) and the checkpoint-file entry."""
    names = sorted((entry["name"] for entry in list_pretrained()), key=lambda name: name != DEFAULT_MODEL)
    ordered = [DEFAULT_METHOD, *BUILTIN_METHODS, *names, CHECKPOINT]
    return list(dict.fromkeys(ordered))


def method_options(recon: dict) -> dict:
    """The options :func:`napari_dynmri.recon.get_method` takes for a ``"recon"`` settings section.

    ``recon`` holds ``model``, ``device`` and every registered option (:data:`RECON_DEFAULTS`'s keys) as
    the Reconstruct widget records it (and Export writes to ``settings.json``). The model's own options
    are passed unless recorded as not given (``None``, or a switch left off); an ``"auto"``-capable
    weight recorded as ``None`` is passed as ``"auto"`` (cross-validated on the measured lines).
    """
    options = {}
    for option in options_of(recon["model"]):
        value = recon.get(option.name, option.unset)
        if option.auto and value is None:
            options[option.name] = AUTO
        elif value is not option.unset:
            options[option.name] = value
    return options


def option_control(option: Option):
    """The control of ``option`` (named after it): a checkbox, a spin box within its bounds or a text field."""
    label = option.name.replace("_", " ")
    if option.kind is bool:
        return CheckBox(name=option.name, text=label, tooltip=option.help, value=False)
    if option.kind in (int, float):
        spin_box = SpinBox if option.kind is int else FloatSpinBox
        bounds = {"min": -UNBOUNDED if option.low is None else option.low,
                  "max": UNBOUNDED if option.high is None else option.high}
        step = {} if option.kind is int else {"step": WEIGHT_STEP}
        return spin_box(name=option.name, label=label, tooltip=option.help, **bounds, **step)
    return LineEdit(name=option.name, label=label, tooltip=option.help)


def reconstruction_job(spec, device, kspace, mask, options, on_progress, on_device, should_stop, maps=None) -> tuple:
    """Build the method ``spec`` and reconstruct; runs in the worker thread and never raises a user error.

    ``kspace`` is ``(T, H, W)``, or ``(T, C, H, W)`` with coil ``maps`` ``(C, H, W)`` (SENSE).
    Returns ``("done", reconstruction, method)`` (a :class:`~napari_dynmri.recon.Reconstruction`),
    ``("cancelled", None, None)`` or ``("error", exception, None)``.
    """
    coils = {} if maps is None else {"maps": maps}  # single-coil methods are called as before
    try:
        method = get_method(spec, device, **options)
        on_device(method.device)
        result = method.reconstruct(kspace, mask, progress=on_progress, should_stop=should_stop, **coils)
    except ReconCancelled:
        return "cancelled", None, None
    except USER_ERRORS as err:
        return "error", err, None
    return "done", result, method


class _Relay(QObject):
    """Carries reports from the worker thread to the GUI thread (queued Qt signals)."""

    progressed = Signal(int, int)
    device_chosen = Signal(str)


class ReconstructWidget(Container):
    """Input layer + model + device -> a new ``recon (<model>)`` layer, computed off the GUI thread."""

    def __init__(self, napari_viewer: "napari.viewer.Viewer"):
        super().__init__()
        self._viewer = napari_viewer
        self.image = ComboBox(label="input", choices=lambda _: image_choices(
            napari_viewer, exclude_roles=(*DISPLAY_ROLES, "recon")))
        self.model = ComboBox(label="model", choices=model_choices())
        self.checkpoint = FileEdit(label="checkpoint", mode="r", visible=False)
        self.automatic_weight = CheckBox(text="automatic CS weight (cross-validated on the measured lines)",
                                         value=True)
        self.controls = {name: option_control(declarations(name)[0]) for name in option_names()}
        self.device = ComboBox(label="device", choices=DEVICE_SPECS, value="auto")
        self.input_note = Label(value="")
        self.run_button = PushButton(text="Reconstruct")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress_bar = ProgressBar(label="progress", value=0, min=0, max=1, visible=False)
        self.status = Label(value="device: -")
        self.extend([self.image, self.input_note, self.model, self.checkpoint, self.automatic_weight,
                     *self.controls.values(), self.device, self.run_button, self.cancel_button, self.progress_bar,
                     self.status])
        self.worker = None
        self.result_layer = None  # the layer the last successful run added
        self._stop = threading.Event()
        self._started = None  # time.perf_counter() when the running reconstruction began
        self._device = "..."
        self._timer = QTimer(self.native)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self.show_elapsed)
        self._relay = _Relay()
        self._relay.progressed.connect(self._on_progress)
        self._relay.device_chosen.connect(self._on_device)
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.model.changed.connect(self._reset_model_options)
        self.automatic_weight.changed.connect(self._show_model_options)
        for switch in {option.needs for name in option_names() for option in declarations(name)} - {None}:
            self.controls[switch].changed.connect(self._show_model_options)  # other options need it on
        self.image.changed.connect(self._describe_input)
        napari_viewer.layers.events.inserted.connect(self.reset_choices)
        napari_viewer.layers.events.removed.connect(self.reset_choices)
        self._reset_model_options()
        self._describe_input()
        join_dynmri_tabs(self.native)

    @property
    def running(self) -> bool:
        """True while a reconstruction is in progress."""
        return self.worker is not None

    def run(self) -> None:
        """Start reconstructing the chosen input; the result layer is added when the worker returns."""
        if self.running:
            return
        layer = self.image.value
        if layer is None:
            report_error(ValueError("There is no image layer to reconstruct; open a cine first."), "reconstruct")
            return
        try:
            spec, label = self._model_spec()
            kspace, mask, maps, settings, undersampled = self._inputs(layer)
        except USER_ERRORS as err:
            report_error(err, f"reconstruct '{layer.name}'")
            return
        recon = self._recon_settings(spec)
        settings["recon"] = recon
        self._stop.clear()
        self.result_layer = None
        self.progress_bar.max, self.progress_bar.value = 0, 0  # busy until the method first reports
        self.progress_bar.visible = True
        self.worker = create_worker(
            reconstruction_job, spec, self.device.value, kspace, mask, method_options(recon),
            self._relay.progressed.emit, self._relay.device_chosen.emit, self._stop.is_set, maps,
            _start_thread=False,
        )
        started = self._started = time.perf_counter()
        self._device = "..."
        self.worker.returned.connect(
            lambda result: self._finish(result, layer, label, spec, settings, undersampled, started)
        )
        self.worker.finished.connect(self._cleanup)
        self.run_button.enabled = False
        self.cancel_button.enabled = True
        self.show_elapsed()
        self._timer.start()
        self.worker.start()

    def cancel(self) -> None:
        """Ask the running reconstruction to stop; nothing is added to the viewer."""
        self._stop.set()

    def _recon_settings(self, spec: str) -> dict:
        """The ``"recon"`` settings section of a run of ``spec`` with the widget's current values: the
        options ``spec`` takes from their controls, every other one recorded as not given."""
        recon = {**RECON_DEFAULTS, "model": spec, "device": str(self.device.value)}
        for option in options_of(spec):
            if self._applies(option):
                value = self.controls[option.name].value
                recon[option.name] = (value.strip() or None) if option.kind is str else option.kind(value)
        return recon

    def _applies(self, option: Option) -> bool:
        """Whether ``option`` of the selected method takes its control's value: not an automatic weight,
        and the switch it needs (if any) is on."""
        if option.auto and self.automatic_weight.value:
            return False
        return option.needs is None or bool(self.controls[option.needs].value)

    def _model_spec(self) -> tuple[str, str]:
        if self.model.value != CHECKPOINT:
            return self.model.value, self.model.value
        path = Path(self.checkpoint.value)
        if not str(self.checkpoint.value) or str(self.checkpoint.value) == "." or not path.exists():
            raise ValueError("Choose a checkpoint file (a model.json or weights file) before reconstructing.")
        return str(path), path.parent.name if path.name == "model.json" else path.stem

    def _inputs(self, layer):
        """k-space, mask, coil maps (None for single-coil k-space) and settings: those of a zero-filled
        layer (a raw multi-coil scan's carries its maps), or simulated for any other image."""
        check_image_role(layer)
        if KSPACE_KEY in layer.metadata and MASK_KEY in layer.metadata:
            settings = dict(layer.metadata.get(SETTINGS_KEY, {}))
            settings["reference"] = layer.metadata.get(REFERENCE_KEY)
            metadata = layer.metadata
            return metadata[KSPACE_KEY], metadata[MASK_KEY], metadata.get(MAPS_KEY), settings, None
        z_index = displayed_slice(self._viewer, layer)
        mask, kspace, zero_filled, settings = simulate_layer(layer, z_index, DEFAULT_ACQUISITION)
        undersampled = (mask, kspace, zero_filled, dict(settings))
        return kspace, mask, None, {**settings, "reference": layer.name}, undersampled

    def show_elapsed(self) -> None:
        """Write the running reconstruction's elapsed time, device and step count into the status line."""
        if self._started is None:
            return
        seconds = time.perf_counter() - self._started
        bar = self.progress_bar
        steps = f", step {bar.value} of {bar.max}" if bar.max > 0 else ""
        self.status.value = f"running for {seconds:.0f} s on {self._device}{steps}"

    def _on_device(self, device: str) -> None:
        self._device = device
        self.show_elapsed()

    def _on_progress(self, done: int, total: int) -> None:
        if not self.running or total <= 0:
            return
        bar = self.progress_bar
        if bar.max != total:
            bar.max = total
        bar.value = max(0, min(int(done), int(total)))
        self.show_elapsed()

    def _finish(self, result, layer, label, spec, settings, undersampled, started) -> None:
        status, payload, method = result
        self._started = None
        if status == "cancelled":
            self.status.value = "cancelled"
            show_info("Reconstruction cancelled; the viewer is unchanged.")
            return
        if status == "error":
            self.status.value = "failed (see the notification)"
            report_error(payload, f"reconstruct with '{label}'")
            return
        if self.progress_bar.max == 0:  # a method that never reported: show it complete
            self.progress_bar.max = 1
        self.progress_bar.value = self.progress_bar.max
        if undersampled is not None:
            add_undersampled_layers(self._viewer, layer, *undersampled)
        seconds = time.perf_counter() - started  # what the user waited: the method's loading included
        settings.update(model=label, model_spec=spec, method=payload.description, device=payload.device,
                        seconds=round(seconds, 3), method_settings=payload.settings)
        chosen = method.settings_summary(payload.settings)
        self.status.value = f"done in {seconds:.1f} s on {payload.device}" + (f" ({chosen})" if chosen else "")
        z_index = settings.get("slice")
        name = f"recon ({label}){slice_suffix(z_index)}"
        self.result_layer = add_cine_layer(self._viewer, payload.image, name, layer,
                                           role="recon", z_index=z_index,
                                           metadata={SETTINGS_KEY: settings, REFERENCE_KEY: settings["reference"]},
                                           contrast_limits=tuple(layer.contrast_limits))
        if payload.uncertainty is not None:
            add_cine_layer(self._viewer, payload.uncertainty, f"trust map of {name}", layer, role="uncertainty", z_index=z_index,
                           metadata={SETTINGS_KEY: settings}, colormap="magma", visible=False)

    def _cleanup(self) -> None:
        self._timer.stop()
        self._started = None
        if self.progress_bar.max == 0:  # stopped before any report: no busy bar left behind
            self.progress_bar.max = 1
        self.worker = None
        self.run_button.enabled = True
        self.cancel_button.enabled = False

    def _reset_model_options(self, *_) -> None:
        """Set the controls of the selected method's options (a checkpoint is a network) to its defaults,
        then show them; an empty text field stands for a default that the method decides."""
        for option in options_of(self.model.value):
            self.controls[option.name].value = "" if option.default is None else option.default
        self._show_model_options()

    def _show_model_options(self, *_) -> None:
        """Show the controls of the selected method's options that apply, and hide every other."""
        self.checkpoint.visible = self.model.value == CHECKPOINT
        selected = options_of(self.model.value)
        self.automatic_weight.visible = any(option.auto for option in selected)
        shown = {option.name for option in selected if self._applies(option)}
        for name, control in self.controls.items():
            control.visible = name in shown

    def _describe_input(self, *_) -> None:
        layer = self.image.value
        if layer is None:
            self.input_note.value = ""
        elif MAPS_KEY in layer.metadata:
            coils = len(layer.metadata[MAPS_KEY])
            self.input_note.value = f"reconstructs this layer's measured k-space: {coils} coils, SENSE with its coil maps"
        elif KSPACE_KEY in layer.metadata:
            self.input_note.value = "reconstructs this layer's measured k-space"
        else:
            self.input_note.value = (
                f"fully sampled: undersampled first ({DEFAULT_ACQUISITION.kind}, "
                f"{DEFAULT_ACQUISITION.acceleration:g}x, seed {DEFAULT_ACQUISITION.seed})"
            )
