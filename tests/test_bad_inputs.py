"""A generated corpus of bad inputs through every entry point (issue 10).

Every case must end the same way: the CLI exits with code 2 and writes exactly one line on stderr
(no traceback) that names the file when a file is to blame; nothing is written or replaced; the
Python API raises a ``ValueError`` with a one-line message; the napari reader returns its
"nothing read" value without raising. Bombs (inputs that decode to tens of gigabytes) run in a
subprocess under an address-space limit. Classes, and how many cases each has, are listed by
``test_corpus_size`` (run with ``-s`` to see them).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import nibabel
import numpy as np
import pytest
import scipy.io
import tifffile
import torch

from napari_dynmri.cli import main
from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.io import read_cine
from napari_dynmri.simulation import simulate

pytestmark = pytest.mark.usefixtures("one_thread")

SHAPE = (4, 16, 16)
COUNTS: dict[str, int] = {}


class Hang(BaseException):
    """Raised by the alarm when a case blocks (a BaseException, so no handler under test swallows it)."""


def _alarm(signum, frame):
    raise Hang("the case blocked for 20 s")


def cli(argv, capsys) -> tuple[int, str]:
    """``dynmri ARGV`` in this process: (exit code, stderr); a blocking case fails after 20 s."""
    capsys.readouterr()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(20)
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, capsys.readouterr().err


def assert_refused(code: int, err: str, name: str | None = None) -> str:
    """Exit code 2, one line on stderr, no traceback, naming ``name`` when given; returns the line."""
    assert code == 2, f"exit {code}: {err}"
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "unexpected" not in lines[0], lines[0]  # a refusal is meant and explained, not a bug caught
    if name is not None:
        assert name in lines[0], lines[0]
    return lines[0]


def listing(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes, to show nothing was written or replaced."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else b"<dir>")
            for p in sorted(folder.rglob("*")) if not p.is_symlink() and (p.is_file() or p.is_dir())}


# ----------------------------------------------------------------------------- file corpus


def _good(shape=SHAPE) -> np.ndarray:
    return cardiac_phantom(*shape, seed=0).real.astype(np.float32)


def _write_dicom(path: Path, pixels, *, time: float | None, number: int | None, series: str | None,
                 uid: str | None = None):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = uid or generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    if series is not None:
        ds.SeriesInstanceUID = series
    ds.SliceLocation = 0.0
    if time is not None:
        ds.TriggerTime = time
    if number is not None:
        ds.InstanceNumber = number
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = pixels.astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)


def _tiff_bomb(path: Path) -> None:
    """A 64 x 64 float32 zlib TIFF whose header claims 60000 x 60000 (14.4 GB decoded)."""
    tifffile.imwrite(path, np.zeros((64, 64), np.float32), compression="zlib", metadata=None)
    data = bytearray(path.read_bytes())
    assert data[:2] == b"II"
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    for i in range(count):
        entry = ifd + 2 + 12 * i
        tag, kind = struct.unpack_from("<HH", data, entry)
        if tag in (256, 257, 278):  # width, length, rows per strip
            if kind == 3:
                struct.pack_into("<H", data, entry + 8, 60000)
            else:
                struct.pack_into("<I", data, entry + 8, 60000)
    path.write_bytes(bytes(data))


def _npz_bomb(path: Path) -> None:
    """A tiny npz whose member header claims a (60000, 60000) float64 array (28.8 GB)."""
    import zipfile

    header = {"descr": "<f8", "fortran_order": False, "shape": (60000, 60000)}
    body = np.lib.format.magic(1, 0)
    text = repr(header).encode("latin1")
    text += b" " * (64 - (len(body) + 2 + len(text) + 1) % 64) + b"\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("target.npy", body + struct.pack("<H", len(text)) + text + b"\0" * 4096)


def _mat_bomb(path: Path) -> None:
    """A compressed MAT v5 file whose matrix header claims (60000, 60000, 10) float32 (144 GB)."""
    import zlib

    scipy.io.savemat(path, {"cine": np.zeros((16, 16, 5), np.float32)}, do_compression=False)
    data = path.read_bytes()
    element = bytearray(data[128:])
    struct.pack_into("<3i", element, 8 + 24, 60000, 60000, 10)  # tag, flags (16 bytes), dims tag (8)
    packed = zlib.compress(bytes(element))
    path.write_bytes(data[:128] + struct.pack("<II", 15, len(packed)) + packed)


def _make_bad_files(root: Path) -> dict[str, Path]:
    """Every bad file of the corpus, by name; each must be refused by every reader entry point."""
    files: dict[str, Path] = {}

    def add(name: str, path: Path | None = None) -> Path:
        files[name] = path or root / name
        return files[name]

    good = _good()
    valid = root / "valid"
    valid.mkdir()
    np.save(valid / "c.npy", good)
    np.savez_compressed(valid / "c.npz", target=good)
    nibabel.save(nibabel.Nifti1Image(good.transpose(2, 1, 0), np.eye(4)), valid / "c.nii.gz")
    with h5py.File(valid / "c.h5", "w") as f:
        f.create_dataset("target", data=good, compression="gzip")
    tifffile.imwrite(valid / "c.tif", good, compression="zlib", photometric="minisblack")
    scipy.io.savemat(valid / "c.mat", {"cine": good.transpose(1, 2, 0)}, do_compression=True)
    suffixes = (".npz", ".npy", ".nii", ".nii.gz", ".mat", ".h5", ".tif", ".dcm")
    rng = np.random.default_rng(0)
    for suffix in suffixes:  # corrupt: empty, random bytes
        add(f"empty{suffix}").write_bytes(b"")
        add(f"random{suffix}").write_bytes(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
    for source in sorted(valid.iterdir()):  # truncated halves of valid files
        name = "truncated" + "".join(source.suffixes)
        add(name).write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    # pickles: never unpickled
    np.savez(add("pickled.npz"), target=np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(add("pickled.npy"), np.array([{"a": 1}], dtype=object), allow_pickle=True)
    add("raw_pickle.npz").write_bytes(pickle.dumps({"target": good}))
    # bad content
    nan = good.copy()
    nan[1, 3, 3] = np.nan
    np.save(add("nan.npy"), nan)
    inf = good.copy()
    inf[0, 0, 0] = np.inf
    np.save(add("inf.npy"), inf)
    np.save(add("beyond_float32.npy"), good.astype(np.float64) * 1e39)
    with h5py.File(add("nan.h5"), "w") as f:
        f.create_dataset("target", data=nan)
    multicoil = np.ones((4, 2, 16, 16), np.complex64)
    multicoil[0, 0, 8, 8] = np.nan
    with h5py.File(add("nan_multicoil_kspace.h5"), "w") as f:
        f.create_dataset("kspace", data=multicoil)
    tifffile.imwrite(add("nan.tif"), nan, photometric="minisblack")
    nibabel.save(nibabel.Nifti1Image(nan.transpose(2, 1, 0), np.eye(4)), add("nan.nii.gz"))
    scipy.io.savemat(add("nan.mat"), {"cine": np.concatenate([nan, nan]).transpose(1, 2, 0)})  # 8 frames: not RGB
    np.save(add("two_dims.npy"), np.zeros((16, 16), np.float32))
    np.save(add("five_dims.npy"), np.zeros((2, 2, 2, 16, 16), np.float32))
    np.save(add("zero_frames.npy"), np.zeros((0, 16, 16), np.float32))
    np.save(add("zero_pixels.npy"), np.zeros((4, 0, 0), np.float32))
    np.save(add("rgb.npy"), np.zeros((4, 16, 16, 3), np.float32))
    np.save(add("strings.npy"), np.array([[["a"] * 16] * 16] * 4))
    np.savez(add("ambiguous.npz"), a=good, b=good)
    with h5py.File(add("real_kspace.h5"), "w") as f:
        f.create_dataset("kspace", data=np.ones((4, 2, 16, 16)))
    # special files: a pipe blocks whoever opens it, a device never ends
    os.mkfifo(add("fifo.npz"))
    os.mkfifo(add("fifo.h5"))
    add("folder.npz").mkdir()
    add("dangling.npy").symlink_to(root / "missing-target.npy")
    add("device.npy").symlink_to("/dev/zero")
    add("missing.npz")
    # HDF5 that would read other files
    secret = root / "secret.bin"
    np.arange(4 * 16 * 16, dtype=np.float32).tofile(secret)
    with h5py.File(root / "other.h5", "w") as f:
        f.create_dataset("target", data=good)
    with h5py.File(add("external_link.h5"), "w") as f:
        f["target"] = h5py.ExternalLink(str(root / "other.h5"), "target")
    with h5py.File(add("external_storage.h5"), "w") as f:
        f.create_dataset("target", shape=SHAPE, dtype="<f4", external=[(str(secret), 0, 4 * 16 * 16 * 4)])
    with h5py.File(add("virtual.h5"), "w") as f:
        layout = h5py.VirtualLayout(shape=SHAPE, dtype="f4")
        layout[:] = h5py.VirtualSource(str(root / "other.h5"), "target", shape=SHAPE)
        f.create_virtual_dataset("target", layout)
    # bombs: tiny files that decode to tens of gigabytes
    with h5py.File(add("fill_value_bomb.h5"), "w") as f:
        f.create_dataset("target", shape=(100, 10000, 10000), dtype="f4", fillvalue=1.0, chunks=(1, 1000, 1000))
    _npz_bomb(add("header_bomb.npz"))
    _tiff_bomb(add("header_bomb.tif"))
    _mat_bomb(add("header_bomb.mat"))
    # DICOM: the same series twice, and two acquisitions without series UIDs
    pixels = (good[0] * 1000).astype(np.uint16)
    twice = add("dicom_series_twice")
    twice.mkdir()
    for copy in ("a", "b"):
        for t in range(3):
            _write_dicom(twice / f"{copy}{t}.dcm", pixels, time=40.0 * t, number=t + 1, series="1.2.3", uid=f"1.2.3.{t}")
    merged = add("dicom_two_acquisitions")
    merged.mkdir()
    for scan in range(2):
        for t in range(3):
            _write_dicom(merged / f"scan{scan}_{t}.dcm", pixels, time=40.0 * t, number=t + 1, series=None)
    # two acquisitions without series UIDs whose trigger times differ by 1 ms (they used to merge into one cine)
    apart = add("dicom_two_acquisitions_1ms")
    apart.mkdir()
    for scan in range(2):
        for t in range(3):
            _write_dicom(apart / f"scan{scan}_{t}.dcm", pixels, time=40.0 * t + scan, number=t + 1, series=None)
    # frames that nothing orders: neither TriggerTime nor InstanceNumber
    unordered = add("dicom_unordered")
    unordered.mkdir()
    for t in range(3):
        _write_dicom(unordered / f"frame{t}.dcm", pixels, time=None, number=None, series="1.2.4")
    return files


BAD_FILES = (
    [f"{kind}{suffix}" for suffix in (".npz", ".npy", ".nii", ".nii.gz", ".mat", ".h5", ".tif", ".dcm")
     for kind in ("empty", "random")]
    + [f"truncated{suffix}" for suffix in (".npy", ".npz", ".nii.gz", ".h5", ".tif", ".mat")]
    + ["pickled.npz", "pickled.npy", "raw_pickle.npz"]
    + ["nan.npy", "inf.npy", "beyond_float32.npy", "nan.h5", "nan_multicoil_kspace.h5", "nan.tif",
       "nan.nii.gz", "nan.mat", "two_dims.npy", "five_dims.npy", "zero_frames.npy", "zero_pixels.npy",
       "rgb.npy", "strings.npy", "ambiguous.npz", "real_kspace.h5"]
    + ["fifo.npz", "fifo.h5", "folder.npz", "dangling.npy", "device.npy", "missing.npz"]
    + ["external_link.h5", "external_storage.h5", "virtual.h5"]
    + ["fill_value_bomb.h5", "header_bomb.npz", "header_bomb.tif", "header_bomb.mat"]
    + ["dicom_series_twice", "dicom_two_acquisitions", "dicom_two_acquisitions_1ms", "dicom_unordered"]
)
FILE_ENTRY_POINTS = ("info", "simulate", "recon", "eval", "train", "napari", "api")


INFO_SCRIPT = textwrap.dedent("""
    import sys
    from napari_dynmri.cli import main
    sys.exit(max(main(["info", path]) for path in sys.argv[1:]))
""")


def test_real_stderr_holds_one_line_per_bad_file(bad_files):
    """Outside pytest's capture: library logging or warnings must not add lines of their own."""
    paths = [str(bad_files[name]) for name in BAD_FILES]
    result = subprocess.run([sys.executable, "-c", INFO_SCRIPT, *paths], check=False, capture_output=True, text=True, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == len(paths), result.stderr
    assert all(line.startswith("dynmri info: error: ") and Path(path).name in line for line, path in zip(lines, paths))


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    files = _make_bad_files(tmp_path_factory.mktemp("bad"))
    assert set(BAD_FILES) <= set(files)
    return files


@pytest.fixture
def out(tmp_path):
    """An output folder that must stay empty."""
    folder = tmp_path / "out"
    folder.mkdir()
    yield folder
    assert listing(folder) == {}, "a refused command wrote something"


COUNTS["bad files x entry points"] = len(BAD_FILES) * (len(FILE_ENTRY_POINTS) + 1)  # + real stderr


@pytest.mark.parametrize("entry", FILE_ENTRY_POINTS)
@pytest.mark.parametrize("name", BAD_FILES)
def test_bad_files_are_refused_everywhere(bad_files, name, entry, out, capsys):
    path = bad_files[name]
    if entry == "api":
        with pytest.raises(ValueError) as info:
            read_cine(path)
        assert "\n" not in str(info.value) and path.name in str(info.value)
        return
    if entry == "napari":
        from napari_dynmri._napari._reader import napari_get_reader

        reader = napari_get_reader(str(path))
        assert reader is None or reader(str(path)) == [(None,)]
        return
    argv = {
        "info": ["info", path],
        "simulate": ["simulate", path, "-o", out / "o.npz"],
        "recon": ["recon", path, "-o", out / "o.npz", "--model", "zero-filled", "--device", "cpu"],
        "eval": ["eval", "--model", "zero-filled", "--data", path, "--split", "all", "--device", "cpu",
                 "--json", out / "o.json"],
        "train": ["train", "--model", "naive", "--train-data", path, "-o", out / "run", "-q", "--device", "cpu",
                  "--iterations", "1"],
    }[entry]
    assert_refused(*cli(argv, capsys), path.name)


# ----------------------------------------------------------------------------- simulate npz given to recon


def _simulation(**changes) -> dict:
    sim = simulate(cardiac_phantom(*SHAPE, seed=0), acceleration=4, center_lines=4, seed=0)
    arrays = sim.to_npz_dict()
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    return arrays


def _meta(value) -> np.ndarray:
    return np.array(json.dumps(value))


def _kspace_with(value) -> np.ndarray:
    k = _simulation()["kspace"].copy()
    k[0, 8, 8] = value
    return k


SIMULATIONS = {
    "nan_kspace": lambda: _simulation(kspace=_kspace_with(np.nan)),
    "inf_kspace": lambda: _simulation(kspace=_kspace_with(np.inf)),
    "beyond_complex64_kspace": lambda: _simulation(kspace=_simulation()["kspace"].astype(np.complex128) * 1e300),
    "real_kspace": lambda: _simulation(kspace=_simulation()["kspace"].real.copy()),
    "integer_kspace": lambda: _simulation(kspace=np.ones(SHAPE, np.int16)),
    "kspace_2d": lambda: _simulation(kspace=np.ones((16, 16), np.complex64), mask=np.ones((16, 16), bool)),
    "zero_frames": lambda: _simulation(kspace=np.ones((0, 16, 16), np.complex64), mask=np.ones((0, 16, 16), bool)),
    "zero_pixels": lambda: _simulation(kspace=np.ones((4, 0, 0), np.complex64), mask=np.ones((4, 0, 0), bool)),
    "tiny_images": lambda: _simulation(kspace=np.ones((4, 4, 4), np.complex64), mask=np.ones((4, 4, 4), bool)),
    "empty_mask": lambda: _simulation(mask=np.zeros(SHAPE, bool)),
    "mask_of_twos": lambda: _simulation(mask=np.full(SHAPE, 2, np.uint8)),
    "mask_shape": lambda: _simulation(mask=np.ones((4, 16, 8), bool)),
    "mask_strings": lambda: _simulation(mask=np.full(SHAPE, "x")),
    "zero_filled_shape": lambda: _simulation(zero_filled=np.ones((2, 16, 16), np.complex64)),
    "zero_filled_nan": lambda: _simulation(zero_filled=np.full(SHAPE, np.nan, np.complex64)),
    "target_shape": lambda: _simulation(target=np.ones((4, 8, 8), np.complex64)),
    "meta_not_json": lambda: _simulation(meta=np.array("{not json")),
    "meta_numbers": lambda: _simulation(meta=np.ones(3)),
    "meta_pickled": lambda: _simulation(meta=np.array([{"x": 1}], dtype=object)),
}
META_CASES = {
    "meta_list": [1, 2],
    "meta_null": None,
    "meta_scalar": 3,
    "spacing_zero": {"pixel_spacing_mm": [0, 0]},
    "spacing_strings": {"pixel_spacing_mm": ["a", "b"]},
    "spacing_scalar": {"pixel_spacing_mm": 1.0},
    "spacing_tiny": {"pixel_spacing_mm": [1e-300, 1e-300]},
    "spacing_three": {"pixel_spacing_mm": [1, 1, 1]},
    "spacing_negative": {"pixel_spacing_mm": [-1, 1]},
}
COUNTS["simulate npz into recon"] = len(SIMULATIONS) + 3 * len(META_CASES)


@pytest.mark.parametrize("name", sorted(SIMULATIONS))
def test_recon_refuses_bad_simulations(name, tmp_path, out, capsys):
    path = tmp_path / f"{name}.npz"
    np.savez(path, allow_pickle=True, **SIMULATIONS[name]())
    assert_refused(*cli(["recon", path, "-o", out / "r.npz", "--model", "zero-filled", "--device", "cpu"], capsys),
                   path.name)


@pytest.mark.parametrize("suffix", [".npz", ".tif", ".nii.gz"])
@pytest.mark.parametrize("name", sorted(META_CASES))
def test_recon_refuses_bad_meta(name, suffix, tmp_path, out, capsys):
    path = tmp_path / f"{name}.npz"
    np.savez(path, **_simulation(meta=_meta(META_CASES[name])))
    assert_refused(*cli(["recon", path, "-o", out / f"r{suffix}", "--model", "zero-filled", "--device", "cpu"],
                        capsys), path.name)


def test_python_api_refuses_bad_arrays():
    from napari_dynmri.recon import get_method

    method = get_method("zero-filled")
    sim = _simulation()
    for kspace, mask in [
        (_kspace_with(np.nan), sim["mask"]),
        (sim["kspace"].real, sim["mask"]),
        (sim["kspace"], np.zeros(SHAPE, bool)),
        (sim["kspace"], sim["mask"][:, :8]),
        (np.ones((4, 4, 4), np.complex64), np.ones((4, 4, 4), bool)),
    ]:
        with pytest.raises(ValueError) as info:
            method.reconstruct(kspace, mask)
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="NaN"):
        simulate(np.full(SHAPE, np.nan, np.complex64))
    for options in ({"noise": np.nan}, {"noise": np.inf}, {"acceleration": np.inf},
                    {"acceleration": 1e30}, {"center_lines": 16}, {"seed": -1}):
        with pytest.raises(ValueError):
            simulate(cardiac_phantom(*SHAPE, seed=0), **options)


# ----------------------------------------------------------------------------- options


MASK_OPTIONS = [
    ["--acceleration", "inf"], ["--acceleration", "nan"], ["--acceleration", "0"], ["--acceleration", "0.5"],
    ["--acceleration", "-1"], ["--acceleration", "1e30"], ["--acceleration", "x"],
    ["--acceleration", "1000", "--center-lines", "0"], ["--center-lines", "-1"], ["--center-lines", "16"],
    ["--center-lines", "1000"], ["--seed", "-1"], ["--mask", "spiral"],
    ["--mask", "equispaced", "--acceleration", "inf"], ["--mask", "equispaced", "--acceleration", "1e30"],
]
SIMULATE_OPTIONS = MASK_OPTIONS + [["--noise", "nan"], ["--noise", "inf"], ["--noise", "-1"], ["--slice", "3"],
                                   ["--noise", "1e38"]]
RECON_OPTIONS = SIMULATE_OPTIONS + [
    ["--model", ""], ["--model", "no-such-model"], ["--device", "bogus"], ["--model", "cs-xf", "--lam", "-1"],
    ["--model", "cs-xf", "--lam", "nan"], ["--model", "cs-xf", "--lam", "abc"], ["--model", "cs-xf", "--iterations", "0"],
    ["--model", "cs-xf", "--iterations", "-5"], ["--adapt-iterations", "3"], ["--model", "zero-filled", "--lam", "1"],
]
EVAL_OPTIONS = [o for o in MASK_OPTIONS if o[0] != "--seed"] + [
    ["--data", "phantom:1:1x60000x60000"], ["--data", "phantom:1:1x4x4"], ["--data", "phantom:1:1x8x8"],
    ["--data", "phantom:0"],
    ["--data", "phantom:x"], ["--data", "phantom:1:0x16x16"], ["--model", ""], ["--split", "nope"],
]
TRAIN_OPTIONS = [o for o in MASK_OPTIONS if o[0] != "--seed" and "--center-lines" not in o[:1]] + [
    ["--center-lines", "-1"], ["--num-threads", "100000"], ["--num-threads", "-1"], ["--lr", "nan"],
    ["--lr", "inf"], ["--lr", "-1"], ["--iterations", "0"], ["--batch-size", "0"], ["--crop", "0", "0", "0"],
    ["--set", "model.n_stages=100000"], ["--set", "model.channels=4096"], ["--set", "model.depth=100000"],
    ["--model", "unet"], ["--train-data", "phantom:1:1x60000x60000"], ["--set", "iterations=1e400"],
    ["--set", "nosuchkey=1"],
]
COUNTS["bad options"] = len(SIMULATE_OPTIONS) + len(RECON_OPTIONS) + len(EVAL_OPTIONS) + len(TRAIN_OPTIONS) + 3 + 2


def _good_npy(tmp_path) -> Path:
    path = tmp_path / "cine.npy"
    np.save(path, _good())
    return path


@pytest.mark.parametrize("options", SIMULATE_OPTIONS, ids=" ".join)
def test_simulate_refuses_bad_options(options, tmp_path, out, capsys):
    assert_refused(*cli(["simulate", _good_npy(tmp_path), "-o", out / "o.npz", *options], capsys))


@pytest.mark.parametrize("options", RECON_OPTIONS, ids=" ".join)
def test_recon_refuses_bad_options(options, tmp_path, out, capsys):
    argv = ["recon", _good_npy(tmp_path), "-o", out / "o.npz", "--device", "cpu", *options]
    if "--model" not in options:
        argv += ["--model", "zero-filled"]
    assert_refused(*cli(argv, capsys))


@pytest.mark.parametrize("options", EVAL_OPTIONS, ids=" ".join)
def test_eval_refuses_bad_options(options, out, capsys):
    argv = ["eval", "--device", "cpu", "--split", "all", "--json", out / "o.json", *options]
    argv += [] if "--data" in options else ["--data", "phantom:1:4x16x16"]
    argv += [] if "--model" in options else ["--model", "zero-filled"]
    assert_refused(*cli(argv, capsys))


@pytest.mark.parametrize("options", TRAIN_OPTIONS, ids=" ".join)
def test_train_refuses_bad_options(options, out, capsys):
    argv = ["train", "--model", "naive", "--train-data", "phantom:3:4x16x16", "-o", out / "run", "-q",
            "--device", "cpu", "--iterations", "1", "--crop", "16", "--frames", "4", *options]
    assert_refused(*cli(argv, capsys))


@pytest.mark.parametrize("content", [b"random bytes", pickle.dumps({"features.0.weight": 1})], ids=["random", "pickle"])
def test_train_refuses_bad_perceptual_weights(content, tmp_path, out, capsys):
    weights = tmp_path / "weights.pth"
    weights.write_bytes(content)
    argv = ["train", "--model", "naive", "--train-data", "phantom:3:4x16x16", "-o", out / "run", "-q", "--device",
            "cpu", "--iterations", "1", "--crop", "16", "--frames", "4", "--set",
            f'loss.perceptual={{weight = 0.1, backbone = "squeezenet", weights_path = "{weights}"}}']
    assert_refused(*cli(argv, capsys))


def test_a_recon_output_opens_as_the_reconstruction(tmp_path):
    sim = tmp_path / "sim.npz"
    np.savez(sim, **_simulation())
    assert main(["recon", str(sim), "-o", str(tmp_path / "r.npz"), "--model", "zero-filled"]) == 0
    cine = read_cine(tmp_path / "r.npz")
    assert cine.meta["key"] == "recon"
    np.testing.assert_array_equal(cine.data, np.load(tmp_path / "r.npz")["recon"])


@pytest.mark.parametrize("argv", [["models", "extra"], ["info", "sample:nope"], ["info", ""]], ids=" ".join)
def test_models_and_info_refuse_bad_arguments(argv, capsys):
    assert_refused(*cli(argv, capsys))


# ----------------------------------------------------------------------------- model cards and weights


def _tiny_model_folder(root: Path) -> Path:
    from napari_dynmri.models import build_model, save_model

    torch.manual_seed(0)
    return save_model(build_model("naive", {"channels": 2, "depth": 2}), root / "model")


def _card(folder: Path, **changes) -> None:
    card = json.loads((folder / "model.json").read_text())
    for key, value in changes.items():
        card[key] = value
    (folder / "model.json").write_text(json.dumps(card))


def _weights(folder: Path, change) -> None:
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(folder / "weights.safetensors"))
    save_file(change(tensors), str(folder / "weights.safetensors"))


MODEL_DAMAGE = {
    "n_stages_huge": lambda f: _card(f, architecture="cascade", config={"n_stages": 100000}),
    "channels_huge": lambda f: _card(f, config={"channels": 4096, "depth": 2}),
    "depth_huge": lambda f: _card(f, config={"channels": 2, "depth": 10**6}),
    "parameters_huge": lambda f: _card(f, architecture="cascade",
                                       config={"n_stages": 32, "channels": 256, "depth": 16, "block": "complex"}),
    "card_not_json": lambda f: (f / "model.json").write_text("{oops"),
    "card_list": lambda f: (f / "model.json").write_text("[1, 2]"),
    "card_nan": lambda f: (f / "model.json").write_text('{"format": NaN}'),
    "card_no_config": lambda f: _card(f, config=None),
    "card_format": lambda f: _card(f, format="other"),
    "card_version": lambda f: _card(f, format_version=99),
    "card_fifo": lambda f: ((f / "model.json").unlink(), os.mkfifo(f / "model.json")),
    "weights_truncated": lambda f: (f / "weights.safetensors").write_bytes(
        (f / "weights.safetensors").read_bytes()[:50]),
    "weights_missing": lambda f: (f / "weights.safetensors").unlink(),
    "weights_random": lambda f: (f / "weights.safetensors").write_bytes(os.urandom(500)),
    "weights_nan": lambda f: _weights(f, lambda t: {k: torch.full_like(v, float("nan")) for k, v in t.items()}),
    "weights_other_architecture": lambda f: _weights(f, lambda t: {k: v[..., :1].contiguous() for k, v in t.items()}),
    "weights_pickle": lambda f: torch.save({"x": torch.ones(2)}, f / "weights.safetensors"),
}
COUNTS["damaged models"] = 2 * len(MODEL_DAMAGE)


@pytest.mark.parametrize("entry", ["recon", "eval"])
@pytest.mark.parametrize("damage", sorted(MODEL_DAMAGE))
def test_damaged_models_are_refused(damage, entry, tmp_path, out, capsys):
    folder = _tiny_model_folder(tmp_path)
    MODEL_DAMAGE[damage](folder)
    if entry == "recon":
        argv = ["recon", _good_npy(tmp_path), "-o", out / "o.npz", "--model", folder, "--device", "cpu"]
    else:
        argv = ["eval", "--model", folder, "--data", "phantom:1:4x16x16", "--split", "all", "--device", "cpu"]
    line = assert_refused(*cli(argv, capsys))
    assert "model" in line


# ----------------------------------------------------------------------------- training checkpoints


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A finished 2-iteration run of a tiny network (its checkpoint/ included)."""
    from napari_dynmri.training import train

    root = tmp_path_factory.mktemp("run")
    config = {"model": {"name": "naive", "channels": 2, "depth": 2},
              "data": {"train": "phantom:3:4x16x16", "crop": [16, 16], "frames": 4},
              "mask": {"accelerations": [4], "center_lines": 4}, "iterations": 2, "batch_size": 1,
              "device": "cpu", "val_every": 0, "checkpoint_every": 1, "evaluate_test": False,
              "output": str(root / "run")}
    train(config, quiet=True)
    return root / "run"


def _state(folder: Path, change) -> None:
    path = folder / "checkpoint" / "trainer.json"
    state = json.loads(path.read_text())
    change(state)
    path.write_text(json.dumps(state))


def _optimizer(folder: Path, change) -> None:
    from safetensors.torch import load_file, save_file

    path = folder / "checkpoint" / "optimizer.safetensors"
    save_file(change(load_file(str(path))), str(path))


CHECKPOINT_DAMAGE = {
    "weights_truncated": lambda f: (f / "checkpoint" / "weights.safetensors").write_bytes(
        (f / "checkpoint" / "weights.safetensors").read_bytes()[:80]),
    "weights_nan": lambda f: _weights(f / "checkpoint", lambda t: {k: v * float("nan") for k, v in t.items()}),
    "state_not_json": lambda f: (f / "checkpoint" / "trainer.json").write_text("{"),
    "state_no_iteration": lambda f: _state(f, lambda s: s.pop("iteration")),
    "state_iteration_string": lambda f: _state(f, lambda s: s.update(iteration="2")),
    "state_rows_wrong": lambda f: _state(f, lambda s: s.update(rows=[1, 2])),
    "state_no_best": lambda f: _state(f, lambda s: s.pop("best")),
    "state_config_list": lambda f: _state(f, lambda s: s.update(config=[1])),
    "state_format": lambda f: _state(f, lambda s: s.update(format="x")),
    "optimizer_no_rng": lambda f: _optimizer(f, lambda t: {k: v for k, v in t.items() if not k.startswith("rng")}),
    "optimizer_wrong_shapes": lambda f: _optimizer(
        f, lambda t: {k: (v if k.startswith("rng") else v.reshape(-1)[:1]) for k, v in t.items()}),
    "optimizer_truncated": lambda f: (f / "checkpoint" / "optimizer.safetensors").write_bytes(b"\0" * 10),
    "optimizer_missing": lambda f: (f / "checkpoint" / "optimizer.safetensors").unlink(),
}
COUNTS["damaged checkpoints"] = len(CHECKPOINT_DAMAGE) + 3


@pytest.mark.parametrize("damage", sorted(CHECKPOINT_DAMAGE))
def test_damaged_checkpoints_give_one_line_naming_the_file(damage, trained_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    CHECKPOINT_DAMAGE[damage](run)
    before = listing(run)
    line = assert_refused(*cli(["train", "--resume", run, "--iterations", "4", "-q"], capsys))
    assert "checkpoint" in line or "optimizer" in line or "weights" in line
    assert listing(run) == before


def test_resume_with_another_architecture_and_loose_copies_are_refused(trained_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    before = listing(run)
    assert_refused(*cli(["train", "--resume", run, "--iterations", "4", "-q", "--set", "model.channels=3"], capsys),
                   "weights.safetensors")
    copy = run / "copy_of_checkpoint"
    shutil.copytree(run / "checkpoint", copy)
    before = listing(run)
    assert_refused(*cli(["train", "--resume", copy, "--iterations", "4", "-q"], capsys), "copy_of_checkpoint")
    assert listing(run) == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert_refused(*cli(["train", "--resume", copy, "--iterations", "4", "-q", "-o", other], capsys), "other")
    assert listing(other) == {"notes.txt": b"mine"}


# ----------------------------------------------------------------------------- recon --config


def _settings(tmp_path, recon, name="settings.json", **extra) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"recon": recon, **extra}))
    return path


BAD_SETTINGS = {
    "not_json": "{",
    "list": "[1]",
    "no_recon": json.dumps({"layers": []}),
    "recon_list": json.dumps({"recon": [1]}),
    "unknown_key": json.dumps({"recon": {"model": "cs-xf", "lambda": 1}}),
    "model_number": json.dumps({"recon": {"model": 3}}),
    "model_empty": json.dumps({"recon": {"model": ""}}),
    "lam_string": json.dumps({"recon": {"lam": "x"}}),
    "lam_bool": json.dumps({"recon": {"lam": True}}),
    "lam_negative": json.dumps({"recon": {"lam": -1}}),
    "lam_nan": '{"recon": {"lam": NaN}}',
    "iterations_zero": json.dumps({"recon": {"iterations": 0}}),
    "iterations_float": json.dumps({"recon": {"iterations": 1.5}}),
    "adapt_string": json.dumps({"recon": {"adapt": "yes"}}),
    "adapt_null": json.dumps({"recon": {"adapt": None}}),
    "adapt_iterations_negative": json.dumps({"recon": {"adapt_iterations": -1}}),
    "device_null": json.dumps({"recon": {"device": None}}),
    "not_utf8": b"\xff\xfe\x00{",
}
COUNTS["bad --config files"] = len(BAD_SETTINGS) + 3


@pytest.mark.parametrize("name", sorted(BAD_SETTINGS))
def test_recon_refuses_bad_settings(name, tmp_path, out, capsys):
    path = tmp_path / f"{name}.json"
    content = BAD_SETTINGS[name]
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert_refused(*cli(["recon", _good_npy(tmp_path), "-o", out / "o.npz", "--config", path], capsys), path.name)


@pytest.mark.parametrize("kind", ["missing", "folder", "fifo"])
def test_recon_refuses_settings_that_are_not_files(kind, tmp_path, out, capsys):
    path = tmp_path / "settings.json"
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    assert_refused(*cli(["recon", _good_npy(tmp_path), "-o", out / "o.npz", "--config", path], capsys), path.name)


def test_recon_config_round_trip_and_explicit_options_win(tmp_path, capsys):
    sim = tmp_path / "sim.npz"
    np.savez(sim, **_simulation())
    recon = {"model": "cs-xf", "lam": 0.01, "iterations": 3, "adapt": False, "adapt_iterations": None,
             "device": "cpu"}
    settings = _settings(tmp_path, recon, layers=["ignored"])
    partial = _settings(tmp_path, {"model": "cs-xf", "iterations": 3}, "partial.json")
    runs = {
        "config": ["--config", settings],
        "options": ["--model", "cs-xf", "--lam", "0.01", "--iterations", "3", "--device", "cpu"],
        "override": ["--config", partial, "--iterations", "1", "--device", "cpu"],
    }
    for name, options in runs.items():
        assert cli(["recon", sim, "-o", tmp_path / f"{name}.npz", *options], capsys) == (0, "")
    loaded = {name: np.load(tmp_path / f"{name}.npz") for name in runs}
    np.testing.assert_array_equal(loaded["config"]["recon"], loaded["options"]["recon"])
    meta = {name: json.loads(str(archive["meta"])) for name, archive in loaded.items()}
    assert meta["config"]["settings"] == meta["options"]["settings"]
    assert meta["config"]["settings"]["lam"] == 0.01 and meta["config"]["settings"]["weight"] == "fixed"
    assert meta["override"]["settings"]["iterations"] == 1 and meta["override"]["method"] == "cs-xf"


# ----------------------------------------------------------------------------- outputs: nothing lost


def test_a_failed_write_keeps_the_old_file_and_leaves_no_partial(tmp_path, capsys, monkeypatch):
    out = tmp_path / "sim.npz"
    assert main(["simulate", "sample:phantom", "-o", str(out)]) == 0
    before = out.read_bytes()

    def broken(file, **arrays):  # the disk fills up halfway through the write
        if hasattr(file, "write"):
            file.write(b"half an archive")
        else:
            Path(file).write_bytes(b"half an archive")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", broken)
    assert_refused(*cli(["simulate", "sample:phantom", "-o", out, "--overwrite", "--seed", "1"], capsys))
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["sim.npz"]


def test_outputs_are_never_replaced_unasked(tmp_path, capsys):
    sim = tmp_path / "sim.npz"
    np.savez(sim, **_simulation())
    existing = tmp_path / "existing.npz"
    existing.write_bytes(b"precious")
    dangling = tmp_path / "dangling.npz"
    dangling.symlink_to(tmp_path / "elsewhere" / "target.npz")
    cases = [
        ["simulate", "sample:phantom", "-o", existing],
        ["recon", sim, "-o", existing, "--model", "zero-filled"],
        ["simulate", "sample:phantom", "-o", dangling, "--overwrite"],
        ["recon", sim, "-o", dangling, "--model", "zero-filled", "--overwrite"],
        ["recon", sim, "-o", tmp_path / "dangling.tif", "--model", "zero-filled"],
        ["eval", "--model", "zero-filled", "--data", "phantom:1:4x16x16", "--split", "all",
         "--json", tmp_path / "same.txt", "--csv", tmp_path / "same.txt"],
        ["eval", "--model", "zero-filled", "--data", "phantom:1:4x16x16", "--split", "all", "--csv", existing],
        ["eval", "--model", "zero-filled", "--data", "phantom:1:4x16x16", "--split", "all", "--json", dangling,
         "--overwrite"],
        ["recon", sim, "-o", tmp_path, "--model", "zero-filled", "--overwrite"],
        ["recon", sim, "-o", sim, "--model", "zero-filled", "--overwrite"],
        ["simulate", existing, "-o", existing, "--overwrite"],
        ["eval", "--model", "zero-filled", "--data", f"{existing}:sax", "--split", "all", "--json", existing,
         "--overwrite"],
    ]
    (tmp_path / "dangling.tif").symlink_to(tmp_path / "elsewhere" / "x.tif")
    before = listing(tmp_path)
    for argv in cases:
        assert_refused(*cli(argv, capsys))
    assert listing(tmp_path) == before and not (tmp_path / "elsewhere").exists()
    assert existing.read_bytes() == b"precious"


def test_train_never_writes_into_a_folder_holding_files(tmp_path, capsys):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "weights.safetensors").write_bytes(b"someone else's weights")
    (folder / "metrics.csv").write_text("iteration\n1\n")
    before = listing(folder)
    assert_refused(*cli(["train", "--model", "naive", "--train-data", "phantom:3:4x16x16", "-o", folder, "-q",
                         "--device", "cpu", "--iterations", "1", "--crop", "16", "--frames", "4"], capsys), "results")
    assert listing(folder) == before


def test_the_size_limit_is_overridable(bad_files, tmp_path, capsys, monkeypatch):
    small = _good_npy(tmp_path)
    monkeypatch.setenv("DYNMRI_MAX_DECODED_BYTES", "1K")
    assert "over the limit of 1 kB" in assert_refused(*cli(["info", small], capsys), small.name)
    monkeypatch.setenv("DYNMRI_MAX_DECODED_BYTES", "100G")  # past the size check, the lie shows
    assert "truncated" in assert_refused(*cli(["info", bad_files["header_bomb.npz"]], capsys))
    monkeypatch.setenv("DYNMRI_MAX_DECODED_BYTES", "lots")
    assert "DYNMRI_MAX_DECODED_BYTES" in assert_refused(*cli(["info", small], capsys))
    monkeypatch.delenv("DYNMRI_MAX_DECODED_BYTES")
    assert cli(["info", small], capsys)[0] == 0


def test_eval_json_has_no_bare_nan(tmp_path, capsys):
    from napari_dynmri.cli.eval import _json_ready

    report = json.dumps(_json_ready({"psnr": [float("inf"), float("nan"), 1.0]}), allow_nan=False)
    assert json.loads(report) == {"psnr": [None, None, 1.0]}


# ----------------------------------------------------------------------------- bombs and signals (subprocesses)


BOMB_SCRIPT = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))
    from napari_dynmri.cli import main
    codes = [main(["info", path]) for path in sys.argv[1:]]
    from napari_dynmri.io import read_cine
    for path in sys.argv[1:]:
        try:
            read_cine(path)
        except ValueError:
            codes.append(2)
    print(codes, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
""")
BOMBS = ("fill_value_bomb.h5", "header_bomb.npz", "header_bomb.tif", "header_bomb.mat")
COUNTS["bombs under a 3 GB address-space limit"] = 2 * len(BOMBS)


def test_bombs_are_refused_in_bounded_memory(bad_files):
    paths = [str(bad_files[name]) for name in BOMBS]
    result = subprocess.run([sys.executable, "-c", BOMB_SCRIPT, *paths], check=False, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    codes, peak_mb = result.stdout.rsplit("]", 1)
    assert json.loads(codes + "]") == [2] * 2 * len(BOMBS)
    assert int(peak_mb) < 1024, f"peak memory {peak_mb} MB"  # the bombs decode to 14-40 GB
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(BOMBS) and all("limit" in line and "Traceback" not in line for line in lines), result.stderr


TRAIN_SCRIPT = textwrap.dedent("""
    import sys
    from napari_dynmri.cli import main
    sys.exit(main(["train", "--model", "naive", "--set", "model.channels=2", "--set", "model.depth=2",
                   "--train-data", "phantom:3:4x16x16", "--crop", "16", "--frames", "4", "--batch-size", "1",
                   "--acceleration", "4", "--center-lines", "4", "--iterations", "100000", "--val-every", "0",
                   "--checkpoint-every", "0", "--set", "evaluate_test=false", "--device", "cpu",
                   "--num-threads", "1", "-o", sys.argv[1]]))
""")
COUNTS["interrupts during training"] = 2


def _straight_weights(state: dict, steps: int, output: Path) -> dict:
    """Weights after ``steps`` uninterrupted steps of the run ``state`` (a trainer.json) was taken from."""
    from safetensors.torch import load_file

    from napari_dynmri.training import train

    config = dict(state["config"], output=str(output), iterations=steps, checkpoint_every=0, keep="last")
    return load_file(str(train(config, quiet=True) / "weights.safetensors"))


def test_ctrl_c_stops_dynmri_train_with_one_line_and_an_exact_checkpoint(tmp_path):
    from safetensors.torch import load_file

    run = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-c", TRAIN_SCRIPT, str(run)], stderr=subprocess.PIPE, text=True)
    first = process.stderr.readline()  # "training naive on ..." once the loop starts
    assert first.startswith("training"), first
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == "dynmri train: interrupted"
    state = json.loads((run / "checkpoint" / "trainer.json").read_text())
    assert state["iteration"] >= 1
    saved = load_file(str(run / "checkpoint" / "weights.safetensors"))
    expected = _straight_weights(state, state["iteration"], tmp_path / "straight")
    assert all(torch.equal(saved[k], expected[k]) for k in expected)


def test_a_signal_inside_a_step_ends_that_step_first(trained_run, tmp_path, monkeypatch):
    """SIGTERM arriving in the middle of step 3 (before the optimizer step): the run stops after it,
    with a checkpoint of exactly 3 steps (it used to save step-3 tensors with a step-2 trainer.json)."""
    from safetensors.torch import load_file

    from napari_dynmri.training import train, trainer

    original = trainer._Run.step

    def step(self, iteration):
        if iteration == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, iteration)

    monkeypatch.setattr(trainer._Run, "step", step)
    state = json.loads((trained_run / "checkpoint" / "trainer.json").read_text())
    config = dict(state["config"], output=str(tmp_path / "run"), iterations=50, checkpoint_every=0)
    with pytest.raises(KeyboardInterrupt):
        train(config, quiet=True)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back
    saved_state = json.loads((tmp_path / "run" / "checkpoint" / "trainer.json").read_text())
    assert saved_state["iteration"] == 3
    monkeypatch.setattr(trainer._Run, "step", original)
    saved = load_file(str(tmp_path / "run" / "checkpoint" / "weights.safetensors"))
    expected = _straight_weights(saved_state, 3, tmp_path / "straight")
    assert all(torch.equal(saved[k], expected[k]) for k in expected)


def test_corpus_size():
    """At least 200 generated bad inputs (the issue's bar); ``-s`` prints the classes."""
    total = sum(COUNTS.values())
    print("\n" + "\n".join(f"{count:4d}  {name}" for name, count in COUNTS.items()) + f"\n{total:4d}  in all")
    assert total >= 200


# ----------------------------------------------------------------------------- issue 23: what remained


DICOM_REASONS = {
    "dicom_two_acquisitions_1ms": "holds two images of one slice with instance number 1 (scan0_0.dcm at 0 ms and "
                                  "scan1_0.dcm at 1 ms): two acquisitions, not one cine",
    "dicom_unordered": "has neither TriggerTime nor InstanceNumber, so its place in the cardiac cycle is unknown",
    "dicom_two_acquisitions": "holds two images of one slice at the same trigger time and instance number",
}
COUNTS["DICOM refusals with their reason"] = len(DICOM_REASONS)


@pytest.mark.parametrize("name", DICOM_REASONS)
def test_dicom_refusals_give_the_right_reason(bad_files, name, capsys):
    line = assert_refused(*cli(["info", bad_files[name]], capsys), name)
    assert DICOM_REASONS[name] in line, line


def _uint8_cines(root: Path) -> dict[str, Path]:
    """One (5, 25, 25) uint8 cine (3125 bytes stored, 12500 as float32) in every container format."""
    cine = np.full((5, 25, 25), 7, np.uint8)
    root.mkdir()
    paths = {suffix: root / f"u8{suffix}" for suffix in (".npy", ".npz", ".tif", ".h5", ".mat")}
    np.save(paths[".npy"], cine)
    np.savez_compressed(paths[".npz"], target=cine)
    tifffile.imwrite(paths[".tif"], cine, photometric="minisblack")
    with h5py.File(paths[".h5"], "w") as f:
        f.create_dataset("target", data=cine, compression="gzip")
    scipy.io.savemat(paths[".mat"], {"cine": cine.transpose(1, 2, 0)}, do_compression=True)
    return paths


UINT8_SUFFIXES = (".npy", ".npz", ".tif", ".h5", ".mat")
COUNTS["decoded size counts the float32 copy"] = len(UINT8_SUFFIXES) * 2


@pytest.mark.parametrize("suffix", UINT8_SUFFIXES)
def test_the_size_limit_counts_the_float32_copy_the_tool_makes(suffix, tmp_path, capsys, monkeypatch):
    """3125 bytes of uint8 become 12500 bytes of float32: under a 9 kB limit the file is refused (the
    stored size alone fits), with a line saying why; under 20 kB it reads."""
    path = _uint8_cines(tmp_path / "cines")[suffix]
    monkeypatch.setenv("DYNMRI_MAX_DECODED_BYTES", "9K")
    line = assert_refused(*cli(["info", path], capsys), path.name)
    assert "over the limit of 9 kB" in line and "float32" in line, line
    with pytest.raises(ValueError, match="float32"):
        read_cine(path)
    monkeypatch.setenv("DYNMRI_MAX_DECODED_BYTES", "20K")
    assert read_cine(path).data.shape == (5, 25, 25)
