"""``dynmri recon`` and ``dynmri eval`` end to end on tiny phantoms."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from napari_dynmri.cli import main
from napari_dynmri.data.phantom import cardiac_phantom
from napari_dynmri.data.sequences import load_sequences, split_sequences
from napari_dynmri.io import read_cine, write_cine
from napari_dynmri.metrics import psnr
from napari_dynmri.models import build_model, save_model
from napari_dynmri.physics import fft2c, ifft2c, make_mask
from napari_dynmri.simulation import simulate

PIG = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pig_cine" / "pig_cine_cc0.npz"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def simulated(tmp_path):
    sim = simulate(cardiac_phantom(8, 48, 48, seed=0), acceleration=4, center_lines=6, seed=3)
    path = tmp_path / "sim.npz"
    np.savez_compressed(path, **sim.to_npz_dict())
    return path, sim


def test_recon_of_a_simulate_npz_writes_all_keys(simulated, tmp_path, capsys):
    path, sim = simulated
    out = tmp_path / "recon.npz"
    assert main(["recon", str(path), "-o", str(out), "--model", "cs-ttv", "--device", "cpu"]) == 0
    with np.load(out) as saved:
        assert set(saved.files) == {"recon", "kspace", "mask", "zero_filled", "target", "meta"}
        recon = saved["recon"]
        assert recon.dtype == np.complex64 and recon.shape == sim.target.shape
        np.testing.assert_array_equal(saved["mask"], sim.mask)
        np.testing.assert_array_equal(saved["kspace"], sim.kspace)
        meta = json.loads(str(saved["meta"]))
    assert meta["method"] == "cs-ttv" and meta["device"] == "cpu" and meta["seconds"] >= 0
    assert meta["acquisition"]["seed"] == 3
    assert meta["settings"]["weight"] == "cross-validated" and meta["settings"]["lam"] > 0
    assert psnr(recon, sim.target) > psnr(sim.zero_filled, sim.target) + 3
    out_line = capsys.readouterr().out
    assert "PSNR" in out_line and f"lam {meta['settings']['lam']:g}, cross-validated" in out_line


def test_recon_default_method_and_a_fixed_weight(simulated, tmp_path, capsys):
    from napari_dynmri.recon import DEFAULT_METHOD

    path, _ = simulated
    out = tmp_path / "recon.npz"
    assert main(["recon", str(path), "-o", str(out), "--device", "cpu", "--iterations", "7"]) == 0
    with np.load(out) as saved:
        meta = json.loads(str(saved["meta"]))
    assert meta["method"] == DEFAULT_METHOD == "cs-auto"
    chosen = meta["settings"]["method"]
    scores = meta["settings"]["cross_validation"]["scores"]
    assert min(scores, key=lambda label: scores[label]["importance"]).startswith(chosen)
    assert meta["settings"]["iterations"] == 7 and f"({chosen}" in capsys.readouterr().out
    args = ["recon", str(path), "-o", str(out), "--overwrite", "--model", "cs-xf", "--lam", "0.002", "--iterations", "7"]
    assert main(args) == 0
    with np.load(out) as saved:
        meta = json.loads(str(saved["meta"]))
    assert meta["settings"] == {**meta["settings"], "lam": 0.002, "weight": "fixed", "iterations": 7}
    assert "lam 0.002, fixed" in capsys.readouterr().out
    assert main(["recon", str(path), "-o", str(out), "--overwrite", "--model", "view-sharing", "--lam", "1"]) == 2
    assert "has no option(s) lam" in capsys.readouterr().err
    assert main(["recon", str(path), "-o", str(out), "--overwrite", "--model", "cs-xf", "--lam", "-1"]) == 2
    assert "lam must be" in capsys.readouterr().err
    assert main(["recon", str(path), "-o", str(out), "--overwrite", "--adapt-iterations", "5"]) == 2
    assert "--adapt-iterations needs --adapt" in capsys.readouterr().err
    assert main(["recon", str(path), "-o", str(out), "--overwrite", "--model", "cs-xf", "--adapt"]) == 2
    assert "has no option(s) adapt" in capsys.readouterr().err


def test_recon_zero_filled_of_a_raw_cine_uses_the_mask_options(tmp_path):
    cine = np.abs(cardiac_phantom(8, 48, 48, seed=1)) * 300.0  # a magnitude cine in scanner units
    source = tmp_path / "cine.npy"
    write_cine(source, cine)
    out = tmp_path / "zf.npz"
    args = ["recon", str(source), "-o", str(out), "--model", "zero-filled", "--mask", "equispaced",
            "--acceleration", "4", "--center-lines", "4", "--seed", "2"]
    assert main(args) == 0
    with np.load(out) as saved:
        target, mask, recon = saved["target"], saved["mask"], saved["recon"]
        meta = json.loads(str(saved["meta"]))
    np.testing.assert_allclose(target, cine / cine.max(), atol=1e-6)  # scaled to max 1
    np.testing.assert_array_equal(mask, make_mask("equispaced", cine.shape, 4, center_lines=4, seed=2))
    np.testing.assert_allclose(recon, ifft2c(fft2c(target) * mask), atol=1e-5)
    assert meta["method"] == "zero-filled" and meta["acquisition"]["mask"] == "equispaced"


def test_recon_with_a_checkpoint_and_magnitude_output(simulated, tmp_path):
    path, sim = simulated
    model = build_model("naive", {"channels": 4, "depth": 2}).eval()
    folder = save_model(model, tmp_path / "tiny")
    out = tmp_path / "recon.nii.gz"
    assert main(["recon", str(path), "-o", str(out), "--model", str(folder), "--device", "cpu"]) == 0
    k = torch.from_numpy(sim.kspace)[None]
    with torch.no_grad():
        expected = model(ifft2c(k), k, torch.from_numpy(sim.mask)[None])[0].numpy()
    np.testing.assert_allclose(read_cine(out).data, np.abs(expected), atol=1e-4)


def test_recon_refuses_to_overwrite(simulated, tmp_path, capsys):
    path, _ = simulated
    out = tmp_path / "recon.npz"
    out.write_bytes(b"keep me")
    assert main(["recon", str(path), "-o", str(out), "--model", "zero-filled"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"
    assert main(["recon", str(path), "-o", str(out), "--model", "zero-filled", "--overwrite"]) == 0
    with np.load(out) as saved:
        assert "recon" in saved.files


def test_recon_rejects_bad_output_and_model(simulated, tmp_path, capsys):
    path, _ = simulated
    assert main(["recon", str(path), "-o", str(tmp_path / "out.png"), "--model", "zero-filled"]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert main(["recon", str(path), "-o", str(tmp_path / "out.npz"), "--model", "no-such-net"]) == 2
    assert "no model" in capsys.readouterr().err
    assert not (tmp_path / "out.npz").exists()


def test_eval_prints_rows_and_writes_json_and_csv(tmp_path, capsys):
    json_path, csv_path = tmp_path / "scores.json", tmp_path / "frames.csv"
    args = ["eval", "--model", "cs-ttv", "--data", "phantom:3:6x32x32", "--split", "all",
            "--acceleration", "4", "--center-lines", "4", "--seed", "5", "--device", "cpu",
            "--json", str(json_path), "--csv", str(csv_path)]
    assert main(args) == 0
    out, err = capsys.readouterr()
    progress = [line.split("]")[0] + "]" for line in err.splitlines() if line.startswith("[")]
    assert progress == ["[1/3]"] * 2 + ["[2/3]"] * 2 + ["[3/3]"] * 2  # per cine and method, as they finish
    rows = [line for line in out.splitlines() if line.startswith(("zero-filled", "cs-ttv"))]
    assert len(rows) == 2 and "±" in rows[0]

    report = json.loads(json_path.read_text())
    assert report["sequences"] == ["phantom-00", "phantom-01", "phantom-02"]
    zf, cs = report["methods"]["zero-filled"], report["methods"]["cs-ttv"]
    assert cs["psnr"][0] > zf["psnr"][0] + 2
    assert [row["sequence"] for row in zf["per_sequence"]] == report["sequences"]
    # sequence i is undersampled with seed + i: the zero-filled score can be recomputed by hand
    second = load_sequences("phantom:3:6x32x32")[1][1]
    mask = make_mask("vd-random", second.shape, 4, center_lines=4, seed=6)
    assert zf["per_sequence"][1]["psnr"] == pytest.approx(psnr(ifft2c(fft2c(second) * mask), second), abs=1e-6)
    assert zf["psnr"][0] == pytest.approx(np.mean([row["psnr"] for row in zf["per_sequence"]]))

    with open(csv_path, newline="") as f:
        frames = list(csv.DictReader(f))
    assert list(frames[0]) == ["method", "sequence", "frame", "psnr", "ssim"]
    assert len(frames) == 2 * 3 * 6
    assert {row["method"] for row in frames} == {"zero-filled", "cs-ttv"}

    # existing outputs are kept unless --overwrite
    assert main(args) == 2
    assert main(args + ["--overwrite"]) == 0


def test_eval_split_picks_the_training_test_part(tmp_path, capsys):
    folder = tmp_path / "cines"
    folder.mkdir()
    for i in range(8):
        write_cine(folder / f"cine{i}.npy", np.abs(cardiac_phantom(4, 24, 24, seed=i)))
    json_path = tmp_path / "scores.json"
    assert main(["eval", "--model", "zero-filled", "--data", str(folder), "--json", str(json_path)]) == 0
    names = [f"cine{i}" for i in range(8)]
    assert json.loads(json_path.read_text())["sequences"] == split_sequences(names, 0)["test"]
    assert "test: 2 sequence(s)" in capsys.readouterr().out


@pytest.mark.skipif(not PIG.is_file(), reason="pig cine data not available")
def test_eval_on_the_pig_long_axis_archive(tmp_path, capsys):
    assert main(["eval", "--model", "zero-filled", "--data", f"{PIG}:lax", "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert "lax" in out and "test: 4 sequence(s)" in out
    row = [line for line in out.splitlines() if line.startswith("zero-filled")][0]
    assert 20 < float(row.split()[1]) < 40  # zero-filled PSNR at R = 8, dB
