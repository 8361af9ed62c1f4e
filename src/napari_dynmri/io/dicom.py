"""Read a DICOM cine series (one file per frame) into a :class:`~napari_dynmri.io.cine.Cine`.

Frames are grouped by ``SliceLocation`` (slices in ascending location) and ordered within a slice by
``TriggerTime``, then ``InstanceNumber``. The result is ``(T, H, W)`` for one slice and
``(Z, T, H, W)`` otherwise, float32 after ``RescaleSlope`` / ``RescaleIntercept``.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from napari_dynmri.io.cine import Cine, build_cine, fail
from napari_dynmri.validation import check_decoded_bytes, check_input_file

# What tells two series apart when the files carry no SeriesInstanceUID.
_SERIES_FALLBACK_KEYS = ("StudyInstanceUID", "SeriesNumber", "SeriesDescription", "SeriesDate", "SeriesTime")

# Extensions taken as single DICOM files.
DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")


def has_dicom_magic(path: Path) -> bool:
    """True when ``path`` is a file with the ``DICM`` marker at byte 128 (Part 10 DICOM file)."""
    try:
        with open(path, "rb") as f:
            f.seek(128)
            return f.read(4) == b"DICM"
    except OSError:
        return False


def folder_has_dicom(folder: Path, max_files: int = 20) -> bool:
    """Cheap check: does ``folder`` directly contain a ``.dcm``/``.ima`` file or a DICOM-marked file?"""
    try:
        entries = sorted(p for p in folder.iterdir() if p.is_file())
    except OSError:
        return False
    if any(p.suffix.lower() in DICOM_SUFFIXES for p in entries):
        return True
    return any(has_dicom_magic(p) for p in entries[:max_files])


def read_dicom_series(paths, source) -> Cine:
    """Read one cine series from a folder (its files, not sub-folders) or from a list of files.

    Files in a folder that are not DICOM images (README, DICOMDIR, reports without pixel data) are
    skipped; in an explicit list they are an error. A folder holding several series
    (``SeriesInstanceUID``; files without one are told apart by study UID, series number, description,
    date and time) is an error naming them. All slices must have the same number of frames
    and the same image size. Enhanced (multi-frame) DICOM is not supported. Frames whose order is
    unknown (neither ``TriggerTime`` nor ``InstanceNumber``) or ambiguous (two images of one slice
    with one instance number: a copied series, or two acquisitions without series UIDs) are
    refused, and the pixel data is sized from the headers against the decoded-size limit before it
    is decoded.

    Args:
        paths: a folder, or a sequence of file paths.
        source: path or description used in messages and ``Cine.source``.

    Returns:
        :class:`Cine` with ``pixel_spacing_mm`` from ``PixelSpacing`` (row, col), ``trigger_times_ms``
        ``(T,)`` or ``(Z, T)`` from ``TriggerTime`` (None if absent), and ``meta`` holding
        ``slice_locations_mm``, ``series_instance_uid``, ``series_description``, ``slice_thickness_mm``.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    from_folder = isinstance(paths, (str, os.PathLike))
    files = sorted(p for p in Path(paths).iterdir() if p.is_file()) if from_folder else [Path(p) for p in paths]
    datasets = []
    for file in files:
        check_input_file(file)
        try:
            ds = pydicom.dcmread(file, force=False)
        except InvalidDicomError as err:
            if from_folder:
                continue
            raise fail(file, "is not a DICOM file") from err
        except Exception as err:  # truncated or malformed file behind a valid DICOM preamble
            raise fail(file, f"cannot read as DICOM: {err}") from err
        if "PixelData" not in ds:
            if from_folder:
                continue
            raise fail(file, "is a DICOM file without image data")
        datasets.append((file, ds))
    if not datasets:
        raise fail(source, "contains no DICOM image files")

    series = defaultdict(list)
    for file, ds in datasets:
        series[_series_key(ds)].append((file, ds))
    if len(series) > 1:
        names = "; ".join(
            f"{uid or '(no UID)'} '{items[0][1].get('SeriesDescription', '')}' ({len(items)} files)"
            for uid, items in series.items()
        )
        raise fail(source, f"contains {len(series)} DICOM series ({names}); pass the files of one series")
    (uid, items), = series.items()
    uid = str(items[0][1].get("SeriesInstanceUID", ""))

    for file, ds in items:
        if int(ds.get("NumberOfFrames", 1) or 1) > 1:
            raise fail(file, "is a multi-frame (enhanced) DICOM file, which is not supported; export one file per frame")
    _check_frames(items, source)
    first = items[0][1]
    rows, columns = int(first.get("Rows", 0) or 0), int(first.get("Columns", 0) or 0)
    # each frame is decoded to float32, then the frames are stacked into one float32 array
    check_decoded_bytes(2 * len(items) * rows * columns * np.dtype(np.float32).itemsize, source,
                        f"the pixel data ({len(items)} frames of {rows} x {columns}, decoded then stacked as float32)")

    slices = defaultdict(list)
    for file, ds in items:
        slices[_slice_position(ds)].append((file, ds))
    locations = sorted(slices)
    counts = {loc: len(slices[loc]) for loc in locations}
    if len(set(counts.values())) > 1:
        detail = ", ".join(f"{loc:g} mm: {n}" for loc, n in counts.items())
        raise fail(source, f"has slices with different numbers of frames ({detail})")

    frames, times = [], []
    for loc in locations:
        ordered = sorted(slices[loc], key=lambda item: _frame_order(item[1]))
        frames.append([_pixels(file, ds) for file, ds in ordered])
        times.append([_float(ds, "TriggerTime") for _, ds in ordered])
    shapes = {f.shape for per_slice in frames for f in per_slice}
    if len(shapes) > 1:
        raise fail(source, f"has frames of different sizes {sorted(shapes)}")
    data = np.stack([np.stack(per_slice) for per_slice in frames])  # (Z, T, H, W)
    trigger = np.asarray(times, dtype=float)
    if np.isnan(trigger).any():
        trigger = None
    if len(locations) == 1:
        data = data[0]
        trigger = None if trigger is None else trigger[0]

    spacing = first.get("PixelSpacing")
    return build_cine(
        data,
        source,
        fmt="dicom",
        kspace=False,
        pixel_spacing_mm=None if spacing is None else [float(v) for v in spacing],
        trigger_times_ms=trigger,
        meta={
            "original_dtype": str(first.pixel_array.dtype),
            "slice_locations_mm": [float(loc) for loc in locations],
            "series_instance_uid": uid,
            "series_description": str(first.get("SeriesDescription", "")),
            "slice_thickness_mm": _float(first, "SliceThickness"),
            "n_files": len(items),
        },
    )


def _series_key(ds) -> str:
    """The series a file belongs to: its ``SeriesInstanceUID``, else what else names a series (study UID,
    series number, description, date and time), so two acquisitions without UIDs are not merged."""
    uid = str(ds.get("SeriesInstanceUID", "") or "")
    if uid:
        return uid
    named = [f"{keyword} {ds.get(keyword)}" for keyword in _SERIES_FALLBACK_KEYS if ds.get(keyword) not in (None, "")]
    return f"(no UID{': ' + ', '.join(named) if named else ''})"


def _check_frames(items, source) -> None:
    """Refuse frames whose order in the cycle is unknown or ambiguous.

    Several images of one slice need a ``TriggerTime`` or an ``InstanceNumber`` each (else nothing
    orders them). Two images of one slice with the same trigger time and instance number are a copy
    or two acquisitions, and so are two with the same instance number at different trigger times
    (two scans in one folder without series UIDs, their trigger times a few ms apart).
    """
    per_slice = defaultdict(list)
    for file, ds in items:
        per_slice[_slice_position(ds)].append((file, ds))
    for frames in per_slice.values():
        if len(frames) < 2:
            continue
        for file, ds in frames:
            if np.isnan(_float(ds, "TriggerTime")) and ds.get("InstanceNumber") in (None, ""):
                raise fail(file, "has neither TriggerTime nor InstanceNumber, so its place in the cardiac cycle "
                           f"is unknown ({len(frames)} images of one slice); add either tag to every file")
        seen: dict[tuple, Path] = {}
        numbers: dict[int, tuple[Path, float]] = {}
        for file, ds in frames:
            time, number = _frame_order(ds)
            if (time, number) in seen:
                raise fail(source, f"holds two images of one slice at the same trigger time and instance number "
                           f"({seen[time, number].name} and {file.name}): a copied series or two acquisitions; "
                           "pass the files of one series")
            seen[time, number] = file
            if ds.get("InstanceNumber") in (None, ""):
                continue
            if number in numbers:
                other, other_time = numbers[number]
                raise fail(source, f"holds two images of one slice with instance number {number} ({other.name} at "
                           f"{other_time:g} ms and {file.name} at {time:g} ms): two acquisitions, not one cine; "
                           "pass the files of one series")
            numbers[number] = (file, time)


def _float(ds, keyword: str) -> float:
    value = ds.get(keyword)
    return float("nan") if value is None or value == "" else float(value)


def _slice_position(ds) -> float:
    """Slice location in mm: ``SliceLocation``, else the position along the slice normal, else 0."""
    if ds.get("SliceLocation") not in (None, ""):
        return round(float(ds.SliceLocation), 3)
    position, orientation = ds.get("ImagePositionPatient"), ds.get("ImageOrientationPatient")
    if position is not None and orientation is not None:
        normal = np.cross(np.asarray(orientation[:3], float), np.asarray(orientation[3:], float))
        return round(float(np.dot(normal, np.asarray(position, float))), 3)
    return 0.0


def _frame_order(ds) -> tuple[float, int]:
    time = _float(ds, "TriggerTime")
    return (0.0 if np.isnan(time) else time, int(ds.get("InstanceNumber", 0) or 0))


def _pixels(file: Path, ds) -> np.ndarray:
    """Frame as float32 (H, W) with the modality rescale applied."""
    try:
        pixels = ds.pixel_array.astype(np.float32)
    except Exception as err:  # pydicom raises many types for missing codecs / truncated data
        raise fail(file, f"cannot decode the pixel data: {err}") from err
    slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    if slope not in (None, ""):
        pixels *= np.float32(slope)
    if intercept not in (None, ""):
        pixels += np.float32(intercept)
    return pixels
