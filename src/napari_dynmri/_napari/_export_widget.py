"""Widget 4, Export: chosen layers, metrics (CSV) and settings (JSON) into a folder, never overwriting unasked."""

from __future__ import annotations

import csv
import json
import platform
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, PushButton, Select
from napari.utils.notifications import show_info

from napari_dynmri._napari._layers import (
    COMPLEX_KEY,
    METRICS_KEY,
    SETTINGS_KEY,
    SPACING_KEY,
    USER_ERRORS,
    check_cine_layer,
    image_choices,
    report_error,
)
from napari_dynmri.io import write_cine
from napari_dynmri.metrics import summarize

if TYPE_CHECKING:
    import napari.viewer

FORMATS = (".npz", ".nii.gz", ".tif")
METRICS_FILE = "metrics.csv"
SUMMARY_FILE = "metrics_summary.csv"
SETTINGS_FILE = "settings.json"
VERSIONED_PACKAGES = ("napari-dynmri", "napari", "numpy", "torch", "scikit-image")


def file_stem(layer_name: str) -> str:
    """A file name stem from a layer name: ``"|error| recon (cs-ttv)"`` -> ``"error_recon_cs-ttv"``."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", layer_name).strip("_.") or "layer"


def versions() -> dict[str, str]:
    """Versions of Python and the packages a result depends on (``"not installed"`` when absent)."""
    found = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def metrics_rows(layers) -> tuple[list[dict], list[dict]]:
    """Per-frame and summary rows of every comparison stored on ``layers`` (|error| layers)."""
    per_frame, summary = [], []
    for layer in layers:
        metrics = layer.metadata.get(METRICS_KEY)
        if metrics is None:
            continue
        pair = {"reference": metrics["reference"], "result": metrics["result"]}
        for frame, (psnr, ssim) in enumerate(zip(metrics["psnr_per_frame"], metrics["ssim_per_frame"])):
            per_frame.append({**pair, "frame": frame, "psnr_db": psnr, "ssim": ssim})
        psnr_mean, psnr_std = summarize(metrics["psnr_per_frame"])
        ssim_mean, ssim_std = summarize(metrics["ssim_per_frame"])
        summary.append({**pair, "psnr_mean_db": psnr_mean, "psnr_std_db": psnr_std,
                        "ssim_mean": ssim_mean, "ssim_std": ssim_std})
    return per_frame, summary


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


class ExportWidget(Container):
    """Layers to .npz / .nii.gz / .tif, plus metrics.csv, metrics_summary.csv and settings.json."""

    def __init__(self, napari_viewer: "napari.viewer.Viewer"):
        super().__init__()
        self._viewer = napari_viewer
        self.layers = Select(label="layers", choices=lambda _: image_choices(napari_viewer))
        self.file_format = ComboBox(label="format", choices=FORMATS, value=".npz")
        self.folder = FileEdit(label="folder", mode="d")
        self.overwrite = CheckBox(text="overwrite existing files", value=False)
        self.export_button = PushButton(text="Export")
        self.extend([self.layers, self.file_format, self.folder, self.overwrite, self.export_button])
        self.export_button.changed.connect(self.export)
        napari_viewer.layers.events.inserted.connect(self.reset_choices)
        napari_viewer.layers.events.removed.connect(self.reset_choices)

    def export(self) -> list[Path]:
        """Write the files; returns their paths (empty, with an error notification, when nothing is written)."""
        try:
            planned = self._plan()
            existing = [path.name for path in planned if path.exists()]
            if existing and not self.overwrite.value:
                raise FileExistsError(
                    f"{len(existing)} file(s) already exist in {self._folder()} ({', '.join(existing[:3])}"
                    f"{', ...' if len(existing) > 3 else ''}); tick 'overwrite existing files' or choose another "
                    "folder."
                )
            self._folder().mkdir(parents=True, exist_ok=True)
            for path, write in planned.items():
                write(path)
        except USER_ERRORS as err:
            report_error(err, "export")
            return []
        show_info(f"Exported {len(planned)} file(s) to {self._folder()}.")
        return list(planned)

    def _folder(self) -> Path:
        value = str(self.folder.value)
        if not value or value == ".":
            raise ValueError("Choose a folder to export into.")
        return Path(value)

    def _plan(self) -> dict[Path, callable]:
        """Destination path -> function writing it; nothing is written yet."""
        folder = self._folder()
        chosen = list(self.layers.value)
        if not chosen:
            raise ValueError("Choose at least one layer to export.")
        planned = {}
        for layer in chosen:
            check_cine_layer(layer)
            path = folder / f"{file_stem(layer.name)}{self.file_format.value}"
            if path in planned:
                raise ValueError(f"Two chosen layers would both be saved as {path.name}; rename one of them.")
            planned[path] = lambda p, layer=layer: self._write_layer(p, layer)
        per_frame, summary = metrics_rows(self._viewer.layers)
        if per_frame:
            planned[folder / METRICS_FILE] = lambda p: _write_csv(p, per_frame)
            planned[folder / SUMMARY_FILE] = lambda p: _write_csv(p, summary)
        settings = {
            "versions": versions(),
            "layers": {layer.name: _json_safe(layer.metadata[SETTINGS_KEY])
                       for layer in self._viewer.layers if SETTINGS_KEY in layer.metadata},
        }
        planned[folder / SETTINGS_FILE] = lambda p: p.write_text(json.dumps(settings, indent=2) + "\n")
        return planned

    def _write_layer(self, path: Path, layer) -> None:
        data = layer.metadata.get(COMPLEX_KEY) if path.suffix == ".npz" else None
        if data is None or data.shape != layer.data.shape:
            data = np.asarray(layer.data)
        write_cine(path, data, pixel_spacing_mm=layer.metadata.get(SPACING_KEY), overwrite=self.overwrite.value)


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
