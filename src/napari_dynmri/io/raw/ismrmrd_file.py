"""ISMRMRD ``.h5`` raw data (the scanner converters' format): read into a :class:`RawScan`, and write.

Reading uses the ``ismrmrd`` package for the XML header (``ismrmrd.xsd``) and its acquisition layout
(``ismrmrd.hdf5.acquisition_dtype``); the acquisitions are read with h5py in blocks (one call per
block rather than one per acquisition). The first encoding space only, Cartesian 2D:

* Acquisitions flagged as noise measurements are kept aside (``RawScan.noise``, ``meta['noise_scans']``);
  parallel-imaging calibration lines that are not also imaging lines go to ``RawScan.calibration``;
  navigator, phase-correction, feedback, dummy-scan, surface-coil-correction and phase-stabilisation
  acquisitions are skipped (counted in ``meta['skipped_acquisitions']``).
* Imaging acquisitions are binned into frames by their cardiac ``phase`` counter, or by ``repetition``
  when the phase counter does not vary (real-time cine); when both vary, frame = repetition x phases +
  phase. Repeated ``average`` counters are averaged; one slice is kept (default: the middle one); other
  contrasts and sets than the first are left out (``meta``).
* Phase-encoding line ``kspace_encode_step_1`` goes to row ``step1 - center + H // 2`` of the encoded
  matrix (``H = encodedSpace.matrixSize.y``, ``center`` from the encoding limits): partial Fourier and
  partial phase resolution come out zero-padded to the encoded matrix. Readout sample ``i`` goes to
  column ``i - center_sample + W_enc // 2`` (an asymmetric echo is zero-padded), after ``discard_pre`` /
  ``discard_post``.
* Readout oversampling (encoded readout field of view larger than the recon one, or a larger encoded
  readout matrix) is removed by cropping in image space.

Sizes are checked from the acquisition headers before any sample is read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_dynmri import validation
from napari_dynmri.io.raw.scan import RawScan, check_scan, check_size, fail, remove_oversampling

GROUP = "dataset"
_BLOCK = 1024  # acquisitions read per h5py call
# ISMRMRD flag numbers (bit = number - 1), from ismrmrd.constants
_NOISE, _CALIB, _CALIB_AND_IMAGING = 19, 20, 21
_SKIPPED = {23: "navigator", 24: "phase correction", 26: "HP feedback", 27: "dummy scan", 28: "RT feedback",
            29: "surface-coil correction", 30: "phase stabilisation reference", 31: "phase stabilisation"}


def _bit(flags: np.ndarray, number: int) -> np.ndarray:
    return (flags >> np.uint64(number - 1)) & np.uint64(1) == 1


def find_group(f):
    """The ISMRMRD group of an open HDF5 file (``dataset``, else the only group with ``data`` and ``xml``), or None."""
    import h5py

    names = [GROUP] if GROUP in f else [n for n in f if isinstance(f.get(n, getlink=True), h5py.HardLink)]
    for name in names:
        group = f.get(name)
        if isinstance(group, h5py.Group) and "xml" in group and "data" in group:
            return group
    return None


def is_ismrmrd(path) -> bool:
    """True when ``path`` is an HDF5 file holding an ISMRMRD dataset (header and acquisitions)."""
    import h5py

    try:
        if not h5py.is_hdf5(path):
            return False
        with h5py.File(path, "r") as f:
            return find_group(f) is not None
    except Exception:  # a damaged file is not recognised; the reader that opens it says why
        return False


def _dataset(group, name: str, path):
    import h5py

    link = group.get(name, getlink=True)
    if not isinstance(link, h5py.HardLink):
        raise fail(path, f"ISMRMRD {name!r} is a link ({type(link).__name__}); links are not followed")
    obj = group[name]
    if not isinstance(obj, h5py.Dataset):
        raise fail(path, f"ISMRMRD {name!r} is not a dataset")
    if obj.external or obj.is_virtual:
        raise fail(path, f"ISMRMRD {name!r} stores its data in other files, which is not read")
    return obj


def _header(group, path):
    import ismrmrd.xsd

    xml = _dataset(group, "xml", path)
    if xml.ndim != 1 or xml.size < 1:
        raise fail(path, "the ISMRMRD XML header is empty")
    text = xml[0]
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        header = ismrmrd.xsd.CreateFromDocument(text)
    except Exception as err:
        raise fail(path, f"the ISMRMRD XML header is not valid ({type(err).__name__}: {err})") from None
    if not header.encoding:
        raise fail(path, "the ISMRMRD header has no encoding")
    return header


def _space(space) -> dict:
    m, fov = space.matrixSize, space.fieldOfView_mm
    return {"matrix": [int(m.x), int(m.y), int(m.z)], "fov_mm": [float(fov.x), float(fov.y), float(fov.z)]}


def _limits(encoding) -> dict:
    limits = {}
    for name in ("kspace_encoding_step_1", "kspace_encoding_step_2", "average", "slice", "contrast", "phase",
                 "repetition", "set", "segment"):
        value = getattr(encoding.encodingLimits, name, None) if encoding.encodingLimits is not None else None
        if value is not None:
            limits[name] = [int(value.minimum), int(value.maximum), int(value.center)]
    return limits


def read_ismrmrd(path, slice_index: int | None = None) -> RawScan:
    """Read an ISMRMRD file into a :class:`RawScan` (see the module docstring)."""
    import h5py

    path = validation.check_input_file(path)
    with h5py.File(path, "r") as f:
        group = find_group(f)
        if group is None:
            raise fail(path, "is not an ISMRMRD file: no group with 'xml' and 'data'")
        header = _header(group, path)
        data = _dataset(group, "data", path)
        if data.dtype.names is None or not {"head", "data"} <= set(data.dtype.names):
            raise fail(path, f"ISMRMRD 'data' has no acquisition layout (dtype {data.dtype})")
        if data.ndim != 1 or data.shape[0] == 0:
            raise fail(path, f"holds no acquisitions (data shape {data.shape})")
        heads = data.fields("head")[()]
        return _assemble(path, header, heads, lambda start, stop: data.fields("data")[start:stop], slice_index)


def _assemble(path, header, heads, read_block, slice_index) -> RawScan:
    encoding = header.encoding[0]
    trajectory = getattr(encoding.trajectory, "value", encoding.trajectory)
    if str(trajectory).lower() != "cartesian":
        raise fail(path, f"has a {trajectory} trajectory; only Cartesian data are read")
    encoded, recon = _space(encoding.encodedSpace), _space(encoding.reconSpace)
    limits = _limits(encoding)
    w_enc, h = encoded["matrix"][0], encoded["matrix"][1]
    if encoded["matrix"][2] > 1:
        raise fail(path, f"is a 3D acquisition (encoded matrix z = {encoded['matrix'][2]}); only 2D slices are read")
    if min(w_enc, h) < 1:
        raise fail(path, f"has an empty encoded matrix {encoded['matrix']}")

    flags, idx = heads["flags"].astype(np.uint64), heads["idx"]
    noise = _bit(flags, _NOISE)
    calib_only = _bit(flags, _CALIB) & ~_bit(flags, _CALIB_AND_IMAGING)
    skipped = np.zeros(len(heads), bool)
    skipped_counts = {}
    for number, name in _SKIPPED.items():
        hit = _bit(flags, number) & ~noise
        if hit.any():
            skipped_counts[name] = int(hit.sum())
        skipped |= hit
    other_space = heads["encoding_space_ref"] != 0
    imaging = ~noise & ~skipped & ~calib_only & ~other_space
    if not imaging.any():
        raise fail(path, "holds no imaging acquisitions (only noise, calibration or other data)")
    if (heads["trajectory_dimensions"][imaging] > 0).any():
        raise fail(path, "has acquisitions with a trajectory; only Cartesian data are read")
    if (idx["kspace_encode_step_2"][imaging] > 0).any():
        raise fail(path, "has a second phase-encoding direction (3D); only 2D slices are read")
    slices = np.unique(idx["slice"][imaging])
    if slice_index is None:
        slice_index = len(slices) // 2
    if not -len(slices) <= slice_index < len(slices):
        raise fail(path, f"slice {slice_index} does not exist: the file has {len(slices)} slice(s)")
    chosen_slice = slices[slice_index]
    left_out = {}
    for counter in ("contrast", "set"):
        values = np.unique(idx[counter][imaging])
        if values.size > 1:
            left_out[counter] = f"{values.size} values, the first ({int(values[0])}) read"
        imaging &= idx[counter] == values[0]
    imaging &= idx["slice"] == chosen_slice
    calib_only &= idx["slice"] == chosen_slice

    channels = np.unique(heads["active_channels"][imaging | calib_only])
    if channels.size != 1:
        raise fail(path, f"acquisitions have different numbers of active channels {channels.tolist()}")
    n_coils = int(channels[0])
    phases, reps = idx["phase"][imaging], idx["repetition"][imaging]
    n_phase, n_rep = int(np.unique(phases).size), int(np.unique(reps).size)
    phase_rank = np.searchsorted(np.unique(phases), phases)
    rep_rank = np.searchsorted(np.unique(reps), reps)
    if n_phase > 1:
        frame_of = rep_rank * n_phase + phase_rank
        binning = "phase" if n_rep == 1 else "repetition x phase"
    else:
        frame_of = rep_rank
        binning = "repetition" if n_rep > 1 else "single frame"
    n_frames = int(frame_of.max()) + 1
    centre = limits.get("kspace_encoding_step_1", [0, h - 1, h // 2])[2]
    rows_all = idx["kspace_encode_step_1"].astype(np.int64) - centre + h // 2
    rows = rows_all[imaging]
    if rows.min() < 0 or rows.max() >= h:
        raise fail(path, f"has phase-encoding lines outside the encoded matrix of {h} rows (line "
                   f"{int(idx['kspace_encode_step_1'][imaging][np.argmax((rows < 0) | (rows >= h))])}, centre {centre})")
    check_size((n_frames, n_coils, h, w_enc), path)
    promised = (heads["number_of_samples"].astype(np.int64) * heads["active_channels"].astype(np.int64) * 8)
    validation.check_decoded_bytes(int(promised.sum()), path, "the acquisitions")

    kspace = np.zeros((n_frames, n_coils, h, w_enc), np.complex64)
    counts = np.zeros((n_frames, h), np.int32)
    calibration = np.zeros((n_coils, h, w_enc), np.complex64) if calib_only.any() else None
    calib_counts = np.zeros(h, np.int32)
    noise_blocks = []
    frame_index = np.full(len(heads), -1, np.int64)
    frame_index[np.flatnonzero(imaging)] = frame_of
    padded_columns = 0
    wanted = np.flatnonzero(imaging | noise | calib_only)
    for start in range(0, len(heads), _BLOCK):
        stop = min(len(heads), start + _BLOCK)
        picks = wanted[(wanted >= start) & (wanted < stop)]
        if picks.size == 0:
            continue
        block = read_block(start, stop)
        for i in picks:
            head = heads[i]
            n_samples, n_channels = int(head["number_of_samples"]), int(head["active_channels"])
            values = np.asarray(block[i - start], dtype=np.float32)
            if values.size != 2 * n_samples * n_channels:
                raise fail(path, f"acquisition {i} holds {values.size} values; its header promises "
                           f"{2 * n_samples * n_channels} ({n_channels} channels x {n_samples} complex samples)")
            samples = values.view(np.complex64).reshape(n_channels, n_samples)
            if noise[i]:
                noise_blocks.append(samples)
                continue
            if n_channels != n_coils:
                raise fail(path, f"acquisition {i} has {n_channels} channels, the others {n_coils}")
            first, last = int(head["discard_pre"]), n_samples - int(head["discard_post"])
            cols = np.arange(first, last) - int(head["center_sample"]) + w_enc // 2
            if last <= first or cols[0] < 0 or cols[-1] >= w_enc:
                raise fail(path, f"acquisition {i}: readout samples {first}..{last - 1} around centre sample "
                           f"{int(head['center_sample'])} fall outside the encoded readout of {w_enc}")
            padded_columns = max(padded_columns, w_enc - (last - first))
            row = int(rows_all[i])
            if calib_only[i]:
                calibration[:, row, cols[0] : cols[-1] + 1] += samples[:, first:last]
                calib_counts[row] += 1
                continue
            t = int(frame_index[i])
            kspace[t, :, row, cols[0] : cols[-1] + 1] += samples[:, first:last]
            counts[t, row] += 1
    averaged = bool((counts > 1).any())
    kspace /= np.maximum(counts, 1)[:, None, :, None]
    if calibration is not None:
        calibration /= np.maximum(calib_counts, 1)[None, :, None]

    width = w_enc
    enc_fov, rec_fov = encoded["fov_mm"][0], recon["fov_mm"][0]
    if enc_fov > 0 and rec_fov > 0 and rec_fov < enc_fov:
        width = int(round(w_enc * rec_fov / enc_fov))
    elif 0 < recon["matrix"][0] < w_enc:
        width = recon["matrix"][0]
    if width < w_enc:
        kspace = remove_oversampling(kspace, width)
        if calibration is not None:
            calibration = remove_oversampling(calibration, width)
    measured = counts > 0
    mask = np.repeat(measured[:, :, None], width, axis=2)
    step1 = limits.get("kspace_encoding_step_1")
    spacing = None
    if encoded["fov_mm"][1] > 0 and enc_fov > 0:
        spacing = [encoded["fov_mm"][1] / h, enc_fov / w_enc]
    union = np.flatnonzero(measured.any(axis=0))
    meta = {
        "format": "ismrmrd",
        "layout": f"acquisitions binned by {binning}",
        "layout_inferred": False,
        "matrix": [h, width],
        "encoded_matrix": encoded["matrix"],
        "recon_matrix": recon["matrix"],
        "field_of_view_mm": {"encoded": encoded["fov_mm"], "recon": recon["fov_mm"]},
        "pixel_spacing_mm": spacing,
        "encoding_limits": limits,
        "coils": n_coils,
        "frames": n_frames,
        "frame_binning": binning,
        "slices": int(len(slices)),
        "slice": int(chosen_slice),
        "oversampling_removed": round(w_enc / width, 3) if width < w_enc else 1,
        "partial_fourier": {
            "rows_zero_padded": int(h - (step1[1] - step1[0] + 1)) if step1 else int(h - (union[-1] - union[0] + 1)),
            "readout_columns_zero_padded": int(padded_columns),
            "step1_limits": step1,
        },
        "averages_combined": averaged,
        "noise_scans": len(noise_blocks),
        "calibration_lines": int((calib_counts > 0).sum()),
        "skipped_acquisitions": skipped_counts,
        "left_out": left_out,
        "receiver_channels": _receiver_channels(header),
    }
    kspace, mask = check_scan(kspace, mask, path)
    noise_samples = None
    if noise_blocks:
        noise_samples = validation.cast_finite(np.concatenate(noise_blocks, axis=1), np.complex64, path, "the noise scans")
    return RawScan(kspace=kspace, mask=mask, meta=meta, noise=noise_samples, calibration=calibration, source=str(path))


def _receiver_channels(header) -> int | None:
    system = getattr(header, "acquisitionSystemInformation", None)
    value = getattr(system, "receiverChannels", None) if system is not None else None
    return None if value is None else int(value)


# --- writing -----------------------------------------------------------------------------------------


def _xml_header(n_coils, n_frames, h, w_enc, width, fov_mm, step1_limits, thickness_mm=8.0) -> str:
    import ismrmrd.xsd as xsd

    fov_y, fov_x = fov_mm
    encoded = xsd.encodingSpaceType(matrixSize=xsd.matrixSizeType(x=w_enc, y=h, z=1),
                                    fieldOfView_mm=xsd.fieldOfViewMm(x=fov_x * w_enc / width, y=fov_y, z=thickness_mm))
    recon = xsd.encodingSpaceType(matrixSize=xsd.matrixSizeType(x=width, y=h, z=1),
                                  fieldOfView_mm=xsd.fieldOfViewMm(x=fov_x, y=fov_y, z=thickness_mm))
    limits = xsd.encodingLimitsType(
        kspace_encoding_step_1=xsd.limitType(minimum=step1_limits[0], maximum=step1_limits[1], center=h // 2),
        kspace_encoding_step_2=xsd.limitType(minimum=0, maximum=0, center=0),
        slice=xsd.limitType(minimum=0, maximum=0, center=0),
        phase=xsd.limitType(minimum=0, maximum=n_frames - 1, center=0),
        repetition=xsd.limitType(minimum=0, maximum=0, center=0),
    )
    encoding = xsd.encodingType(encodedSpace=encoded, reconSpace=recon, encodingLimits=limits,
                                trajectory=xsd.trajectoryType.CARTESIAN)
    header = xsd.ismrmrdHeader(
        experimentalConditions=xsd.experimentalConditionsType(H1resonanceFrequency_Hz=63_870_000),
        acquisitionSystemInformation=xsd.acquisitionSystemInformationType(receiverChannels=n_coils),
        encoding=[encoding],
    )
    return xsd.ToXML(header)


def write_ismrmrd(path, kspace: np.ndarray, mask: np.ndarray, *, recon_width: int | None = None,
                  fov_mm: tuple[float, float] | None = None, noise: np.ndarray | None = None,
                  readout_start: int = 0, overwrite: bool = False, one_by_one: bool = False) -> Path:
    """Write multi-coil k-space as an ISMRMRD file with the ``ismrmrd`` package, atomically.

    Args:
        kspace: complex ``(T, C, H, W_enc)`` on the encoded grid (readout possibly oversampled).
        mask: bool ``(T, H)`` or ``(T, H, W)``: the phase-encoding lines written (only those are acquisitions).
        recon_width: the readout width without oversampling (default ``W_enc``: none).
        fov_mm: ``(rows, cols)`` field of view of the recon matrix (default 1 mm pixels).
        noise: complex ``(C, N)`` noise samples, written first as noise-measurement acquisitions of up to
            256 samples each.
        readout_start: samples dropped at the start of each readout (an asymmetric echo); the centre sample
            is set so the reader puts the rest back in place.
        one_by_one: append acquisitions one at a time with ``ismrmrd.Dataset.append_acquisition`` (slow)
            instead of packing them with the package's acquisition layout and writing them in one call.
    """
    import h5py
    import ismrmrd
    from ismrmrd.hdf5 import acquisition_dtype, acquisition_header_dtype

    from napari_dynmri.io.atomic import atomic_output

    kspace = np.asarray(kspace, dtype=np.complex64)
    n_frames, n_coils, h, w_enc = kspace.shape
    rows = np.asarray(mask, bool)
    if rows.ndim == 3:
        rows = rows.any(axis=-1)
    width = w_enc if recon_width is None else int(recon_width)
    fov = (float(h), float(width)) if fov_mm is None else (float(fov_mm[0]), float(fov_mm[1]))
    measured = np.argwhere(rows)  # (n, 2): frame, row
    xml = _xml_header(n_coils, n_frames, h, w_enc, width, fov, (int(measured[:, 1].min()), int(measured[:, 1].max())))
    acquisitions = []
    if noise is not None:
        noise = np.asarray(noise, dtype=np.complex64)
        for start in range(0, noise.shape[1], 256):
            acq = ismrmrd.Acquisition.from_array(np.ascontiguousarray(noise[:, start : start + 256]))
            acq.set_flag(ismrmrd.ACQ_IS_NOISE_MEASUREMENT)
            acquisitions.append(acq)
    for count, (t, row) in enumerate(measured):
        acq = ismrmrd.Acquisition.from_array(np.ascontiguousarray(kspace[t, :, row, readout_start:]),
                                             center_sample=w_enc // 2 - readout_start, scan_counter=count,
                                             read_dir=(1.0, 0.0, 0.0), phase_dir=(0.0, 1.0, 0.0), slice_dir=(0.0, 0.0, 1.0))
        acq.idx.kspace_encode_step_1 = int(row)
        acq.idx.phase = int(t)
        if row == measured[measured[:, 0] == t, 1].min():
            acq.set_flag(ismrmrd.ACQ_FIRST_IN_PHASE)
        acquisitions.append(acq)
    acquisitions[-1].set_flag(ismrmrd.ACQ_LAST_IN_MEASUREMENT)
    with atomic_output(path, overwrite) as partial:
        dataset = ismrmrd.Dataset(str(partial), GROUP, mode="w")
        try:
            dataset.write_xml_header(xml)
            if one_by_one:
                for acq in acquisitions:
                    dataset.append_acquisition(acq)
        finally:
            dataset.close()
        if not one_by_one:  # what Dataset.append_acquisition stores, packed into one array and one write
            packed = np.empty(len(acquisitions), dtype=acquisition_dtype)
            for i, acq in enumerate(acquisitions):
                packed[i]["head"] = np.frombuffer(acq.getHead(), dtype=acquisition_header_dtype)[0]
                packed[i]["data"] = acq.data.view(np.float32).reshape(-1)
                packed[i]["traj"] = acq.traj.view(np.float32).reshape(-1)
            with h5py.File(partial, "a") as f:
                f[GROUP].create_dataset("data", data=packed, maxshape=(None,))
    return Path(path)

