"""Widget 4, Export: chosen layers, metrics (CSV) and settings (JSON) into a folder, never overwriting unasked."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, PushButton, Select
from napari.utils.notifications import show_info

from napari_dynmri._napari._docking import join_dynmri_tabs
from napari_dynmri._napari._layers import (
    METRICS_KEY,
    SETTINGS_KEY,
    SLICE_KEY,
    SPACING_KEY,
    THICKNESS_KEY,
    TIMES_KEY,
    USER_ERRORS,
    check_cine_layer,
    image_choices,
    report_error,
)
from napari_dynmri._napari._writer import write_layer
from napari_dynmri.io.atomic import write_text
from napari_dynmri.metrics import summarize
from napari_dynmri.recon.settings import SETTINGS_FILE, settings_json

if TYPE_CHECKING:
    import napari.viewer

FORMATS = (".npz", ".nii.gz", ".tif")
METRICS_FILE = "metrics.csv"
SUMMARY_FILE = "metrics_summary.csv"


def file_stem(layer_name: str) -> str:
    """A file name stem from a layer name: ``"|error| recon (cs-ttv)"`` -> ``"error_recon_cs-ttv"``."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", layer_name).strip("_.") or "layer"


def metrics_rows(layers) -> tuple[list[dict], list[dict]]:
    """Per-frame and summary rows of every comparison stored on ``layers`` (the compared results).

    The summary's ``psnr_db`` is the sequence PSNR (:func:`napari_dynmri.metrics.evaluate`), with the
    lowest and highest per-frame PSNR beside it; SSIM is the mean and standard deviation over frames.
    """
    per_frame, summary = [], []
    for layer in layers:
        metrics = layer.metadata.get(METRICS_KEY)
        if metrics is None:
            continue
        pair = {"reference": metrics["reference"], "result": metrics["result"], "slice": metrics["slice"]}
        for frame, (psnr, ssim) in enumerate(zip(metrics["psnr_per_frame"], metrics["ssim_per_frame"])):
            per_frame.append({**pair, "frame": frame, "psnr_db": psnr, "ssim": ssim})
        ssim_mean, ssim_std = summarize(metrics["ssim_per_frame"])
        summary.append({**pair, "psnr_db": metrics["psnr"], "psnr_frame_min_db": min(metrics["psnr_per_frame"]),
                        "psnr_frame_max_db": max(metrics["psnr_per_frame"]), "ssim_mean": ssim_mean,
                        "ssim_std": ssim_std})
    return per_frame, summary


def layer_geometry(layer) -> dict:
    """Where a layer's samples lie: axes, napari units, pixel spacing and slice thickness (mm), trigger
    times (ms) and, for a result of a multi-slice cine, its slice."""
    times = layer.metadata.get(TIMES_KEY)
    return {
        "axes": list(layer.axis_labels),
        "units": [str(unit) for unit in layer.units],
        SPACING_KEY: layer.metadata.get(SPACING_KEY),
        THICKNESS_KEY: layer.metadata.get(THICKNESS_KEY),
        TIMES_KEY: None if times is None else np.asarray(times).tolist(),
        "slice": layer.metadata.get(SLICE_KEY),
    }


def recon_section(layers) -> dict | None:
    """The Reconstruct widget's ``"recon"`` settings of the first of ``layers`` that has them, else None."""
    for layer in layers:
        recon = layer.metadata.get(SETTINGS_KEY, {}).get("recon")
        if recon is not None:
            return recon
    return None


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
        join_dynmri_tabs(self.native)

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
            planned[path] = lambda p, layer=layer: write_layer(p, layer.data, layer.metadata,
                                                               overwrite=self.overwrite.value)
        per_frame, summary = metrics_rows(self._viewer.layers)
        if per_frame:
            planned[folder / METRICS_FILE] = lambda p: self._write_text(p, _csv_text(per_frame))
            planned[folder / SUMMARY_FILE] = lambda p: self._write_text(p, _csv_text(summary))
        settings = settings_json(
            layers={layer.name: layer.metadata[SETTINGS_KEY] for layer in self._viewer.layers
                    if SETTINGS_KEY in layer.metadata},
            files={path.name: {"layer": layer.name, **layer_geometry(layer)} for path, layer in zip(planned, chosen)},
            recon=recon_section(chosen),
        )
        planned[folder / SETTINGS_FILE] = lambda p: self._write_text(p, settings)
        return planned

    def _write_text(self, path: Path, text: str) -> None:
        write_text(path, text, overwrite=self.overwrite.value)



def _csv_text(rows: list[dict]) -> str:
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return stream.getvalue()
