"""Siemens twix ``.dat``: files written with twixtools' own writer (VD/VE) or its VB header struct, read back."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import twixtools
from twixtools import mdh_def
from twixtools.mdb import Mdb_local

from napari_dynmri.cli import main
from napari_dynmri.io.raw import RawReadError, is_raw_kspace, read_raw
from napari_dynmri.io.raw.twix import is_twix

T, C, H, BASE = 3, 4, 32, 32  # frames, coils, phase-encoding lines, readout matrix (oversampled: 2 x BASE)
W_OS = 2 * BASE
MISSING = {0: range(0, 6), 1: [*range(0, 6), 20, 21], 2: range(0, 6)}  # per frame: 6 partial-Fourier lines, 2 more


# --- the fixture writer ------------------------------------------------------------------------------


def _hdr_str(buffers: dict[str, str], pad: int = 0) -> np.ndarray:
    """A measurement header as twix stores it: length, number of buffers, then name NUL length text."""
    body = b""
    for name, text in buffers.items():
        data = text.encode("latin1") + b"\0"
        body += name.encode() + b"\0" + struct.pack("<I", len(data)) + data
    body += b"\0" * pad
    return np.frombuffer(struct.pack("<II", 8 + len(body), len(buffers)) + body, dtype="S1")


def _protocol(base=BASE, lines=H, trajectory="0x1", dimension="0x2", os_factor=2.0, pad=0, omit="") -> np.ndarray:
    """``hdr_str`` with the MeasYaps (ASCCONV) and Meas (XProtocol) entries the reader uses."""
    entries = {"sKSpace.lBaseResolution": base, "sKSpace.lPhaseEncodingLines": lines,
               "sKSpace.ucTrajectory": trajectory, "sKSpace.ucDimension": dimension,
               "sSliceArray.asSlice[0].dPhaseFOV": 240.0, "sSliceArray.asSlice[0].dReadoutFOV": 320.0,
               "sSliceArray.lSize": 2}
    yaps = "".join(f"{key} = {value}\n" for key, value in entries.items() if key != omit)
    meas = f'<ParamDouble."flReadoutOSFactor">  {{ <Precision> 6  {os_factor:.6f}  }}\n'
    return _hdr_str({"Meas": meas, "MeasYaps": f"### ASCCONV BEGIN ###\n{yaps}### ASCCONV END ###"}, pad)


def _block(data: np.ndarray, flags=(), center_col=W_OS // 2, center_lin=H // 2, **counters) -> Mdb_local:
    """One VD/VE measurement data block: ``data`` complex (C, samples), counters, one channel header per coil."""
    block = Mdb_local()
    block.data = np.asarray(data, np.complex64)
    block.channel_hdr = [mdh_def.Channel_header(ChannelId=c) for c in range(block.data.shape[0])]
    for name, value in counters.items():
        setattr(block.mdh.Counter, name, value)
    block.mdh.CenterCol, block.mdh.CenterLin = center_col, center_lin
    for flag in flags:
        block.add_flag(flag)
    return block


def _end_block() -> Mdb_local:
    block = Mdb_local()
    block.add_flag("ACQEND")
    return block


def _image(seed: int, n_frames=T) -> np.ndarray:
    """complex64 (T, C, H, W_OS): a smooth object inside the central BASE readout pixels, zero outside."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[-1 : 1 : H * 1j, -1 : 1 : BASE * 1j]
    image = np.zeros((n_frames, C, H, W_OS), np.complex64)
    for t in range(n_frames):
        blob = np.exp(-((x - 0.1 * t) ** 2 + y**2) / 0.3)
        for c in range(C):
            image[t, c, :, BASE // 2 : BASE // 2 + BASE] = blob * np.exp(1j * rng.uniform(0, 2 * np.pi)) * (c + 1)
    return image


def _kspace(image: np.ndarray) -> np.ndarray:
    """Centred 2D FFT over the last two axes (DC at (H//2, W//2)), as the package's fft2c."""
    axes = (-2, -1)
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(image, axes=axes), norm="ortho"), axes=axes).astype(np.complex64)


def _image_of(kspace: np.ndarray) -> np.ndarray:
    axes = (-2, -1)
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(kspace, axes=axes), norm="ortho"), axes=axes)


def _measured(t: int) -> list[int]:
    return [lin for lin in range(H) if lin not in MISSING[t]]


def _image_blocks(kspace: np.ndarray, counter="Phs", first_sample=0, **counters) -> list[Mdb_local]:
    """Blocks of every measured line of ``kspace`` (T, C, H, W_OS); frames on ``counter``; samples from
    ``first_sample`` on (an asymmetric echo), the centre sample moved to match."""
    return [_block(kspace[t, :, lin, first_sample:], Lin=lin, center_col=W_OS // 2 - first_sample,
                   **{counter: t}, **counters)
            for t in range(kspace.shape[0]) for lin in _measured(t)]


def _adjustment_scan() -> dict:
    """A first measurement (an adjustment scan) the reader must pass over: another protocol, other data."""
    blocks = [_block(np.full((2, 16), 7 + 7j), Lin=lin, center_lin=4, center_col=8) for lin in range(8)]
    return {"hdr_str": _protocol(base=8, lines=8), "mdb": [*blocks, _end_block()]}


def _write(path, blocks, protocol=None, adjustment=True):
    """A VD/VE twix file by ``twixtools.write_twix``: an adjustment measurement, then the image measurement."""
    scans = [_adjustment_scan()] if adjustment else []
    scans.append({"hdr_str": _protocol() if protocol is None else protocol, "mdb": [*blocks, _end_block()]})
    twixtools.write_twix(scans, str(path), version_is_ve=True)
    return path


def _expected(kspace_os: np.ndarray, first_sample=0) -> np.ndarray:
    """(T, C, H, BASE): the written lines (others 0) with the readout cropped to BASE in image space."""
    measured = kspace_os.copy()
    measured[..., :first_sample] = 0
    for t, rows in MISSING.items():
        measured[t, :, list(rows)] = 0
    cropped = _kspace(_image_of(measured)[..., BASE // 2 : BASE // 2 + BASE])
    return np.where(np.any(measured != 0, axis=-1, keepdims=True), cropped, 0)


def _rows(t: int) -> np.ndarray:
    rows = np.zeros(H, bool)
    rows[_measured(t)] = True
    return rows


def _one_line(err) -> str:
    text = str(err.value)
    assert "\n" not in text and text
    return text


@pytest.fixture(scope="module")
def slices():
    """k-space (2 slices, T, C, H, W_OS) of two different objects."""
    return np.stack([_kspace(_image(1)), _kspace(_image(2)[:, :, ::-1])])


@pytest.fixture()
def cine_file(tmp_path, slices):
    """Two slices of Phs-binned frames, one line repeated (Ave 1, 3x the data: averages to 2x), two noise
    blocks, a phase-correction block and a reference-only line, after an adjustment measurement."""
    rng = np.random.default_rng(5)
    noise = [_block((rng.standard_normal((C, W_OS)) + 1j * rng.standard_normal((C, W_OS))).astype(np.complex64),
                    flags=["NOISEADJSCAN"]) for _ in range(2)]
    blocks = [*noise, _block(np.ones((C, W_OS)), flags=["PHASCOR"], Lin=H // 2)]
    for sli in range(2):
        blocks += _image_blocks(slices[sli], Sli=sli)
    blocks.append(_block(3 * slices[1, 0, :, H // 2], Lin=H // 2, Ave=1, Sli=1))
    blocks.append(_block(np.full((C, W_OS), 1 + 0j), flags=["PATREFSCAN"], Lin=H // 2, Sli=1))
    return _write(tmp_path / "meas_MID00042_cine.dat", blocks), np.concatenate([b.data for b in noise], axis=1)


# --- reading -----------------------------------------------------------------------------------------


def test_twix_cine_is_read_back_as_written(cine_file, slices):
    path, noise = cine_file
    assert is_raw_kspace(path) and is_twix(path)
    scan = read_raw(path)  # default: the middle slice of 2, i.e. Sli 1
    expected = _expected(slices[1])
    expected[0, :, H // 2] *= 2  # the line measured twice, the second time 3x: averaged
    assert scan.kspace.shape == (T, C, H, BASE) and scan.kspace.dtype == np.complex64
    assert np.abs(scan.kspace - expected).max() < 1e-5 * np.abs(expected).max()
    assert scan.mask.shape == (T, H, BASE)
    for t in range(T):
        assert np.array_equal(scan.mask[t], np.repeat(_rows(t)[:, None], BASE, axis=1)), t
    assert not np.where(scan.mask[:, None], 0, scan.kspace).any()  # unmeasured lines are 0
    assert np.array_equal(scan.noise, noise)
    assert scan.calibration is not None and np.count_nonzero(np.abs(scan.calibration).sum(axis=(0, 2))) == 1
    meta = scan.meta
    assert meta["format"] == "siemens twix VD/VE" and meta["measurements"] == 2
    assert meta["frames"] == T and meta["coils"] == C and meta["frame_binning"] == "phase"
    assert meta["slices"] == 2 and meta["slice"] == 1 and meta["oversampling_removed"] == 2
    assert meta["noise_scans"] == 2 and meta["calibration_lines"] == 1 and meta["skipped_acquisitions"] == {"PHASCOR": 1}
    assert meta["partial_fourier"]["rows_zero_padded"] == 6 and meta["averages_combined"]
    assert meta["pixel_spacing_mm"] == [240.0 / H, 320.0 / BASE]
    assert meta["sampling"]["undersampled"] and meta["sampling"]["lines_per_frame"] == (H - 8, H - 6)

    other = read_raw(path, slice_index=0)
    assert np.abs(other.kspace - _expected(slices[0])).max() < 1e-5 * np.abs(slices[0]).max()
    assert other.meta["slice"] == 0 and not other.meta["averages_combined"]


def test_twix_repetitions_asymmetric_echo_and_centre_line(tmp_path, slices):
    """Frames on Rep (Phs singleton), readouts starting at sample 8 (zero-padded), the centre line at
    CenterLin in a phase matrix of 40 lines: the 32 written lines land in rows 4..35."""
    kspace = slices[0]
    blocks = [_block(kspace[t, :, lin, 8:], Lin=lin + 10, center_lin=H // 2 + 10, center_col=W_OS // 2 - 8, Rep=t)
              for t in range(T) for lin in _measured(t)]
    scan = read_raw(_write(tmp_path / "rt.dat", blocks, _protocol(lines=40), adjustment=False))
    assert scan.kspace.shape == (T, C, 40, BASE) and scan.meta["frame_binning"] == "repetition"
    expected = _expected(kspace, first_sample=8)
    assert np.abs(scan.kspace[:, :, 4:36] - expected).max() < 1e-5 * np.abs(expected).max()
    assert not scan.kspace[:, :, :4].any() and not scan.kspace[:, :, 36:].any()
    assert scan.meta["partial_fourier"] == {"rows_zero_padded": 14, "readout_columns_zero_padded": 8}
    assert scan.meta["noise_scans"] == 0 and scan.noise is None and scan.meta["measurements"] == 1


def test_twix_lines_beyond_the_protocol_matrix_grow_it(tmp_path, slices):
    """Lines 0..31 around CenterLin 16 with lPhaseEncodingLines 24 (e.g. phase oversampling): 32 rows, none lost."""
    scan = read_raw(_write(tmp_path / "pos.dat", _image_blocks(slices[0]), _protocol(lines=24), adjustment=False))
    assert scan.kspace.shape == (T, C, H, BASE)
    assert np.abs(scan.kspace - _expected(slices[0])).max() < 1e-5 * np.abs(slices[0]).max()


def _write_vb(path, kspace: np.ndarray, truncate_by: int = 0):
    """A VB twix file, written here with twixtools' ``VB17_header`` (its ``write_twix`` cannot write VB:
    VB blocks have no channel headers, which it iterates): one header per channel before its samples."""
    out = bytearray(_protocol(pad=10_000).tobytes())  # VB: a header of >= 10,000 bytes, no measurement table
    for t in range(kspace.shape[0]):
        for lin in _measured(t):
            for c in range(C):
                head = mdh_def.VB17_header(SamplesInScan=W_OS, UsedChannels=C, ChannelId=c, CenterCol=W_OS // 2,
                                           CenterLin=H // 2)
                head.Counter.Lin, head.Counter.Phs = lin, t
                out += bytes(head) + kspace[t, c, lin].astype(np.complex64).tobytes()
    end = mdh_def.VB17_header()
    mdh_def.add_flag(end, "ACQEND")
    out += bytes(end)
    path.write_bytes(bytes(out[: len(out) - truncate_by]))
    return path


def test_twix_vb_file_is_read_and_a_truncated_one_refused(tmp_path, slices):
    path = _write_vb(tmp_path / "vb.dat", slices[0])
    assert is_twix(path)
    scan = read_raw(path)
    assert scan.meta["format"] == "siemens twix VB"
    assert np.abs(scan.kspace - _expected(slices[0])).max() < 1e-5 * np.abs(slices[0]).max()
    with pytest.raises(RawReadError) as err:
        read_raw(_write_vb(tmp_path / "vb_cut.dat", slices[0], truncate_by=300))
    assert "truncated" in _one_line(err) and "vb_cut.dat" in str(err.value)


# --- refusals ----------------------------------------------------------------------------------------


def _refusal(path, **kwargs) -> str:
    with pytest.raises(RawReadError) as err:
        read_raw(path, **kwargs)
    return _one_line(err)


def test_twix_truncated_file_is_one_line_and_cli_exits_2(cine_file, tmp_path, capsys):
    data = cine_file[0].read_bytes()
    cut = tmp_path / "cut.dat"
    cut.write_bytes(data[: len(data) // 2])
    assert "truncated" in _refusal(cut) and is_twix(cut) and is_raw_kspace(cut)  # twix, but refused
    assert main(["info", str(cut)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1 and lines[0].startswith("dynmri info: error: ") and "cut.dat" in lines[0]
    assert "truncated" in lines[0]


def test_cli_info_describes_a_twix_file(cine_file, capsys):
    assert main(["info", str(cine_file[0])]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "format: siemens twix VD/VE (raw k-space)" in out and f"coils: {C}" in out
    assert f"frames: {T} (binned by phase)" in out and "readout oversampling: removed, factor 2" in out
    assert f"noise scans: 2 ({2 * W_OS} samples per coil)" in out and "slices: 2 (reading slice 1)" in out


def test_not_twix_and_damaged_blocks_are_refused(tmp_path, slices):
    text = tmp_path / "notes.dat"
    text.write_text("temperature log 21.5 22.0 21.8\n" * 40)
    assert "not a Siemens twix file" in _refusal(text) and not is_twix(text) and not is_raw_kspace(text)
    tiny = tmp_path / "tiny.dat"
    tiny.write_bytes(b"\1\2\3")
    assert "not a Siemens twix file" in _refusal(tiny) and not is_twix(tiny)
    assert "does not exist" in _refusal(tmp_path / "missing.dat")
    # a block header promising 1000 channels runs past the measurement's end
    path = _write(tmp_path / "good.dat", _image_blocks(slices[0]), adjustment=False)
    data = bytearray(path.read_bytes())
    header = twixtools.hdr_def.MultiRaidFileHeader
    table = np.frombuffer(bytes(data[: header.itemsize]), header)[0]
    start = int(table["entry"][0]["off_"])
    first_block = start + struct.unpack("<I", bytes(data[start : start + 4]))[0]
    struct.pack_into("<H", data, first_block + mdh_def.Scan_header.UsedChannels.offset, 1000)
    (tmp_path / "damaged.dat").write_bytes(bytes(data))
    assert "does not fit in the measurement" in _refusal(tmp_path / "damaged.dat")


@pytest.mark.parametrize("protocol, blocks_of, expected", [
    (_protocol(trajectory="0x2"), None, "radial trajectory"),
    (_protocol(dimension="0x4"), None, "3D acquisition"),
    (_protocol(), "partitions", "several partitions"),
    (_protocol(), "reflected", "reflected readout"),
    (_protocol(omit="sKSpace.lBaseResolution"), None, "sKSpace.lBaseResolution"),
    (_protocol(lines=10_000_000), None, "over the limit"),
    (_protocol(os_factor=1.0), None, "more than the oversampled readout"),
])
def test_twix_refusals(tmp_path, slices, protocol, blocks_of, expected):
    blocks = _image_blocks(slices[0])
    if blocks_of == "partitions":
        blocks[-1].mdh.Counter.Par = 1
    if blocks_of == "reflected":
        blocks[3].add_flag("REFLECT")
    path = _write(tmp_path / "bad.dat", blocks, protocol)
    message = _refusal(path)
    assert expected in message and "bad.dat" in message


def test_twix_options_that_do_not_apply_and_missing_slices(cine_file):
    path = cine_file[0]
    assert "do not apply" in _refusal(path, layout="kx,ky,coil,frame")
    assert "slice 5 does not exist" in _refusal(path, slice_index=5)


def test_twix_agrees_with_twixtools_map_twix(cine_file):
    """twixtools' own reconstruction helper on the same file: map_twix's image array (Ave averaged, its
    oversampling removal on) equals the k-space read here, up to sqrt(2): the crop here is orthonormal
    (energy kept), twixtools' keeps the sample amplitudes."""
    scans = twixtools.read_twix(str(cine_file[0]), parse_pmu=False, parse_geometry=False, verbose=False)
    image = twixtools.map_twix(scans, verbose=False)[-1]["image"]
    image.flags["remove_os"] = True
    image.flags["squeeze_singletons"] = True
    assert image.dims == ["Phs", "Sli", "Lin", "Cha", "Col"]
    theirs = np.transpose(image[:][:, 1], (0, 2, 1, 3))  # slice 1 as (T, C, H, W)
    ours = read_raw(cine_file[0]).kspace
    assert np.linalg.norm(ours - np.sqrt(2) * theirs) < 1e-5 * np.linalg.norm(ours)


def test_napari_reader_opens_a_twix_file_as_the_scan_as_measured(cine_file, tmp_path):
    from napari_dynmri._napari._layers import KSPACE_KEY, MASK_KEY, ROLE_KEY
    from napari_dynmri._napari._reader import napari_get_reader, read_raw_layers

    path, _ = cine_file
    assert napari_get_reader(str(path)) is read_raw_layers
    text = tmp_path / "log.dat"
    text.write_text("temperature log 21.5 22.0 21.8\n" * 40)
    assert napari_get_reader(str(text)) is not read_raw_layers
    (data, kwargs, _), (maps, _, _) = read_raw_layers(str(path))
    scan = read_raw(path)
    assert data.shape == (T, H, BASE) and maps.shape == (C, H, BASE)
    assert kwargs["metadata"][ROLE_KEY] == "zero-filled"  # lines are missing: reconstructed as measured
    assert np.array_equal(kwargs["metadata"][MASK_KEY], scan.mask)
    assert kwargs["metadata"][KSPACE_KEY].shape == (T, C, H, BASE)
