"""Siemens twix ``.dat`` raw data (VD/VE multi-measurement files and VB files) into a :class:`RawScan`.

The ``twixtools`` package (MIT) parses the protocol (:func:`twixtools.read_twix` with ``parse_data=False``),
the measurement data headers (``twixtools.mdb.Mdb``, memory-mapped) and the samples. Of a VD/VE file the
last measurement is read (the image scan; earlier ones are adjustment scans). The blocks are walked here
rather than by ``read_twix`` so that a truncated or damaged file is refused in one line instead of being
read in part (``read_twix`` prints a warning and stops, or loops on a block of length 0).

* ``image`` blocks (``Mdb.is_image_scan``: no noise, phase-correction, phase-stabilisation, feedback or
  reference-only flag; dummy scans are skipped too) are binned into frames by the ``Phs`` counter, or by ``Rep`` when ``Phs`` does not
  vary (real-time cine); both varying gives frame = repetition x phases + phase. Repeated lines (``Ave``,
  ``Seg``) are averaged; ``Sli`` selects the slice (default: the middle one); echoes (``Eco``) and sets
  other than the first are left out (``meta['left_out']``).
* Line ``Lin`` goes to row ``Lin - CenterLin + H // 2`` with ``H = sKSpace.lPhaseEncodingLines`` (grown
  symmetrically when lines lie beyond it), so partial Fourier comes out zero-padded. Readout sample ``i``
  goes to column ``i - CenterCol + W_os // 2`` of the oversampled readout ``W_os = lBaseResolution x
  flReadoutOSFactor`` (the factor from the ``Meas`` protocol, else 2 when lines hold more samples than
  ``lBaseResolution``), after ``CutOff.Pre`` / ``CutOff.Post``; an asymmetric echo is zero-padded. The
  oversampling is removed by cropping the readout to ``lBaseResolution`` in image space.
* Noise-adjust blocks go to ``RawScan.noise`` (``meta['noise_scans']``); reference-only (``PATREFSCAN``)
  lines of the slice to ``RawScan.calibration``; the other blocks are skipped and counted.

Refused in one line: a file that is not twix, a truncated one, non-Cartesian, ramp-sampled (regridded),
3D (``Par`` > 1) or reflected-readout (EPI) data, and sizes over the limits, all judged from the headers
before any sample is read.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from napari_dynmri import validation
from napari_dynmri.io.raw.scan import RawScan, check_scan, check_size, fail, remove_oversampling

_TRAJECTORIES = {1: "Cartesian", 2: "radial", 4: "spiral", 8: "PROPELLER"}
_DIMENSION_3D = 4  # sKSpace.ucDimension: 0x2 is 2D, 0x4 is 3D
_MAX_BUFFERS = 64  # protocol buffers a VB header may name (real files have about 6)
_SKIPPED = ("SYNCDATA", "RTFEEDBACK", "HPFEEDBACK", "PHASCOR", "REFPHASESTABSCAN", "PHASESTABSCAN", "noname60",
            "RETRO_DUMMYSCAN")


@dataclass
class _Measurement:
    """Where the measurement read lies in the file: bytes ``[start, end)``, its header ``header_bytes`` long."""

    version_is_ve: bool
    start: int
    end: int
    header_bytes: int
    count: int


def _quiet():
    """twixtools prints its warnings; they are redundant with the one-line refusals given here."""
    return contextlib.redirect_stdout(io.StringIO())


def _uint32(f, offset: int) -> int:
    f.seek(offset)
    return int(np.frombuffer(f.read(4), "<u4")[0])


def _locate(path: Path) -> _Measurement:
    """The last measurement of a twix file, its extent checked against the file size (nothing decoded)."""
    from twixtools import hdr_def, helpers

    size = path.stat().st_size
    if size < 8:
        raise fail(path, f"is not a Siemens twix file: it holds only {size} bytes")
    with path.open("rb") as f:
        version_is_ve, _ = helpers.idea_version_check(f)
        count, start, end = 1, 0, size
        if version_is_ve:
            count, start, end = _raid_entry(f, path, size, hdr_def.MultiRaidFileHeader)
        header_bytes = _uint32(f, start) if start + 8 <= end else 0
    if header_bytes < 8 or start + header_bytes > end:
        raise fail(path, f"is not a Siemens twix file, or is truncated: its protocol header of {header_bytes:,} "
                   f"bytes does not fit in the {end - start:,} bytes of the measurement")
    return _Measurement(version_is_ve, start, end, header_bytes, count)


def _raid_entry(f, path, size: int, dtype) -> tuple[int, int, int]:
    """``(measurements, start, end)`` of the last measurement from a VD/VE multi-raid file header."""
    if size < dtype.itemsize:
        raise fail(path, f"is truncated: {size:,} bytes, shorter than the twix file header ({dtype.itemsize:,} bytes)")
    f.seek(0)
    table = np.frombuffer(f.read(dtype.itemsize), dtype)[0]
    count = int(table["hdr"]["count_"])
    if count < 1:
        raise fail(path, "is a twix file holding no measurement")
    entry = table["entry"][count - 1]
    start, length = int(entry["off_"]), int(entry["len_"])
    if length == 0 and count == 1:  # as twixtools: some single-measurement files leave the length 0
        length = size - start
    if start < dtype.itemsize or length < 8:
        raise fail(path, f"is not a Siemens twix file: its measurement table is damaged (measurement {count} at "
                   f"byte {start:,}, {length:,} bytes)")
    if start + length > size:
        raise fail(path, f"is truncated: measurement {count} ends at byte {start + length:,} but the file has "
                   f"{size:,} bytes")
    return count, start, start + length


def is_twix(path) -> bool:
    """True when ``path`` starts as a Siemens twix file does: a VD/VE measurement table of 1 to 64
    measurements, or a VB protocol header whose first buffer is named. Truncation is not judged here
    (:func:`read_twix` refuses a truncated file and says so); a file that cannot be opened is not twix."""
    from twixtools import hdr_def, helpers

    table = hdr_def.MultiRaidFileHeader
    try:
        path = validation.check_input_file(path, max_bytes=2**63)  # regular files only: a pipe would block
        with path.open("rb") as f:
            head = f.read(table.itemsize)
            if len(head) < 16:
                return False
            version_is_ve, count = helpers.idea_version_check(f)
    except (OSError, validation.InputError):
        return False
    if version_is_ve:
        return count >= 1 and len(head) == table.itemsize and \
            int(np.frombuffer(head, table)[0]["entry"][0]["off_"]) >= table.itemsize
    n_buffers = int(np.frombuffer(head[4:8], "<u4")[0])
    return 1 <= n_buffers <= _MAX_BUFFERS and re.match(rb"\w{4,}\0", head[8:]) is not None


# --- protocol ----------------------------------------------------------------------------------------


def _protocol(path: Path, source) -> dict:
    """The parsed protocol of the last measurement (``MeasYaps``, ``Meas``, ... buffers), by twixtools."""
    import twixtools

    with _quiet():
        scans = twixtools.read_twix(str(path), include_scans=[-1], parse_data=False, parse_pmu=False,
                                    parse_geometry=False, verbose=False)
    if not scans or not isinstance(scans[-1].get("hdr"), dict):
        raise fail(source, "is not a Siemens twix file: no measurement protocol")
    return scans[-1]["hdr"]


def _positive_int(section: dict, key: str, source) -> int:
    value = section.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise fail(source, f"is not a readable twix measurement: protocol sKSpace.{key} is {value!r}")
    return value


def _encoding(hdr: dict, source) -> dict:
    """From the protocol: ``base`` (readout matrix), ``lines`` (phase matrix), ``os_factor`` (or None),
    ``fov_mm`` ``(phase, readout)`` (or None) and ``slices``; refuses non-Cartesian, regridded and 3D scans."""
    yaps = hdr.get("MeasYaps") if isinstance(hdr.get("MeasYaps"), dict) else {}
    kspace = yaps.get("sKSpace")
    if not isinstance(kspace, dict):
        raise fail(source, "is not a Siemens twix file, or its protocol is damaged: no MeasYaps sKSpace section")
    trajectory = kspace.get("ucTrajectory", 1)
    if trajectory != 1:
        raise fail(source, f"has a {_TRAJECTORIES.get(trajectory, f'code {trajectory}')} trajectory; only Cartesian "
                   "data are read")
    if kspace.get("ucDimension") == _DIMENSION_3D:
        raise fail(source, f"is a 3D acquisition ({kspace.get('lPartitions', '?')} partitions); only 2D slices are read")
    meas = hdr.get("Meas") if isinstance(hdr.get("Meas"), dict) else {}
    regrid = meas.get("alRegridMode")
    if isinstance(regrid, list) and regrid and isinstance(regrid[0], int) and regrid[0] >= 2:
        raise fail(source, "has a ramp-sampled readout that needs regridding, which is not done")
    factor = meas.get("flReadoutOSFactor")
    slices = yaps.get("sSliceArray") if isinstance(yaps.get("sSliceArray"), dict) else {}
    first = (slices.get("asSlice") or [{}])[0]
    fov = [first.get("dPhaseFOV"), first.get("dReadoutFOV")] if isinstance(first, dict) else [None, None]
    return {
        "base": _positive_int(kspace, "lBaseResolution", source),
        "lines": _positive_int(kspace, "lPhaseEncodingLines", source),
        "os_factor": float(factor) if isinstance(factor, (int, float)) and factor >= 1 else None,
        "fov_mm": [float(v) for v in fov] if all(isinstance(v, (int, float)) and v > 0 for v in fov) else None,
        "slices": slices.get("lSize"),
    }


# --- measurement data blocks -------------------------------------------------------------------------


def _blocks(f, where: _Measurement, source) -> list:
    """The ``twixtools.mdb.Mdb`` blocks of the measurement up to its end-of-acquisition block, each checked
    to lie inside the measurement (a truncated file has blocks running past its end, or no end block)."""
    from twixtools import mdh_def
    from twixtools.mdb import Mdb

    head = ctypes.sizeof(mdh_def.Scan_header if where.version_is_ve else mdh_def.VB17_header)
    probe = Mdb(None, where.version_is_ve)  # its header alone first: Mdb(f) reads past the end of a short file
    blocks, pos = [], where.start + where.header_bytes
    while pos + head <= where.end:
        f.seek(pos)
        f.readinto(probe.mdh)
        if probe.is_flag_set("ACQEND"):
            return blocks
        length = int(probe.dma_len)
        if length < head or pos + length > where.end:
            raise fail(source, f"is truncated or damaged: the data block at byte {pos:,} ({length:,} bytes) does not "
                       f"fit in the measurement, which ends at byte {where.end:,}")
        f.seek(pos)
        blocks.append(Mdb(f, where.version_is_ve))
        pos += length
    raise fail(source, f"is truncated: the measurement ends at byte {pos:,} without its end-of-acquisition block")


def _skipped_reason(block) -> str | None:
    """Why a block is not image, noise or reference data (its flag), or None when it is one of those."""
    for flag in _SKIPPED:
        if block.is_flag_set(flag):
            return flag
    return None


def _sort(blocks) -> tuple[list, list, list, dict]:
    """``(image, noise, reference-only, skipped counts by flag)`` of the measurement's blocks."""
    image, noise, reference, skipped = [], [], [], {}
    for block in blocks:
        reason = _skipped_reason(block)
        if block.is_flag_set("NOISEADJSCAN"):
            noise.append(block)
        elif reason is not None:
            skipped[reason] = skipped.get(reason, 0) + 1
        elif block.is_image_scan():
            image.append(block)
        else:  # PATREFSCAN without PATREFANDIMASCAN: parallel-imaging reference lines only
            reference.append(block)
    return image, noise, reference, skipped


def _counter(blocks, name: str) -> np.ndarray:
    return np.array([getattr(b.mdh.Counter, name) for b in blocks], np.int64)


def _select(image: list, slice_index, source) -> tuple[list, dict]:
    """The image blocks of one slice, first echo and first set; ``info``: ``slices``, ``slice``, ``left_out``."""
    if not image:
        raise fail(source, "holds no imaging data (only noise, reference or other blocks)")
    if np.unique(_counter(image, "Par")).size > 1:
        raise fail(source, "has several partitions (Par counter): a 3D acquisition; only 2D slices are read")
    if any(b.is_flag_set("REFLECT") for b in image):
        raise fail(source, "has reflected readout lines (EPI); only non-reflected Cartesian readouts are read")
    slices = np.unique(_counter(image, "Sli"))
    if slice_index is None:
        slice_index = len(slices) // 2
    if not -len(slices) <= slice_index < len(slices):
        raise fail(source, f"slice {slice_index} does not exist: the file has {len(slices)} slice(s)")
    chosen = int(slices[slice_index])
    keep = _counter(image, "Sli") == chosen
    left_out = {}
    for name in ("Eco", "Set"):
        values = np.unique(_counter(image, name)[keep])
        if values.size > 1:
            left_out[name] = f"{values.size} values, the first ({int(values[0])}) read"
        keep &= _counter(image, name) == values[0]
    picked = [b for b, k in zip(image, keep) if k]
    return picked, {"slices": int(len(slices)), "slice": chosen, "left_out": left_out}


def _frames(blocks) -> tuple[np.ndarray, str]:
    """Frame index of each block (from ``Phs`` and ``Rep``) and how frames were binned."""
    phases, reps = _counter(blocks, "Phs"), _counter(blocks, "Rep")
    phase_values, rep_values = np.unique(phases), np.unique(reps)
    phase_rank, rep_rank = np.searchsorted(phase_values, phases), np.searchsorted(rep_values, reps)
    if phase_values.size > 1:
        return rep_rank * phase_values.size + phase_rank, "phase" if rep_values.size == 1 else "repetition x phase"
    return rep_rank, "repetition" if rep_values.size > 1 else "single frame"


def _matrix_rows(blocks, lines: int) -> tuple[np.ndarray, int]:
    """``(row of each block, H)``: ``Lin - CenterLin + H // 2``, ``H`` the protocol's phase matrix, grown
    symmetrically (to an even size) when a line lies beyond it."""
    offsets = _counter(blocks, "Lin") - np.array([b.mdh.CenterLin for b in blocks], np.int64)
    h = max(lines, 2 * max(int(-offsets.min()), int(offsets.max()) + 1))
    return offsets + h // 2, h


def _readout(blocks, enc: dict, source) -> tuple[int, int]:
    """``(W_os, width)``: the oversampled readout the samples are placed on, and the readout kept."""
    samples = max(int(b.mdh.SamplesInScan) for b in blocks)
    factor = enc["os_factor"] or (2.0 if samples > enc["base"] else 1.0)
    w_os = int(round(enc["base"] * factor))
    if samples > w_os:
        raise fail(source, f"has lines of {samples} samples, more than the oversampled readout of {w_os} "
                   f"(lBaseResolution {enc['base']} x oversampling {factor:g})")
    return w_os, enc["base"]


def _channels(blocks, source) -> int:
    channels = {int(b.mdh.UsedChannels) for b in blocks}
    if len(channels) != 1:
        raise fail(source, f"imaging lines have different numbers of channels {sorted(channels)}")
    return channels.pop()


def _line(block, w_os: int, source) -> tuple[np.ndarray, slice, int]:
    """``(samples (C, n) complex64, columns, zero-padded columns)`` of one block on the ``W_os`` readout."""
    n = int(block.mdh.SamplesInScan)
    first, last = int(block.mdh.CutOff.Pre), n - int(block.mdh.CutOff.Post)
    start = first - int(block.mdh.CenterCol) + w_os // 2
    if last <= first or start < 0 or start + last - first > w_os:
        raise fail(source, f"block {int(block.mdh.ScanCounter)}: samples {first}..{last - 1} around centre sample "
                   f"{int(block.mdh.CenterCol)} fall outside the oversampled readout of {w_os}")
    data = np.asarray(block.data, dtype=np.complex64).reshape(int(block.mdh.UsedChannels), n)
    return data[:, first:last], slice(start, start + last - first), w_os - (last - first)


def _accumulate(blocks, frames, rows, shape, source) -> tuple[np.ndarray, np.ndarray, int]:
    """``(kspace complex64 shape (T, C, H, W_os), counts int (T, H), zero-padded readout columns)``,
    repeated lines averaged."""
    n_frames, _, h, w_os = shape
    kspace = np.zeros(shape, np.complex64)
    counts = np.zeros((n_frames, h), np.int32)
    padded = 0
    for block, t, row in zip(blocks, frames, rows):
        samples, columns, pad = _line(block, w_os, source)
        kspace[t, :, row, columns] += samples
        counts[t, row] += 1
        padded = max(padded, pad)
    kspace /= np.maximum(counts, 1)[:, None, :, None]
    return kspace, counts, padded


def _noise(blocks, n_coils: int, source) -> np.ndarray | None:
    """complex64 ``(C, N)``: the samples of the noise-adjust blocks with ``n_coils`` channels, or None."""
    kept = [np.asarray(b.data, np.complex64).reshape(n_coils, -1) for b in blocks if b.mdh.UsedChannels == n_coils]
    if not kept:
        return None
    return validation.cast_finite(np.concatenate(kept, axis=1), np.complex64, source, "the noise scans")


def _calibration(blocks, slice_number: int, h: int, w_os: int, width: int, n_coils: int, source):
    """``(complex64 (C, H, width) or None, lines)``: the slice's reference-only lines, averaged."""
    blocks = [b for b in blocks if b.mdh.Counter.Sli == slice_number and b.mdh.UsedChannels == n_coils]
    if not blocks:
        return None, 0
    offsets = _counter(blocks, "Lin") - np.array([b.mdh.CenterLin for b in blocks], np.int64)
    rows = offsets + h // 2
    inside = [b for b, r in zip(blocks, rows) if 0 <= r < h]
    rows = rows[(rows >= 0) & (rows < h)]
    if not inside:
        return None, 0
    kspace, counts, _ = _accumulate(inside, np.zeros(len(inside), np.int64), rows, (1, n_coils, h, w_os), source)
    return remove_oversampling(kspace, width)[0], int((counts > 0).sum())


def _promised_bytes(blocks) -> int:
    return sum(int(b.mdh.UsedChannels) * int(b.mdh.SamplesInScan) * 8 for b in blocks)


def read_twix(path, slice_index: int | None = None) -> RawScan:
    """Read the image measurement of a Siemens twix ``.dat`` file into a :class:`RawScan` (module docstring).

    Returns ``kspace`` complex64 ``(T, C, H, W)`` (``W = lBaseResolution``, oversampling removed), ``mask``
    bool ``(T, H, W)``, ``noise`` complex64 ``(C, N)`` or None, ``calibration`` ``(C, H, W)`` or None, ``meta``.
    """
    path = validation.check_input_file(path)
    where = _locate(path)
    enc = _encoding(_protocol(path, path), path)
    with path.open("rb") as f:
        image, noise, reference, skipped = _sort(_blocks(f, where, path))
        picked, info = _select(image, slice_index, path)
        n_coils = _channels(picked, path)
        frames, binning = _frames(picked)
        rows, h = _matrix_rows(picked, enc["lines"])
        w_os, width = _readout(picked, enc, path)
        shape = (int(frames.max()) + 1, n_coils, h, w_os)
        check_size(shape, path)
        validation.check_decoded_bytes(_promised_bytes(picked) + _promised_bytes(noise) + _promised_bytes(reference),
                                       path, "the measurement's samples")
        kspace, counts, padded = _accumulate(picked, frames, rows, shape, path)
        noise_samples = _noise(noise, n_coils, path)
        calibration, calibration_lines = _calibration(reference, info["slice"], h, w_os, width, n_coils, path)
    if width < w_os:
        kspace = remove_oversampling(kspace, width)
    measured = counts > 0
    mask = np.repeat(measured[:, :, None], width, axis=2)
    kspace, mask = check_scan(kspace, mask, path)
    union = np.flatnonzero(measured.any(axis=0))
    meta = {
        "format": "siemens twix " + ("VD/VE" if where.version_is_ve else "VB"),
        "layout": f"measurement data blocks binned by {binning}",
        "layout_inferred": False,
        "matrix": [h, width],
        "encoded_matrix": [w_os, h, 1],
        "protocol_matrix": {"lBaseResolution": enc["base"], "lPhaseEncodingLines": enc["lines"]},
        "field_of_view_mm": None if enc["fov_mm"] is None else {"phase": enc["fov_mm"][0], "readout": enc["fov_mm"][1]},
        "pixel_spacing_mm": None if enc["fov_mm"] is None else [enc["fov_mm"][0] / enc["lines"],
                                                                 enc["fov_mm"][1] / width],
        "coils": n_coils,
        "frames": int(shape[0]),
        "frame_binning": binning,
        "slices": info["slices"],
        "slice": info["slice"],
        "measurements": where.count,
        "oversampling_removed": round(w_os / width, 3) if width < w_os else 1,
        "partial_fourier": {"rows_zero_padded": int(h - (union[-1] - union[0] + 1)),
                            "readout_columns_zero_padded": int(padded)},
        "averages_combined": bool((counts > 1).any()),
        "noise_scans": len(noise),
        "calibration_lines": calibration_lines,
        "skipped_acquisitions": skipped,
        "left_out": info["left_out"],
    }
    return RawScan(kspace=kspace, mask=mask, meta=meta, noise=noise_samples, calibration=calibration, source=str(path))
