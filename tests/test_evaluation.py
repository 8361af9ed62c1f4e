"""The scoring core (``napari_dynmri.evaluation``): one loop for ``dynmri eval``, the trainer and the benchmarks."""

import re

import numpy as np
import pytest

from napari_dynmri.data.sequences import DEFAULT_SPLIT_SEED, load_sequences, split_sequences
from napari_dynmri.evaluation import (
    evaluate_methods,
    select_sequences,
    summarize_scores,
)
from napari_dynmri.models import build_model, save_model
from napari_dynmri.physics import Acquisition
from napari_dynmri.recon import ZeroFilled, get_method
from napari_dynmri.training import config_from_dict
from napari_dynmri.training.scoring import evaluate_model

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_trainer_scores_a_network_as_dynmri_eval_does_beyond_one_window(tmp_path):
    # 40 frames: two 32-frame windows; a 3-D convolution mixes frames, so a whole-cine pass would differ
    sequences = load_sequences("phantom:2:40x32x32")
    model = build_model("naive", {"channels": 4, "depth": 3})
    config = config_from_dict({"model": {"name": "naive"}, "data": {"train": "phantom:2"},
                               "mask": {"accelerations": [4, 6], "center_lines": 4, "seed": 3}})
    trainer = evaluate_model(model, sequences, config, "cpu")
    network = get_method(save_model(model, tmp_path / "net"), device="cpu")  # what dynmri eval loads
    for acceleration in (4, 6):
        rows = evaluate_methods({"net": network}, sequences, Acquisition("vd-random", acceleration, 4, 3))["net"]
        summary = summarize_scores({"net": rows})["net"]
        assert trainer["per_acceleration"][f"R{acceleration}"]["psnr"] == pytest.approx(summary["psnr"][0], abs=1e-9)
        assert trainer["per_acceleration"][f"R{acceleration}"]["ssim"] == pytest.approx(summary["ssim"][0], abs=1e-9)
    reference = evaluate_model(model, sequences, config, "cpu", zero_filled=True)
    rows = evaluate_methods({"zero-filled": ZeroFilled()}, sequences, Acquisition("vd-random", 4, 4, 3))["zero-filled"]
    assert reference["per_acceleration"]["R4"]["psnr"] == pytest.approx(np.mean([r["psnr"] for r in rows]), abs=1e-12)


def test_evaluate_methods_logs_each_reconstruction_and_seeds_sequence_i_with_seed_plus_i():
    sequences = load_sequences("phantom:2:4x16x16")
    lines = []
    scores = evaluate_methods([("zf", ZeroFilled())], sequences, Acquisition("vd-random", 4, 4, 7), log=lines.append)
    assert len(lines) == 2
    assert all(re.fullmatch(rf"\[{i + 1}/2\] phantom-0{i}: zf -?\d+\.\d\d dB, SSIM \d\.\d{{3}} \(\d+\.\d s\)",
                            line) for i, line in enumerate(lines)), lines
    (second,) = evaluate_methods({"zf": ZeroFilled()}, sequences[1:], Acquisition("vd-random", 4, 4, 8))["zf"]
    assert scores["zf"][1]["psnr"] == second["psnr"]
    assert len(second["psnr_per_frame"]) == len(second["ssim_per_frame"]) == 4
    noisy = evaluate_methods({"zf": ZeroFilled()}, sequences[1:], Acquisition("vd-random", 4, 4, 8, noise=0.05))
    assert noisy["zf"][0]["psnr"] < second["psnr"]  # the acquisition's noise is simulated
    with pytest.raises(ValueError, match="share a label"):
        evaluate_methods([("a", ZeroFilled()), ("a", ZeroFilled())], sequences)


def test_evaluate_methods_rows_carry_what_each_run_chose():
    sequences = load_sequences("phantom:2:4x32x32")
    methods = {"auto": get_method("cs-xf", device="cpu", iterations=3),
               "fixed": get_method("cs-xf", device="cpu", iterations=3, lam=0.02), "zf": ZeroFilled()}
    lines = []
    rows = evaluate_methods(methods, sequences, Acquisition("vd-random", 4, 4, 0), log=lines.append)
    assert [row["settings"]["weight"] for row in rows["auto"]] == ["cross-validated"] * 2
    assert [row["settings"]["lam"] for row in rows["fixed"]] == [0.02, 0.02]
    assert [row["settings"] for row in rows["zf"]] == [{}, {}]
    assert rows["auto"][0]["settings"]["cross_validation"] != rows["auto"][1]["settings"]["cross_validation"]
    assert lines[1].endswith("lam 0.02, fixed")  # the log says what the method chose


def test_select_sequences_takes_the_trainer_split_and_refuses_what_it_cannot_split():
    names = [name for name, _ in load_sequences("phantom:8:2x16x16")]
    for split in ("train", "val", "test"):
        chosen = [name for name, _ in select_sequences("phantom:8:2x16x16", split)]
        assert chosen == split_sequences(names, DEFAULT_SPLIT_SEED)[split]
    assert len(select_sequences("phantom:2:2x16x16", "all")) == 2
    with pytest.raises(ValueError, match="too few for a train/val/test split"):
        select_sequences("phantom:2:2x16x16", "test")
    with pytest.raises(ValueError, match="unknown split 'everything'"):
        select_sequences("phantom:8:2x16x16", "everything")
