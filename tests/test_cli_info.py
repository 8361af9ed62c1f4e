"""``dynmri info``: what the reader sees, and one-line errors with exit code 2."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SHARED
from napari_dynmri.cli import main
from napari_dynmri.data import samples
from napari_dynmri.io import Cine, write_cine
from napari_dynmri.physics.fft import fft2c

PIG_DICOM = SHARED / "data" / "pig_cine" / "dicom_sax_2slices"


def test_info_describes_a_multislice_file(tmp_path, capsys):
    data = np.arange(2 * 3 * 8 * 8, dtype=np.float32).reshape(2, 3, 8, 8)
    path = write_cine(tmp_path / "c.npz", data, pixel_spacing_mm=(1.5, 0.75))
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"source: {path}" in out
    assert "format: npz" in out
    assert "dtype: float32 (stored as float32)" in out
    assert "shape: (2, 3, 8, 8)  axes: z, t, y, x" in out
    assert "complex: no" in out and "k-space input: no" in out
    assert "frames: 3" in out and "slices: 2" in out
    assert "pixel spacing: 1.5 x 0.75 mm (row x col)" in out
    assert "trigger times: unknown" in out
    assert "value range: 0 .. 383" in out


def test_info_reports_kspace_input(tmp_path, capsys):
    y, x = np.mgrid[-1:1:16j, -1:1:16j]
    image = np.stack([np.exp(-(x**2 + y**2) / 0.2)] * 3).astype(np.complex64)
    np.savez(tmp_path / "k.npz", kspace=fft2c(image))
    assert main(["info", str(tmp_path / "k.npz")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "shape: (3, 16, 16)  axes: t, y, x" in out
    assert "complex: yes" in out and "k-space input: yes" in out
    assert any(line.startswith("value range (magnitude): ") for line in out)


@pytest.mark.parametrize("make", ["nan", "missing"])
def test_info_bad_input_exits_2_with_one_line(tmp_path, capsys, make):
    path = tmp_path / "bad.npy"
    if make == "nan":
        np.save(path, np.full((2, 4, 4), np.nan))
    assert main(["info", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("dynmri info: error: ") and str(path) in lines[0]


def test_info_sample_prefix(capsys, monkeypatch):
    sample = Cine(
        data=np.ones((4, 8, 8), np.float32),
        pixel_spacing_mm=(2.0, 2.0),
        trigger_times_ms=np.arange(4) * 50.0,
        source="sample:phantom",
        meta={"format": "synthetic"},
    )
    monkeypatch.setattr(samples, "load_sample", {"phantom": sample}.__getitem__)
    assert main(["info", "sample:phantom"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "source: sample:phantom" in out and "trigger times: 0 .. 150 ms" in out


def test_info_shared_dicom_folder(capsys):
    if not PIG_DICOM.is_dir():
        pytest.skip("../shared/data/pig_cine/dicom_sax_2slices is not available")
    assert main(["info", str(PIG_DICOM)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "shape: (2, 20, 256, 256)  axes: z, t, y, x" in out
    assert "trigger times: 10 .. 610 ms" in out
    assert "pixel spacing: 0.8203 x 0.8203 mm (row x col)" in out
